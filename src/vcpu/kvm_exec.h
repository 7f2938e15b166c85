/* Forward execution of the KVM target (kvm_exec.c), shared with the
 * replay target. */
#ifndef UKVM_KVM_EXEC_H
#define UKVM_KVM_EXEC_H

#include "vcpu/engine.h"
#include "vcpu/kvm_points.h"

int kvm_target_step(struct kvm_target *kt, struct ukvm_stop *stop);
/* Run to a stop: a point, the user's interrupt, the end, or (o->tick_us)
 * a periodic stop, told by *ticked (may be NULL). */
int kvm_target_run(struct kvm_target *kt, const struct ukvm_run_opts *o, struct ukvm_stop *stop,
        bool *ticked);
/* The live run's continue: no ticks, false conditions go on. */
int kvm_target_continue(struct kvm_target *kt, struct ukvm_stop *stop);
/* After a run that a tick or an interrupt cut short, before the instruction
 * at rip ran: a breakpoint planted there has not been reported, and the next
 * continue would step off it. If there is one, make it the stop (true). */
bool kvm_target_bp_stop(struct kvm_target *kt, struct ukvm_stop *stop);

/* Let KVM finish what it still owes the last exit (an `out` it has not
 * stepped past yet) without running further: before rip is changed by hand
 * after a stop in the middle of an exit. */
void kvm_target_settle(struct kvm_target *kt);

/* Is rip on a rep string instruction (which the vCPU may stand inside,
 * between iterations)? */
bool kvm_target_on_rep_string(struct kvm_target *kt);

/* Is rip on an instruction that makes an event (a hypercall's `out`, a
 * patched trap)? Between two events it is reached at most once. */
bool kvm_target_on_event_insn(struct kvm_target *kt);

#endif

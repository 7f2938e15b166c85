/*
 * The debug target for a KVM guest (struct ukvm_target over struct monitor):
 * registers, memory by guest-virtual address, software breakpoints (a
 * planted `hlt`, which exits on every KVM), hardware breakpoints (DR0-3),
 * watchpoints of any length (page protection through memory slots), exact
 * single-step over hypercalls and intercepted instructions.
 *
 * Limits, each refused with an error reply that leaves the guest as it was:
 * SW_BP_MAX software breakpoints, four hardware ones, WATCH_MAX watchpoints,
 * and no more memory slots than KVM has (watched ranges that touch or
 * overlap share slots; a write watch needs one slot per separate run, and
 * the memory between runs one more). Inserting a breakpoint or watchpoint
 * that is already there answers OK and stores nothing; one remove takes it
 * out (gdb inserts each location once).
 *
 * The same target serves the live run and the replay; the replay target
 * (src/replay/replay_target.c, replay_timeline.c) adds reverse execution on
 * top of it.
 *
 * Inside, from the top down: this header and kvm_target.c (the operations
 * and the set-up), kvm_exec.h (forward execution), bp_cond.h (breakpoint
 * conditions), kvm_points.h (the state: memory, breakpoints, watchpoints).
 */
#ifndef UKVM_KVM_TARGET_H
#define UKVM_KVM_TARGET_H

#include "vcpu/kvm_exec.h"
#include "vcpu/kvm_points.h"
#include "monitor/monitor.h"
#include "ukvm/target.h"

/* Set kt up over a booted monitor. `kernel` is the ELF served to gdb. */
void kvm_target_init(struct kvm_target *kt, struct monitor *m, const uint8_t *kernel,
        size_t kernel_len, const char *kernel_name);

/* The target's operations, for targets built on top of this one. */
extern const struct ukvm_target_ops kvm_target_ops;

#endif

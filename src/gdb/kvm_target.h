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
 * (src/gdb/replay_target.c) adds reverse execution on top of it.
 */
#ifndef UKVM_KVM_TARGET_H
#define UKVM_KVM_TARGET_H

#include <pthread.h>
#include <signal.h>

#include "monitor/monitor.h"
#include "monitor/memslots.h"
#include "gdb/bp_cond.h"
#include "gdb/watch_ranges.h"
#include "ukvm/target.h"

/* A planted `hlt`, one per guest-physical byte: breakpoints at virtual
 * addresses that alias the same byte share it, and the original byte comes
 * back when the last of them goes. kvm_target.sw is sorted by gpa. */
struct sw_bp {
    uint64_t gpa;
    uint8_t orig;           /* the byte under the planted hlt */
    uint32_t refs;          /* breakpoints (virtual addresses) on it */
};

/* A software breakpoint as gdb set it; kvm_target.sw_alias is sorted by addr. */
struct sw_alias {
    uint64_t addr;          /* guest-virtual */
    uint64_t gpa;
};

/* At most this many software breakpoints at once. */
#define SW_BP_MAX 16384

struct kvm_target {
    struct ukvm_target base;
    struct monitor *m;
    size_t n_sw, cap_sw;
    struct sw_bp *sw;               /* planted bytes, by gpa */
    size_t n_sw_alias, cap_sw_alias;
    struct sw_alias *sw_alias;      /* breakpoints, by virtual address */
    bool hw_used[4];
    uint64_t hw_addr[4];
    struct watch_set watches;
    bool layout_dirty;              /* watches changed since the layout was applied */
    volatile sig_atomic_t interrupt_requested;
    pthread_t vcpu_thread;
    bool dead;                      /* the guest exited or cannot go on */
    struct ukvm_stop dead_stop;     /* what to report again after that */
    /* Periodic stops during continue (replay checkpoints): every
     * tick_interval_us of run time, continue returns UKVM_STOP_INTERRUPT
     * with `ticked` set. 0: off. */
    uint64_t tick_interval_us;
    bool ticked;
    bool pending_hit;               /* a monitor write hit `pending` */
    struct watch pending;
    /* Breakpoint conditions from gdb (bp_cond.h). With cond_filter (the
     * live run; the replay sets it only while continuing forward), a
     * continue resumes from a hit whose condition is false. */
    struct bp_cond_table conds;
    bool cond_filter;
    /* Replay only: tells whether a stopped guest reached the end of the
     * trace (set by the replay target). */
    bool (*at_trace_end)(struct kvm_target *kt);
};

/* Set kt up over a booted monitor. `kernel` is the ELF served to gdb. */
void kvm_target_init(struct kvm_target *kt, struct monitor *m, const uint8_t *kernel,
        size_t kernel_len, const char *kernel_name);

/* The planted breakpoint that the guest executes at virtual address addr
 * (one gdb set there, or at another alias of its physical byte), or NULL. */
struct sw_bp *kvm_target_sw_at(struct kvm_target *kt, uint64_t addr);
/* The planted byte at gpa, or NULL. */
struct sw_bp *kvm_target_planted(struct kvm_target *kt, uint64_t gpa);
/* Is the page at gpa write-protected on the host side (kernel text)? A
 * guest store there is a translation fault, watched or not. */
bool kvm_target_host_protected(struct kvm_target *kt, uint64_t gpa);

/* The target's operations, for targets built on top of this one. */
extern const struct ukvm_target_ops kvm_target_ops;
long kvm_target_read_mem(struct ukvm_target *t, uint64_t addr, void *buf, size_t len);
/* Forget removed watchpoints kept as ghosts when the layout fits without
 * them (see remove_watch in kvm_target.c). */
void kvm_target_drop_ghosts(struct kvm_target *kt);
/* Take every breakpoint and watchpoint out. */
void kvm_target_clear_all(struct kvm_target *kt);

/* Forward execution, shared with the replay target. */
int kvm_target_step(struct kvm_target *kt, struct ukvm_stop *stop);
int kvm_target_continue(struct kvm_target *kt, struct ukvm_stop *stop);
/* After a run that a tick or an interrupt cut short, before the instruction
 * at rip ran: a breakpoint planted there has not been reported, and the next
 * continue would step off it. If there is one, make it the stop (true). */
bool kvm_target_bp_stop(struct kvm_target *kt, struct ukvm_stop *stop);

/* Let KVM finish what it still owes the last exit (an `out` it has not
 * stepped past yet) without running further: before rip is changed by hand
 * after a stop in the middle of an exit. */
void kvm_target_settle(struct kvm_target *kt);

/* Serve gdb on cfg's address and port until the session says the guest is
 * done; returns ukvm's exit status. `replay`: a client that disconnects
 * leaves the guest waiting for the next one. */
int kvm_target_serve(struct kvm_target *kt, const struct config *cfg, bool replay);

#endif

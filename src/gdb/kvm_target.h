/*
 * The debug target for a KVM guest (struct ukvm_target over struct monitor):
 * registers, memory by guest-virtual address, software breakpoints (a
 * planted `hlt`, which exits on every KVM), hardware breakpoints (DR0-3),
 * watchpoints of any number and length (page protection through memory
 * slots), exact single-step over hypercalls and intercepted instructions.
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
#include "ukvm/target.h"

struct sw_bp {
    uint64_t addr;          /* guest-virtual */
    uint64_t gpa;
    uint8_t orig;           /* the byte under the planted hlt */
};

struct watch {
    enum ukvm_bp_type type; /* UKVM_WP_WRITE, _READ or _ACCESS */
    uint64_t addr, len;     /* as gdb gave them (guest-virtual) */
    uint64_t gpa;           /* physical start (the guest is identity mapped) */
};

struct kvm_target {
    struct ukvm_target base;
    struct monitor *m;
    size_t n_sw, cap_sw;
    struct sw_bp *sw;
    bool hw_used[4];
    uint64_t hw_addr[4];
    size_t n_watch, cap_watch;
    struct watch *watch;
    bool layout_dirty;              /* watch pages changed since the last resume */
    volatile sig_atomic_t interrupt_requested;
    pthread_t vcpu_thread;
    bool dead;                      /* the guest exited or cannot go on */
    struct ukvm_stop dead_stop;     /* what to report again after that */
    /* Periodic stops during continue (replay checkpoints): every
     * tick_interval_us of run time, continue returns UKVM_STOP_INTERRUPT
     * with `ticked` set. 0: off. */
    uint64_t tick_interval_us;
    bool ticked;
    int pending_watch;              /* watch hit by a monitor write, or -1 */
    /* Replay only: tells whether a stopped guest reached the end of the
     * trace (set by the replay target). */
    bool (*at_trace_end)(struct kvm_target *kt);
};

/* Set kt up over a booted monitor. `kernel` is the ELF served to gdb. */
void kvm_target_init(struct kvm_target *kt, struct monitor *m, const uint8_t *kernel,
        size_t kernel_len, const char *kernel_name);

/* The target's operations, for targets built on top of this one. */
extern const struct ukvm_target_ops kvm_target_ops;
long kvm_target_read_mem(struct ukvm_target *t, uint64_t addr, void *buf, size_t len);
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

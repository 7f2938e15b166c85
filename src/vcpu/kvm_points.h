/*
 * The KVM target's state (kvm_points.c): the struct, guest memory and
 * registers as gdb sees them, software and hardware breakpoints and
 * watchpoints. Knows nothing of execution (kvm_exec.h) or of the
 * operations table (kvm_target.h).
 */
#ifndef UKVM_KVM_POINTS_H
#define UKVM_KVM_POINTS_H

#include <pthread.h>
#include <signal.h>

#include "monitor/monitor.h"
#include "monitor/memslots.h"
#include "vcpu/bp_cond_table.h"
#include "vcpu/watch_ranges.h"
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
    /* The watched accesses of the instruction the last watch stop
     * reports: one access can hit several watches, and the stop names
     * only the first (kvm_target_stop_hits_watch asks about any). */
    struct access_list last_access;
    bool pending_hit;               /* a monitor write hit `pending` */
    struct watch pending;
    struct access_list pending_access; /* the monitor's watched accesses until then */
    /* Breakpoint conditions from gdb (bp_cond.h); a run's options say
     * whether a hit whose condition is false stops it. */
    struct bp_cond_table conds;
};

/* The planted breakpoint that the guest executes at virtual address addr
 * (one gdb set there, or at another alias of its physical byte), or NULL. */
struct sw_bp *kvm_target_sw_at(struct kvm_target *kt, uint64_t addr);
/* Guest-virtual to guest-physical, through the guest's own page tables;
 * false where unmapped or outside guest memory. */
bool kvm_target_translate(struct kvm_target *kt, uint64_t gva, uint64_t *gpa);
/* The planted byte at gpa, or NULL. */
struct sw_bp *kvm_target_planted(struct kvm_target *kt, uint64_t gpa);
/* Is the page at gpa write-protected on the host side (kernel text)? A
 * guest store there is a translation fault, watched or not. */
bool kvm_target_host_protected(struct kvm_target *kt, uint64_t gpa);

long kvm_target_read_mem(struct ukvm_target *t, uint64_t addr, void *buf, size_t len);
/* Forget removed watchpoints kept as ghosts when the layout fits without
 * them (see remove_watch in kvm_points.c). */
void kvm_target_drop_ghosts(struct kvm_target *kt);
/* Did the instruction of the last watch stop hit the armed watch of this
 * type at this address too (not only the one the stop names)? */
bool kvm_target_stop_hits_watch(const struct kvm_target *kt, enum ukvm_bp_type type,
        uint64_t addr);
/* Take every breakpoint and watchpoint out. */
void kvm_target_clear_all(struct kvm_target *kt);

/* The target's operations that act on its state (kvm_target_ops). */
long kvm_target_write_mem(struct ukvm_target *t, uint64_t addr, const void *buf, size_t len);
int kvm_target_read_regs(struct ukvm_target *t, struct ukvm_regs *regs);
int kvm_target_write_regs(struct ukvm_target *t, const struct ukvm_regs *regs);
int kvm_target_insert_bp(struct ukvm_target *t, enum ukvm_bp_type type, uint64_t addr,
        uint64_t len);
int kvm_target_remove_bp(struct ukvm_target *t, enum ukvm_bp_type type, uint64_t addr,
        uint64_t len);
/* The monitor's question (monitor.is_breakpoint): is the hlt at addr one
 * of ours? */
bool kvm_target_hlt_is_breakpoint(struct monitor *m, uint64_t addr);

#endif

/*
 * The replay debug target: the KVM target plus a timeline of checkpoints,
 * so that gdb can step and continue backwards (design.md section 4).
 *
 * A position is named without an instruction counter: (c, anchor, k, s) is
 * "restore checkpoint c, run until the k-th arrival at the anchor (an
 * address, or a watchpoint's hit), then single-step s instructions". Every
 * checkpoint lies at or before the current position, in a stack; each
 * checkpoint remembers its own position relative to the one below it.
 */
#ifndef UKVM_REPLAY_TARGET_H
#define UKVM_REPLAY_TARGET_H

#include "gdb/kvm_target.h"
#include "record/checkpoint.h"

enum anchor_kind {
    ANCHOR_NONE,        /* k is 0: the position is s steps from the checkpoint */
    ANCHOR_ADDR,        /* arrivals at an address (rip == addr, not executed yet) */
    ANCHOR_WATCH,       /* hits of a watchpoint (just after the access) */
    ANCHOR_UNKNOWN,     /* a stop we could not name (an interrupt): identified
                           by its registers until a counting run names it */
};

struct identity {
    struct kvm_regs regs;
    uint64_t next_event;
    uint64_t stack_digest;      /* checkpoint_stack_digest() */
};

struct position {
    enum anchor_kind kind;
    uint64_t addr;              /* ANCHOR_ADDR, ANCHOR_UNKNOWN: rip */
    struct watch watch;         /* ANCHOR_WATCH */
    uint64_t k;
    uint64_t s;
    struct identity id;         /* ANCHOR_UNKNOWN */
};

/* A user breakpoint or watchpoint, as gdb inserted it. */
struct user_bp {
    enum ukvm_bp_type type;
    uint64_t addr, len;
};

struct replay_nav;

struct replay_target {
    struct kvm_target kt;           /* first: a struct ukvm_target * is one of these */
    struct ukvm_target_ops ops;
    struct checkpoint_stack st;
    struct position *how;           /* how[i]: checkpoint i relative to i - 1 */
    size_t how_cap;
    struct position cur;            /* relative to the top checkpoint */
    size_t n_user, cap_user;
    struct user_bp *user;
    uint64_t step_checkpoint_interval; /* while stepping long stretches */
    uint64_t tick_us;               /* checkpoint period while continuing */
    uint64_t memory_budget;         /* bytes of checkpoints (--checkpoint-mem) */
    uint64_t now_ns;                /* the VM's place on the timeline, in guest run
                                       time: spaces out the checkpoints kept */
    bool thin_at_push;              /* safe to renumber checkpoints at a push */
    uint64_t pushed, dropped;       /* checkpoints, for UKVM_REPLAY_STATS */
    uint64_t runs;                  /* KVM runs to a stop, this operation */
    bool stats;                     /* UKVM_REPLAY_STATS: one line per operation */
    uint64_t exec_ns;               /* time spent running the guest, this operation */
    bool thinned;
    struct replay_nav *nav;         /* goto, bookmarks, when (replay_nav.c) */
    struct replay_diversion *div;   /* gdb's writes (replay_diversion.c) */
    void (*on_tick)(void *ctx);     /* at each periodic checkpoint of a continue */
    void *on_tick_ctx;
};

/* Set up over a booted replaying monitor; takes checkpoint 0. */
int replay_target_init(struct replay_target *rt, struct monitor *m, const uint8_t *kernel,
        size_t kernel_len, const char *kernel_name, char *err, size_t errlen);

/* ---- for the timeline navigation (replay_nav.c) ---- */
/* Restore checkpoint i (dropping those above) with nothing armed. */
int replay_target_restore(struct replay_target *rt, size_t i);
/* Make the current position the top checkpoint (pushes one unless it is). */
int replay_target_checkpoint_here(struct replay_target *rt);
/* Arm the user's breakpoints and watchpoints again. */
void replay_target_arm_user(struct replay_target *rt);
void replay_target_identity_now(struct replay_target *rt, struct identity *id);
void replay_target_identity_of(const struct checkpoint *cp, struct identity *id);
bool replay_target_identity_equal(const struct identity *a, const struct identity *b);
bool replay_target_now_matches(struct replay_target *rt, const struct identity *id);

#endif

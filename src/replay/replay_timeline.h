/*
 * The replay's timeline: an engine (vcpu/engine.h) plus a stack of checkpoints, so
 * that the guest can be put back at any earlier moment
 * (docs/reverse-execution.md). Used by reverse execution (replay_reverse.h),
 * the replay target's forward operations (replay_target.h) and the
 * navigation by event (replay_nav.h).
 *
 * A position is named without an instruction counter: (c, anchor, k, s) is
 * "restore checkpoint c, run until the k-th arrival at the anchor (an
 * address, or a watchpoint's hit), then single-step s instructions". Every
 * checkpoint lies at or before the current position, in a stack; each
 * checkpoint remembers its own position relative to the one below it.
 */
#ifndef UKVM_REPLAY_TIMELINE_H
#define UKVM_REPLAY_TIMELINE_H

#include "vcpu/engine.h"
#include "vcpu/watch_ranges.h"
#include "record/checkpoint.h"
#include "record/replayer.h"
#include "replay/thinning.h"

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

/* What the timeline keeps of a checkpoint beside its state. */
struct checkpoint_place {
    struct position how;            /* relative to the checkpoint below */
    struct thinning_mark mark;      /* its run time, the bookmarks on it */
};

struct replay_target {
    struct ukvm_target base;        /* first: the target gdb is served (replay_target_of) */
    struct ukvm_target_ops ops;
    struct ukvm_engine *e;          /* what runs the guest (vcpu/engine.h) */
    struct ukvm_event_source *src;  /* the recorded events */
    struct ukvm_run_opts run;       /* what stops a forward run besides the points */
    bool ticked;                    /* the last run stopped only for its tick */
    struct checkpoint_stack st;
    struct checkpoint_place *place; /* place[i]: of checkpoint i */
    size_t place_cap;
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
    enum ukvm_resume_kind op_kind;  /* the operation gdb asked for last */
    bool op_started;                /* gdb has asked for one */
    void (*on_tick)(void *ctx);     /* at each periodic checkpoint of a continue */
    void *on_tick_ctx;
    /* An anchor named by its identity, held back until the event before
     * its moment is served (rt_arm_anchor) */
    bool gated;
    struct position gate;
    uint64_t search_t0, search_from_ns; /* a reverse-continue's start: wall, run time */
    uint64_t search_said;           /* its last progress line */
    uint64_t search_upto_ns;        /* run time where its current window ends */
};

/* The replay target behind the debug target gdb is served. */
static inline struct replay_target *replay_target_of(struct ukvm_target *t)
{
    return (struct replay_target *)t;
}

/* An engine operation on the timeline's engine: ENGINE(rt, step, &stop). */
#define ENGINE(rt, op, ...) ((rt)->e->ops->op((rt)->e, ##__VA_ARGS__))

/* ---- the timeline's moves (replay_timeline.c), for the replay target
 * and reverse execution ---- */
size_t rt_top(const struct replay_target *rt);             /* the top checkpoint */
struct kvm_regs *rt_regs(struct replay_target *rt);
bool rt_at_checkpoint(const struct position *p);           /* names its checkpoint */
/* Has the guest exited (its final halt served)? Reverse execution goes on
 * from any other finished state. */
bool rt_guest_exited(struct replay_target *rt);
/* Has the user asked the operation to stop (gdb's Ctrl-C)? */
bool rt_interrupt_wanted(struct replay_target *rt);
/* A re-execution from the top checkpoint was interrupted: it stays where
 * it is, named by its registers. Returns 1, the callers' "interrupted". */
int rt_interrupted_here(struct replay_target *rt);
/* Forward execution, timed for the statistics. A continue passes an
 * anchor's gate (rt_arm_anchor) without stopping there. */
int rt_exec_step(struct replay_target *rt, struct ukvm_stop *stop);
int rt_exec_continue(struct replay_target *rt, struct ukvm_stop *stop);
/* After a continue: was its stop only a tick (the checkpoint or progress
 * period), to go on from? A tick that came just before a planted
 * breakpoint is that breakpoint's stop instead (*stop says so; false). */
bool rt_tick_only(struct replay_target *rt, struct ukvm_stop *stop);
/* Arm the user's breakpoints and watchpoints; arm position p's anchor (one
 * named by its identity only once the events before it are served, see
 * rt_exec_continue). */
void rt_arm_user(struct replay_target *rt);
void rt_arm_anchor(struct replay_target *rt, const struct position *p);
bool rt_is_user_bp_at(const struct replay_target *rt, uint64_t addr);
/* The length of the user's watchpoint (type, addr), the longest of several,
 * 0 when there is none. */
uint64_t rt_user_watch_len(const struct replay_target *rt, enum ukvm_bp_type type, uint64_t addr);
/* Does a watch stop belong to a user watchpoint? The access may have hit
 * one besides the watch the stop names: the stop is then made to name it. */
bool rt_is_user_watch(const struct replay_target *rt, struct ukvm_stop *stop);
bool rt_stop_is_anchor(const struct replay_target *rt, const struct position *p,
        const struct ukvm_stop *stop);
/* True when the VM stands exactly where the top checkpoint was taken. */
bool rt_no_progress_since_top(struct replay_target *rt);
/* At a tick of a forward run: push a periodic checkpoint here, unless this
 * moment cannot be one (inside a rep string, or no progress since the top
 * checkpoint). 1 pushed, 0 not, -1 failed. */
int rt_push_periodic(struct replay_target *rt);
/* Everything the checkpoints hold, as --checkpoint-mem counts it. */
uint64_t rt_checkpoint_memory(const struct replay_target *rt);
/* Keep checkpoint memory under the budget. */
int rt_thin_out(struct replay_target *rt);
/* Push a checkpoint here, `how` being its position relative to the top. */
int rt_push_checkpoint(struct replay_target *rt, const struct position *how);
/* Restore checkpoint i with nothing armed (the caller arms what it needs;
 * a pending anchor gate is dropped too). */
int rt_restore(struct replay_target *rt, size_t i);
/* Drop an anchor's gate that was not reached (interrupted, failed). */
void rt_drop_gate(struct replay_target *rt);
/* After a stop before an event the trace has (a goto's, a gate's): rip
 * back on the instruction that asked for it, the event to be served by the
 * next run (stepped: the stop came from a single step). */
void rt_back_before_event(struct replay_target *rt, bool stepped);
/* Go to position p (relative to checkpoint cpi). 0, -1, or 1 when
 * interrupted (cur names where it stopped). */
int rt_go_to(struct replay_target *rt, size_t cpi, const struct position *p);
/* Name an unknown current position by a counting run from the top
 * checkpoint. 0, -1, or 1 when interrupted. */
int rt_resolve(struct replay_target *rt);
/* Make the previous checkpoint's segment current (needs top > 0). */
void rt_step_down(struct replay_target *rt);
void rt_report(struct ukvm_stop *stop, enum ukvm_stop_reason r);
void rt_fail_stop(struct replay_target *rt, struct ukvm_stop *stop);
/* A moment's identity: now, of a checkpoint; equal; is the guest there now? */
void rt_identity_now(struct replay_target *rt, struct identity *id);
void rt_identity_of(const struct checkpoint *cp, struct identity *id);
bool rt_identity_equal(const struct identity *a, const struct identity *b);
bool rt_now_matches(struct replay_target *rt, const struct identity *want);

/* Make the current position the top checkpoint (pushes one unless it is). */
int rt_checkpoint_here(struct replay_target *rt);

#endif

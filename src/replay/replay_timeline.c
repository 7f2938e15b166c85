/*
 * The replay's timeline (replay_timeline.h): positions, the checkpoint
 * stack, and going to a position by restoring a checkpoint and
 * re-executing forward (docs/reverse-execution.md).
 *
 * Invariants: every checkpoint lies at or before the current position; the
 * current position `cur` is relative to the top checkpoint; place[i].how is the
 * position of checkpoint i relative to checkpoint i - 1. Going back drops the
 * checkpoints above the new position; going forward pushes new ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/replay_timeline.h"
#include "monitor/signals.h"
#include "ukvm/scan.h"

size_t rt_top(const struct replay_target *rt)
{
    return rt->st.n - 1;
}

struct kvm_regs *rt_regs(struct replay_target *rt)
{
    return ENGINE(rt, regs);
}

void rt_identity_now(struct replay_target *rt, struct identity *id)
{
    id->regs = *rt_regs(rt);
    id->next_event = replayer_next_event(rt->src);
    id->stack_digest = ENGINE(rt, stack_digest, id->regs.rsp);
}

void rt_identity_of(const struct checkpoint *cp, struct identity *id)
{
    id->regs = cp->regs;
    id->next_event = cp->next_event;
    id->stack_digest = cp->stack_digest;
}

bool rt_identity_equal(const struct identity *a, const struct identity *b)
{
    const struct kvm_regs *x = &a->regs, *y = &b->regs;
    const uint64_t flags_mask = ~UKVM_RFLAGS_DEBUG_ARTEFACTS;
    return a->next_event == b->next_event && a->stack_digest == b->stack_digest &&
        x->rip == y->rip &&
        (x->rflags & flags_mask) == (y->rflags & flags_mask) &&
        x->rax == y->rax && x->rbx == y->rbx && x->rcx == y->rcx && x->rdx == y->rdx &&
        x->rsi == y->rsi && x->rdi == y->rdi && x->rsp == y->rsp && x->rbp == y->rbp &&
        x->r8 == y->r8 && x->r9 == y->r9 && x->r10 == y->r10 && x->r11 == y->r11 &&
        x->r12 == y->r12 && x->r13 == y->r13 && x->r14 == y->r14 && x->r15 == y->r15;
}

/* Is the guest now at the moment `want` names? The stack is hashed only
 * when everything else agrees. */
bool rt_now_matches(struct replay_target *rt, const struct identity *want)
{
    struct identity id = { .regs = *rt_regs(rt), .next_event = replayer_next_event(rt->src),
        .stack_digest = want->stack_digest };
    return rt_identity_equal(&id, want) &&
        ENGINE(rt, stack_digest, id.regs.rsp) == want->stack_digest;
}

bool rt_guest_exited(struct replay_target *rt)
{
    struct ukvm_stop how;
    return ENGINE(rt, finished, &how) && how.reason == UKVM_STOP_EXITED;
}

bool rt_at_checkpoint(const struct position *p)
{
    return p->kind != ANCHOR_UNKNOWN && p->k == 0 && p->s == 0;
}

/* ---- gdb's Ctrl-C during a reverse operation ---- */

/* Has the user asked the operation to stop? A single step forgets the
 * request (the engine's step clears it), so loops of steps look between
 * them; the server's watcher repeats it every few ms until resume()
 * returns. */
bool rt_interrupt_wanted(struct replay_target *rt)
{
    return ENGINE(rt, interrupt_asked) || ukvm_stop_requested();
}

/* A re-execution from the top checkpoint was interrupted: it stays where
 * it is, named by its registers as a forward continue's interrupt is (a
 * later counting run names it exactly). Returns 1, the callers' "interrupted". */
int rt_interrupted_here(struct replay_target *rt)
{
    rt_drop_gate(rt);
    struct position here = { .kind = ANCHOR_UNKNOWN, .addr = rt_regs(rt)->rip, .k = 1 };
    rt_identity_now(rt, &here.id);
    rt->cur = here;
    return 1;
}

/* ---- forward execution, timed for the statistics ---- */

/* The engine stops as finished where the monitor could not go on: at the
 * end of the recorded events that is the replay's end, from which reverse
 * execution goes on. */
static void tell_trace_end(struct replay_target *rt, struct ukvm_stop *stop)
{
    if (stop->reason != UKVM_STOP_FAULT || !replayer_reached_end(rt->src))
        return;
    stop->reason = UKVM_STOP_REPLAY_END;
    ENGINE(rt, set_finished, NULL);
}

int rt_exec_step(struct replay_target *rt, struct ukvm_stop *stop)
{
    uint64_t t0 = ukvm_now_ns();
    int r = ENGINE(rt, step, stop);
    tell_trace_end(rt, stop);
    uint64_t took = ukvm_now_ns() - t0;
    rt->exec_ns += took;
    rt->now_ns += took;
    return r;
}

void rt_back_before_event(struct replay_target *rt, bool stepped)
{
    /* once KVM has finished with that exit: on most KVMs the next run
     * would otherwise step past the `out` */
    if (!stepped)
        ENGINE(rt, settle);
    rt_regs(rt)->rip = replayer_end_rip(rt->src);
    ENGINE(rt, regs_changed);
    replayer_clear_end(rt->src);
}

void rt_drop_gate(struct replay_target *rt)
{
    if (!rt->gated)
        return;
    rt->gated = false;
    replayer_watch(rt->src, UINT64_MAX, NULL, NULL);
}

/* The replay stopped before the gate's event: let that event be served
 * and arm the anchor, whose moment lies after it. */
static bool at_gate(struct replay_target *rt, const struct ukvm_stop *stop)
{
    if (!rt->gated || stop->reason != UKVM_STOP_REPLAY_END ||
            replayer_next_event(rt->src) + 1 != rt->gate.id.next_event)
        return false;
    rt_drop_gate(rt);
    rt_back_before_event(rt, false);
    ENGINE(rt, arm, UKVM_BP_SOFTWARE, rt->gate.addr, 1);
    return true;
}

int rt_exec_continue(struct replay_target *rt, struct ukvm_stop *stop)
{
    uint64_t t0 = ukvm_now_ns();
    int r;
    do {
        r = ENGINE(rt, run, &rt->run, stop, &rt->ticked);
        tell_trace_end(rt, stop);
        rt->runs++;
    } while (r == 0 && at_gate(rt, stop));
    uint64_t took = ukvm_now_ns() - t0;
    rt->exec_ns += took;
    rt->now_ns += took;
    return r;
}

bool rt_tick_only(struct replay_target *rt, struct ukvm_stop *stop)
{
    return rt->ticked && !ENGINE(rt, bp_stop, stop);
}

/* ---- breakpoint sets ---- */

void rt_arm_user(struct replay_target *rt)
{
    for (size_t i = 0; i < rt->n_user; i++)
        ENGINE(rt, arm, rt->user[i].type, rt->user[i].addr, rt->user[i].len);
}

/* A moment named by its identity is an arrival at its rip with
 * id.next_event events served. In a hot loop that rip is reached at every
 * iteration, each arrival a stop: where events remain to be served before
 * the moment, its breakpoint waits (the replay stops before the event that
 * precedes the moment, and rt_exec_continue arms it there), so that only
 * the arrivals after that event stop. */
void rt_arm_anchor(struct replay_target *rt, const struct position *p)
{
    struct ukvm_event_source *src = rt->src;
    if (p->kind == ANCHOR_UNKNOWN && p->id.next_event > replayer_next_event(src)) {
        rt_drop_gate(rt);
        rt->gate = *p;
        rt->gated = true;
        replayer_watch(src, p->id.next_event - 1, NULL, NULL);
    } else if (p->kind == ANCHOR_ADDR || p->kind == ANCHOR_UNKNOWN)
        ENGINE(rt, arm, UKVM_BP_SOFTWARE, p->addr, 1);
    else if (p->kind == ANCHOR_WATCH)
        ENGINE(rt, arm, p->watch.type, p->watch.addr, p->watch.len);
}

bool rt_is_user_bp_at(const struct replay_target *rt, uint64_t addr)
{
    for (size_t i = 0; i < rt->n_user; i++)
        if ((rt->user[i].type == UKVM_BP_SOFTWARE || rt->user[i].type == UKVM_BP_HARDWARE) &&
            rt->user[i].addr == addr)
            return true;
    return false;
}

/* Watches of one kind at one address but of different lengths make stops
 * that name the same (type, addr): the longest covers them all, so that an
 * anchor armed alone is hit wherever any of them was. */
uint64_t rt_user_watch_len(const struct replay_target *rt, enum ukvm_bp_type type, uint64_t addr)
{
    uint64_t len = 0;
    for (size_t u = 0; u < rt->n_user; u++)
        if (rt->user[u].type == type && rt->user[u].addr == addr && rt->user[u].len > len)
            len = rt->user[u].len;
    return len;
}

/* Which user watchpoint a watch stop belongs to. */
bool rt_is_user_watch(const struct replay_target *rt, struct ukvm_stop *stop)
{
    for (size_t i = 0; i < rt->n_user; i++)
        if (rt->user[i].type == stop->watch_type && rt->user[i].addr == stop->watch_addr)
            return true;
    /* the access may have hit a user watch besides the one the stop names
     * (an anchor's, armed for the re-execution): name the user's */
    for (size_t i = 0; i < rt->n_user; i++)
        if (rt->user[i].type != UKVM_BP_SOFTWARE && rt->user[i].type != UKVM_BP_HARDWARE &&
                ENGINE(rt, stop_hits_watch, rt->user[i].type, rt->user[i].addr)) {
            stop->watch_type = rt->user[i].type;
            stop->watch_addr = rt->user[i].addr;
            return true;
        }
    return false;
}

bool rt_stop_is_anchor(const struct replay_target *rt, const struct position *p,
        const struct ukvm_stop *stop)
{
    if (p->kind == ANCHOR_WATCH) /* the stop may name another watch the access hit */
        return stop->reason == UKVM_STOP_WATCH &&
            ((stop->watch_type == p->watch.type && stop->watch_addr == p->watch.addr) ||
             ENGINE(rt, stop_hits_watch, p->watch.type, p->watch.addr));
    if (p->kind == ANCHOR_ADDR || p->kind == ANCHOR_UNKNOWN)
        return (stop->reason == UKVM_STOP_SWBREAK || stop->reason == UKVM_STOP_HWBREAK) &&
            ENGINE(rt, regs)->rip == p->addr;
    return false;
}

/* ---- moving along the timeline ---- */

/* True when the VM stands exactly where the top checkpoint was taken. */
bool rt_no_progress_since_top(struct replay_target *rt)
{
    struct identity id;
    rt_identity_of(rt->st.cp[rt_top(rt)], &id);
    return rt_now_matches(rt, &id);
}

int rt_push_periodic(struct replay_target *rt)
{
    if (ENGINE(rt, on_rep_string))
        return 0; /* no arrival at rip could name a moment inside it */
    if (rt_no_progress_since_top(rt))
        return 0; /* the tick came before the guest ran (a slow first
                     KVM_RUN): this moment is the top checkpoint */
    /* named by its registers until needed */
    struct position here = { .kind = ANCHOR_UNKNOWN, .addr = rt_regs(rt)->rip, .k = 1 };
    rt_identity_now(rt, &here.id);
    return rt_push_checkpoint(rt, &here) < 0 ? -1 : 1;
}

/* Everything the checkpoints hold, as --checkpoint-mem counts it. */
uint64_t rt_checkpoint_memory(const struct replay_target *rt)
{
    return rt->st.bytes + rt->place_cap * sizeof(rt->place[0]) +
        rt->st.cap * sizeof(rt->st.cp[0]);
}

/* Keep checkpoint memory under the budget. A dropped checkpoint's successor
 * is then named by its registers, which works from any earlier checkpoint. */
int rt_thin_out(struct replay_target *rt)
{
    char err[256];
    while (rt_checkpoint_memory(rt) > rt->memory_budget) {
        size_t i = thinning_victim(&rt->place[0].mark, sizeof(rt->place[0]), rt->st.n,
                rt->now_ns);
        if (i == 0)
            break;
        if (checkpoint_drop(&rt->st, i, err, sizeof(err)) < 0) {
            ukvm_err("%s", err);
            return -1;
        }
        rt->dropped++;
        memmove(&rt->place[i], &rt->place[i + 1], (rt->st.n - i) * sizeof(rt->place[0]));
        const struct checkpoint *cp = rt->st.cp[i];
        struct position p = { .kind = ANCHOR_UNKNOWN, .addr = cp->regs.rip, .k = 1 };
        rt_identity_of(cp, &p.id);
        rt->place[i].how = p;
        if (!rt->thinned) {
            fprintf(stderr, "ukvm: checkpoint memory over %llu MiB: thinning old checkpoints\n",
                    (unsigned long long)(rt->memory_budget >> 20));
            rt->thinned = true;
        }
    }
    return 0;
}

int rt_push_checkpoint(struct replay_target *rt, const struct position *how)
{
    char err[256];
    if (rt->st.n == rt->place_cap) {
        size_t cap = rt->place_cap ? rt->place_cap * 2 : 64;
        struct checkpoint_place *n = realloc(rt->place, cap * sizeof(*n));
        if (!n)
            return -1;
        rt->place = n;
        rt->place_cap = cap;
    }
    if (ENGINE(rt, checkpoint_push, &rt->st, err, sizeof(err)) < 0) {
        ukvm_err("%s", err);
        return -1;
    }
    rt->place[rt_top(rt)] = (struct checkpoint_place){ .how = *how,
        .mark = { .at_ns = rt->now_ns } };
    rt->pushed++;
    memset(&rt->cur, 0, sizeof(rt->cur));
    rt->cur.kind = ANCHOR_NONE;
    /* A long continue pushes without end: keep the budget at every push.
     * (Reverse operations hold checkpoint numbers while they push a bounded
     * number of checkpoints; they thin when they finish.) */
    if (rt->thin_at_push)
        return rt_thin_out(rt);
    return 0;
}

/* Restore checkpoint i with nothing armed (the caller arms what it needs). */
int rt_restore(struct replay_target *rt, size_t i)
{
    char err[256];
    ENGINE(rt, disarm_all);
    rt_drop_gate(rt);
    if (ENGINE(rt, checkpoint_restore, &rt->st, i, err, sizeof(err)) < 0) {
        ukvm_err("%s", err);
        return -1;
    }
    ENGINE(rt, set_finished, NULL);
    rt->now_ns = rt->place[i].mark.at_ns;
    memset(&rt->cur, 0, sizeof(rt->cur));
    rt->cur.kind = ANCHOR_NONE;
    return 0;
}

/* From the state right after a restore (or a checkpoint push), run to the
 * k-th arrival of p's anchor with only the anchor armed. 0, -1 when the
 * run stopped elsewhere (*stop says how), 1 when interrupted (cur names
 * where it stopped). */
static int run_to_anchor(struct replay_target *rt, const struct position *p, struct ukvm_stop *stop)
{
    if (p->k == 0)
        return 0;
    /* a position named by the very state we start from: no arrival at its
     * rip would come (the breakpoint is stepped over), and none is needed */
    if (p->kind == ANCHOR_UNKNOWN && p->k == 1 && rt_now_matches(rt, &p->id))
        return 0;
    rt_arm_anchor(rt, p);
    for (uint64_t n = 0; n < p->k;) {
        rt_exec_continue(rt, stop);
        bool irq = stop->reason == UKVM_STOP_INTERRUPT;
        if (irq && !ENGINE(rt, bp_stop, stop))
            return rt_interrupted_here(rt);
        if (rt_stop_is_anchor(rt, p, stop)) {
            n += p->kind != ANCHOR_UNKNOWN; /* unknown: only the arrival that matches */
            if (p->kind == ANCHOR_UNKNOWN) {
                if (rt_now_matches(rt, &p->id))
                    break;
            }
            if (irq && n < p->k)
                return rt_interrupted_here(rt);
            continue;
        }
        return -1;
    }
    ENGINE(rt, disarm_all);
    return 0;
}

/* At the k-th arrival of p's anchor (or at the top checkpoint when k is
 * 0), single-step p->s instructions, taking intermediate checkpoints on a
 * long way. 0, -1, or 1 when interrupted (cur names the step reached). */
static int step_from_anchor(struct replay_target *rt, const struct position *p)
{
    struct ukvm_stop stop;
    struct position reached = *p;
    reached.s = 0;
    if (p->k > 0) {
        if (p->s > 0) {
            if (rt_push_checkpoint(rt, &reached) < 0)
                return -1;
        } else {
            rt->cur = reached;
        }
    }
    for (uint64_t i = 0; i < p->s; i++) {
        if (rt->cur.s >= rt->step_checkpoint_interval) {
            struct position here = rt->cur;
            if (rt_push_checkpoint(rt, &here) < 0)
                return -1;
        }
        if (rt_interrupt_wanted(rt))
            return 1;
        rt_exec_step(rt, &stop);
        if (stop.reason != UKVM_STOP_STEP && stop.reason != UKVM_STOP_WATCH) {
            ukvm_err("reverse execution: re-execution stopped early (stop %d)", stop.reason);
            return -1;
        }
        rt->cur.s++;
    }
    return 0;
}

/* Go to position p (relative to checkpoint cpi), taking intermediate
 * checkpoints while single-stepping a long way. 0, -1, or 1 when
 * interrupted (cur names where it stopped). */
int rt_go_to(struct replay_target *rt, size_t cpi, const struct position *p)
{
    struct ukvm_stop stop;
    if (rt_restore(rt, cpi) < 0)
        return -1;
    int r = run_to_anchor(rt, p, &stop);
    if (r > 0)
        return 1;
    if (r < 0) {
        ukvm_err("reverse execution: re-execution did not reach its anchor (stop %d)", stop.reason);
        return -1;
    }
    return step_from_anchor(rt, p);
}

/* A long counting run leaves a checkpoint at an arrival this often, so
 * that after an interrupt little is left to count again. */
#define COUNT_TRAIL_NS 200000000ULL

/* Name an unknown current position by a counting run from the top
 * checkpoint: count arrivals at its rip until the registers match. 0, -1,
 * or 1 when interrupted (cur then names where the run stopped: an arrival,
 * exactly, or a moment named by its registers again, closer to a
 * checkpoint). */
int rt_resolve(struct replay_target *rt)
{
    if (rt->cur.kind != ANCHOR_UNKNOWN)
        return 0;
    struct position p = rt->cur;
    uint64_t s = p.s;
    p.s = 0;
    struct ukvm_stop stop;
    if (rt_restore(rt, rt_top(rt)) < 0)
        return -1;
    if (rt_now_matches(rt, &p.id)) { /* it was the checkpoint itself */
        struct position none = { .kind = ANCHOR_NONE, .s = s };
        return step_from_anchor(rt, &none);
    }
    /* every arrival is counted, from the checkpoint on: no gate */
    ENGINE(rt, arm, UKVM_BP_SOFTWARE, p.addr, 1);
    uint64_t k = 0, mark = ukvm_now_ns();
    for (;;) {
        rt_exec_continue(rt, &stop);
        bool irq = stop.reason == UKVM_STOP_INTERRUPT;
        if (irq && !ENGINE(rt, bp_stop, &stop))
            return rt_interrupted_here(rt);
        if (!rt_stop_is_anchor(rt, &p, &stop)) {
            ukvm_err("reverse execution: could not find the interrupted position again");
            return -1;
        }
        k++;
        if (rt_now_matches(rt, &p.id))
            break;
        struct position arrival = { .kind = ANCHOR_ADDR, .addr = p.addr, .k = k };
        if (irq) {
            rt->cur = arrival;
            return 1;
        }
        if (ukvm_now_ns() - mark > COUNT_TRAIL_NS) {
            if (rt_push_checkpoint(rt, &arrival) < 0)
                return -1;
            k = 0;
            mark = ukvm_now_ns();
        }
    }
    ENGINE(rt, disarm_all);
    struct position named = { .kind = ANCHOR_ADDR, .addr = p.addr, .k = k, .s = s };
    rt->cur = named;
    rt->cur.s = 0;
    return s > 0 ? step_from_anchor(rt, &named) : 0;
}

/* Make the previous checkpoint's segment current: cur becomes the position
 * of the top checkpoint relative to the one below, which becomes the top.
 * The VM state is left as it is (every caller restores next). Needs
 * top > 0. */
void rt_step_down(struct replay_target *rt)
{
    struct position how = rt->place[rt_top(rt)].how;
    ENGINE(rt, disarm_all);
    ENGINE(rt, checkpoint_pop, &rt->st);
    rt->cur = how;
}

void rt_report(struct ukvm_stop *stop, enum ukvm_stop_reason r)
{
    memset(stop, 0, sizeof(*stop));
    stop->reason = r;
}

void rt_fail_stop(struct replay_target *rt, struct ukvm_stop *stop)
{
    rt_report(stop, UKVM_STOP_FAULT);
    ENGINE(rt, set_finished, stop);
}

int rt_checkpoint_here(struct replay_target *rt)
{
    return rt_at_checkpoint(&rt->cur) ? 0 : rt_push_checkpoint(rt, &rt->cur);
}

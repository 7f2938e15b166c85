/*
 * Reverse execution on the replay: reverse-stepi and reverse-continue by
 * restoring a checkpoint and re-executing forward (design.md section 4).
 *
 * Invariants: every checkpoint lies at or before the current position; the
 * current position `cur` is relative to the top checkpoint; how[i] is the
 * position of checkpoint i relative to checkpoint i - 1. Going back drops the
 * checkpoints above the new position; going forward pushes new ones.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gdb/bp_cond.h"
#include "gdb/replay_target.h"
#include "ukvm/scan.h"
#include "monitor/signals.h"

static struct replay_target *rt_of(struct ukvm_target *t)
{
    return (struct replay_target *)t;
}

static size_t top(const struct replay_target *rt)
{
    return rt->st.n - 1;
}

static struct kvm_regs *regs(struct replay_target *rt)
{
    return vm_regs(&rt->kt.m->vm);
}

static void identity_now(struct replay_target *rt, struct identity *id)
{
    id->regs = *regs(rt);
    id->next_event = replayer_next_event(rt->kt.m->src);
    id->stack_digest = checkpoint_stack_digest(rt->kt.m, id->regs.rsp);
}

static void identity_of_checkpoint(const struct checkpoint *cp, struct identity *id)
{
    id->regs = cp->regs;
    id->next_event = cp->next_event;
    id->stack_digest = cp->stack_digest;
}

static bool identity_equal(const struct identity *a, const struct identity *b)
{
    const struct kvm_regs *x = &a->regs, *y = &b->regs;
    /* TF and RF are debugger artefacts: single-step and debug traps leave
     * them behind without the guest's doing */
    const uint64_t flags_mask = ~((1ULL << 8) | (1ULL << 16));
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
static bool now_matches(struct replay_target *rt, const struct identity *want)
{
    struct identity id = { .regs = *regs(rt), .next_event = replayer_next_event(rt->kt.m->src),
        .stack_digest = want->stack_digest };
    return identity_equal(&id, want) &&
        checkpoint_stack_digest(rt->kt.m, id.regs.rsp) == want->stack_digest;
}

static bool at_checkpoint(const struct position *p)
{
    return p->kind != ANCHOR_UNKNOWN && p->k == 0 && p->s == 0;
}

/* ---- gdb's Ctrl-C during a reverse operation ---- */

/* Has the user asked the operation to stop? A single step forgets the
 * request (kvm_target_step clears it), so loops of steps look between
 * them; the server's watcher repeats it every few ms until resume()
 * returns. */
static bool interrupt_wanted(struct replay_target *rt)
{
    return rt->kt.interrupt_requested || ukvm_stop_requested();
}

/* A re-execution from the top checkpoint was interrupted: it stays where
 * it is, named by its registers as a forward continue's interrupt is (a
 * later counting run names it exactly). Returns 1, the callers' "interrupted". */
static int interrupted_here(struct replay_target *rt)
{
    struct position here = { .kind = ANCHOR_UNKNOWN, .addr = regs(rt)->rip, .k = 1 };
    identity_now(rt, &here.id);
    rt->cur = here;
    return 1;
}

/* ---- forward execution, timed for the statistics ---- */

static int exec_step(struct replay_target *rt, struct ukvm_stop *stop)
{
    uint64_t t0 = ukvm_now_ns();
    int r = kvm_target_step(&rt->kt, stop);
    uint64_t took = ukvm_now_ns() - t0;
    rt->exec_ns += took;
    rt->now_ns += took;
    return r;
}

static int exec_continue(struct replay_target *rt, struct ukvm_stop *stop)
{
    uint64_t t0 = ukvm_now_ns();
    int r = kvm_target_continue(&rt->kt, stop);
    uint64_t took = ukvm_now_ns() - t0;
    rt->runs++;
    rt->exec_ns += took;
    rt->now_ns += took;
    return r;
}

/* ---- breakpoint sets ---- */

/* Planted bytes are taken out of page copies stored in checkpoints. */
static void clean_page(void *ctx, uint64_t pfn, uint8_t *page)
{
    struct kvm_target *kt = ctx;
    for (size_t i = 0; i < kt->n_sw; i++)
        if (kt->sw[i].gpa >> 12 == pfn)
            page[kt->sw[i].gpa & 0xfff] = kt->sw[i].orig;
}

static void arm(struct replay_target *rt, enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    kvm_target_ops.insert_bp(&rt->kt.base, type, addr, len);
}

static void arm_user(struct replay_target *rt)
{
    for (size_t i = 0; i < rt->n_user; i++)
        arm(rt, rt->user[i].type, rt->user[i].addr, rt->user[i].len);
}

static void arm_anchor(struct replay_target *rt, const struct position *p)
{
    if (p->kind == ANCHOR_ADDR || p->kind == ANCHOR_UNKNOWN)
        arm(rt, UKVM_BP_SOFTWARE, p->addr, 1);
    else if (p->kind == ANCHOR_WATCH)
        arm(rt, p->watch.type, p->watch.addr, p->watch.len);
}

static bool is_user_bp_at(const struct replay_target *rt, uint64_t addr)
{
    for (size_t i = 0; i < rt->n_user; i++)
        if ((rt->user[i].type == UKVM_BP_SOFTWARE || rt->user[i].type == UKVM_BP_HARDWARE) &&
            rt->user[i].addr == addr)
            return true;
    return false;
}

/* Which user watchpoint a watch stop belongs to. */
static bool is_user_watch(const struct replay_target *rt, const struct ukvm_stop *stop)
{
    for (size_t i = 0; i < rt->n_user; i++)
        if (rt->user[i].type == stop->watch_type && rt->user[i].addr == stop->watch_addr)
            return true;
    return false;
}

static bool stop_is_anchor(const struct replay_target *rt, const struct position *p,
        const struct ukvm_stop *stop)
{
    struct kvm_target *kt = (struct kvm_target *)&rt->kt;
    if (p->kind == ANCHOR_WATCH)
        return stop->reason == UKVM_STOP_WATCH && stop->watch_type == p->watch.type &&
            stop->watch_addr == p->watch.addr;
    if (p->kind == ANCHOR_ADDR || p->kind == ANCHOR_UNKNOWN)
        return (stop->reason == UKVM_STOP_SWBREAK || stop->reason == UKVM_STOP_HWBREAK) &&
            vm_regs(&kt->m->vm)->rip == p->addr;
    return false;
}

/* ---- moving along the timeline ---- */

/* True when the VM stands exactly where the top checkpoint was taken. */
static bool no_progress_since_top(struct replay_target *rt)
{
    struct identity id;
    identity_of_checkpoint(rt->st.cp[top(rt)], &id);
    return now_matches(rt, &id);
}

/* Everything the checkpoints hold, as --checkpoint-mem counts it. */
static uint64_t checkpoint_memory(const struct replay_target *rt)
{
    return rt->st.bytes + rt->how_cap * sizeof(rt->how[0]) +
        rt->st.cap * sizeof(rt->st.cp[0]);
}

/* Which checkpoint to drop: the one whose loss leaves the smallest gap
 * relative to its distance from the present, so that the ones kept thin out
 * geometrically with age and still cover the whole history (a reverse
 * operation far back re-executes at most a stretch about as long as its
 * distance, never the whole run). Checkpoint 0 (boot), the top one and
 * bookmarked ones stay. 0 when none can go. */
static size_t thinning_victim(const struct replay_target *rt)
{
    size_t best = 0;
    double best_score = 0;
    for (size_t i = 1; i + 1 < rt->st.n; i++) {
        const struct checkpoint *cp = rt->st.cp[i];
        if (cp->pins)
            continue;
        uint64_t gap = rt->st.cp[i + 1]->at_ns - rt->st.cp[i - 1]->at_ns;
        uint64_t age = rt->now_ns > cp->at_ns ? rt->now_ns - cp->at_ns : 0;
        double score = (double)gap / (double)(age + 1);
        if (best == 0 || score < best_score) {
            best = i;
            best_score = score;
        }
    }
    return best;
}

/* Keep checkpoint memory under the budget. A dropped checkpoint's successor
 * is then named by its registers, which works from any earlier checkpoint. */
static int thin_out(struct replay_target *rt)
{
    char err[256];
    while (checkpoint_memory(rt) > rt->memory_budget) {
        size_t i = thinning_victim(rt);
        if (i == 0)
            break;
        if (checkpoint_drop(&rt->st, i, err, sizeof(err)) < 0) {
            ukvm_err("%s", err);
            return -1;
        }
        rt->dropped++;
        memmove(&rt->how[i], &rt->how[i + 1], (rt->st.n - i) * sizeof(rt->how[0]));
        const struct checkpoint *cp = rt->st.cp[i];
        struct position p = { .kind = ANCHOR_UNKNOWN, .addr = cp->regs.rip, .k = 1 };
        identity_of_checkpoint(cp, &p.id);
        rt->how[i] = p;
        if (!rt->thinned) {
            fprintf(stderr, "ukvm: checkpoint memory over %llu MiB: thinning old checkpoints\n",
                    (unsigned long long)(rt->memory_budget >> 20));
            rt->thinned = true;
        }
    }
    return 0;
}

static int push_checkpoint(struct replay_target *rt, const struct position *how)
{
    char err[256];
    if (rt->st.n == rt->how_cap) {
        size_t cap = rt->how_cap ? rt->how_cap * 2 : 64;
        struct position *n = realloc(rt->how, cap * sizeof(*n));
        if (!n)
            return -1;
        rt->how = n;
        rt->how_cap = cap;
    }
    if (checkpoint_push(&rt->st, rt->kt.m, clean_page, &rt->kt, err, sizeof(err)) < 0) {
        ukvm_err("%s", err);
        return -1;
    }
    rt->st.cp[top(rt)]->at_ns = rt->now_ns;
    rt->how[top(rt)] = *how;
    rt->pushed++;
    memset(&rt->cur, 0, sizeof(rt->cur));
    rt->cur.kind = ANCHOR_NONE;
    /* A long continue pushes without end: keep the budget at every push.
     * (Reverse operations hold checkpoint numbers while they push a bounded
     * number of checkpoints; they thin when they finish.) */
    if (rt->thin_at_push)
        return thin_out(rt);
    return 0;
}

/* Restore checkpoint i with nothing armed (the caller arms what it needs). */
static int restore(struct replay_target *rt, size_t i)
{
    char err[256];
    kvm_target_clear_all(&rt->kt);
    if (checkpoint_restore(&rt->st, rt->kt.m, i, err, sizeof(err)) < 0) {
        ukvm_err("%s", err);
        return -1;
    }
    rt->kt.dead = false;
    rt->now_ns = rt->st.cp[i]->at_ns;
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
    if (p->kind == ANCHOR_UNKNOWN && p->k == 1 && now_matches(rt, &p->id))
        return 0;
    arm_anchor(rt, p);
    for (uint64_t n = 0; n < p->k;) {
        exec_continue(rt, stop);
        bool irq = stop->reason == UKVM_STOP_INTERRUPT;
        if (irq && !kvm_target_bp_stop(&rt->kt, stop))
            return interrupted_here(rt);
        if (stop_is_anchor(rt, p, stop)) {
            n++;
            if (p->kind == ANCHOR_UNKNOWN) {
                if (now_matches(rt, &p->id))
                    break;
            }
            if (irq && n < p->k)
                return interrupted_here(rt);
            continue;
        }
        return -1;
    }
    kvm_target_clear_all(&rt->kt);
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
            if (push_checkpoint(rt, &reached) < 0)
                return -1;
        } else {
            rt->cur = reached;
        }
    }
    for (uint64_t i = 0; i < p->s; i++) {
        if (rt->cur.s >= rt->step_checkpoint_interval) {
            struct position here = rt->cur;
            if (push_checkpoint(rt, &here) < 0)
                return -1;
        }
        if (interrupt_wanted(rt))
            return 1;
        exec_step(rt, &stop);
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
static int go_to(struct replay_target *rt, size_t cpi, const struct position *p)
{
    struct ukvm_stop stop;
    if (restore(rt, cpi) < 0)
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
static int resolve(struct replay_target *rt)
{
    if (rt->cur.kind != ANCHOR_UNKNOWN)
        return 0;
    struct position p = rt->cur;
    uint64_t s = p.s;
    p.s = 0;
    struct ukvm_stop stop;
    if (restore(rt, top(rt)) < 0)
        return -1;
    if (now_matches(rt, &p.id)) { /* it was the checkpoint itself */
        struct position none = { .kind = ANCHOR_NONE, .s = s };
        return step_from_anchor(rt, &none);
    }
    arm_anchor(rt, &p);
    uint64_t k = 0, mark = ukvm_now_ns();
    for (;;) {
        exec_continue(rt, &stop);
        bool irq = stop.reason == UKVM_STOP_INTERRUPT;
        if (irq && !kvm_target_bp_stop(&rt->kt, &stop))
            return interrupted_here(rt);
        if (!stop_is_anchor(rt, &p, &stop)) {
            ukvm_err("reverse execution: could not find the interrupted position again");
            return -1;
        }
        k++;
        if (now_matches(rt, &p.id))
            break;
        struct position arrival = { .kind = ANCHOR_ADDR, .addr = p.addr, .k = k };
        if (irq) {
            rt->cur = arrival;
            return 1;
        }
        if (ukvm_now_ns() - mark > COUNT_TRAIL_NS) {
            if (push_checkpoint(rt, &arrival) < 0)
                return -1;
            k = 0;
            mark = ukvm_now_ns();
        }
    }
    kvm_target_clear_all(&rt->kt);
    struct position named = { .kind = ANCHOR_ADDR, .addr = p.addr, .k = k, .s = s };
    rt->cur = named;
    rt->cur.s = 0;
    return s > 0 ? step_from_anchor(rt, &named) : 0;
}

/* Make the previous checkpoint's segment current: cur becomes the position
 * of the top checkpoint relative to the one below, which becomes the top.
 * The VM state is left as it is (every caller restores next). Needs
 * top > 0. */
static void step_down(struct replay_target *rt)
{
    struct position how = rt->how[top(rt)];
    kvm_target_clear_all(&rt->kt);
    checkpoint_pop(&rt->st, rt->kt.m);
    rt->cur = how;
}

static void report(struct ukvm_stop *stop, enum ukvm_stop_reason r)
{
    memset(stop, 0, sizeof(*stop));
    stop->reason = r;
}

static void fail_stop(struct replay_target *rt, struct ukvm_stop *stop)
{
    report(stop, UKVM_STOP_FAULT);
    rt->kt.dead = true;
    rt->kt.dead_stop = *stop;
}

/* ---- reverse-stepi ---- */

/* An operation that an interrupt cut short reports it where it stopped. */
static int stop_interrupted(struct replay_target *rt, struct ukvm_stop *stop)
{
    kvm_target_clear_all(&rt->kt);
    arm_user(rt);
    report(stop, UKVM_STOP_INTERRUPT);
    return 0;
}

static int reverse_step(struct replay_target *rt, struct ukvm_stop *stop)
{
    int r; /* of the helpers: -1 failed, 1 interrupted */
    if ((r = resolve(rt)) != 0)
        goto stopped;
    while (at_checkpoint(&rt->cur)) {
        if (top(rt) == 0) {
            kvm_target_clear_all(&rt->kt);
            arm_user(rt);
            report(stop, UKVM_STOP_REPLAY_BEGIN);
            return 0;
        }
        step_down(rt);
        if ((r = resolve(rt)) != 0)
            goto stopped;
    }
    size_t base = top(rt);
    struct position target = rt->cur;
    if (target.s > 0) {
        target.s--;
        if ((r = go_to(rt, base, &target)) != 0)
            goto stopped;
    } else {
        /* From the (k-1)-th arrival, step to the k-th, counting d steps;
         * the answer is one step short of it. */
        struct position from = target;
        from.k--;
        if ((r = go_to(rt, base, &from)) != 0)
            goto stopped;
        if (!at_checkpoint(&rt->cur) && push_checkpoint(rt, &rt->cur) < 0)
            goto failed;
        size_t first = top(rt);
        uint64_t d = 0;
        if (target.kind == ANCHOR_WATCH)
            arm_anchor(rt, &target); /* the steps report its hits */
        for (;;) {
            if (d > 0 && d % rt->step_checkpoint_interval == 0) {
                struct position here = rt->cur;
                if (push_checkpoint(rt, &here) < 0)
                    goto failed;
            }
            if (interrupt_wanted(rt)) { /* cur counts the steps made */
                r = 1;
                goto stopped;
            }
            exec_step(rt, stop);
            if (stop->reason != UKVM_STOP_STEP && stop->reason != UKVM_STOP_WATCH) {
                ukvm_err("reverse-stepi: re-execution stopped early (stop %d)", stop->reason);
                goto failed;
            }
            d++;
            rt->cur.s++;
            bool arrived = target.kind == ANCHOR_WATCH
                ? stop->reason == UKVM_STOP_WATCH
                : regs(rt)->rip == target.addr;
            if (target.kind == ANCHOR_UNKNOWN && arrived) {
                arrived = now_matches(rt, &target.id);
            }
            if (arrived)
                break;
            if (d % 100000 == 0)
                fprintf(stderr, "ukvm: reverse-stepi: %" PRIu64 " instructions re-executed\n", d);
        }
        /* we are at the target: go one step back within the stepped stretch */
        uint64_t want = d - 1;
        size_t j = (size_t)(want / rt->step_checkpoint_interval);
        struct position p = { .kind = ANCHOR_NONE,
            .s = want - j * rt->step_checkpoint_interval };
        if ((r = go_to(rt, first + j, &p)) != 0)
            goto stopped;
    }
    kvm_target_clear_all(&rt->kt);
    arm_user(rt);
    report(stop, UKVM_STOP_STEP);
    return 0;
stopped:
    if (r > 0)
        return stop_interrupted(rt, stop);
failed:
    fail_stop(rt, stop);
    return 0;
}

/* ---- reverse-continue ---- */

struct hit {
    bool found;
    struct position pos;
    struct ukvm_stop stop;
};

static void note_hit(struct hit *h, const struct position *pos, const struct ukvm_stop *stop)
{
    h->found = true;
    h->pos = *pos;
    h->stop = *stop;
}

/* Re-execute the top segment up to cur with the user's breakpoints armed;
 * remember the last hit. cur itself counts only with include_end (it is a
 * checkpoint above the one we started from). 1 = interrupted (cur then
 * names where it stopped). */
static int scan_segment(struct replay_target *rt, bool include_end, struct hit *last,
        struct ukvm_stop *stop)
{
    struct position end = rt->cur;
    size_t base = top(rt);
    if (restore(rt, base) < 0)
        return -1;
    arm_user(rt);
    /* the checkpoint's own state counts when it sits on a breakpoint */
    if (is_user_bp_at(rt, regs(rt)->rip) && !at_checkpoint(&end) &&
        bp_condition_holds(&rt->kt, regs(rt)->rip)) {
        struct position p = { .kind = ANCHOR_NONE };
        struct ukvm_stop s = { .reason = UKVM_STOP_SWBREAK };
        note_hit(last, &p, &s);
    }
    arm_anchor(rt, &end);
    uint64_t arrivals = 0;
    /* a window that ends where it starts (see run_to_anchor) is empty */
    if (end.kind == ANCHOR_UNKNOWN && end.k == 1 && now_matches(rt, &end.id))
        arrivals = end.k;
    /* per breakpoint address / watch, how many stops so far */
    size_t n_counts = 0;
    struct { enum ukvm_bp_type type; uint64_t addr; uint64_t n; } counts[64];
    while (arrivals < end.k) {
        struct ukvm_stop s;
        exec_continue(rt, &s);
        if (s.reason == UKVM_STOP_INTERRUPT || ukvm_stop_requested()) {
            *stop = s;
            return interrupted_here(rt);
        }
        bool watch = s.reason == UKVM_STOP_WATCH;
        if (!watch && s.reason != UKVM_STOP_SWBREAK && s.reason != UKVM_STOP_HWBREAK) {
            ukvm_err("reverse-continue: re-execution stopped early (stop %d, from checkpoint "
                    "%zu looking for arrival %llu of %llu at 0x%llx (anchor kind %d, event "
                    "%llu), now at event %llu)", s.reason, base,
                    (unsigned long long)arrivals + 1, (unsigned long long)end.k,
                    (unsigned long long)end.addr, (int)end.kind,
                    (unsigned long long)end.id.next_event,
                    (unsigned long long)replayer_next_event(rt->kt.m->src));
            return -1;
        }
        enum ukvm_bp_type type = watch ? s.watch_type : UKVM_BP_SOFTWARE;
        uint64_t addr = watch ? s.watch_addr : regs(rt)->rip;
        size_t c;
        for (c = 0; c < n_counts; c++)
            if (counts[c].type == type && counts[c].addr == addr)
                break;
        if (c == n_counts && n_counts < 64)
            counts[n_counts++] = (typeof(counts[0])){ type, addr, 0 };
        if (c < 64)
            counts[c].n++;
        /* A watch stop that leaves rip on the anchor address is an arrival
         * too: the next continue steps off it without reporting it. */
        bool anchor = stop_is_anchor(rt, &end, &s) ||
            (watch && (end.kind == ANCHOR_ADDR || end.kind == ANCHOR_UNKNOWN) &&
             regs(rt)->rip == end.addr);
        if (anchor) {
            arrivals++;
            if (end.kind == ANCHOR_UNKNOWN && arrivals == end.k) {
                if (!now_matches(rt, &end.id))
                    end.k++; /* not yet: keep going */
            }
        }
        bool is_end = anchor && arrivals == end.k && end.s == 0 && !include_end;
        bool user = watch ? is_user_watch(rt, &s) : is_user_bp_at(rt, addr);
        /* a false condition: still an arrival (counted above), not a hit */
        if (user && !is_end && c < 64 && (watch || bp_condition_holds(&rt->kt, addr))) {
            struct position p = { .kind = watch ? ANCHOR_WATCH : ANCHOR_ADDR, .addr = addr,
                .k = counts[c].n };
            if (watch) {
                p.watch.type = s.watch_type;
                p.watch.addr = s.watch_addr;
                for (size_t u = 0; u < rt->n_user; u++)
                    if (rt->user[u].type == s.watch_type && rt->user[u].addr == s.watch_addr)
                        p.watch.len = rt->user[u].len;
            }
            note_hit(last, &p, &s);
        }
    }
    /* the single steps after the anchor */
    for (uint64_t i = 1; i < end.s || (include_end && i == end.s); i++) {
        struct ukvm_stop s;
        if (interrupt_wanted(rt)) {
            rt->cur = end; /* exactly: i - 1 steps after the anchor */
            rt->cur.s = i - 1;
            return 1;
        }
        exec_step(rt, &s);
        if (s.reason != UKVM_STOP_STEP && s.reason != UKVM_STOP_WATCH) {
            ukvm_err("reverse-continue: re-execution stopped early (stop %d)", s.reason);
            return -1;
        }
        struct position p = end;
        p.s = i;
        if (s.reason == UKVM_STOP_WATCH && is_user_watch(rt, &s))
            note_hit(last, &p, &s);
        else if (is_user_bp_at(rt, regs(rt)->rip) &&
                 bp_condition_holds(&rt->kt, regs(rt)->rip)) {
            struct ukvm_stop b = { .reason = UKVM_STOP_SWBREAK };
            note_hit(last, &p, &b);
        }
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Where the next window of a reverse-continue starts, between t - 4w and
 * t - w (or at 0). Its checkpoint becomes the end of the window after it,
 * recognised by arrivals at its rip, and every arrival is a stop: prefer
 * the checkpoint whose rip the periodic checkpoints sampled least often
 * (they are taken at timer ticks, so a rip's share of them follows the
 * time spent there, which follows how often it is reached). */
static size_t window_start(struct replay_target *rt, size_t t, size_t w)
{
    size_t hi = t > w ? t - w : 0;
    size_t lo = t > 4 * w ? t - 4 * w : 0;
    if (hi == 0 || hi == lo)
        return hi;
    uint64_t *rips = malloc(t * sizeof(uint64_t));
    if (!rips)
        return hi;
    for (size_t i = 0; i < t; i++)
        rips[i] = rt->st.cp[i]->regs.rip;
    qsort(rips, t, sizeof(uint64_t), cmp_u64);
    size_t best = hi, best_n = SIZE_MAX;
    for (size_t j = hi; j > lo; j--) {
        uint64_t rip = rt->st.cp[j]->regs.rip;
        size_t a = 0, b = t; /* the first and one past the last equal rip */
        while (a < b) {
            size_t mid = (a + b) / 2;
            if (rips[mid] < rip) a = mid + 1; else b = mid;
        }
        size_t e = a;
        while (e < t && rips[e] == rip)
            e++;
        if (e - a < best_n) {
            best = j;
            best_n = e - a;
        }
    }
    free(rips);
    return best;
}

static int reverse_continue(struct replay_target *rt, struct ukvm_stop *stop)
{
    if (rt->n_user == 0) { /* nothing can stop us: straight to the start */
        if (restore(rt, 0) < 0)
            goto failed;
        report(stop, UKVM_STOP_REPLAY_BEGIN);
        return 0;
    }
    int r; /* of the helpers: -1 failed, 1 interrupted */
    if ((r = resolve(rt)) != 0)
        goto stopped;
    bool include_end = false; /* the first segment ends at the current position */
    size_t window = 1;
    uint64_t started = ukvm_now_ns();
    for (;;) {
        if (at_checkpoint(&rt->cur)) {
            if (top(rt) == 0) {
                if (restore(rt, 0) < 0)
                    goto failed;
                arm_user(rt);
                report(stop, UKVM_STOP_REPLAY_BEGIN);
                return 0;
            }
            if (!include_end) {
                step_down(rt);
                if ((r = resolve(rt)) != 0)
                    goto stopped;
                continue;
            }
            /* Searched back to checkpoint t without a hit: scan a window of
             * checkpoints below it, twice as many each time, ending at t's
             * state (recognised by its registers), so that a long stretch
             * without hits costs few restores. */
            size_t t = top(rt);
            size_t j = window_start(rt, t, window);
            window *= 2;
            const struct checkpoint *cp = rt->st.cp[t];
            struct position end = { .kind = ANCHOR_UNKNOWN, .addr = cp->regs.rip, .k = 1 };
            identity_of_checkpoint(cp, &end.id);
            kvm_target_clear_all(&rt->kt);
            while (top(rt) > j) /* the scan below restores j */
                checkpoint_pop(&rt->st, rt->kt.m);
            rt->cur = end;
        }
        if (ukvm_now_ns() - started > 1000000000ULL) {
            fprintf(stderr, "ukvm: reverse-continue: searching back from checkpoint %zu of %zu\n",
                    top(rt), rt->st.n);
            started = ukvm_now_ns();
        }
        struct hit last = { 0 };
        size_t base = top(rt);
        if ((r = scan_segment(rt, include_end, &last, stop)) != 0)
            goto stopped; /* interrupted: stay where the re-execution is */
        if (last.found) {
            kvm_target_clear_all(&rt->kt);
            if ((r = go_to(rt, base, &last.pos)) != 0)
                goto stopped;
            kvm_target_clear_all(&rt->kt);
            arm_user(rt);
            *stop = last.stop;
            return 0;
        }
        /* nothing in this segment: look in the one before, whose end (this
         * segment's checkpoint) now lies before where we started */
        include_end = true;
        kvm_target_clear_all(&rt->kt);
        rt->cur.k = 0;
        rt->cur.s = 0;
        rt->cur.kind = ANCHOR_NONE;
    }
stopped:
    if (r > 0)
        return stop_interrupted(rt, stop);
failed:
    fail_stop(rt, stop);
    return 0;
}

/* ---- forward motion keeps cur up to date ---- */

static void after_forward_stop(struct replay_target *rt, struct ukvm_stop *stop, bool stepped)
{
    struct kvm_target *kt = &rt->kt;
    switch (stop->reason) {
    case UKVM_STOP_STEP:
        rt->cur.s++;
        break;
    case UKVM_STOP_WATCH:
        if (stepped) {
            rt->cur.s++;
        } else {
            struct position p = { .kind = ANCHOR_WATCH, .k = 1 };
            p.watch.type = stop->watch_type;
            p.watch.addr = stop->watch_addr;
            for (size_t u = 0; u < rt->n_user; u++)
                if (rt->user[u].type == stop->watch_type && rt->user[u].addr == stop->watch_addr)
                    p.watch.len = rt->user[u].len;
            rt->cur = p;
        }
        break;
    case UKVM_STOP_SWBREAK:
    case UKVM_STOP_HWBREAK: {
        /* arrivals resumed for a false condition came first */
        struct position p = { .kind = ANCHOR_ADDR, .addr = regs(rt)->rip,
            .k = 1 + bp_cond_skips(&rt->kt, regs(rt)->rip) };
        rt->cur = p;
        break;
    }
    case UKVM_STOP_REPLAY_END:
        /* put rip back on the instruction that wanted the missing event,
         * once KVM has finished with that exit (on most KVMs it would
         * otherwise step past the `out` on the next run) */
        if (!stepped)
            kvm_target_settle(kt);
        regs(rt)->rip = replayer_end_rip(kt->m->src);
        vm_regs_changed(&kt->m->vm);
        replayer_clear_end(kt->m->src);
        if (stepped)
            break; /* nothing was executed */
        /* fall through */
    case UKVM_STOP_INTERRUPT: {
        struct position here = { .kind = ANCHOR_UNKNOWN, .addr = regs(rt)->rip, .k = 1 };
        identity_now(rt, &here.id);
        rt->cur = here;
        break;
    }
    default:
        break;
    }
}

/* A periodic stop can land part-way through a rep string instruction (a
 * KVM that runs guest code natively stops between iterations, with rcx
 * part-way down). Such a moment is not the state at any arrival at its rip,
 * so it cannot be named by its registers: no periodic checkpoint there. */
static bool inside_rep_string(struct replay_target *rt)
{
    uint8_t insn[15];
    long got = kvm_target_read_mem(&rt->kt.base, regs(rt)->rip, insn, sizeof(insn));
    return got > 0 && ukvm_scan_is_rep_string(insn, (size_t)got);
}

static int replay_resume_now(struct replay_target *rt, enum ukvm_resume_kind kind,
        struct ukvm_stop *stop);

/* Thinning renumbers checkpoints, so it happens between operations only. */
static int replay_resume(struct ukvm_target *t, enum ukvm_resume_kind kind,
        struct ukvm_stop *stop)
{
    struct replay_target *rt = rt_of(t);
    uint64_t t0 = ukvm_now_ns();
    rt->exec_ns = 0;
    rt->runs = 0;
    int r = replay_resume_now(rt, kind, stop);
    thin_out(rt);
    /* For `make bench`: what each operation cost, and where the time went. */
    if (rt->stats) {
        static const char *const names[] = { "continue", "step", "reverse-continue",
            "reverse-step" };
        fprintf(stderr, "ukvm: stats: op=%s total_ns=%llu exec_ns=%llu checkpoints=%zu "
                "checkpoint_bytes=%llu pushed=%llu dropped=%llu runs=%llu\n", names[kind],
                (unsigned long long)(ukvm_now_ns() - t0), (unsigned long long)rt->exec_ns,
                rt->st.n, (unsigned long long)checkpoint_memory(rt),
                (unsigned long long)rt->pushed, (unsigned long long)rt->dropped,
                (unsigned long long)rt->runs);
    }
    return r;
}

static int replay_resume_now(struct replay_target *rt, enum ukvm_resume_kind kind,
        struct ukvm_stop *stop)
{
    rt->kt.interrupt_requested = 0;
    switch (kind) {
    case UKVM_RESUME_STEP:
        if (rt->kt.dead) {
            *stop = rt->kt.dead_stop;
            return 0;
        }
        exec_step(rt, stop);
        after_forward_stop(rt, stop, true);
        return 0;
    case UKVM_RESUME_CONTINUE:
        if (rt->kt.dead) {
            *stop = rt->kt.dead_stop;
            return 0;
        }
        /* name the start of this run with a checkpoint */
        if (!at_checkpoint(&rt->cur) && push_checkpoint(rt, &rt->cur) < 0) {
            fail_stop(rt, stop);
            return 0;
        }
        rt->kt.tick_interval_us = rt->tick_us;
        rt->thin_at_push = true;
        rt->kt.cond_filter = true; /* false conditions resume (bp_cond.h) */
        bp_cond_reset_skips(&rt->kt);
        for (;;) {
            exec_continue(rt, stop);
            if (!rt->kt.ticked)
                break;
            /* the tick came just before a breakpoint: that is the stop */
            if (kvm_target_bp_stop(&rt->kt, stop) &&
                bp_condition_holds(&rt->kt, regs(rt)->rip))
                break;
            if (inside_rep_string(rt))
                continue; /* no arrival at rip could name this moment */
            if (no_progress_since_top(rt))
                continue; /* the tick came before the guest ran (a slow first
                             KVM_RUN): this moment is the top checkpoint */
            /* a periodic checkpoint, named by its registers until needed */
            struct position here = { .kind = ANCHOR_UNKNOWN, .addr = regs(rt)->rip, .k = 1 };
            identity_now(rt, &here.id);
            if (push_checkpoint(rt, &here) < 0) {
                rt->kt.tick_interval_us = 0;
                rt->thin_at_push = false;
                rt->kt.cond_filter = false;
                fail_stop(rt, stop);
                return 0;
            }
            bp_cond_reset_skips(&rt->kt); /* arrivals now count from here */
            if (rt->on_tick)
                rt->on_tick(rt->on_tick_ctx);
        }
        rt->kt.tick_interval_us = 0;
        rt->thin_at_push = false;
        rt->kt.cond_filter = false;
        after_forward_stop(rt, stop, false);
        return 0;
    case UKVM_RESUME_REVERSE_STEP:
        if (rt->kt.dead && rt->kt.dead_stop.reason == UKVM_STOP_EXITED)
            return -1;
        rt->kt.dead = false;
        return reverse_step(rt, stop);
    case UKVM_RESUME_REVERSE_CONTINUE:
        if (rt->kt.dead && rt->kt.dead_stop.reason == UKVM_STOP_EXITED)
            return -1;
        rt->kt.dead = false;
        return reverse_continue(rt, stop);
    }
    return -1;
}

static int replay_insert_bp(struct ukvm_target *t, enum ukvm_bp_type type, uint64_t addr,
        uint64_t len)
{
    struct replay_target *rt = rt_of(t);
    int r = kvm_target_ops.insert_bp(t, type, addr, len);
    if (r < 0)
        return r;
    for (size_t i = 0; i < rt->n_user; i++)
        if (rt->user[i].type == type && rt->user[i].addr == addr && rt->user[i].len == len)
            return 0;
    if (rt->n_user == rt->cap_user) {
        size_t cap = rt->cap_user ? rt->cap_user * 2 : 16;
        struct user_bp *n = realloc(rt->user, cap * sizeof(*n));
        if (!n)
            return -1;
        rt->user = n;
        rt->cap_user = cap;
    }
    rt->user[rt->n_user++] = (struct user_bp){ type, addr, len };
    return 0;
}

static int replay_remove_bp(struct ukvm_target *t, enum ukvm_bp_type type, uint64_t addr,
        uint64_t len)
{
    struct replay_target *rt = rt_of(t);
    for (size_t i = 0; i < rt->n_user; i++)
        if (rt->user[i].type == type && rt->user[i].addr == addr && rt->user[i].len == len) {
            rt->user[i] = rt->user[--rt->n_user];
            break;
        }
    return kvm_target_ops.remove_bp(t, type, addr, len);
}

int replay_target_init(struct replay_target *rt, struct monitor *m, const uint8_t *kernel,
        size_t kernel_len, const char *kernel_name, char *err, size_t errlen)
{
    memset(rt, 0, sizeof(*rt));
    kvm_target_init(&rt->kt, m, kernel, kernel_len, kernel_name);
    rt->ops = kvm_target_ops;
    rt->ops.resume = replay_resume;
    rt->ops.insert_bp = replay_insert_bp;
    rt->ops.remove_bp = replay_remove_bp;
    rt->kt.base.ops = &rt->ops;
    rt->kt.base.can_reverse = true;
    rt->kt.cond_filter = false; /* only forward continues filter (see resume) */
    replayer_hold_halt(m->src);
    rt->stats = getenv("UKVM_REPLAY_STATS") != NULL;
    rt->step_checkpoint_interval = 512;
    rt->tick_us = 2000;
    /* For tests: more frequent ticks put periodic stops in more places. */
    const char *tick = getenv("UKVM_TICK_US");
    uint64_t tick_us = tick ? strtoull(tick, NULL, 10) : 0;
    if (tick_us >= 10 && tick_us <= 1000000)
        rt->tick_us = tick_us;
    rt->memory_budget = m->cfg->checkpoint_mem ? m->cfg->checkpoint_mem : 256ULL << 20;
    uint64_t initial_end = m->kernel.kernel_end > 0x200000 ? m->kernel.kernel_end : 0x200000;
    rt->how = calloc(64, sizeof(*rt->how));
    if (!rt->how) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rt->how_cap = 64;
    if (checkpoint_init(&rt->st, m, initial_end, clean_page, &rt->kt, err, errlen) < 0)
        return -1;
    rt->cur.kind = ANCHOR_NONE;
    return 0;
}

/* ---- for the timeline navigation (replay_nav.c) ---- */

int replay_target_restore(struct replay_target *rt, size_t i)
{
    return restore(rt, i);
}

int replay_target_checkpoint_here(struct replay_target *rt)
{
    return at_checkpoint(&rt->cur) ? 0 : push_checkpoint(rt, &rt->cur);
}

void replay_target_arm_user(struct replay_target *rt)
{
    arm_user(rt);
}

void replay_target_identity_now(struct replay_target *rt, struct identity *id)
{
    identity_now(rt, id);
}

void replay_target_identity_of(const struct checkpoint *cp, struct identity *id)
{
    identity_of_checkpoint(cp, id);
}

bool replay_target_identity_equal(const struct identity *a, const struct identity *b)
{
    return identity_equal(a, b);
}

bool replay_target_now_matches(struct replay_target *rt, const struct identity *id)
{
    return now_matches(rt, id);
}

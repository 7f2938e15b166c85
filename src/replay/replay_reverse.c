/*
 * Reverse execution on the replay's timeline: reverse-stepi and
 * reverse-continue (the scan of the segments between checkpoints, backwards
 * from the current position, for the last stop), by going back to a
 * checkpoint and re-executing forward (replay_timeline.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/replay_reverse.h"
#include "ukvm/lower_bound.h"
#include "ukvm/outbuf.h"
#include "monitor/signals.h"

/* ---- reverse-stepi ---- */

/* An operation that an interrupt cut short reports it where it stopped. */
static int stop_interrupted(struct replay_target *rt, struct ukvm_stop *stop)
{
    ENGINE(rt, disarm_all);
    rt_arm_user(rt);
    rt_report(stop, UKVM_STOP_INTERRUPT);
    return 0;
}

/*
 * From where we stand, run to the next arrival at target's anchor with only
 * the anchor armed, pushing periodic checkpoints at the ticks on the way as
 * a forward continue does. 0 at the arrival, -1 when the run stopped
 * elsewhere, 1 when interrupted (cur names where).
 */
static int run_ticking_to_arrival(struct replay_target *rt, const struct position *target,
        struct ukvm_stop *stop)
{
    int r = 0;
    rt_arm_anchor(rt, target);
    rt->run.tick_us = rt->tick_us;
    for (;;) {
        rt_exec_continue(rt, stop);
        bool ticked = rt_tick_only(rt, stop);
        /* an interrupt just before the breakpoint: that is its stop */
        if (!ticked && stop->reason == UKVM_STOP_INTERRUPT)
            ENGINE(rt, bp_stop, stop);
        if (rt_stop_is_anchor(rt, target, stop))
            break;
        if (!ticked) {
            r = stop->reason == UKVM_STOP_INTERRUPT ? rt_interrupted_here(rt) : -1;
            break;
        }
        if (rt_push_periodic(rt) < 0) {
            r = -1;
            break;
        }
        if (rt_interrupt_wanted(rt)) {
            r = rt_interrupted_here(rt);
            break;
        }
    }
    rt->run.tick_us = 0;
    ENGINE(rt, disarm_all);
    return r;
}

/* Step back one instruction from the current position: 0 done, 2 at the
 * start of the trace (nothing before), 1 interrupted (cur names where),
 * -1 failed (reported). stop is scratch space for the re-executions. */
static int step_back(struct replay_target *rt, struct ukvm_stop *stop)
{
    int r;
    if ((r = rt_resolve(rt)) != 0)
        return r;
    while (rt_at_checkpoint(&rt->cur)) {
        if (rt_top(rt) == 0)
            return 2;
        rt_step_down(rt);
        if ((r = rt_resolve(rt)) != 0)
            return r;
    }
    size_t base = rt_top(rt);
    struct position target = rt->cur;
    if (target.s > 0) {
        target.s--;
        if ((r = rt_go_to(rt, base, &target)) != 0)
            return r;
    } else {
        /* From the (k-1)-th arrival, step to the k-th, counting d steps;
         * the answer is one step short of it. */
        struct position from = target;
        from.k--;
        if ((r = rt_go_to(rt, base, &from)) != 0)
            return r;
        if (!rt_at_checkpoint(&rt->cur) && rt_push_checkpoint(rt, &rt->cur) < 0)
            return -1;
        size_t first = rt_top(rt);
        /* The k-th arrival can be far (a breakpoint on a function entered
         * long after the (k-1)-th arrival, or first after a checkpoint
         * long before): run there with periodic checkpoints, then
         * single-step only from the last of them, a tick's worth at most. */
        if (target.kind == ANCHOR_ADDR || target.kind == ANCHOR_WATCH) {
            if ((r = run_ticking_to_arrival(rt, &target, stop)) != 0) {
                if (r < 0)
                    ukvm_err("reverse-stepi: re-execution stopped early (stop %d)", stop->reason);
                return r;
            }
            first = rt_top(rt);
            if (rt_restore(rt, first) < 0)
                return -1;
        }
        uint64_t d = 0;
        if (target.kind == ANCHOR_WATCH)
            rt_arm_anchor(rt, &target); /* the steps report its hits */
        for (;;) {
            if (d > 0 && d % rt->step_checkpoint_interval == 0) {
                struct position here = rt->cur;
                if (rt_push_checkpoint(rt, &here) < 0)
                    return -1;
            }
            if (rt_interrupt_wanted(rt)) /* cur counts the steps made */
                return 1;
            rt_exec_step(rt, stop);
            if (stop->reason != UKVM_STOP_STEP && stop->reason != UKVM_STOP_WATCH) {
                ukvm_err("reverse-stepi: re-execution stopped early (stop %d)", stop->reason);
                return -1;
            }
            d++;
            rt->cur.s++;
            bool arrived = target.kind == ANCHOR_WATCH
                ? stop->reason == UKVM_STOP_WATCH
                : rt_regs(rt)->rip == target.addr;
            if (target.kind == ANCHOR_UNKNOWN && arrived) {
                arrived = rt_now_matches(rt, &target.id);
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
        if ((r = rt_go_to(rt, first + j, &p)) != 0)
            return r;
    }
    return 0;
}

int rt_reverse_step(struct replay_target *rt, struct ukvm_stop *stop)
{
    int r = step_back(rt, stop);
    if (r < 0) {
        rt_fail_stop(rt, stop);
        return 0;
    }
    if (r == 1)
        return stop_interrupted(rt, stop);
    ENGINE(rt, disarm_all);
    rt_arm_user(rt);
    rt_report(stop, r == 2 ? UKVM_STOP_REPLAY_BEGIN : UKVM_STOP_STEP);
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
/* How often a scan stops to say how far it is. */
#define PROGRESS_TICK_US 1000000

/* Stops so far per breakpoint address or watch, in one scan. */
struct stop_count {
    enum ukvm_bp_type type;
    uint64_t addr;
    uint64_t n;
};

/* A scan ends at cur (relative to the top checkpoint), or, when end_event
 * is not NO_END_EVENT, where the replay is about to serve that event. */
#define NO_END_EVENT UINT64_MAX

static int scan_counted(struct replay_target *rt, bool include_end, uint64_t end_event,
        struct hit *last, struct ukvm_stop *stop, struct stop_count *counts, size_t cap);

/* One more stop at (type, addr): its count, NULL (said) when the table is
 * full, which only a stop at a point nobody armed could make it. */
static struct stop_count *count_stop(struct stop_count *counts, size_t *n, size_t cap,
        enum ukvm_bp_type type, uint64_t addr)
{
    size_t c;
    for (c = 0; c < *n; c++)
        if (counts[c].type == type && counts[c].addr == addr)
            break;
    if (c == *n) {
        if (*n == cap) {
            ukvm_err("reverse-continue: a stop at 0x%llx, where nothing was armed",
                    (unsigned long long)addr);
            return NULL;
        }
        counts[(*n)++] = (struct stop_count){ type, addr, 0 };
    }
    counts[c].n++;
    return &counts[c];
}

/* A watch stop names one watch, but its access may have hit other user
 * watches too (overlapping ranges): each is hit once more, or the count a
 * position names would miss the hits made while another was named. */
static bool count_other_watches(struct replay_target *rt, const struct ukvm_stop *s,
        struct stop_count *counts, size_t *n, size_t cap)
{
    for (size_t i = 0; i < rt->n_user; i++) {
        const struct user_bp *u = &rt->user[i];
        if (u->type == UKVM_BP_SOFTWARE || u->type == UKVM_BP_HARDWARE ||
                (u->type == s->watch_type && u->addr == s->watch_addr))
            continue;
        bool seen = false; /* (several lengths at one address: one watch) */
        for (size_t j = 0; j < i && !seen; j++)
            seen = rt->user[j].type == u->type && rt->user[j].addr == u->addr;
        if (!seen && ENGINE(rt, stop_hits_watch, u->type, u->addr) &&
                !count_stop(counts, n, cap, u->type, u->addr))
            return false;
    }
    return true;
}

static int scan_segment(struct replay_target *rt, bool include_end, uint64_t end_event,
        struct hit *last, struct ukvm_stop *stop)
{
    /* every counted stop is at a point armed for the scan: the user's, or
     * the anchor */
    size_t cap = rt->n_user + 1;
    struct stop_count *counts = calloc(cap, sizeof(*counts));
    if (!counts) {
        ukvm_err("reverse-continue: out of memory");
        return -1;
    }
    rt->run.tick_us = PROGRESS_TICK_US;
    int r = scan_counted(rt, include_end, end_event, last, stop, counts, cap);
    rt->run.tick_us = 0;
    if (end_event != NO_END_EVENT)
        replayer_watch(rt->src, UINT64_MAX, NULL, NULL);
    free(counts);
    return r;
}

/* A search longer than a second says where it is, once a second, where
 * gdb waits (the protocol's progress channel, else stderr). */
static void say_progress(struct replay_target *rt)
{
    uint64_t now = ukvm_now_ns();
    if (now - rt->search_said < 1000000000ULL)
        return;
    rt->search_said = now;
    size_t top = rt_top(rt);
    const struct checkpoint *cp = rt->st.cp[top];
    ukvm_outbuf_live(rt->base.progress, "ukvm: reverse-continue: searching the run "
            "between %.1f s and %.1f s (back from %.1f s; event %" PRIu64 "), %.0f s so far\n",
            (double)rt->place[top].mark.at_ns / 1e9, (double)rt->search_upto_ns / 1e9,
            (double)rt->search_from_ns / 1e9, cp->next_event, (double)(now - rt->search_t0) / 1e9);
}

static int scan_counted(struct replay_target *rt, bool include_end, uint64_t end_event,
        struct hit *last, struct ukvm_stop *stop, struct stop_count *counts, size_t cap)
{
    bool by_event = end_event != NO_END_EVENT;
    struct position end = rt->cur;
    if (by_event)
        end = (struct position){ .kind = ANCHOR_NONE, .k = UINT64_MAX };
    size_t base = rt_top(rt);
    if (rt_restore(rt, base) < 0)
        return -1;
    rt_arm_user(rt);
    /* the checkpoint's own state counts when it sits on a breakpoint */
    if (rt_is_user_bp_at(rt, rt_regs(rt)->rip) && (by_event || !rt_at_checkpoint(&end)) &&
        ENGINE(rt, condition_holds, rt_regs(rt)->rip)) {
        struct position p = { .kind = ANCHOR_NONE };
        struct ukvm_stop s = { .reason = UKVM_STOP_SWBREAK };
        note_hit(last, &p, &s);
    }
    if (by_event)
        replayer_watch(rt->src, end_event, NULL, NULL);
    else
        rt_arm_anchor(rt, &end);
    uint64_t arrivals = 0;
    /* a window that ends where it starts (see run_to_anchor) is empty */
    if (end.kind == ANCHOR_UNKNOWN && end.k == 1 && rt_now_matches(rt, &end.id))
        arrivals = end.k;
    size_t n_counts = 0;
    while (arrivals < end.k) {
        struct ukvm_stop s;
        rt_exec_continue(rt, &s);
        if (by_event && s.reason == UKVM_STOP_REPLAY_END &&
                replayer_next_event(rt->src) == end_event)
            break; /* the window's end */
        /* the progress tick (a long run), or once a second between stops */
        say_progress(rt);
        if (s.reason == UKVM_STOP_INTERRUPT && !rt_interrupt_wanted(rt) && rt_tick_only(rt, &s))
            continue;
        if (s.reason == UKVM_STOP_INTERRUPT || ukvm_stop_requested()) {
            *stop = s;
            return rt_interrupted_here(rt);
        }
        bool watch = s.reason == UKVM_STOP_WATCH;
        /* (names the user's watch where the access hit one: counted below) */
        bool user_watch = watch && rt_is_user_watch(rt, &s);
        if (!watch && s.reason != UKVM_STOP_SWBREAK && s.reason != UKVM_STOP_HWBREAK) {
            ukvm_err("reverse-continue: re-execution stopped early (stop %d, from checkpoint "
                    "%zu looking for arrival %llu of %llu at 0x%llx (anchor kind %d, event "
                    "%llu), now at event %llu)", s.reason, base,
                    (unsigned long long)arrivals + 1, (unsigned long long)end.k,
                    (unsigned long long)end.addr, (int)end.kind,
                    (unsigned long long)end.id.next_event,
                    (unsigned long long)replayer_next_event(rt->src));
            return -1;
        }
        enum ukvm_bp_type type = watch ? s.watch_type : UKVM_BP_SOFTWARE;
        uint64_t addr = watch ? s.watch_addr : rt_regs(rt)->rip;
        struct stop_count *c = count_stop(counts, &n_counts, cap, type, addr);
        if (!c || (watch && !count_other_watches(rt, &s, counts, &n_counts, cap)))
            return -1;
        /* A watch stop that leaves rip on the anchor address is an arrival
         * too: the next continue steps off it without reporting it. */
        bool anchor = rt_stop_is_anchor(rt, &end, &s) ||
            (watch && (end.kind == ANCHOR_ADDR || end.kind == ANCHOR_UNKNOWN) &&
             rt_regs(rt)->rip == end.addr);
        if (anchor) {
            arrivals++;
            if (end.kind == ANCHOR_UNKNOWN && arrivals == end.k) {
                if (!rt_now_matches(rt, &end.id))
                    end.k++; /* not yet: keep going */
            }
        }
        bool is_end = anchor && arrivals == end.k && end.s == 0 && !include_end;
        bool user = watch ? user_watch : rt_is_user_bp_at(rt, addr);
        /* A breakpoint at the end is where we stand, not behind us; a watch
         * trap at the end is the access just before it, which is. A false
         * condition: still an arrival (counted above), not a hit. */
        if (user && (!is_end || watch) &&
                (watch || ENGINE(rt, condition_holds, addr))) {
            struct position p = { .kind = watch ? ANCHOR_WATCH : ANCHOR_ADDR, .addr = addr,
                .k = c->n };
            if (watch) {
                p.watch.type = s.watch_type;
                p.watch.addr = s.watch_addr;
                p.watch.len = rt_user_watch_len(rt, s.watch_type, s.watch_addr);
            }
            note_hit(last, &p, &s);
        }
        /* A watch stop that leaves rip on a user breakpoint is an arrival
         * there as well (the next continue steps off it without a stop),
         * later than the access: counted, and a hit unless it is where we
         * stand. */
        uint64_t rip = rt_regs(rt)->rip;
        if (watch && rt_is_user_bp_at(rt, rip)) {
            struct stop_count *b = count_stop(counts, &n_counts, cap, UKVM_BP_SOFTWARE, rip);
            if (!b)
                return -1;
            if (!is_end && ENGINE(rt, condition_holds, rip)) {
                struct position p = { .kind = ANCHOR_ADDR, .addr = rip, .k = b->n };
                struct ukvm_stop bs = { .reason = UKVM_STOP_SWBREAK };
                note_hit(last, &p, &bs);
            }
        }
    }
    /* the single steps after the anchor (the last one only for a watch
     * trap, as above, unless the end itself counts) */
    for (uint64_t i = 1; i <= end.s; i++) {
        bool at_end = i == end.s && !include_end;
        struct ukvm_stop s;
        if (rt_interrupt_wanted(rt)) {
            rt->cur = end; /* exactly: i - 1 steps after the anchor */
            rt->cur.s = i - 1;
            return 1;
        }
        rt_exec_step(rt, &s);
        if (s.reason != UKVM_STOP_STEP && s.reason != UKVM_STOP_WATCH) {
            ukvm_err("reverse-continue: re-execution stopped early (stop %d)", s.reason);
            return -1;
        }
        struct position p = end;
        p.s = i;
        if (s.reason == UKVM_STOP_WATCH && rt_is_user_watch(rt, &s))
            note_hit(last, &p, &s);
        /* a step that hit a watch and left rip on a breakpoint arrives
         * there too, later than the access (as in the runs above) */
        if (!at_end && rt_is_user_bp_at(rt, rt_regs(rt)->rip) &&
                ENGINE(rt, condition_holds, rt_regs(rt)->rip)) {
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
        /* the first and one past the last equal rip */
        size_t a = ukvm_lower_bound(rips, t, sizeof(uint64_t), 0, rip), e = a;
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

/* The stop for a user breakpoint at addr: hardware when only a hardware
 * one is set there. */
static enum ukvm_stop_reason user_bp_kind_at(const struct replay_target *rt, uint64_t addr)
{
    bool hw = false;
    for (size_t i = 0; i < rt->n_user; i++) {
        if (rt->user[i].addr != addr)
            continue;
        if (rt->user[i].type == UKVM_BP_SOFTWARE)
            return UKVM_STOP_SWBREAK;
        hw |= rt->user[i].type == UKVM_BP_HARDWARE;
    }
    return hw ? UKVM_STOP_HWBREAK : UKVM_STOP_SWBREAK;
}

int rt_reverse_continue(struct replay_target *rt, struct ukvm_stop *stop)
{
    if (rt->n_user == 0) { /* nothing can stop us: straight to the start */
        if (rt_restore(rt, 0) < 0)
            goto failed;
        rt_report(stop, UKVM_STOP_REPLAY_BEGIN);
        return 0;
    }
    int r; /* of the helpers: -1 failed, 1 interrupted */
    if ((r = rt_resolve(rt)) != 0)
        goto stopped;
    bool include_end = false; /* the first segment ends at the current position */
    size_t window = 1;
    /* Where we started (P). Everything between the checkpoint a window
     * ends at and P has been searched, so a window may run on to any
     * moment up to P: the one that costs the fewest stops to recognise. */
    struct identity start;
    rt_identity_now(rt, &start);
    bool start_cheap = !ENGINE(rt, finished, NULL) && (rt_is_user_bp_at(rt, start.regs.rip) ||
            ENGINE(rt, on_event_insn));
    rt->search_t0 = rt->search_said = ukvm_now_ns();
    rt->search_from_ns = rt->search_upto_ns = rt->now_ns;
    uint64_t end_event = NO_END_EVENT; /* the next window's end, when by event */
    bool ends_at_start = false;
    for (;;) {
        if (rt_at_checkpoint(&rt->cur)) {
            if (rt_top(rt) == 0) {
                if (rt_restore(rt, 0) < 0)
                    goto failed;
                rt_arm_user(rt);
                rt_report(stop, UKVM_STOP_REPLAY_BEGIN);
                return 0;
            }
            if (!include_end) {
                rt_step_down(rt);
                if ((r = rt_resolve(rt)) != 0)
                    goto stopped;
                continue;
            }
            /* Searched back to checkpoint t without a hit: scan a window of
             * checkpoints below it, twice as many each time, ending at t's
             * state (recognised by its registers), so that a long stretch
             * without hits costs few restores. */
            size_t t = rt_top(rt);
            size_t j = window_start(rt, t, window);
            window *= 2;
            const struct checkpoint *cp = rt->st.cp[t];
            rt->search_upto_ns = rt->place[t].mark.at_ns;
            struct position end = { .kind = ANCHOR_UNKNOWN, .addr = cp->regs.rip, .k = 1 };
            rt_identity_of(cp, &end.id);
            /* t's own rip may be in a hot loop, every arrival a stop (there
             * are no events to hold its breakpoint back by). Rather: the
             * moment the replay is about to serve t's next event, if P
             * lies after it; or P itself, if arrivals at its rip are stops
             * anyway (a user breakpoint) or rare (an event's instruction,
             * reached once between two events). */
            if (cp->next_event < start.next_event)
                end_event = cp->next_event;
            else if (start_cheap) {
                end = (struct position){ .kind = ANCHOR_UNKNOWN, .addr = start.regs.rip,
                    .k = 1, .id = start };
                ends_at_start = true;
            }
            ENGINE(rt, disarm_all);
            while (rt_top(rt) > j) /* the scan below restores j */
                ENGINE(rt, checkpoint_pop, &rt->st);
            rt->cur = end;
        }
        struct hit last = { 0 };
        size_t base = rt_top(rt);
        /* (a breakpoint at P itself is where we stand, not behind us) */
        r = scan_segment(rt, include_end && !ends_at_start, end_event, &last, stop);
        end_event = NO_END_EVENT;
        ends_at_start = false;
        if (r != 0)
            goto stopped; /* interrupted: stay where the re-execution is */
        if (last.found) {
            ENGINE(rt, disarm_all);
            if ((r = rt_go_to(rt, base, &last.pos)) != 0)
                goto stopped;
            /* A watch trap comes just after the access; going backwards the
             * stop belongs on the accessing instruction, before it runs (as
             * gdb's own record-full and rr do): with the access already
             * done, gdb would see no change and go on to an earlier write. */
            if (last.stop.reason == UKVM_STOP_WATCH) {
                struct ukvm_stop scratch;
                ENGINE(rt, disarm_all);
                if ((r = step_back(rt, &scratch)) == 1) {
                    *stop = scratch;
                    goto stopped;
                }
                if (r < 0)
                    goto failed;
                /* r == 2 cannot be: an access happened before this point */
            }
            ENGINE(rt, disarm_all);
            rt_arm_user(rt);
            *stop = last.stop;
            /* re-executions plant every breakpoint in software: say which
             * kind the user set there */
            if (stop->reason == UKVM_STOP_SWBREAK || stop->reason == UKVM_STOP_HWBREAK)
                stop->reason = user_bp_kind_at(rt, rt_regs(rt)->rip);
            return 0;
        }
        /* nothing in this segment: look in the one before, whose end (this
         * segment's checkpoint) now lies before where we started */
        include_end = true;
        ENGINE(rt, disarm_all);
        rt->cur.k = 0;
        rt->cur.s = 0;
        rt->cur.kind = ANCHOR_NONE;
    }
stopped:
    if (r > 0)
        return stop_interrupted(rt, stop);
failed:
    rt_fail_stop(rt, stop);
    return 0;
}

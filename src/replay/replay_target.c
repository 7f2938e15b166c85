/*
 * The replay debug target (replay_target.h): the KVM target's operations
 * made to keep the timeline's current position up to date as the guest
 * moves forward, resume dispatching to reverse execution
 * (replay_reverse.c), and the user's breakpoints remembered for the
 * re-executions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vcpu/bp_cond.h"
#include "replay/replay_reverse.h"
#include "replay/replay_target.h"

static struct replay_target *rt_of(struct ukvm_target *t)
{
    return (struct replay_target *)t;
}

/* ---- forward motion keeps cur up to date ---- */

static void after_forward_stop(struct replay_target *rt, struct ukvm_stop *stop, bool stepped)
{
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
            p.watch.len = rt_user_watch_len(rt, stop->watch_type, stop->watch_addr);
            rt->cur = p;
        }
        break;
    case UKVM_STOP_SWBREAK:
    case UKVM_STOP_HWBREAK: {
        /* arrivals resumed for a false condition came first */
        struct position p = { .kind = ANCHOR_ADDR, .addr = rt_regs(rt)->rip,
            .k = 1 + bp_cond_skips(&rt->kt, rt_regs(rt)->rip) };
        rt->cur = p;
        break;
    }
    case UKVM_STOP_REPLAY_END:
        /* rip back on the instruction that wanted the missing event */
        rt_back_before_event(rt, stepped);
        if (stepped)
            break; /* nothing was executed */
        /* fall through */
    case UKVM_STOP_INTERRUPT: {
        struct position here = { .kind = ANCHOR_UNKNOWN, .addr = rt_regs(rt)->rip, .k = 1 };
        rt_identity_now(rt, &here.id);
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
static int replay_resume_now(struct replay_target *rt, enum ukvm_resume_kind kind,
        struct ukvm_stop *stop);

static const char *const op_names[] = { "continue", "step", "reverse-continue",
    "reverse-step" };

/* For a divergence report: what gdb had asked for (replayer_describe_debugger). */
static void describe_debugger(void *ctx, char *buf, size_t len)
{
    const struct replay_target *rt = ctx;
    if (!rt->op_started) {
        snprintf(buf, len, "before gdb's first command");
        return;
    }
    snprintf(buf, len, "during gdb's %s, breakpoints and watchpoints set: %zu",
            op_names[rt->op_kind], rt->n_user);
}

/* Thinning renumbers checkpoints, so it happens between operations only. */
static int replay_resume(struct ukvm_target *t, enum ukvm_resume_kind kind,
        struct ukvm_stop *stop)
{
    struct replay_target *rt = rt_of(t);
    uint64_t t0 = ukvm_now_ns();
    rt->exec_ns = 0;
    rt->runs = 0;
    rt->op_kind = kind;
    rt->op_started = true;
    int r = replay_resume_now(rt, kind, stop);
    rt_drop_gate(rt); /* one an interrupted re-execution left */
    rt_thin_out(rt);
    /* For `make bench`: what each operation cost, and where the time went. */
    if (rt->stats) {
        const char *const *names = op_names;
        fprintf(stderr, "ukvm: stats: op=%s total_ns=%llu exec_ns=%llu checkpoints=%zu "
                "checkpoint_bytes=%llu pushed=%llu dropped=%llu runs=%llu\n", names[kind],
                (unsigned long long)(ukvm_now_ns() - t0), (unsigned long long)rt->exec_ns,
                rt->st.n, (unsigned long long)rt_checkpoint_memory(rt),
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
        rt_exec_step(rt, stop);
        after_forward_stop(rt, stop, true);
        return 0;
    case UKVM_RESUME_CONTINUE:
        if (rt->kt.dead) {
            *stop = rt->kt.dead_stop;
            return 0;
        }
        /* name the start of this run with a checkpoint */
        if (!rt_at_checkpoint(&rt->cur) && rt_push_checkpoint(rt, &rt->cur) < 0) {
            rt_fail_stop(rt, stop);
            return 0;
        }
        rt->kt.tick_interval_us = rt->tick_us;
        rt->thin_at_push = true;
        rt->kt.cond_filter = true; /* false conditions resume (bp_cond.h) */
        bp_cond_reset_skips(&rt->kt);
        for (;;) {
            rt_exec_continue(rt, stop);
            if (!rt->kt.ticked)
                break;
            if (!rt_tick_only(rt, stop) && bp_condition_holds(&rt->kt, rt_regs(rt)->rip))
                break;
            int pushed = rt_push_periodic(rt);
            if (pushed == 0)
                continue;
            if (pushed < 0) {
                rt->kt.tick_interval_us = 0;
                rt->thin_at_push = false;
                rt->kt.cond_filter = false;
                rt_fail_stop(rt, stop);
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
        return rt_reverse_step(rt, stop);
    case UKVM_RESUME_REVERSE_CONTINUE:
        if (rt->kt.dead && rt->kt.dead_stop.reason == UKVM_STOP_EXITED)
            return -1;
        rt->kt.dead = false;
        return rt_reverse_continue(rt, stop);
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
    replayer_describe_debugger(m->src, describe_debugger, rt);
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
    rt->place = calloc(64, sizeof(*rt->place));
    if (!rt->place) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rt->place_cap = 64;
    if (checkpoint_init(&rt->st, m, initial_end, rt_clean_page, &rt->kt, err, errlen) < 0)
        return -1;
    rt->cur.kind = ANCHOR_NONE;
    return 0;
}

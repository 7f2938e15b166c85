/*
 * The replay debug target (replay_target.h): the engine's debug target
 * made to keep the timeline's current position up to date as the guest
 * moves forward, resume dispatching to reverse execution
 * (replay_reverse.c), and the user's breakpoints remembered for the
 * re-executions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/replay_reverse.h"
#include "replay/replay_target.h"

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
            .k = 1 + ENGINE(rt, cond_skips, rt_regs(rt)->rip) };
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
    struct replay_target *rt = replay_target_of(t);
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
    ENGINE(rt, clear_interrupt);
    switch (kind) {
    case UKVM_RESUME_STEP:
        if (ENGINE(rt, finished, stop))
            return 0;
        rt_exec_step(rt, stop);
        after_forward_stop(rt, stop, true);
        return 0;
    case UKVM_RESUME_CONTINUE:
        if (ENGINE(rt, finished, stop))
            return 0;
        /* name the start of this run with a checkpoint */
        if (!rt_at_checkpoint(&rt->cur) && rt_push_checkpoint(rt, &rt->cur) < 0) {
            rt_fail_stop(rt, stop);
            return 0;
        }
        rt->run.tick_us = rt->tick_us;
        rt->thin_at_push = true;
        rt->run.cond_filter = true; /* false conditions resume (bp_cond.h) */
        ENGINE(rt, reset_skips);
        for (;;) {
            rt_exec_continue(rt, stop);
            if (!rt->ticked)
                break;
            if (!rt_tick_only(rt, stop) && ENGINE(rt, condition_holds, rt_regs(rt)->rip))
                break;
            int pushed = rt_push_periodic(rt);
            if (pushed == 0)
                continue;
            if (pushed < 0) {
                rt->run.tick_us = 0;
                rt->thin_at_push = false;
                rt->run.cond_filter = false;
                rt_fail_stop(rt, stop);
                return 0;
            }
            ENGINE(rt, reset_skips); /* arrivals now count from here */
            if (rt->on_tick)
                rt->on_tick(rt->on_tick_ctx);
        }
        rt->run.tick_us = 0;
        rt->thin_at_push = false;
        rt->run.cond_filter = false;
        after_forward_stop(rt, stop, false);
        return 0;
    case UKVM_RESUME_REVERSE_STEP:
    case UKVM_RESUME_REVERSE_CONTINUE: {
        if (rt_guest_exited(rt))
            return -1;
        ENGINE(rt, set_finished, NULL);
        return kind == UKVM_RESUME_REVERSE_STEP ? rt_reverse_step(rt, stop)
            : rt_reverse_continue(rt, stop);
    }
    }
    return -1;
}

static int replay_insert_bp(struct ukvm_target *t, enum ukvm_bp_type type, uint64_t addr,
        uint64_t len)
{
    struct replay_target *rt = replay_target_of(t);
    int r = ENGINE(rt, arm, type, addr, len);
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
    struct replay_target *rt = replay_target_of(t);
    for (size_t i = 0; i < rt->n_user; i++)
        if (rt->user[i].type == type && rt->user[i].addr == addr && rt->user[i].len == len) {
            rt->user[i] = rt->user[--rt->n_user];
            break;
        }
    return ENGINE(rt, disarm, type, addr, len);
}

/* ---- what the engine's debug target does as it is ---- */

static struct ukvm_target *inner(struct ukvm_target *t)
{
    return replay_target_of(t)->e->target;
}

static int fwd_read_regs(struct ukvm_target *t, struct ukvm_regs *regs)
{
    return inner(t)->ops->read_regs(inner(t), regs);
}

static int fwd_write_regs(struct ukvm_target *t, const struct ukvm_regs *regs)
{
    return inner(t)->ops->write_regs(inner(t), regs);
}

static long fwd_read_mem(struct ukvm_target *t, uint64_t addr, void *buf, size_t len)
{
    return inner(t)->ops->read_mem(inner(t), addr, buf, len);
}

static long fwd_write_mem(struct ukvm_target *t, uint64_t addr, const void *buf, size_t len)
{
    return inner(t)->ops->write_mem(inner(t), addr, buf, len);
}

static void fwd_interrupt(struct ukvm_target *t)
{
    inner(t)->ops->interrupt(inner(t));
}

static void fwd_kill(struct ukvm_target *t)
{
    inner(t)->ops->kill(inner(t));
}

static void fwd_detach(struct ukvm_target *t)
{
    inner(t)->ops->detach(inner(t));
}

static int fwd_set_bp_conditions(struct ukvm_target *t, uint64_t addr,
        struct ax_cond_list *conds)
{
    return inner(t)->ops->set_bp_conditions(inner(t), addr, conds);
}

int replay_target_init(struct replay_target *rt, struct ukvm_engine *e,
        const struct replay_setup *setup, char *err, size_t errlen)
{
    memset(rt, 0, sizeof(*rt));
    rt->e = e;
    rt->src = setup->src;
    rt->base = *e->target; /* the kernel file gdb is served */
    rt->ops = (struct ukvm_target_ops){
        .read_regs = fwd_read_regs,
        .write_regs = fwd_write_regs,
        .read_mem = fwd_read_mem,
        .write_mem = fwd_write_mem,
        .insert_bp = replay_insert_bp,
        .remove_bp = replay_remove_bp,
        .resume = replay_resume,
        .interrupt = fwd_interrupt,
        .kill = fwd_kill,
        .detach = fwd_detach,
        .set_bp_conditions = e->target->ops->set_bp_conditions ? fwd_set_bp_conditions : NULL,
    };
    rt->base.ops = &rt->ops;
    rt->base.can_reverse = true;
    replayer_hold_halt(rt->src);
    replayer_describe_debugger(rt->src, describe_debugger, rt);
    rt->stats = getenv("UKVM_REPLAY_STATS") != NULL;
    rt->step_checkpoint_interval = 512;
    rt->tick_us = 2000;
    /* For tests: more frequent ticks put periodic stops in more places. */
    const char *tick = getenv("UKVM_TICK_US");
    uint64_t tick_us = tick ? strtoull(tick, NULL, 10) : 0;
    if (tick_us >= 10 && tick_us <= 1000000)
        rt->tick_us = tick_us;
    rt->memory_budget = setup->checkpoint_mem ? setup->checkpoint_mem : 256ULL << 20;
    rt->place = calloc(64, sizeof(*rt->place));
    if (!rt->place) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rt->place_cap = 64;
    if (ENGINE(rt, checkpoint_init, &rt->st, setup->initial_end, err, errlen) < 0)
        return -1;
    rt->cur.kind = ANCHOR_NONE;
    return 0;
}

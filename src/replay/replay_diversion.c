/* Diversions from the recorded timeline (replay_diversion.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/diversion_log.h"
#include "vcpu/gdb_monitor_cmd.h"
#include "replay/replay_diversion.h"
#include "replay/replay_nav.h"
#include "record/diversion_source.h"
#include "record/replayer.h"

struct replay_diversion {
    struct replay_target *rt;
    struct ukvm_target_ops inner;   /* the replay target's own operations */
    bool active;
    size_t base;                    /* its checkpoint: the recorded moment */
    uint64_t event;                 /* the next recorded event there */
    bool ran;                       /* the guest ran diverted */
    struct diversion_log log;
    struct diversion_source src;
};

static struct replay_diversion *div_of(struct ukvm_target *t)
{
    return replay_target_of(t)->div;
}

static struct ukvm_target *target(struct replay_diversion *d)
{
    return &d->rt->base;
}

static int begin(struct replay_diversion *d)
{
    struct replay_target *rt = d->rt;
    struct ukvm_regs start;
    if (ENGINE(rt, finished, NULL))
        return -1; /* the guest has exited: nothing left to change */
    if (d->inner.read_regs(target(d), &start) < 0 || rt_checkpoint_here(rt) < 0)
        return -1;
    d->base = rt->st.n - 1;
    d->event = replayer_next_event(rt->src);
    d->ran = false;
    diversion_log_reset(&d->log, &start);
    uint64_t wall, tsc, hz;
    replay_nav_clock_now(rt, &wall, &tsc, &hz); /* zeros when unknown */
    diversion_source_init(&d->src, STDOUT_FILENO, wall, tsc, hz);
    d->active = true;
    fprintf(stderr, "ukvm: gdb changed the guest: diverted from the recording before event %"
            PRIu64 " (a reverse command, 'monitor goto' or 'monitor diversion end' returns)\n",
            d->event);
    return 0;
}

/* Back to the moment the diversion began, exactly. */
static int end(struct replay_diversion *d)
{
    struct replay_target *rt = d->rt;
    d->active = false;
    diversion_log_free(&d->log);
    if (d->base + 1 != rt->st.n)
        ukvm_err("diversion: checkpoint %zu is not the top one (%zu)", d->base, rt->st.n);
    if (d->base >= rt->st.n || rt_restore(rt, d->base) < 0) {
        ukvm_err("diversion: cannot restore the recorded moment");
        return -1;
    }
    rt_arm_user(rt);
    fprintf(stderr, "ukvm: diversion ended: back on the recording before event %" PRIu64 "\n",
            d->event);
    return 0;
}

static int div_write_regs(struct ukvm_target *t, const struct ukvm_regs *regs)
{
    struct replay_diversion *d = div_of(t);
    if (!d->active) {
        struct ukvm_regs now;
        if (d->inner.read_regs(t, &now) == 0 && diversion_regs_equal(&now, regs))
            return 0; /* nothing would change: stay on the recording */
        if (begin(d) < 0)
            return -1;
    }
    diversion_log_regs(&d->log, regs);
    return d->inner.write_regs(t, regs);
}

static long div_write_mem(struct ukvm_target *t, uint64_t addr, const void *buf, size_t len)
{
    struct replay_diversion *d = div_of(t);
    uint8_t *orig = malloc(len ? len : 1);
    if (!orig)
        return -1;
    long got = d->inner.read_mem(t, addr, orig, len);
    long r = -1;
    if (got > 0) {
        size_t n = (size_t)got;
        if (!d->active && memcmp(orig, buf, n) == 0) {
            r = got; /* nothing would change */
        } else if (d->active || begin(d) == 0) {
            diversion_log_write(&d->log, addr, orig, n);
            r = d->inner.write_mem(t, addr, buf, n);
        }
    }
    free(orig);
    return r;
}

static long read_mem_cb(void *ctx, uint64_t addr, void *buf, size_t len)
{
    struct replay_diversion *d = ctx;
    return d->inner.read_mem(target(d), addr, buf, len);
}

/* Has gdb put back all it changed? */
static bool undone(struct replay_diversion *d)
{
    struct ukvm_regs now;
    return d->inner.read_regs(target(d), &now) == 0 &&
        diversion_log_undone(&d->log, &now, read_mem_cb, d);
}

/* Run the private copy forward: the diversion's event source instead of the
 * trace, no checkpoints. */
static int run_diverted(struct replay_diversion *d, enum ukvm_resume_kind kind,
        struct ukvm_stop *stop)
{
    struct replay_target *rt = d->rt;
    if (ENGINE(rt, finished, stop))
        return 0;
    ENGINE(rt, clear_interrupt);
    struct ukvm_event_source *recorded = ENGINE(rt, swap_source, &d->src.base);
    bool step = kind == UKVM_RESUME_STEP;
    /* false conditions resume, as forward in replay */
    const struct ukvm_run_opts opts = { .tick_us = 0, .cond_filter = true };
    int r = step ? ENGINE(rt, step, stop) : ENGINE(rt, run, &opts, stop, NULL);
    ENGINE(rt, swap_source, recorded);
    d->ran = true;
    if (r == 0 && stop->reason == UKVM_STOP_FAULT && d->src.halted) {
        /* the guest halts: stop before the halt, as the replay does at the
         * trace's end, and stay alive */
        ENGINE(rt, set_finished, NULL);
        stop->reason = UKVM_STOP_REPLAY_END;
        if (!step)
            ENGINE(rt, settle);
        ENGINE(rt, regs)->rip = d->src.halt_rip;
        ENGINE(rt, regs_changed);
        d->src.halted = false;
        fprintf(stderr, "ukvm: diversion: the guest halts (status %d) here; a reverse command, "
                "'monitor goto' or 'monitor diversion end' returns to the recording\n",
                d->src.halt_status);
    }
    return r;
}

static int div_resume(struct ukvm_target *t, enum ukvm_resume_kind kind,
        struct ukvm_stop *stop)
{
    struct replay_diversion *d = div_of(t);
    if (d->active) {
        bool reverse = kind == UKVM_RESUME_REVERSE_STEP || kind == UKVM_RESUME_REVERSE_CONTINUE;
        if (!reverse && !undone(d))
            return run_diverted(d, kind, stop);
        if (end(d) < 0) {
            memset(stop, 0, sizeof(*stop));
            stop->reason = UKVM_STOP_FAULT;
            return 0;
        }
    }
    return d->inner.resume(t, kind, stop);
}

static void describe(struct replay_diversion *d, struct ukvm_outbuf *out)
{
    ukvm_outbuf_printf(out, "diverted from the recording before event %" PRIu64 ": gdb wrote "
            "registers %" PRIu64 " times and %" PRIu64 " bytes of memory%s; the guest %s.\n"
            "A reverse command, 'monitor goto' or 'monitor diversion end' returns to the "
            "recording.\n", d->event, d->log.reg_writes, d->log.bytes,
            d->log.overflow ? " (too many writes to track)" : "",
            d->ran ? "has run since (its console output is marked \"[diverted]\")"
            : "has not run since");
}

static int cmd_diversion(struct replay_diversion *d, bool end_it, struct ukvm_outbuf *out)
{
    if (!d->active) {
        ukvm_outbuf_printf(out, "not diverted: on the recording\n");
        return 0;
    }
    if (!end_it) {
        describe(d, out);
        return 0;
    }
    if (end(d) < 0) {
        ukvm_outbuf_printf(out, "ukvm: diversion end: could not restore the recorded moment\n");
        return -1;
    }
    ukvm_outbuf_printf(out, "diversion ended: back on the recording before event %" PRIu64
            "\n", d->event);
    return 0;
}

static int div_monitor(struct ukvm_target *t, const char *line, struct ukvm_outbuf *out)
{
    struct replay_diversion *d = div_of(t);
    struct monitor_cmd c;
    char err[200];
    if (monitor_cmd_parse(line, &c, err, sizeof(err)) < 0)
        return d->inner.monitor(t, line, out); /* which says what is wrong */
    switch (c.verb) {
    case MON_DIVERSION:
        return cmd_diversion(d, c.n != 0, out);
    case MON_GOTO:
        if (d->active && end(d) < 0) {
            ukvm_outbuf_printf(out, "ukvm: goto: could not leave the diversion\n");
            return -1;
        }
        break;
    case MON_BOOKMARK:
        if (d->active) {
            ukvm_outbuf_printf(out, "ukvm: bookmark: diverted (gdb changed the guest); "
                    "bookmarks name moments of the recording: 'monitor diversion end' first\n");
            return -1;
        }
        break;
    case MON_WHEN:
        if (d->active)
            describe(d, out);
        break;
    default:
        break;
    }
    return d->inner.monitor(t, line, out);
}

/* Starting over (gdb's `run`) leaves a diversion as a goto does. */
static int div_restart(struct ukvm_target *t, const struct ukvm_position *pos,
        struct ukvm_outbuf *out)
{
    struct replay_diversion *d = div_of(t);
    if (d->active && end(d) < 0) {
        ukvm_outbuf_printf(out, "ukvm: run: could not leave the diversion\n");
        return -1;
    }
    return d->inner.restart(t, pos, out);
}

static void div_kill(struct ukvm_target *t)
{
    struct replay_diversion *d = div_of(t);
    if (d->active)
        end(d);
    d->inner.kill(t);
}

static void div_detach(struct ukvm_target *t)
{
    struct replay_diversion *d = div_of(t);
    if (d->active)
        end(d); /* the next client finds the recording */
    d->inner.detach(t);
}

int replay_diversion_attach(struct replay_target *rt, char *err, size_t errlen)
{
    struct replay_diversion *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->rt = rt;
    d->inner = rt->ops;
    rt->div = d;
    rt->ops.write_regs = div_write_regs;
    rt->ops.write_mem = div_write_mem;
    rt->ops.resume = div_resume;
    if (rt->ops.monitor)
        rt->ops.monitor = div_monitor;
    if (rt->ops.restart)
        rt->ops.restart = div_restart;
    rt->ops.kill = div_kill;
    rt->ops.detach = div_detach;
    return 0;
}

bool replay_diversion_active(const struct replay_target *rt)
{
    return rt->div && rt->div->active;
}

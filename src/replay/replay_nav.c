/*
 * The replay's monitor commands (replay_nav.h). Going to event N means:
 * from the current position if it is not past N, else from the latest
 * checkpoint whose next event is at most N, run with nothing armed until the
 * guest asks for event N (the replayer gives it back and stops, as at the end
 * of a cut-short trace), then make that moment a checkpoint. Every moment
 * whose next event is N lies at or before that stop, so the run never has
 * to go back.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vcpu/gdb_monitor_cmd.h"
#include "replay/replay_nav.h"
#include "record/event_format.h"
#include "record/replayer.h"
#include "record/trace_nav.h"

struct bookmark {
    char name[MON_NAME_MAX + 1];
    struct identity id;
    bool landing;               /* made at a goto's stop: just before event id.next_event */
};

struct replay_nav {
    struct replay_target *rt;
    char *trace_path;
    struct trace_nav *ti;         /* read on first use */
    size_t n_bm, cap_bm;
    struct bookmark *bm;
    unsigned next_auto;             /* for unnamed bookmarks */
    bool have_landing;              /* the last goto's stop, for `when` */
    struct identity landing;
    uint64_t landing_event;
    uint64_t run_to, run_t0, run_last;  /* the progress line */
    struct ukvm_outbuf *live;       /* the running command's, for progress */
};

static struct ukvm_event_source *src_of(struct replay_nav *nav)
{
    return nav->rt->src;
}

static uint64_t next_event(struct replay_nav *nav)
{
    return replayer_next_event(src_of(nav));
}

static int index_ready(struct replay_nav *nav, struct ukvm_outbuf *out)
{
    if (nav->ti)
        return 0;
    char err[256];
    nav->ti = trace_nav_open(nav->trace_path, err, sizeof(err));
    if (!nav->ti) {
        ukvm_outbuf_printf(out, "ukvm: cannot read the trace again: %s\n", err);
        return -1;
    }
    return 0;
}

/* Keep each checkpoint's pin count equal to the bookmarks on it. */
static void repin(struct replay_nav *nav)
{
    struct checkpoint_stack *st = &nav->rt->st;
    for (size_t i = 0; i < st->n; i++) {
        struct identity id;
        rt_identity_of(st->cp[i], &id);
        uint32_t pins = 0;
        for (size_t b = 0; b < nav->n_bm; b++)
            if (rt_identity_equal(&id, &nav->bm[b].id))
                pins++;
        nav->rt->place[i].mark.pins = pins;
    }
}

/* A goto that takes more than a second says how far it is, once a second
 * (at events, and at the continue's periodic checkpoints between them). */
static void progress(void *ctx, uint64_t number)
{
    struct replay_nav *nav = ctx;
    uint64_t now = ukvm_now_ns();
    if (now - nav->run_t0 < 1000000000ULL || now - nav->run_last < 1000000000ULL)
        return;
    nav->run_last = now;
    ukvm_outbuf_live(nav->live, "ukvm: goto: event %" PRIu64 " of %" PRIu64 ", going to event %" PRIu64
            " (%.1f s)...\n", number, trace_nav_count(nav->ti), nav->run_to,
            (double)(now - nav->run_t0) / 1e9);
}

static void progress_tick(void *ctx)
{
    struct replay_nav *nav = ctx;
    progress(nav, next_event(nav));
}

/* The latest checkpoint whose next event is below (or, with `or_equal`, at
 * most) n; checkpoint 0 when there is none. */
static size_t checkpoint_before(struct replay_nav *nav, uint64_t n, bool or_equal)
{
    struct checkpoint_stack *st = &nav->rt->st;
    for (size_t i = st->n; i-- > 1;)
        if (st->cp[i]->next_event < n || (or_equal && st->cp[i]->next_event == n))
            return i;
    return 0;
}

static void note_landing(struct replay_nav *nav, uint64_t event)
{
    struct replay_target *rt = nav->rt;
    rt_identity_of(rt->st.cp[rt->st.n - 1], &nav->landing);
    nav->landing_event = event;
    nav->have_landing = true;
}

/* A goto to the final halt is the stop a continue makes there: the next
 * continue lets the guest exit, as it does after that stop. */
static void release_if_final_halt(struct replay_nav *nav, uint64_t n)
{
    struct ukvm_event ev;
    char err[200];
    if (n == trace_nav_end_event(nav->ti) &&
        trace_nav_read(nav->ti, n, &ev, err, sizeof(err)) == 0 && ev.kind == UKVM_EV_HALT)
        replayer_release_halt(src_of(nav));
}

/* Just before event n (n <= the trace's end event). */
static int goto_event(struct replay_nav *nav, uint64_t n, struct ukvm_outbuf *out)
{
    struct replay_target *rt = nav->rt;
    if (ENGINE(rt, finished, NULL) || next_event(nav) > n) {
        if (rt_restore(rt, checkpoint_before(nav, n, true)) < 0)
            goto failed;
    }
    ENGINE(rt, disarm_all);
    nav->run_to = n;
    nav->run_t0 = nav->run_last = ukvm_now_ns();
    replayer_watch(src_of(nav), n, progress, nav);
    rt->on_tick = progress_tick;
    rt->on_tick_ctx = nav;
    struct ukvm_stop stop;
    int r = rt->ops.resume(&rt->base, UKVM_RESUME_CONTINUE, &stop);
    rt->on_tick = NULL;
    replayer_watch(src_of(nav), UINT64_MAX, NULL, NULL);
    if (r == 0 && stop.reason == UKVM_STOP_INTERRUPT) {
        /* gdb's Ctrl-C (or the client moved on): the continue named this
         * stop, as any interrupted one */
        ukvm_outbuf_printf(out, "ukvm: goto %" PRIu64 ": interrupted at event %" PRIu64
                " of %" PRIu64 "\n", n, next_event(nav), trace_nav_count(nav->ti));
        rt_arm_user(rt);
        return -1;
    }
    if (r < 0 || stop.reason != UKVM_STOP_REPLAY_END || next_event(nav) != n) {
        ukvm_outbuf_printf(out, "ukvm: goto %" PRIu64 ": the replay stopped at event %"
                PRIu64 " instead (stop %d)\n", n, next_event(nav), stop.reason);
        rt_arm_user(rt);
        return -1;
    }
    if (rt_checkpoint_here(rt) < 0)
        goto failed;
    release_if_final_halt(nav, n);
    rt_arm_user(rt);
    note_landing(nav, n);
    repin(nav);
    return 0;
failed:
    ukvm_outbuf_printf(out, "ukvm: goto %" PRIu64 ": could not restore a checkpoint\n", n);
    return -1;
}

static int goto_start(struct replay_nav *nav, struct ukvm_outbuf *out)
{
    if (rt_restore(nav->rt, 0) < 0) {
        ukvm_outbuf_printf(out, "ukvm: goto start: could not restore the first checkpoint\n");
        return -1;
    }
    rt_arm_user(nav->rt);
    note_landing(nav, 0);
    nav->have_landing = false; /* the start is not "just before event 0" */
    repin(nav);
    return 0;
}

static struct bookmark *find_bookmark(struct replay_nav *nav, const char *name)
{
    for (size_t i = 0; i < nav->n_bm; i++)
        if (!strcmp(nav->bm[i].name, name))
            return &nav->bm[i];
    return NULL;
}

/* Re-execute from a checkpoint before the bookmark to its moment: arrivals
 * at its rip until the registers, next event and stack agree. */
static int goto_bookmark(struct replay_nav *nav, const struct bookmark *b,
        struct ukvm_outbuf *out)
{
    struct replay_target *rt = nav->rt;
    struct checkpoint_stack *st = &rt->st;
    for (size_t i = st->n; i-- > 0;) { /* its checkpoint is still there */
        struct identity id;
        rt_identity_of(st->cp[i], &id);
        if (rt_identity_equal(&id, &b->id)) {
            if (rt_restore(rt, i) < 0)
                goto failed;
            rt_arm_user(rt);
            repin(nav);
            return 0;
        }
    }
    /* a moment named by its identity, as an interrupted stop is: the
     * timeline's own run to it (its breakpoint held back until the event
     * before it is served) */
    size_t from = checkpoint_before(nav, b->id.next_event, false);
    struct position here = { .kind = ANCHOR_UNKNOWN, .addr = b->id.regs.rip, .k = 1,
        .id = b->id };
    int r = rt_go_to(rt, from, &here);
    if (r != 0) {
        rt_restore(rt, from);
        rt_arm_user(rt);
        if (r > 0)
            ukvm_outbuf_printf(out, "ukvm: goto %s: interrupted (back at event %" PRIu64
                    ")\n", b->name, next_event(nav));
        else
            ukvm_outbuf_printf(out, "ukvm: goto %s: its moment was not found again\n",
                    b->name);
        return -1;
    }
    rt->cur = here;
    if (rt_checkpoint_here(rt) < 0)
        goto failed;
    rt_arm_user(rt);
    repin(nav);
    return 0;
failed:
    ukvm_outbuf_printf(out, "ukvm: goto %s: could not restore a checkpoint\n", b->name);
    return -1;
}

static int cmd_goto(struct replay_nav *nav, const struct monitor_cmd *c, struct ukvm_outbuf *out)
{
    int r;
    if (c->where == WHERE_BOOKMARK) {
        const struct bookmark *b = find_bookmark(nav, c->name);
        if (!b) {
            ukvm_outbuf_printf(out, "ukvm: goto: no bookmark '%s' ('monitor bookmarks' "
                    "lists them)\n", c->name);
            return -1;
        }
        r = goto_bookmark(nav, b, out);
        nav->have_landing = false;
        if (r == 0 && b->landing) {
            note_landing(nav, b->id.next_event);
            release_if_final_halt(nav, b->id.next_event);
        }
    } else if (c->where == WHERE_START) {
        r = goto_start(nav, out);
    } else {
        uint64_t n;
        char err[200];
        uint64_t end = trace_nav_end_event(nav->ti);
        uint64_t next = rt_guest_exited(nav->rt) ? trace_nav_count(nav->ti) : next_event(nav);
        if (monitor_goto_event(c, next, end, &n, err, sizeof(err)) < 0) {
            ukvm_outbuf_printf(out, "ukvm: %s\n", err);
            return -1;
        }
        r = goto_event(nav, n, out);
    }
    if (r < 0)
        return -1;
    return 0;
}

static void print_clock(struct replay_nav *nav, uint64_t next, struct ukvm_outbuf *out)
{
    struct guest_clock c;
    char err[200];
    if (trace_nav_clock(nav->ti, next, &c, err, sizeof(err)) < 0) {
        ukvm_outbuf_printf(out, ", guest clock unknown (%s)", err);
    } else if (c.have_wall) {
        time_t secs = (time_t)(c.wall_ns / 1000000000u);
        struct tm tm;
        char when[64];
        if (gmtime_r(&secs, &tm) && strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm))
            ukvm_outbuf_printf(out, ", guest time %s.%03u UTC", when,
                    (unsigned)(c.wall_ns % 1000000000u / 1000000u));
        else
            ukvm_outbuf_printf(out, ", guest time %" PRIu64 " ns", c.wall_ns);
    } else if (c.have_tsc) {
        ukvm_outbuf_printf(out, ", guest tsc %" PRIu64 " (no walltime read yet)", c.tsc);
    } else {
        ukvm_outbuf_printf(out, ", guest clock not read yet");
    }
}

/* Where we are, relative to the last goto's stop when the top checkpoint
 * is that stop: the single steps since it are known exactly. */
static int cmd_when(struct replay_nav *nav, struct ukvm_outbuf *out)
{
    struct replay_target *rt = nav->rt;
    uint64_t total = trace_nav_count(nav->ti);
    if (rt_guest_exited(nav->rt)) {
        ukvm_outbuf_printf(out, "event %" PRIu64 " of %" PRIu64 " (100%%): the guest has "
                "exited", total, total);
        print_clock(nav, total, out);
        ukvm_outbuf_printf(out, "\n");
        return 0;
    }
    uint64_t next = next_event(nav);
    unsigned pct = total ? (unsigned)(next * 100 / total) : 100;
    ukvm_outbuf_printf(out, "event %" PRIu64 " of %" PRIu64 " (%u%%)", next, total, pct);
    struct identity top;
    rt_identity_of(rt->st.cp[rt->st.n - 1], &top);
    bool steps_known = rt->cur.kind == ANCHOR_NONE && rt->cur.k == 0;
    if (rt->st.n == 1 && steps_known && rt->cur.s == 0) {
        ukvm_outbuf_printf(out, ", at the start of the trace");
    } else if (steps_known && nav->have_landing &&
            rt_identity_equal(&top, &nav->landing)) {
        uint64_t s = rt->cur.s;
        if (s == 0) {
            struct ukvm_event ev;
            char err[200];
            const char *kind = next < total && trace_nav_read(nav->ti, next, &ev, err,
                    sizeof(err)) == 0 ? ukvm_event_kind_name(ev.kind) : "end of trace";
            ukvm_outbuf_printf(out, ", just before it (%s)", kind);
        } else if (next == nav->landing_event + 1) {
            ukvm_outbuf_printf(out, ", +%" PRIu64 " instructions after event %" PRIu64,
                    s - 1, nav->landing_event);
        } else if (next > 0) {
            ukvm_outbuf_printf(out, ", after event %" PRIu64, next - 1);
        }
    } else if (next > 0) {
        ukvm_outbuf_printf(out, ", after event %" PRIu64 " (instructions since not counted)",
                next - 1);
    }
    print_clock(nav, next, out);
    ukvm_outbuf_printf(out, "\n");
    return 0;
}

static int cmd_events(struct replay_nav *nav, int64_t count, struct ukvm_outbuf *out)
{
    uint64_t total = trace_nav_count(nav->ti);
    uint64_t next = rt_guest_exited(nav->rt) ? total : next_event(nav);
    uint64_t from, n;
    if (count > 0) {
        from = next;
        n = total > next ? total - next : 0;
        if (n > (uint64_t)count)
            n = (uint64_t)count;
        if (n == 0)
            ukvm_outbuf_printf(out, "(no events after this point: the end of the trace)\n");
    } else {
        n = next < (uint64_t)-count ? next : (uint64_t)-count;
        from = next - n;
        if (n == 0)
            ukvm_outbuf_printf(out, "(no events before this point: the start of the trace)\n");
    }
    for (uint64_t i = from; i < from + n; i++) {
        struct ukvm_event ev;
        char err[200], line[UKVM_EVENT_LINE_MAX];
        if (trace_nav_read(nav->ti, i, &ev, err, sizeof(err)) < 0) {
            ukvm_outbuf_printf(out, "ukvm: events: %s\n", err);
            return -1;
        }
        ukvm_event_format(line, sizeof(line), i, &ev);
        ukvm_outbuf_printf(out, "%s", line);
        if (ev.text_len) { /* as ukvm-trace dump: escaped console text */
            ukvm_outbuf_printf(out, " text=\"");
            for (uint32_t j = 0; j < ev.text_len; j++) {
                char esc[5];
                ukvm_escape_byte(ev.text[j], esc);
                ukvm_outbuf_printf(out, "%s", esc);
            }
            ukvm_outbuf_printf(out, "\"");
        }
        ukvm_outbuf_printf(out, "\n");
    }
    return 0;
}

static int cmd_bookmark(struct replay_nav *nav, const char *name, struct ukvm_outbuf *out)
{
    struct replay_target *rt = nav->rt;
    char gen[MON_NAME_MAX + 1];
    if (!name[0]) {
        do
            snprintf(gen, sizeof(gen), "b%u", ++nav->next_auto);
        while (find_bookmark(nav, gen));
        name = gen;
    }
    if (find_bookmark(nav, name)) {
        ukvm_outbuf_printf(out, "ukvm: bookmark: '%s' exists already ('monitor delete %s' "
                "first)\n", name, name);
        return -1;
    }
    if (ENGINE(rt, finished, NULL)) {
        ukvm_outbuf_printf(out, "ukvm: bookmark: the guest has %s: go back first\n",
                rt_guest_exited(nav->rt) ? "exited" : "stopped");
        return -1;
    }
    if (nav->n_bm == nav->cap_bm) {
        size_t cap = nav->cap_bm ? nav->cap_bm * 2 : 8;
        struct bookmark *b = realloc(nav->bm, cap * sizeof(*b));
        if (!b) {
            ukvm_outbuf_printf(out, "ukvm: bookmark: out of memory\n");
            return -1;
        }
        nav->bm = b;
        nav->cap_bm = cap;
    }
    if (rt_checkpoint_here(rt) < 0) {
        ukvm_outbuf_printf(out, "ukvm: bookmark: could not take a checkpoint\n");
        return -1;
    }
    struct bookmark *b = &nav->bm[nav->n_bm++];
    snprintf(b->name, sizeof(b->name), "%s", name);
    rt_identity_of(rt->st.cp[rt->st.n - 1], &b->id);
    b->landing = nav->have_landing && rt_identity_equal(&b->id, &nav->landing);
    repin(nav);
    ukvm_outbuf_printf(out, "bookmark %s: event %" PRIu64 ", rip 0x%" PRIx64 "\n", b->name,
            b->id.next_event, (uint64_t)b->id.regs.rip);
    return 0;
}

static int cmd_bookmarks(struct replay_nav *nav, struct ukvm_outbuf *out)
{
    if (nav->n_bm == 0)
        ukvm_outbuf_printf(out, "  (no bookmarks: 'monitor bookmark [NAME]' makes one)\n");
    for (size_t i = 0; i < nav->n_bm; i++)
        ukvm_outbuf_printf(out, "%-16s event %" PRIu64 " of %" PRIu64 ", rip 0x%" PRIx64 "\n",
                nav->bm[i].name, nav->bm[i].id.next_event, trace_nav_count(nav->ti),
                (uint64_t)nav->bm[i].id.regs.rip);
    return 0;
}

static int cmd_delete(struct replay_nav *nav, const char *name, struct ukvm_outbuf *out)
{
    struct bookmark *b = find_bookmark(nav, name);
    if (!b) {
        ukvm_outbuf_printf(out, "ukvm: delete: no bookmark '%s'\n", name);
        return -1;
    }
    *b = nav->bm[--nav->n_bm];
    repin(nav);
    ukvm_outbuf_printf(out, "bookmark %s deleted\n", name);
    return 0;
}

/* A goto and, when it got there, where that is (as `monitor when`). */
static int goto_and_tell(struct replay_nav *nav, const struct monitor_cmd *c,
        struct ukvm_outbuf *out)
{
    if (index_ready(nav, out) < 0 || cmd_goto(nav, c, out) < 0)
        return -1;
    return cmd_when(nav, out);
}

static int nav_monitor(struct replay_nav *nav, const char *line, struct ukvm_outbuf *out)
{
    struct monitor_cmd c;
    int r = monitor_cmd_read(line, &c, out);
    if (r != 0)
        return r < 0 ? -1 : 0;
    if (c.verb == MON_GOTO)
        return goto_and_tell(nav, &c, out);
    if (index_ready(nav, out) < 0)
        return -1;
    switch (c.verb) {
    case MON_WHEN:
        return cmd_when(nav, out);
    case MON_EVENTS:
        return cmd_events(nav, c.count, out);
    case MON_BOOKMARK:
        return cmd_bookmark(nav, c.name, out);
    case MON_BOOKMARKS:
        return cmd_bookmarks(nav, out);
    case MON_DELETE:
        return cmd_delete(nav, c.name, out);
    default:
        ukvm_outbuf_printf(out, "ukvm: monitor: not handled\n");
        return -1;
    }
}

/* Runs one request with out as the place for progress lines, forgetting an
 * interrupt left over from the last resume (the server repeats one that is
 * still wanted). */
static struct replay_nav *begin(struct ukvm_target *t, struct ukvm_outbuf *out)
{
    struct replay_nav *nav = replay_target_of(t)->nav;
    nav->live = out;
    ENGINE(nav->rt, clear_interrupt);
    return nav;
}

int replay_nav_monitor(struct ukvm_target *t, const char *line, struct ukvm_outbuf *out)
{
    struct replay_nav *nav = begin(t, out);
    int r = nav_monitor(nav, line, out);
    nav->live = NULL;
    return r;
}

_Static_assert(UKVM_POSITION_NAME_MAX == MON_NAME_MAX, "a position names any bookmark");

/* The restart op: a goto to a parsed position (gdb's `run`, --goto). */
static int nav_restart(struct ukvm_target *t, const struct ukvm_position *pos,
        struct ukvm_outbuf *out)
{
    static const enum mon_where where[] = {
        [UKVM_AT_START] = WHERE_START, [UKVM_AT_END] = WHERE_END,
        [UKVM_AT_EVENT] = WHERE_EVENT, [UKVM_AT_FORWARD] = WHERE_FORWARD,
        [UKVM_AT_BACK] = WHERE_BACK, [UKVM_AT_BOOKMARK] = WHERE_BOOKMARK,
    };
    if ((unsigned)pos->where >= sizeof(where) / sizeof(where[0])) {
        ukvm_outbuf_printf(out, "ukvm: restart: not a position\n");
        return -1;
    }
    struct monitor_cmd c = { .verb = MON_GOTO, .where = where[pos->where], .n = pos->n };
    snprintf(c.name, sizeof(c.name), "%s", pos->name);
    struct replay_nav *nav = begin(t, out);
    int r = goto_and_tell(nav, &c, out);
    nav->live = NULL;
    return r;
}

int replay_nav_clock_now(struct replay_target *rt, uint64_t *wall_ns, uint64_t *tsc,
        uint64_t *tsc_hz)
{
    struct replay_nav *nav = rt->nav;
    struct ukvm_outbuf out = { 0 };
    struct guest_clock c;
    char err[200];
    *wall_ns = *tsc = *tsc_hz = 0;
    int r = nav ? index_ready(nav, &out) : -1;
    ukvm_outbuf_free(&out);
    if (r < 0 || trace_nav_clock(nav->ti, next_event(nav), &c, err, sizeof(err)) < 0)
        return -1;
    *wall_ns = c.have_wall ? c.wall_ns : 0;
    *tsc = c.have_tsc ? c.tsc : 0;
    *tsc_hz = trace_nav_header(nav->ti)->tsc_hz;
    return 0;
}

int replay_nav_attach(struct replay_target *rt, const char *trace_path, char *err, size_t errlen)
{
    struct replay_nav *nav = calloc(1, sizeof(*nav));
    if (!nav || !(nav->trace_path = strdup(trace_path))) {
        free(nav);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    nav->rt = rt;
    rt->nav = nav;
    rt->ops.monitor = replay_nav_monitor;
    rt->ops.restart = nav_restart;
    return 0;
}

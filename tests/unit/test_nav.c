/*
 * The navigation by event without KVM: the real replay_nav.c (monitor
 * goto, bookmark, bookmarks, delete, when) and the real monitor-command
 * parser over the timeline objects and the fake engine (fake_engine.h),
 * with the trace index faked (fake_nav.h).
 *
 * The oracle is the fake machine run forward alone from reset: log[j] is
 * the state after j instructions. What the commands promise (README,
 * "Moving by event"), in its terms:
 *   goto N      the last moment whose next event is N: just before the
 *               instruction that asks for event N (N = the count, a trace
 *               cut short: its end);
 *   goto start  log[0]; goto end: goto of the trace's end event (the final
 *               halt's number, else the count); goto +n / -n: goto of the
 *               next event plus / minus n;
 *   goto NAME   exactly the moment `bookmark NAME` was made at (registers,
 *               memory, next event), wherever it was and whatever happened
 *               to the checkpoints since;
 *   a failed command: one line beginning with "ukvm: ", the machine and
 *               the position on the timeline unchanged.
 * After each landing a stepi and a reverse-stepi must agree with the log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_log.h"
#include "fake_nav.h"
#include "replay/replay_nav.h"
#include "replay/replay_target.h"
#include "ukvm/outbuf.h"

#define A(i) (FAKE_BASE + 4 * (uint64_t)(i))
#define MAX_KEPT 4096

/* An event, a hot loop without events, then a loop with an event and an
 * inner hot loop in each iteration, a last event and one past the trace:
 * long intervals between some events, short ones between others. */
static const struct fake_insn insns[] = {
    /* 0 */ { .op = FOP_MOVI, .reg = R_CX, .imm = 4 },
    /* 1 */ { .op = FOP_EVENT },                                 /* event 0 */
    /* 2 */ { .op = FOP_ADDI, .reg = R_BX, .imm = 1 },           /* hot loop */
    /* 3 */ { .op = FOP_STORE, .reg = R_BX, .addr = 0x10 },
    /* 4 */ { .op = FOP_LOOP, .reg = R_CX, .target = 2 },
    /* 5 */ { .op = FOP_MOVI, .reg = R_SI, .imm = 4 },
    /* 6 */ { .op = FOP_EVENT },                                 /* events 1-4 */
    /* 7 */ { .op = FOP_ADDI, .reg = R_DX, .imm = 5 },
    /* 8 */ { .op = FOP_STORE, .reg = R_DX, .addr = 0x18 },
    /* 9 */ { .op = FOP_MOVI, .reg = R_CX, .imm = 2 },
    /* 10 */ { .op = FOP_ADDI, .reg = R_DI, .imm = 1 },          /* inner hot loop */
    /* 11 */ { .op = FOP_LOOP, .reg = R_CX, .target = 10 },
    /* 12 */ { .op = FOP_LOOP, .reg = R_SI, .target = 6 },
    /* 13 */ { .op = FOP_EVENT },                                /* event 5 */
    /* 14 */ { .op = FOP_NOP },
    /* 15 */ { .op = FOP_EVENT },                                /* past the trace */
};
static const uint64_t events[] = { 7, 1, 2, 3, 4, 5 };
#define N_EVENTS ((uint64_t)(sizeof(events) / sizeof(events[0])))
static const struct fake_program prog = { insns, sizeof(insns) / sizeof(insns[0]), events,
    N_EVENTS };

static struct fake_log lg;

static struct replay_target rt;
/* replay_nav.h offers no way to free a navigation (the process ends with
 * it): each test's is kept reachable here, so that the leak checker is
 * quiet about them and not about anything else. */
static struct replay_nav *kept[MAX_KEPT];
static size_t n_kept;

/* How setup makes the timeline: its periods, its checkpoint budget (0: the
 * default; else room for that many checkpoints besides checkpoint 0), the
 * trace's ending. */
static struct {
    uint64_t tick_us, interval, room;
    bool final_halt;
    const char *trace_path;
} cfg = { 5, 1000, 0, false, "fake.trace" };

static void build_log(void)
{
    fake_log_build(&lg, &prog);
}

static int setup(void **state)
{
    (void)state;
    fake_reset(&prog);
    fake_nav_trace(&prog, cfg.final_halt);
    build_log();
    char err[256];
    fake_target_open(&rt, cfg.tick_us, cfg.interval);
    if (cfg.room)
        rt.memory_budget = rt_checkpoint_memory(&rt) + cfg.room * FAKE_CP_COST;
    assert_int_equal(replay_nav_attach(&rt, cfg.trace_path, err, sizeof(err)), 0);
    assert_true(n_kept < MAX_KEPT);
    kept[n_kept++] = rt.nav;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_target_close(&rt);
    return 0;
}

static void reset_cfg(void)
{
    cfg.tick_us = 5;
    cfg.interval = 1000;
    cfg.room = 0;
    cfg.final_halt = false;
    cfg.trace_path = "fake.trace";
}

/* Each test starts from the default cfg, even after one that failed
 * half-way through its changes. */
static int defaults(void **state)
{
    (void)state;
    reset_cfg();
    return 0;
}

static int setup_defaults(void **state)
{
    reset_cfg();
    return setup(state);
}

/* ---- the oracle ---- */

static uint64_t end_event(void)
{
    return cfg.final_halt ? N_EVENTS - 1 : N_EVENTS;
}

static bool on_event_insn(const struct fake_state *s)
{
    uint64_t i = (s->regs.rip - FAKE_BASE) / 4;
    return i < (uint64_t)prog.n && prog.insn[i].op == FOP_EVENT;
}

/* Where goto n must land: the last moment whose next event is n, on the
 * instruction that asks for event n. */
static size_t before_event(uint64_t n)
{
    size_t found = SIZE_MAX;
    for (size_t j = 0; j < lg.n; j++)
        if (lg.s[j].next_event == n)
            found = j;
    assert_true(found != SIZE_MAX);
    assert_true(on_event_insn(&lg.s[found]));
    return found;
}

/* The one log entry the machine equals now. */
static size_t where(void)
{
    return fake_log_where(&lg, NULL);
}

/* The next arrival at addr after moment j, SIZE_MAX if none. */
static size_t next_arrival(uint64_t addr, size_t j)
{
    for (size_t i = j + 1; i < lg.n; i++)
        if (lg.s[i].regs.rip == addr)
            return i;
    return SIZE_MAX;
}

/* The last arrival at addr before moment j, SIZE_MAX if none (the start
 * is one, at its rip). */
static size_t last_arrival(uint64_t addr, size_t j)
{
    for (size_t i = j; i-- > 0;)
        if (lg.s[i].regs.rip == addr)
            return i;
    return SIZE_MAX;
}

/* The index of the checkpoint taken at moment j (the topmost: a goto to the
 * event it stands before may take a second one there), SIZE_MAX if none. */
static size_t checkpoint_at(size_t j)
{
    for (size_t i = rt.st.n; i-- > 0;)
        if (!memcmp(&rt.st.cp[i]->regs, &lg.s[j].regs, sizeof(lg.s[j].regs)) &&
                rt.st.cp[i]->next_event == lg.s[j].next_event)
            return i;
    return SIZE_MAX;
}

/* ---- driving the target ---- */

static char answer[8192];

static int mon(const char *cmd)
{
    struct ukvm_outbuf out = { 0 };
    int r = rt.base.ops->monitor(&rt.base, cmd, &out);
    assert_false(out.failed);
    snprintf(answer, sizeof(answer), "%s", out.len ? out.buf : "");
    ukvm_outbuf_free(&out);
    return r;
}

static void mon_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mon_ok(const char *fmt, ...)
{
    char cmd[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (mon(cmd) != 0)
        fail_msg("monitor %s failed: %s", cmd, answer);
}

static bool answer_has(const char *text)
{
    return strstr(answer, text) != NULL;
}

static bool one_error_line(void)
{
    size_t len = strlen(answer);
    return !strncmp(answer, "ukvm: ", 6) && len > 0 && answer[len - 1] == '\n' &&
        strchr(answer, '\n') == answer + len - 1;
}

/* A command that must fail: one "ukvm: " line holding `why`, the machine
 * unchanged. */
static void mon_fails(const char *cmd, const char *why)
{
    struct fake_state before = *fake_now();
    if (mon(cmd) != -1)
        fail_msg("monitor %s did not fail: %s", cmd, answer);
    if (!one_error_line() || !answer_has(why))
        fail_msg("monitor %s: '%s', wanted one 'ukvm: ' line with '%s'", cmd, answer, why);
    assert_true(fake_state_equal(&before, fake_now()));
}

static struct ukvm_stop resume(enum ukvm_resume_kind kind)
{
    return fake_resume(&rt, kind);
}

static void insert_bp(uint64_t addr)
{
    fake_insert(&rt, UKVM_BP_SOFTWARE, addr, 1);
}

static void remove_bp(uint64_t addr)
{
    fake_remove(&rt, UKVM_BP_SOFTWARE, addr, 1);
}

static void stepi(void)
{
    size_t j = where();
    struct ukvm_stop s = resume(UKVM_RESUME_STEP);
    if (j + 1 == lg.n) {
        assert_int_equal(s.reason, UKVM_STOP_REPLAY_END);
        assert_int_equal(where(), j);
        return;
    }
    assert_int_equal(s.reason, UKVM_STOP_STEP);
    assert_int_equal(where(), j + 1);
}

static void reverse_stepi(void)
{
    size_t j = where();
    struct ukvm_stop s = resume(UKVM_RESUME_REVERSE_STEP);
    if (j == 0) {
        assert_int_equal(s.reason, UKVM_STOP_REPLAY_BEGIN);
        assert_int_equal(where(), 0);
        return;
    }
    assert_int_equal(s.reason, UKVM_STOP_STEP);
    assert_int_equal(where(), j - 1);
}

/* A continue with a breakpoint at addr only: the next arrival, or the end. */
static void continue_to(uint64_t addr)
{
    size_t j = where();
    size_t want = next_arrival(addr, j);
    enum ukvm_stop_reason reason = UKVM_STOP_SWBREAK;
    if (want == SIZE_MAX) {
        want = lg.n - 1;
        reason = UKVM_STOP_REPLAY_END;
    }
    insert_bp(addr);
    struct ukvm_stop s = resume(UKVM_RESUME_CONTINUE);
    remove_bp(addr);
    if (s.reason != reason || where() != want)
        fail_msg("continue to 0x%llx from moment %zu: stop %d at moment %zu, wanted %d at %zu",
                (unsigned long long)addr, j, s.reason, where(), reason, want);
}

static void reverse_continue_to(uint64_t addr)
{
    size_t j = where();
    size_t want = last_arrival(addr, j);
    bool none = want == SIZE_MAX;
    if (none)
        want = 0;
    insert_bp(addr);
    struct ukvm_stop s = resume(UKVM_RESUME_REVERSE_CONTINUE);
    remove_bp(addr);
    enum ukvm_stop_reason reason = none ? UKVM_STOP_REPLAY_BEGIN : UKVM_STOP_SWBREAK;
    if (s.reason != reason || where() != want)
        fail_msg("reverse-continue to 0x%llx from moment %zu: stop %d at moment %zu, wanted %d "
                "at %zu", (unsigned long long)addr, j, s.reason, where(), reason, want);
}

/* The moment now is j: a stepi and a reverse-stepi from it agree with the
 * log, and so do the moves back. */
static void neighbours_agree(size_t j)
{
    assert_int_equal(where(), j);
    if (j + 1 < lg.n) {
        stepi();
        reverse_stepi();
    }
    if (j > 0) {
        reverse_stepi();
        stepi();
    }
    assert_int_equal(where(), j);
}

/* goto n (in any spelling) from here: lands just before event n, says so. */
static void goto_lands(const char *cmd, uint64_t n)
{
    mon_ok("%s", cmd);
    size_t j = before_event(n);
    if (where() != j)
        fail_msg("monitor %s: at moment %zu (rip 0x%llx, next event %llu), wanted %zu",
                cmd, where(), (unsigned long long)fake_now()->regs.rip,
                (unsigned long long)fake_now()->next_event, j);
    char head[64];
    snprintf(head, sizeof(head), "event %llu of %llu (", (unsigned long long)n,
            (unsigned long long)N_EVENTS);
    if (strncmp(answer, head, strlen(head)))
        fail_msg("monitor %s said '%s'", cmd, answer);
    if (n < N_EVENTS && !answer_has(cfg.final_halt && n == N_EVENTS - 1 ?
            ", just before it (halt)" : ", just before it (rdtsc)"))
        fail_msg("monitor %s said '%s'", cmd, answer);
    if (n == N_EVENTS && !answer_has(", just before it (end of trace)"))
        fail_msg("monitor %s said '%s'", cmd, answer);
}

static void goto_event_lands(uint64_t n)
{
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "goto %llu", (unsigned long long)n);
    goto_lands(cmd, n);
}

/* Reach moment j a way that `how` picks: single steps from the start, a goto
 * to the event before and steps, continues to breakpoints and steps, or
 * from the end backwards. Every one ends between events as often as on
 * one. */
static void reach(size_t j, unsigned how)
{
    switch (how % 4) {
    case 0:
        while (where() < j)
            stepi();
        break;
    case 1: {
        uint64_t n = lg.s[j].next_event;
        size_t from = n > 0 ? before_event(n - 1) : 0;
        if (from > j)
            from = 0;
        if (from > 0)
            goto_event_lands(n - 1);
        while (where() < j)
            stepi();
        break;
    }
    case 2: /* continue to arrivals at j's rip; then step what is left */
        while (where() < j && next_arrival(lg.s[j].regs.rip, where()) <= j)
            continue_to(lg.s[j].regs.rip);
        while (where() < j)
            stepi();
        break;
    default: /* to the end, back by reverse-continue to the arrivals, then
                reverse-stepi */
        goto_lands("goto end", end_event());
        while (where() < j)
            stepi();
        while (where() > j && last_arrival(lg.s[j].regs.rip, where()) != SIZE_MAX &&
                last_arrival(lg.s[j].regs.rip, where()) >= j)
            reverse_continue_to(lg.s[j].regs.rip);
        while (where() > j)
            reverse_stepi();
        break;
    }
    assert_int_equal(where(), j);
}


/* ---- goto N, start, end ---- */

/* Every goto from every event's landing to every event's (forwards,
 * backwards, to itself), and the steps around each landing. */
static void test_goto_every_event_pair(void **state)
{
    for (uint64_t a = 0; a <= N_EVENTS; a++)
        for (uint64_t b = 0; b <= N_EVENTS; b++) {
            setup(state);
            goto_event_lands(a);
            goto_event_lands(b);
            neighbours_agree(before_event(b));
            teardown(state);
        }
}

/* From every moment of the run, reached in every way, a goto to every
 * event: the moment between events is no landing of its own. */
static void test_goto_from_every_moment(void **state)
{
    for (size_t j = 0; j < lg.n; j++)
        for (unsigned how = 0; how < 4; how++)
            for (uint64_t n = 0; n <= N_EVENTS; n += 2) {
                setup(state);
                reach(j, how);
                goto_event_lands(n);
                neighbours_agree(before_event(n));
                teardown(state);
            }
}

/* goto end and goto start from moments all along the run. */
static void test_goto_start_and_end(void **state)
{
    for (size_t j = 0; j < lg.n; j += 3) {
        setup(state);
        reach(j, (unsigned)j);
        goto_lands("goto end", end_event());
        neighbours_agree(before_event(end_event()));
        mon_ok("goto start");
        assert_int_equal(where(), 0);
        assert_true(answer_has("event 0 of 6 (0%), at the start of the trace"));
        neighbours_agree(0);
        goto_lands("goto end", end_event());
        teardown(state);
    }
}

/* The trace ends with the guest's final halt: `goto end` (and a goto to
 * its number) is the stop before it, and lets the next continue exit. */
static void test_goto_end_before_final_halt(void **state)
{
    cfg.final_halt = true;
    setup(state);
    goto_lands("goto end", N_EVENTS - 1);
    assert_int_equal(fake_nav_halt_releases(), 1);
    neighbours_agree(before_event(N_EVENTS - 1));
    goto_event_lands(2);
    assert_int_equal(fake_nav_halt_releases(), 1);
    goto_event_lands(N_EVENTS - 1);
    assert_int_equal(fake_nav_halt_releases(), 2);
    mon_fails("goto 6", "the trace ends at event 5");
    mon_fails("goto +1", "only 0 events to the end");
    neighbours_agree(before_event(N_EVENTS - 1));
    teardown(state);
    reset_cfg();
}

/* goto +n and -n count from the next event of wherever the replay is. */
static void test_goto_relative(void **state)
{
    for (size_t j = 0; j < lg.n; j++)
        for (uint64_t d = 0; d <= N_EVENTS + 1; d++)
            for (int back = 0; back < 2; back++) {
                setup(state);
                reach(j, (unsigned)(j + d));
                uint64_t next = lg.s[j].next_event;
                char cmd[32];
                snprintf(cmd, sizeof(cmd), "goto %c%llu", back ? '-' : '+',
                        (unsigned long long)d);
                if (back && d > next) {
                    mon_fails(cmd, "events since the start");
                    neighbours_agree(j);
                } else if (!back && next + d > end_event()) {
                    mon_fails(cmd, "events to the end");
                    neighbours_agree(j);
                } else {
                    goto_lands(cmd, back ? next - d : next + d);
                    neighbours_agree(where());
                }
                teardown(state);
            }
}

/* The restart op (gdb's run and starti, --goto) goes where goto goes. */
static void test_restart_op(void **state)
{
    (void)state;
    static const struct { enum ukvm_where where; uint64_t n; uint64_t event; } to[] = {
        { UKVM_AT_EVENT, 3, 3 }, { UKVM_AT_END, 0, N_EVENTS }, { UKVM_AT_BACK, 2, 4 },
        { UKVM_AT_EVENT, 1, 1 }, { UKVM_AT_FORWARD, 3, 4 }, { UKVM_AT_START, 0, 0 },
    };
    for (size_t i = 0; i < sizeof(to) / sizeof(to[0]); i++) {
        struct ukvm_position pos = { .where = to[i].where, .n = to[i].n };
        struct ukvm_outbuf out = { 0 };
        assert_int_equal(rt.base.ops->restart(&rt.base, &pos, &out), 0);
        ukvm_outbuf_free(&out);
        assert_int_equal(where(), to[i].where == UKVM_AT_START ? 0 : before_event(to[i].event));
    }
    stepi();
    stepi();
    mon_ok("bookmark two");
    size_t j = where();
    goto_event_lands(5);
    struct ukvm_position pos = { .where = UKVM_AT_BOOKMARK, .name = "two" };
    struct ukvm_outbuf out = { 0 };
    assert_int_equal(rt.base.ops->restart(&rt.base, &pos, &out), 0);
    ukvm_outbuf_free(&out);
    neighbours_agree(j);
    pos.where = UKVM_AT_EVENT;
    pos.n = 9;
    assert_int_equal(rt.base.ops->restart(&rt.base, &pos, &out), -1);
    snprintf(answer, sizeof(answer), "%s", out.buf);
    ukvm_outbuf_free(&out);
    assert_true(one_error_line());
    neighbours_agree(j);
}

/* ---- when ---- */

/* After a goto, `when` counts the single steps since the event it landed
 * before: +k instructions after it, k steps after the one that served it. */
static void test_when_counts_steps(void **state)
{
    for (uint64_t n = 0; n < N_EVENTS; n++) {
        setup(state);
        goto_event_lands(n);
        mon_ok("when");
        assert_true(answer_has(", just before it (rdtsc)"));
        size_t j = where();
        for (size_t s = 1; j + s < lg.n && lg.s[j + s].next_event == n + 1; s++) {
            stepi();
            mon_ok("when");
            char want[96];
            snprintf(want, sizeof(want), "event %llu of 6 (%u%%), +%zu instructions after "
                    "event %llu", (unsigned long long)n + 1, (unsigned)((n + 1) * 100 / 6),
                    s - 1, (unsigned long long)n);
            if (!answer_has(want))
                fail_msg("when, %zu steps after goto %llu: '%s', wanted '%s'", s,
                        (unsigned long long)n, answer, want);
        }
        teardown(state);
    }
}

/* ---- events ---- */

/* `events N` lists the next N events from the one the replay stands before,
 * `events -N` the N before it, in ukvm-trace dump's words; neither moves. */
static void test_events_around_every_moment(void **state)
{
    for (size_t j = 0; j < lg.n; j++) {
        setup(state);
        reach(j, (unsigned)j);
        uint64_t next = lg.s[j].next_event;
        for (int64_t count = -3; count <= 3; count++) {
            if (count == 0)
                continue;
            char cmd[32];
            snprintf(cmd, sizeof(cmd), "events %lld", (long long)count);
            mon_ok("%s", cmd);
            uint64_t from = count > 0 ? next : next < (uint64_t)-count ? 0 : next + count;
            uint64_t to = count > 0 ? (next + count < N_EVENTS ? next + count : N_EVENTS) : next;
            char want[1024] = "";
            for (uint64_t e = from; e < to; e++)
                snprintf(want + strlen(want), sizeof(want) - strlen(want),
                        "#%llu rdtsc rip=0x0 tsc=%llu\n", (unsigned long long)e,
                        (unsigned long long)events[e]);
            if (from == to)
                snprintf(want, sizeof(want), count > 0 ?
                        "(no events after this point: the end of the trace)\n" :
                        "(no events before this point: the start of the trace)\n");
            if (strcmp(answer, want))
                fail_msg("%s at moment %zu: '%s', wanted '%s'", cmd, j, answer, want);
            assert_int_equal(where(), j);
        }
        neighbours_agree(j);
        teardown(state);
    }
}

/* ---- bookmarks ---- */

/* A bookmark at every moment, reached in every way, is found again from
 * elsewhere (the end, the start, a later event, the bookmark's own event)
 * exactly; `bookmarks` lists it at its next event and rip. */
static void test_bookmark_every_moment(void **state)
{
    for (size_t j = 0; j + 1 < lg.n; j++)
        for (unsigned how = 0; how < 4; how++) {
            setup(state);
            reach(j, how);
            mon_ok("bookmark here");
            char want[96];
            snprintf(want, sizeof(want), "bookmark here: event %llu, rip 0x%llx\n",
                    (unsigned long long)lg.s[j].next_event,
                    (unsigned long long)lg.s[j].regs.rip);
            assert_string_equal(answer, want);
            switch ((j + how) % 4) {
            case 0: goto_lands("goto end", end_event()); break;
            case 1: mon_ok("goto start"); break;
            case 2: goto_event_lands(lg.s[j].next_event); break;
            default: reverse_stepi(); stepi(); stepi(); break;
            }
            mon_ok("goto here");
            if (where() != j)
                fail_msg("bookmark at moment %zu (reached by way %u, then move %zu): goto "
                        "found moment %zu", j, how, (j + how) % 4, where());
            neighbours_agree(j);
            mon_ok("bookmarks");
            snprintf(want, sizeof(want), "here             event %llu of 6, rip 0x%llx\n",
                    (unsigned long long)lg.s[j].next_event,
                    (unsigned long long)lg.s[j].regs.rip);
            assert_string_equal(answer, want);
            goto_lands("goto end", end_event());
            mon_ok("goto here");
            assert_int_equal(where(), j);
            teardown(state);
        }
}

/* A bookmark in the third iteration of a hot loop (no event between its
 * iterations), its checkpoint dropped by going back to the start: goto
 * finds that iteration again, not the first arrival at its rip after the
 * event before it. */
static void test_bookmark_in_hot_loop_after_going_back(void **state)
{
    (void)state;
    size_t j = before_event(0) + 1;     /* the hot loop's first arrival */
    while (lg.s[j].regs.rcx != 2)
        j++;
    assert_int_equal(lg.s[j].regs.rip, A(2));
    reach(j, 0);
    mon_ok("bookmark third");
    mon_ok("goto start");
    assert_int_equal(checkpoint_at(j), SIZE_MAX);
    mon_ok("goto third");
    if (where() != j)
        fail_msg("goto third: moment %zu (rcx %llu), wanted %zu (rcx 2)", where(),
                (unsigned long long)fake_now()->regs.rcx, j);
    neighbours_agree(j);
}

/* Unnamed bookmarks get names of their own; a bookmark made at a goto's
 * landing is that landing again (`when` says "just before it"). */
static void test_bookmark_names_and_landings(void **state)
{
    (void)state;
    goto_event_lands(2);
    mon_ok("bookmark");
    assert_true(answer_has("bookmark b1: event 2"));
    size_t at2 = where();
    stepi();
    stepi();
    mon_ok("bookmark b2");
    size_t mid = where();
    mon_ok("bookmark");
    assert_true(answer_has("bookmark b3: event 3"));
    goto_event_lands(5);
    mon_ok("goto b1");
    assert_int_equal(where(), at2);
    assert_true(answer_has("event 2 of 6 (33%), just before it (rdtsc)"));
    mon_ok("goto b3");
    assert_int_equal(where(), mid);
    mon_ok("goto b2");
    assert_int_equal(where(), mid);
    neighbours_agree(mid);
}

/* Failed commands: one "ukvm: " line, the machine and the timeline where
 * they were (the steps after agree with the log). */
static void test_errors_leave_position(void **state)
{
    (void)state;
    size_t j = before_event(3) + 2;
    reach(j, 1);
    mon_fails("goto 7", "the trace ends at event 6");
    neighbours_agree(j);
    mon_fails("goto 99999", "the trace ends at event 6");
    mon_fails("goto nosuch", "no bookmark 'nosuch'");
    neighbours_agree(j);
    mon_fails("goto +5", "only 2 events to the end");
    mon_fails("goto -5", "only 4 events since the start");
    mon_fails("delete nosuch", "no bookmark 'nosuch'");
    mon_ok("bookmark mine");
    mon_fails("bookmark mine", "exists already");
    neighbours_agree(j);
    mon_ok("delete mine");
    mon_fails("goto mine", "no bookmark 'mine'");
    mon_ok("bookmarks");
    assert_true(answer_has("(no bookmarks"));
    mon_fails("frob", "");
    neighbours_agree(j);
    goto_event_lands(1);
    mon_fails("goto 8", "the trace ends at event 6");
    neighbours_agree(before_event(1));
}

/* The trace cannot be read again: goto says so and stays. */
static void test_trace_gone(void **state)
{
    cfg.trace_path = FAKE_NAV_MISSING;
    setup(state);
    reach(5, 0);
    mon_fails("goto 3", "cannot read the trace again");
    mon_fails("when", "cannot read the trace again");
    neighbours_agree(5);
    teardown(state);
    reset_cfg();
}

/* ---- bookmarks and thinning ---- */

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rng_state >> 33) % n);
}


/* One move of a random kind, each checked against the oracle. */
static void random_move(void)
{
    size_t j = where();
    switch (rnd(7)) {
    case 0:
        for (unsigned k = 1 + rnd(6); k > 0; k--)
            stepi();
        break;
    case 1:
        for (unsigned k = 1 + rnd(6); k > 0; k--)
            reverse_stepi();
        break;
    case 2:
        continue_to(A(rnd((unsigned)prog.n)));
        break;
    case 3:
        reverse_continue_to(A(rnd((unsigned)prog.n)));
        break;
    case 4:
        goto_event_lands(rnd((unsigned)end_event() + 1));
        break;
    case 5:
        if (j > 0)
            reach(rnd((unsigned)j), 3); /* back by reverse-continue and reverse-stepi */
        break;
    default:
        mon_ok("goto start");
        assert_int_equal(where(), 0);
        break;
    }
}

/* Bookmarks made along a run of random moves under a budget of one to
 * three checkpoints besides the first, ticks every 1-3 instructions: while
 * a bookmark's checkpoint is in the stack, thinning keeps it (pinned); each
 * bookmark is found again, exactly, after its checkpoint was renumbered by
 * thinning below it or dropped by going back before it. */
static void test_bookmarks_after_thinning(void **state)
{
    unsigned gone = 0, renumbered = 0;
    for (uint64_t room = 1; room <= 3; room++)
        for (uint64_t tick = 1; tick <= 3; tick++)
            for (unsigned seed = 0; seed < 6; seed++) {
                cfg.room = room;
                cfg.tick_us = tick;
                cfg.interval = 2;
                rng_state = seed * 7919 + room * 31 + tick;
                setup(state);
                enum { NB = 5 };
                size_t at[NB], cp[NB];
                for (unsigned b = 0; b < NB; b++) {
                    random_move();
                    if (where() + 1 == lg.n)
                        reverse_stepi();
                    mon_ok("bookmark m%u", b);
                    at[b] = where();
                    cp[b] = rt.st.n - 1;
                    assert_int_equal(checkpoint_at(at[b]), cp[b]);
                }
                /* forwards to the end through periodic checkpoints and
                 * thinning: the pinned checkpoints stay */
                bool held[NB];
                for (unsigned b = 0; b < NB; b++)
                    held[b] = checkpoint_at(at[b]) != SIZE_MAX;
                continue_to(A(prog.n + 1));
                for (unsigned b = 0; b < NB; b++)
                    if (held[b] && checkpoint_at(at[b]) == SIZE_MAX)
                        fail_msg("bookmark m%u (moment %zu) lost its checkpoint to thinning",
                                b, at[b]);
                for (unsigned k = 0; k < 2 * NB; k++) {
                    random_move();
                    unsigned b = rnd(NB);
                    size_t now = checkpoint_at(at[b]);
                    if (now == SIZE_MAX)
                        gone++;
                    else if (now != cp[b])
                        renumbered++;
                    mon_ok("goto m%u", b);
                    assert_int_equal(where(), at[b]);
                    /* the moment found again is a checkpoint, pinned */
                    cp[b] = checkpoint_at(at[b]);
                    assert_true(cp[b] != SIZE_MAX);
                    assert_true(rt.place[cp[b]].mark.pins > 0);
                    neighbours_agree(at[b]);
                }
                teardown(state);
            }
    reset_cfg();
    assert_true(gone > 0);
    assert_true(renumbered > 0);
}

/* ---- interrupted gotos ---- */

/* A goto interrupted after n instructions (gdb's Ctrl-C) says so and stays
 * at a moment of the run, a consistent one: steps from it agree with the
 * log, and the goto made again arrives. Forwards, backwards and from
 * between events; to an event and to a bookmark. */
static void test_goto_interrupted(void **state)
{
    unsigned interrupted[4] = { 0 };
    for (uint64_t n = 1; n < lg.n + 3; n++)
        for (unsigned from = 0; from < 4; from++) {
            cfg.tick_us = 1 + n % 4;
            cfg.interval = 1 + from;
            setup(state);
            size_t bm = before_event(4) + 3;
            const char *cmd;
            size_t want;
            switch (from) {
            case 0: cmd = "goto end"; want = before_event(N_EVENTS); break;
            case 1:
                goto_lands("goto end", N_EVENTS);
                cmd = "goto 1";
                want = before_event(1);
                break;
            case 2: reach(before_event(1) + 2, 0); cmd = "goto 5"; want = before_event(5); break;
            default:
                reach(bm, 2);
                mon_ok("bookmark there");
                mon_ok("goto start");
                cmd = "goto there";
                want = bm;
                break;
            }
            fake_interrupt_after(n);
            int r = mon(cmd);
            fake_interrupt_after(0);
            if (r == 0) {
                assert_int_equal(where(), want);
            } else {
                interrupted[from]++;
                if (!one_error_line() || !answer_has("interrupted"))
                    fail_msg("%s interrupted after %llu: '%s'", cmd, (unsigned long long)n,
                            answer);
                size_t k = where();
                /* it went no further than its target, and says where it is */
                assert_true(k <= want);
                /* one to a bookmark says it is back at the checkpoint its
                 * re-execution began from */
                if (from == 3) {
                    assert_true(answer_has("interrupted (back at event"));
                    assert_int_equal(checkpoint_at(k), rt.st.n - 1);
                }
                char at[64];
                snprintf(at, sizeof(at), "event %llu", (unsigned long long)lg.s[k].next_event);
                assert_true(answer_has(at));
                neighbours_agree(k);
                mon_ok("%s", cmd);
                assert_int_equal(where(), want);
            }
            neighbours_agree(want);
            teardown(state);
        }
    reset_cfg();
    for (unsigned from = 0; from < 4; from++)
        assert_true(interrupted[from] > 0);
}

/* ---- mixed walks ---- */

/* Random walks of every move, goto and bookmark command under budgets of
 * one checkpoint to the default and several periods: every answer checked
 * against the oracle. */
static void test_mixed_walks(void **state)
{
    static const uint64_t rooms[] = { 1, 2, 5, 0 };
    for (size_t r = 0; r < sizeof(rooms) / sizeof(rooms[0]); r++)
        for (uint64_t tick = 1; tick <= 5; tick += 2)
            for (unsigned seed = 0; seed < 4; seed++) {
                cfg.room = rooms[r];
                cfg.tick_us = tick;
                cfg.interval = 1 + seed % 3;
                rng_state = 1000003ULL * seed + 17 * r + tick;
                setup(state);
                enum { NB = 8 };
                size_t at[NB];
                bool set[NB] = { false };
                for (unsigned op = 0; op < 60; op++) {
                    unsigned b = rnd(NB);
                    char cmd[32];
                    switch (rnd(6)) {
                    case 0:
                        if (set[b]) {
                            snprintf(cmd, sizeof(cmd), "bookmark w%u", b);
                            mon_fails(cmd, "exists already");
                        } else if (where() + 1 < lg.n) {
                            mon_ok("bookmark w%u", b);
                            at[b] = where();
                            set[b] = true;
                        }
                        break;
                    case 1:
                        snprintf(cmd, sizeof(cmd), "goto w%u", b);
                        if (set[b]) {
                            mon_ok("%s", cmd);
                            assert_int_equal(where(), at[b]);
                        } else {
                            mon_fails(cmd, "no bookmark");
                        }
                        break;
                    case 2:
                        if (set[b] && rnd(3) == 0) {
                            mon_ok("delete w%u", b);
                            set[b] = false;
                        }
                        break;
                    case 3: {
                        uint64_t next = where() == lg.n - 1 ? N_EVENTS : lg.s[where()].next_event;
                        uint64_t d = rnd(4);
                        bool back = rnd(2);
                        snprintf(cmd, sizeof(cmd), "goto %c%llu", back ? '-' : '+',
                                (unsigned long long)d);
                        if (back ? d > next : next + d > end_event())
                            mon_fails(cmd, "only");
                        else
                            goto_lands(cmd, back ? next - d : next + d);
                        break;
                    }
                    default:
                        random_move();
                        break;
                    }
                    neighbours_agree(where());
                }
                teardown(state);
            }
    reset_cfg();
}

int main(void)
{
    build_log();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_goto_every_event_pair, defaults),
        cmocka_unit_test_setup(test_goto_from_every_moment, defaults),
        cmocka_unit_test_setup(test_goto_start_and_end, defaults),
        cmocka_unit_test_setup(test_goto_end_before_final_halt, defaults),
        cmocka_unit_test_setup(test_goto_relative, defaults),
        cmocka_unit_test_setup_teardown(test_restart_op, setup_defaults, teardown),
        cmocka_unit_test_setup(test_when_counts_steps, defaults),
        cmocka_unit_test_setup(test_events_around_every_moment, defaults),
        cmocka_unit_test_setup(test_bookmark_every_moment, defaults),
        cmocka_unit_test_setup_teardown(test_bookmark_in_hot_loop_after_going_back, setup_defaults,
                teardown),
        cmocka_unit_test_setup_teardown(test_bookmark_names_and_landings, setup_defaults, teardown),
        cmocka_unit_test_setup_teardown(test_errors_leave_position, setup_defaults, teardown),
        cmocka_unit_test_setup(test_trace_gone, defaults),
        cmocka_unit_test_setup(test_bookmarks_after_thinning, defaults),
        cmocka_unit_test_setup(test_goto_interrupted, defaults),
        cmocka_unit_test_setup(test_mixed_walks, defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

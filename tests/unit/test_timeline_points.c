/*
 * The replay timeline's stops at points test_timeline.c leaves out:
 * breakpoints with conditions, read and access watchpoints, watchpoints
 * that overlap each other, a watch and a breakpoint met at the same
 * moment, and the stop held before the trace's final halt. The real replay_timeline.c, replay_reverse.c and replay_target.c
 * run over the fake engine (fake_engine.h).
 *
 * The oracle is the fake machine run forward alone: log[j] is the state
 * after j instructions, lg.effect[j] what instruction j (run from log[j])
 * accessed. With the points set (pts):
 *   a hit at j      log[j] is at a breakpoint whose condition holds there,
 *                   or lg.effect[j] touches a watched range of the watch's kind;
 *   continue from k the first breakpoint hit at j > k (the machine at j), or
 *                   the first watch hit at j >= k (the machine at j + 1,
 *                   just after the access), or the end;
 *   reverse-continue from k  the last breakpoint hit j < k, or watch hit
 *                   j < k, whichever is later (the machine at j: a watch
 *                   stop is on the accessing instruction, before it ran),
 *                   or the start;
 *   a watch stop    names (type, addr) of a watch set whose range the
 *                   access touched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_log.h"
#include "replay/replay_target.h"

#define A(i) (FAKE_BASE + 4 * (uint64_t)(i))
#define W 0x10 /* the watched bytes start here */
#define MAX_PTS 4

/* Loads and stores of 8 bytes at W, W + 4 and W + 8, in a hot loop and in
 * a loop with an event in each iteration; registers that change at every
 * iteration, for the conditions to tell the arrivals apart. */
static const struct fake_insn insns[] = {
    /* 0 */ { .op = FOP_MOVI, .reg = R_CX, .imm = 6 },
    /* 1 */ { .op = FOP_EVENT },                                 /* event 0 */
    /* 2 */ { .op = FOP_ADDI, .reg = R_BX, .imm = 1 },           /* hot loop */
    /* 3 */ { .op = FOP_STORE, .reg = R_BX, .addr = W },
    /* 4 */ { .op = FOP_LOAD, .reg = R_DI, .addr = W + 4 },
    /* 5 */ { .op = FOP_ADDI, .reg = R_DX, .imm = 3 },
    /* 6 */ { .op = FOP_LOOP, .reg = R_CX, .target = 2 },
    /* 7 */ { .op = FOP_MOVI, .reg = R_SI, .imm = 4 },
    /* 8 */ { .op = FOP_EVENT },                                 /* events 1-4 */
    /* 9 */ { .op = FOP_STORE, .reg = R_AX, .addr = W + 4 },
    /* 10 */ { .op = FOP_LOAD, .reg = R_DX, .addr = W },
    /* 11 */ { .op = FOP_ADDI, .reg = R_BX, .imm = 2 },
    /* 12 */ { .op = FOP_LOOP, .reg = R_SI, .target = 8 },
    /* 13 */ { .op = FOP_STORE, .reg = R_DX, .addr = W + 8 },
    /* 14 */ { .op = FOP_LOAD, .reg = R_AX, .addr = W + 8 },
    /* 15 */ { .op = FOP_NOP },
    /* 16 */ { .op = FOP_EVENT },                                /* past the trace */
};
static const uint64_t events[] = { 7, 1, 2, 3, 4 };
static const struct fake_program prog = { insns, sizeof(insns) / sizeof(insns[0]), events,
    sizeof(events) / sizeof(events[0]) };

/* A trace that ends with the guest's final halt: a loop, an event, the halt. */
static const struct fake_insn halt_insns[] = {
    /* 0 */ { .op = FOP_MOVI, .reg = R_CX, .imm = 3 },
    /* 1 */ { .op = FOP_EVENT },                                 /* event 0 */
    /* 2 */ { .op = FOP_ADDI, .reg = R_BX, .imm = 1 },
    /* 3 */ { .op = FOP_STORE, .reg = R_BX, .addr = W },
    /* 4 */ { .op = FOP_LOOP, .reg = R_CX, .target = 2 },
    /* 5 */ { .op = FOP_EVENT },                                 /* event 1 */
    /* 6 */ { .op = FOP_HALT },                                  /* event 2 */
};
static const uint64_t halt_events[] = { 7, 1, 0 };
static const struct fake_program halt_prog = { halt_insns,
    sizeof(halt_insns) / sizeof(halt_insns[0]), halt_events,
    sizeof(halt_events) / sizeof(halt_events[0]) };

/* The program the log and the timeline run. */
static const struct fake_program *program = &prog;

static struct fake_log lg;

static struct replay_target rt;
static struct { uint64_t tick_us, interval; } periods = { 5, 4 };

/* ---- conditions ---- */

static bool bx_even(const struct fake_state *s)
{
    return s->regs.rbx % 2 == 0;
}

static bool ax_over_10(const struct fake_state *s)
{
    return s->regs.rax > 10;
}

static bool upper_half_set(const struct fake_state *s) /* mem[W + 4] */
{
    return s->mem[W + 4] != 0;
}

static bool dx_is_9(const struct fake_state *s)
{
    return s->regs.rdx == 9;
}

/* ---- the points set ---- */

struct bp_spec {
    uint64_t addr;
    fake_cond_fn cond;          /* NULL: none */
};

struct watch_spec {
    enum ukvm_bp_type type;
    uint64_t addr, len;
};

struct points {
    const char *name;
    struct bp_spec bp[MAX_PTS];
    size_t n_bp;
    struct watch_spec w[MAX_PTS];
    size_t n_w;
};

static const struct points *pts;

static void build_log(void)
{
    fake_log_build(&lg, program);
}

static void setup(void)
{
    fake_reset(program);
    fake_target_open(&rt, periods.tick_us, periods.interval);
}

static void teardown(void)
{
    fake_target_close(&rt);
}

/* Set the points of pts, as gdb would: each breakpoint's condition, then
 * the breakpoints and the watchpoints. */
static void insert_points(void)
{
    for (size_t i = 0; i < pts->n_bp; i++) {
        fake_set_condition(pts->bp[i].addr, pts->bp[i].cond);
        assert_int_equal(rt.base.ops->insert_bp(&rt.base, UKVM_BP_SOFTWARE, pts->bp[i].addr, 1),
                0);
    }
    for (size_t i = 0; i < pts->n_w; i++)
        assert_int_equal(rt.base.ops->insert_bp(&rt.base, pts->w[i].type, pts->w[i].addr,
                pts->w[i].len), 0);
}

/* The one log entry the machine equals now (SIZE_MAX: none). */
static size_t moment_now(void)
{
    return fake_log_find(&lg);
}

static size_t where(void)
{
    return fake_log_where(&lg, pts->name);
}

static struct ukvm_stop resume(enum ukvm_resume_kind kind)
{
    return fake_resume(&rt, kind);
}

static void step_to(size_t k)
{
    for (size_t j = 0; j < k; j++)
        resume(UKVM_RESUME_STEP);
    assert_int_equal(where(), k);
}

/* ---- the oracle's answers ---- */

static bool bp_hit(size_t j)
{
    for (size_t i = 0; i < pts->n_bp; i++)
        if (lg.s[j].regs.rip == pts->bp[i].addr &&
                (!pts->bp[i].cond || pts->bp[i].cond(&lg.s[j])))
            return true;
    return false;
}

/* Does instruction j's access hit watch w? */
static bool access_hits(size_t j, const struct watch_spec *w)
{
    const struct fake_effect *e = &lg.effect[j];
    bool kind = w->type == UKVM_WP_WRITE ? e->wrote
        : w->type == UKVM_WP_READ ? e->read : (e->wrote || e->read);
    return kind && e->addr < w->addr + w->len && w->addr < e->addr + e->len;
}

static bool watch_hit(size_t j)
{
    for (size_t i = 0; i < pts->n_w; i++)
        if (access_hits(j, &pts->w[i]))
            return true;
    return false;
}

/* The stop names a watch set whose range instruction j's access hit. */
static void assert_names_hit_watch(const struct ukvm_stop *stop, size_t j)
{
    for (size_t i = 0; i < pts->n_w; i++)
        if (pts->w[i].type == stop->watch_type && pts->w[i].addr == stop->watch_addr &&
                access_hits(j, &pts->w[i]))
            return;
    fail_msg("%s: the watch stop for instruction %zu names (type %d, 0x%llx), which its "
            "access did not hit", pts->name, j, (int)stop->watch_type,
            (unsigned long long)stop->watch_addr);
}

static size_t oracle_continue(size_t k, enum ukvm_stop_reason *reason)
{
    for (size_t j = k;; j++) {
        if (j > k && bp_hit(j)) {
            *reason = UKVM_STOP_SWBREAK;
            return j;
        }
        if (j == lg.n - 1) {
            *reason = UKVM_STOP_REPLAY_END;
            return j;
        }
        if (watch_hit(j)) {
            *reason = UKVM_STOP_WATCH;
            return j + 1;
        }
    }
}

/* SIZE_MAX: nothing before k, the start. */
static size_t oracle_reverse_continue(size_t k)
{
    for (size_t j = k; j-- > 0;)
        if (bp_hit(j) || watch_hit(j))
            return j;
    return SIZE_MAX;
}

/* ---- checked operations ---- */

static void check_stepi(void)
{
    size_t k = where();
    struct ukvm_stop stop = resume(UKVM_RESUME_STEP);
    size_t want = k == lg.n - 1 ? k : k + 1;
    enum ukvm_stop_reason want_reason = k == lg.n - 1 ? UKVM_STOP_REPLAY_END
        : watch_hit(k) ? UKVM_STOP_WATCH : UKVM_STOP_STEP;
    if (stop.reason != want_reason || moment_now() != want)
        fail_msg("%s: stepi from %zu stopped at %zu (reason %d), not %zu (reason %d)",
                pts->name, k, moment_now(), (int)stop.reason, want, (int)want_reason);
    if (stop.reason == UKVM_STOP_WATCH)
        assert_names_hit_watch(&stop, k);
}

static void check_reverse_stepi(void)
{
    size_t k = where();
    struct ukvm_stop stop = resume(UKVM_RESUME_REVERSE_STEP);
    size_t want = k == 0 ? 0 : k - 1;
    enum ukvm_stop_reason want_reason = k == 0 ? UKVM_STOP_REPLAY_BEGIN : UKVM_STOP_STEP;
    if (stop.reason != want_reason || moment_now() != want)
        fail_msg("%s: reverse-stepi from %zu stopped at %zu (reason %d), not %zu (reason %d)",
                pts->name, k, moment_now(), (int)stop.reason, want, (int)want_reason);
}

/* Returns the stop's reason. */
static enum ukvm_stop_reason check_continue(void)
{
    size_t k = where();
    enum ukvm_stop_reason want_reason;
    size_t want = oracle_continue(k, &want_reason);
    struct ukvm_stop stop = resume(UKVM_RESUME_CONTINUE);
    if (stop.reason != want_reason || moment_now() != want)
        fail_msg("%s: continue from %zu stopped at %zu (reason %d), not %zu (reason %d)",
                pts->name, k, moment_now(), (int)stop.reason, want, (int)want_reason);
    if (stop.reason == UKVM_STOP_WATCH)
        assert_names_hit_watch(&stop, want - 1);
    return stop.reason;
}

/* Returns false at the start. */
static bool check_reverse_continue(void)
{
    size_t k = where();
    size_t want = oracle_reverse_continue(k);
    struct ukvm_stop stop = resume(UKVM_RESUME_REVERSE_CONTINUE);
    if (want == SIZE_MAX) {
        assert_int_equal(stop.reason, UKVM_STOP_REPLAY_BEGIN);
        assert_int_equal(where(), 0);
        return false;
    }
    if (moment_now() != want)
        fail_msg("%s: reverse-continue from %zu stopped at %zu (reason %d), not %zu",
                pts->name, k, moment_now(), (int)stop.reason, want);
    /* at a breakpoint on the accessing instruction: either stop */
    if (stop.reason == UKVM_STOP_WATCH) {
        assert_true(watch_hit(want));
        assert_names_hit_watch(&stop, want);
    } else {
        assert_int_equal(stop.reason, UKVM_STOP_SWBREAK);
        assert_true(bp_hit(want));
    }
    return true;
}

static void continue_to_end(void)
{
    assert_int_equal(resume(UKVM_RESUME_CONTINUE).reason, UKVM_STOP_REPLAY_END);
    assert_int_equal(where(), lg.n - 1);
}

/* ---- the drivers: one set of points, every way ---- */

/* From the start, continue to each stop and on to the end; at each stop a
 * reverse-stepi and a stepi back, and a reverse-continue and a continue
 * back to it. */
static void forward_through(void)
{
    setup();
    insert_points();
    for (;;) {
        size_t at = where();
        if (check_continue() == UKVM_STOP_REPLAY_END)
            break;
        size_t stop_at = where();
        check_reverse_stepi();
        check_stepi();
        assert_int_equal(where(), stop_at);
        assert_true(check_reverse_continue() || at == 0);
        /* back at `at` or later, before stop_at: forward to it again */
        while (where() < stop_at) {
            enum ukvm_stop_reason r = check_continue();
            assert_true(r != UKVM_STOP_REPLAY_END);
        }
        assert_int_equal(where(), stop_at);
    }
    teardown();
}

/* From the end, reverse-continue to each hit and on to the start; at each
 * hit a stepi and a reverse-stepi back, and a continue forward and
 * reverse-continues back to it. */
static void reverse_through(void)
{
    setup();
    continue_to_end();
    insert_points();
    while (check_reverse_continue()) {
        size_t hit = where();
        check_stepi();
        check_reverse_stepi();
        assert_int_equal(where(), hit);
        check_continue();
        /* (a watch stop's access lies just behind it: first that one) */
        while (where() > hit)
            assert_true(check_reverse_continue());
        assert_int_equal(where(), hit);
    }
    teardown();
}

/* From every moment reached by stepping: one reverse-continue, then a
 * stepi and a reverse-stepi from the stop. */
static void reverse_from_every_moment(void)
{
    for (size_t k = 0; k < lg.n; k++) {
        setup();
        step_to(k);
        insert_points();
        if (check_reverse_continue()) {
            check_stepi();
            check_reverse_stepi();
            check_reverse_stepi();
        }
        teardown();
    }
}

static uint64_t rng_state;

static unsigned rng(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rng_state >> 33) % n);
}

/* Walks of mixed operations under budgets from two checkpoints to plenty
 * and ticks from every instruction to every fifth. */
static void mixed_walks(void)
{
    const uint64_t room[] = { 2, 3, 1000 };
    const uint64_t ticks[] = { 1, 2, 5 };
    rng_state = 777;
    for (size_t r = 0; r < sizeof(room) / sizeof(room[0]); r++)
        for (size_t t = 0; t < sizeof(ticks) / sizeof(ticks[0]); t++) {
            periods.tick_us = ticks[t];
            setup();
            rt.memory_budget = rt_checkpoint_memory(&rt) + room[r] * FAKE_CP_COST;
            insert_points();
            for (int i = 0; i < 80; i++) {
                switch (rng(4)) {
                case 0: check_stepi(); break;
                case 1: check_reverse_stepi(); break;
                case 2: check_continue(); break;
                default: check_reverse_continue(); break;
                }
                assert_true(rt_checkpoint_memory(&rt) <= rt.memory_budget);
            }
            teardown();
        }
    periods.tick_us = 5;
}

/* Every driver over each set, under several tick periods. */
static void all_ways(const struct points *sets, size_t n)
{
    const uint64_t ticks[] = { 1, 3, 5, 1000 };
    for (size_t i = 0; i < n; i++) {
        pts = &sets[i];
        for (size_t t = 0; t < sizeof(ticks) / sizeof(ticks[0]); t++) {
            periods.tick_us = ticks[t];
            forward_through();
            reverse_through();
        }
        periods.tick_us = 5;
        reverse_from_every_moment();
        mixed_walks();
    }
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the tests ---- */

/* The oracle's own sets have what each test is about. */
static void test_sets_are_meaningful(void **state)
{
    (void)state;
    /* bx_even at the hot loop's store: some arrivals true, some false */
    struct points p = { "bx_even", { { A(3), bx_even } }, 1, { { 0 } }, 0 };
    pts = &p;
    size_t yes = 0, no = 0;
    for (size_t j = 0; j < lg.n; j++)
        if (lg.s[j].regs.rip == A(3))
            bp_hit(j) ? yes++ : no++;
    assert_true(yes >= 2 && no >= 2);
    /* reads and writes of each watched range */
    struct points r = { "reads", { { 0 } }, 0, { { UKVM_WP_READ, W, 8 } }, 1 };
    pts = &r;
    size_t reads = 0;
    for (size_t j = 0; j < lg.n; j++)
        reads += watch_hit(j);
    assert_true(reads >= 8);
}

/* Conditions: true at some arrivals and false at others, in the hot loop
 * and the loop with events, on memory, never true, and two breakpoints. */
static void test_conditions(void **state)
{
    (void)state;
    static const struct points sets[] = {
        { "bx even at the hot store", { { A(3), bx_even } }, 1, { { 0 } }, 0 },
        { "rax > 10 in the event loop", { { A(9), ax_over_10 } }, 1, { { 0 } }, 0 },
        { "never true", { { A(4), upper_half_set } }, 1, { { 0 } }, 0 },
        { "memory, on an event's instruction", { { A(8), upper_half_set } }, 1, { { 0 } }, 0 },
        { "on the first instruction", { { A(0), bx_even } }, 1, { { 0 } }, 0 },
        { "two conditions", { { A(2), bx_even }, { A(11), ax_over_10 } }, 2, { { 0 } }, 0 },
        { "a condition beside a plain breakpoint",
            { { A(5), dx_is_9 }, { A(12), NULL } }, 2, { { 0 } }, 0 },
    };
    all_ways(sets, N(sets));
}

/* A condition false where a continue starts, and a tick (of every
 * instruction) that lands just before false arrivals: the periodic
 * checkpoints there and the skips they reset still name the true hit. */
static void test_condition_skips_across_ticks(void **state)
{
    (void)state;
    static const struct points p = { "bx even, ticks", { { A(3), bx_even } }, 1, { { 0 } }, 0 };
    pts = &p;
    const uint64_t ticks[] = { 1, 2, 3, 4, 7, 11, 1000 };
    for (size_t t = 0; t < N(ticks); t++) {
        periods.tick_us = ticks[t];
        for (uint64_t interval = 1; interval <= 3; interval++) {
            periods.interval = interval;
            setup();
            insert_points();
            /* every true hit in turn, each checked by stepping back to
             * where the last one was */
            while (check_continue() == UKVM_STOP_SWBREAK) {
                size_t hit = where();
                for (size_t i = 0; i < 6 && where() > 0; i++)
                    check_reverse_stepi();
                while (where() < hit)
                    check_stepi();
                assert_int_equal(where(), hit);
            }
            teardown();
        }
    }
    periods.tick_us = 5;
    periods.interval = 4;
}

/* A continue the user interrupts among false arrivals stands where it was
 * interrupted, named by its registers: reverse-stepi, stepi and
 * reverse-continues from there land where the log says. */
static void test_interrupted_among_false_hits(void **state)
{
    (void)state;
    static const struct points sets[] = {
        { "bx even, interrupted", { { A(3), bx_even } }, 1, { { 0 } }, 0 },
        { "never true, interrupted", { { A(4), upper_half_set } }, 1, { { 0 } }, 0 },
    };
    for (size_t i = 0; i < N(sets); i++) {
        pts = &sets[i];
        for (size_t n = 1; n < lg.n - 1; n++) {
            setup();
            insert_points();
            fake_interrupt_after(n);
            enum ukvm_stop_reason hit_reason;
            size_t hit = oracle_continue(0, &hit_reason);
            struct ukvm_stop stop = resume(UKVM_RESUME_CONTINUE);
            if (hit < n) {
                assert_int_equal(stop.reason, hit_reason);
                assert_int_equal(where(), hit);
            } else {
                /* (a true hit at n itself: the interrupt comes first) */
                assert_int_equal(stop.reason, UKVM_STOP_INTERRUPT);
                assert_int_equal(where(), n);
            }
            fake_interrupt_after(0);
            check_reverse_stepi();
            check_stepi();
            while (check_reverse_continue())
                ;
            teardown();
        }
    }
}

/* Read watchpoints: loads of the watched bytes, whole or in part, and no
 * store; forward just after the load, backward on it. */
static void test_read_watches(void **state)
{
    (void)state;
    static const struct points sets[] = {
        { "rwatch W 8", { { 0 } }, 0, { { UKVM_WP_READ, W, 8 } }, 1 },
        { "rwatch W+8 4", { { 0 } }, 0, { { UKVM_WP_READ, W + 8, 4 } }, 1 },
        { "rwatch W 1", { { 0 } }, 0, { { UKVM_WP_READ, W, 1 } }, 1 },
    };
    all_ways(sets, N(sets));
}

/* Access watchpoints: loads and stores alike. */
static void test_access_watches(void **state)
{
    (void)state;
    static const struct points sets[] = {
        { "awatch W 8", { { 0 } }, 0, { { UKVM_WP_ACCESS, W, 8 } }, 1 },
        { "awatch W+12 2", { { 0 } }, 0, { { UKVM_WP_ACCESS, W + 12, 2 } }, 1 },
    };
    all_ways(sets, N(sets));
}

/* Watches over the same bytes: each stop names one whose range the access
 * touched. */
static void test_overlapping_watches(void **state)
{
    (void)state;
    static const struct points sets[] = {
        { "watch W 8 and W 16", { { 0 } }, 0,
            { { UKVM_WP_WRITE, W, 8 }, { UKVM_WP_WRITE, W, 16 } }, 2 },
        { "watch W 16 and W 8", { { 0 } }, 0,
            { { UKVM_WP_WRITE, W, 16 }, { UKVM_WP_WRITE, W, 8 } }, 2 },
        { "watch W 8 and W+4 8", { { 0 } }, 0,
            { { UKVM_WP_WRITE, W, 8 }, { UKVM_WP_WRITE, W + 4, 8 } }, 2 },
        { "watch and rwatch W 8", { { 0 } }, 0,
            { { UKVM_WP_WRITE, W, 8 }, { UKVM_WP_READ, W, 8 } }, 2 },
        { "awatch W 4 and watch W 8", { { 0 } }, 0,
            { { UKVM_WP_ACCESS, W, 4 }, { UKVM_WP_WRITE, W, 8 } }, 2 },
        { "watch W 8 and awatch W+8 8", { { 0 } }, 0,
            { { UKVM_WP_WRITE, W, 8 }, { UKVM_WP_ACCESS, W + 8, 8 } }, 2 },
    };
    all_ways(sets, N(sets));
}

/* A watch and a breakpoint at one moment: a breakpoint on the accessing
 * instruction (the reverse stop on it either way), on the one after it
 * (where the forward watch stop leaves rip), with and without a
 * condition. */
static void test_watch_and_breakpoint(void **state)
{
    (void)state;
    static const struct points sets[] = {
        { "watch W 8, break on the store", { { A(3), NULL } }, 1,
            { { UKVM_WP_WRITE, W, 8 } }, 1 },
        { "watch W 8, break after the store", { { A(4), NULL } }, 1,
            { { UKVM_WP_WRITE, W, 8 } }, 1 },
        { "rwatch W 8, conditional break after the load", { { A(11), ax_over_10 } }, 1,
            { { UKVM_WP_READ, W, 8 } }, 1 },
        { "awatch W+4 4, conditional break on the store", { { A(3), bx_even } }, 1,
            { { UKVM_WP_ACCESS, W + 4, 4 } }, 1 },
    };
    all_ways(sets, N(sets));
}

/* The trace's final halt, held: a continue stops once before it (the
 * log's last moment), reported as the end; stepping onto it stops there
 * too; reverse execution goes back from there; after a restore it is held
 * again; the continue after the held stop lets the guest exit, and reverse
 * execution is then refused. */
static void test_final_halt_held(void **state)
{
    (void)state;
    program = &halt_prog;
    build_log();
    static const struct points p = { "halt, break on the store", { { A(3), bx_even } }, 1,
        { { UKVM_WP_WRITE, W, 8 } }, 1 };
    pts = &p;
    size_t end = lg.n - 1;
    assert_int_equal(lg.s[end].regs.rip, A(6));
    setup();
    insert_points();
    while (check_continue() != UKVM_STOP_REPLAY_END)
        ;
    assert_int_equal(where(), end);
    /* back from the held stop, and forward onto the halt again */
    check_reverse_stepi();
    check_stepi();
    assert_int_equal(where(), end);
    check_stepi(); /* held again: the restore forgot the release */
    while (check_reverse_continue())
        ;
    while (check_continue() != UKVM_STOP_REPLAY_END)
        ;
    assert_int_equal(where(), end);
    /* the held stop made: the halt runs, the guest exits */
    struct ukvm_stop stop = resume(UKVM_RESUME_CONTINUE);
    assert_int_equal(stop.reason, UKVM_STOP_EXITED);
    assert_int_equal(resume(UKVM_RESUME_CONTINUE).reason, UKVM_STOP_EXITED);
    assert_int_equal(rt.base.ops->resume(&rt.base, UKVM_RESUME_REVERSE_STEP, &stop), -1);
    assert_int_equal(rt.base.ops->resume(&rt.base, UKVM_RESUME_REVERSE_CONTINUE, &stop), -1);
    teardown();
    /* stepped all the way: held once, then the exit */
    setup();
    step_to(end);
    assert_int_equal(resume(UKVM_RESUME_STEP).reason, UKVM_STOP_REPLAY_END);
    assert_int_equal(where(), end);
    assert_int_equal(resume(UKVM_RESUME_STEP).reason, UKVM_STOP_EXITED);
    teardown();
    program = &prog;
    build_log();
}

int main(void)
{
    build_log();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sets_are_meaningful),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_condition_skips_across_ticks),
        cmocka_unit_test(test_interrupted_among_false_hits),
        cmocka_unit_test(test_read_watches),
        cmocka_unit_test(test_access_watches),
        cmocka_unit_test(test_overlapping_watches),
        cmocka_unit_test(test_watch_and_breakpoint),
        cmocka_unit_test(test_final_halt_held),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The replay timeline without KVM: the real replay_timeline.c,
 * replay_reverse.c and replay_target.c driven through the replay target's
 * operations (resume, insert_bp) over the fake engine (fake_engine.h), a
 * tiny deterministic machine with two loops, events and an end of trace.
 *
 * The oracle is the fake machine run forward alone, one instruction at a
 * time from reset: log[j] is the state after j instructions. Every answer
 * of the timeline is checked against it: the machine must then equal one
 * log entry, the one the operation promises (reverse-stepi from j: j - 1;
 * reverse-continue to a breakpoint at A from j: the largest i < j with
 * log[i] at A; to a write watchpoint: the largest i < j whose instruction
 * writes the watched bytes, the machine before it ran).
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
#define WATCHED 0x10 /* the watched 8 bytes */

/* Two loops: the first without events (a hot loop), the second with an
 * event in each iteration; stores to the watched bytes in both, one of
 * them overlapping only its upper half. */
static const struct fake_insn insns[] = {
    /* 0 */ { .op = FOP_MOVI, .reg = R_CX, .imm = 5 },
    /* 1 */ { .op = FOP_EVENT },
    /* 2 */ { .op = FOP_ADDI, .reg = R_BX, .imm = 1 },           /* loop 1 */
    /* 3 */ { .op = FOP_STORE, .reg = R_BX, .addr = WATCHED },
    /* 4 */ { .op = FOP_ADDI, .reg = R_DX, .imm = 3 },
    /* 5 */ { .op = FOP_LOOP, .reg = R_CX, .target = 2 },
    /* 6 */ { .op = FOP_EVENT },
    /* 7 */ { .op = FOP_STORE, .reg = R_AX, .addr = 0x20 },
    /* 8 */ { .op = FOP_MOVI, .reg = R_SI, .imm = 4 },
    /* 9 */ { .op = FOP_EVENT },                                 /* loop 2 */
    /* 10 */ { .op = FOP_STORE, .reg = R_AX, .addr = WATCHED + 4 },
    /* 11 */ { .op = FOP_LOAD, .reg = R_DI, .addr = WATCHED },
    /* 12 */ { .op = FOP_LOOP, .reg = R_SI, .target = 9 },
    /* 13 */ { .op = FOP_STORE, .reg = R_DX, .addr = WATCHED },
    /* 14 */ { .op = FOP_NOP },
    /* 15 */ { .op = FOP_EVENT },                                /* past the trace */
};
static const uint64_t events[] = { 7, 1, 2, 3, 4, 5 };
static const struct fake_program prog = { insns, sizeof(insns) / sizeof(insns[0]), events,
    sizeof(events) / sizeof(events[0]) };

/* The oracle: log[0..lg.n - 1], the last one at the end of the trace;
 * lg.effect[j]: what instruction j (run from log[j]) did. */
static struct fake_log lg;

static struct replay_target rt;

/* The periods the timeline is set up with (setup): a tick every tick_us
 * instructions of a continue (the fake's microseconds), a checkpoint every
 * `interval` single steps re-executed. */
static struct { uint64_t tick_us, interval; } periods = { 5, 4 };

static void build_log(void)
{
    fake_log_build(&lg, &prog);
}

static int setup(void **state)
{
    (void)state;
    fake_reset(&prog);
    build_log();
    fake_target_open(&rt, periods.tick_us, periods.interval);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_target_close(&rt);
    return 0;
}

/* The one log entry the machine equals now. */
static size_t where(void)
{
    return fake_log_where(&lg, NULL);
}

static struct ukvm_stop resume(enum ukvm_resume_kind kind)
{
    return fake_resume(&rt, kind);
}

static void insert(enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    fake_insert(&rt, type, addr, len);
}

static void step_to(size_t k)
{
    for (size_t j = 0; j < k; j++)
        assert_int_equal(resume(UKVM_RESUME_STEP).reason, UKVM_STOP_STEP);
    assert_int_equal(where(), k);
}

static void continue_to_end(void)
{
    assert_int_equal(resume(UKVM_RESUME_CONTINUE).reason, UKVM_STOP_REPLAY_END);
    assert_int_equal(where(), lg.n - 1);
}

/* ---- the oracle's answers ---- */

static bool writes_watched(size_t j)
{
    return lg.effect[j].wrote && lg.effect[j].addr < WATCHED + 8 && WATCHED < lg.effect[j].addr + lg.effect[j].len;
}

/* The last arrival at addr before moment k, or SIZE_MAX. */
static size_t last_arrival_before(uint64_t addr, size_t k)
{
    for (size_t j = k; j-- > 0;)
        if (lg.s[j].regs.rip == addr)
            return j;
    return SIZE_MAX;
}

static size_t last_write_before(size_t k)
{
    for (size_t j = k; j-- > 0;)
        if (writes_watched(j))
            return j;
    return SIZE_MAX;
}

/* ---- reverse-stepi ---- */

/* From the end of the trace back to its start, one instruction at a time:
 * across every event and through both loops. */
static void test_reverse_stepi_from_end(void **state)
{
    (void)state;
    continue_to_end();
    for (size_t k = lg.n - 1; k > 0; k--) {
        assert_int_equal(resume(UKVM_RESUME_REVERSE_STEP).reason, UKVM_STOP_STEP);
        assert_int_equal(where(), k - 1);
    }
    assert_int_equal(resume(UKVM_RESUME_REVERSE_STEP).reason, UKVM_STOP_REPLAY_BEGIN);
    assert_int_equal(where(), 0);
}

/* Stepped forward to every moment k, one reverse-stepi lands at k - 1,
 * three more at k - 4, and stepping forward again at k - 3. */
static void test_reverse_stepi_after_steps(void **state)
{
    for (size_t k = 1; k < lg.n; k++) {
        setup(state);
        step_to(k);
        assert_int_equal(resume(UKVM_RESUME_REVERSE_STEP).reason, UKVM_STOP_STEP);
        assert_int_equal(where(), k - 1);
        size_t back = k - 1 < 3 ? k - 1 : 3;
        for (size_t i = 0; i < back; i++)
            assert_int_equal(resume(UKVM_RESUME_REVERSE_STEP).reason, UKVM_STOP_STEP);
        assert_int_equal(where(), k - 1 - back);
        assert_int_equal(resume(UKVM_RESUME_STEP).reason, UKVM_STOP_STEP);
        assert_int_equal(where(), k - back);
        teardown(state);
    }
}

/* At a breakpoint inside the hot loop (reached by a continue): reverse-stepi
 * goes to the instruction before that arrival, not an earlier iteration's. */
static void test_reverse_stepi_inside_loop(void **state)
{
    (void)state;
    insert(UKVM_BP_SOFTWARE, A(4), 1);
    size_t at = SIZE_MAX;
    for (int hit = 0; hit < 3; hit++) {
        assert_int_equal(resume(UKVM_RESUME_CONTINUE).reason, UKVM_STOP_SWBREAK);
        at = where();
    }
    assert_int_equal(lg.s[at].regs.rip, A(4));
    for (size_t k = at; k > at - 6; k--) {
        assert_int_equal(resume(UKVM_RESUME_REVERSE_STEP).reason, UKVM_STOP_STEP);
        assert_int_equal(where(), k - 1);
    }
}

/* ---- reverse-continue ---- */

/* Reverse-continue again and again from moment `from` with the user's
 * points set: each lands where `expect` says (SIZE_MAX: nothing earlier,
 * the start of the trace), with `reason`. */
static void reverse_continue_all(size_t (*expect)(size_t k), enum ukvm_stop_reason reason)
{
    size_t k = where();
    for (;;) {
        size_t want = expect(k);
        struct ukvm_stop stop = resume(UKVM_RESUME_REVERSE_CONTINUE);
        if (want == SIZE_MAX) {
            assert_int_equal(stop.reason, UKVM_STOP_REPLAY_BEGIN);
            assert_int_equal(where(), 0);
            return;
        }
        assert_int_equal(stop.reason, reason);
        if (reason == UKVM_STOP_WATCH) {
            assert_int_equal(stop.watch_type, UKVM_WP_WRITE);
            assert_int_equal(stop.watch_addr, WATCHED);
        }
        assert_int_equal(where(), want);
        k = want;
    }
}

static uint64_t bp_addr;

static size_t expect_bp(size_t k)
{
    return last_arrival_before(bp_addr, k);
}

/* The last hit before where we stand, each earlier one in turn, the first
 * arrival of the loop's many last, then the start. */
static void test_reverse_continue_breakpoint_from_end(void **state)
{
    (void)state;
    continue_to_end();
    bp_addr = A(3);
    insert(UKVM_BP_SOFTWARE, bp_addr, 1);
    reverse_continue_all(expect_bp, UKVM_STOP_SWBREAK);
}

/* From every moment reached by stepping, at a breakpoint in each loop, on
 * an event's instruction, and on the first instruction (where checkpoint 0
 * itself is the hit). */
static void test_reverse_continue_breakpoint_after_steps(void **state)
{
    const uint64_t addrs[] = { A(0), A(2), A(5), A(9), A(10), A(14) };
    for (size_t a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++)
        for (size_t k = 0; k < lg.n; k++) {
            setup(state);
            step_to(k);
            bp_addr = addrs[a];
            insert(UKVM_BP_SOFTWARE, bp_addr, 1);
            reverse_continue_all(expect_bp, UKVM_STOP_SWBREAK);
            teardown(state);
        }
}

/* Standing at a breakpoint a forward continue stopped at: the hit before
 * it, not the one where we stand. */
static void test_reverse_continue_from_a_hit(void **state)
{
    (void)state;
    bp_addr = A(4);
    insert(UKVM_BP_SOFTWARE, bp_addr, 1);
    for (int hit = 0; hit < 4; hit++)
        assert_int_equal(resume(UKVM_RESUME_CONTINUE).reason, UKVM_STOP_SWBREAK);
    assert_int_equal(lg.s[where()].regs.rip, bp_addr);
    reverse_continue_all(expect_bp, UKVM_STOP_SWBREAK);
}

/* No breakpoint at all: straight to the start. */
static void test_reverse_continue_nothing_set(void **state)
{
    (void)state;
    step_to(20);
    assert_int_equal(resume(UKVM_RESUME_REVERSE_CONTINUE).reason, UKVM_STOP_REPLAY_BEGIN);
    assert_int_equal(where(), 0);
}

/* A breakpoint no moment before reaches: the start. */
static void test_reverse_continue_no_earlier_hit(void **state)
{
    (void)state;
    step_to(30);
    insert(UKVM_BP_SOFTWARE, A(14), 1);
    assert_int_equal(resume(UKVM_RESUME_REVERSE_CONTINUE).reason, UKVM_STOP_REPLAY_BEGIN);
    assert_int_equal(where(), 0);
}

/* A write watchpoint: the stop is AT the writing instruction, before it
 * ran (the watched bytes still hold the old value), the last write before
 * where we stand; the store that overlaps only half of them counts. */
static void test_reverse_continue_watch_from_end(void **state)
{
    (void)state;
    continue_to_end();
    insert(UKVM_WP_WRITE, WATCHED, 8);
    reverse_continue_all(last_write_before, UKVM_STOP_WATCH);
}

static void test_reverse_continue_watch_after_steps(void **state)
{
    for (size_t k = 0; k < lg.n; k++) {
        setup(state);
        step_to(k);
        insert(UKVM_WP_WRITE, WATCHED, 8);
        size_t want = last_write_before(k);
        struct ukvm_stop stop = resume(UKVM_RESUME_REVERSE_CONTINUE);
        if (want == SIZE_MAX) {
            assert_int_equal(stop.reason, UKVM_STOP_REPLAY_BEGIN);
        } else {
            assert_int_equal(stop.reason, UKVM_STOP_WATCH);
            assert_int_equal(where(), want);
            /* the instruction at rip writes them, and has not yet */
            assert_true(writes_watched(want));
            assert_memory_equal(fake_now()->mem, lg.s[want].mem, FAKE_MEM);
        }
        teardown(state);
    }
}

/* ---- forward after reverse ---- */

/* At each breakpoint hit a reverse-continue found, a forward continue goes
 * to the next arrival (or the end), and reverse-continue back to the hit. */
static void test_forward_continue_after_reverse_breakpoint(void **state)
{
    (void)state;
    continue_to_end();
    bp_addr = A(10);
    insert(UKVM_BP_SOFTWARE, bp_addr, 1);
    size_t k = lg.n - 1;
    for (;;) {
        size_t hit = last_arrival_before(bp_addr, k);
        if (hit == SIZE_MAX)
            break;
        assert_int_equal(resume(UKVM_RESUME_REVERSE_CONTINUE).reason, UKVM_STOP_SWBREAK);
        assert_int_equal(where(), hit);
        size_t next = hit + 1;
        while (next < lg.n - 1 && lg.s[next].regs.rip != bp_addr)
            next++;
        assert_int_equal(resume(UKVM_RESUME_CONTINUE).reason,
                next == lg.n - 1 ? UKVM_STOP_REPLAY_END : UKVM_STOP_SWBREAK);
        assert_int_equal(where(), next);
        assert_int_equal(resume(UKVM_RESUME_REVERSE_CONTINUE).reason, UKVM_STOP_SWBREAK);
        assert_int_equal(where(), hit);
        k = hit;
    }
}

/* At the write a reverse-continue found (before it ran), a forward continue
 * stops just after it ran; reverse-continue from there finds it again. */
static void test_forward_continue_after_reverse_watch(void **state)
{
    (void)state;
    continue_to_end();
    insert(UKVM_WP_WRITE, WATCHED, 8);
    size_t k = lg.n - 1;
    for (;;) {
        size_t w = last_write_before(k);
        if (w == SIZE_MAX)
            break;
        assert_int_equal(resume(UKVM_RESUME_REVERSE_CONTINUE).reason, UKVM_STOP_WATCH);
        assert_int_equal(where(), w);
        struct ukvm_stop stop = resume(UKVM_RESUME_CONTINUE);
        assert_int_equal(stop.reason, UKVM_STOP_WATCH);
        assert_int_equal(stop.watch_addr, WATCHED);
        assert_int_equal(where(), w + 1);
        assert_int_equal(resume(UKVM_RESUME_REVERSE_CONTINUE).reason, UKVM_STOP_WATCH);
        assert_int_equal(where(), w);
        k = w;
    }
    assert_int_equal(resume(UKVM_RESUME_REVERSE_CONTINUE).reason, UKVM_STOP_REPLAY_BEGIN);
    assert_int_equal(where(), 0);
}

/* ---- after an interrupt ---- */

/* A continue the user interrupted after n instructions stands at n, named
 * by its registers: reverse-stepi, stepping forward again, and a
 * reverse-continue from there land where the log says. */
static void test_positions_after_interrupt(void **state)
{
    for (size_t n = 1; n < lg.n - 1; n++) {
        setup(state);
        fake_interrupt_after(n);
        assert_int_equal(resume(UKVM_RESUME_CONTINUE).reason, UKVM_STOP_INTERRUPT);
        assert_int_equal(where(), n);
        assert_int_equal(resume(UKVM_RESUME_REVERSE_STEP).reason, UKVM_STOP_STEP);
        assert_int_equal(where(), n - 1);
        assert_int_equal(resume(UKVM_RESUME_STEP).reason, UKVM_STOP_STEP);
        assert_int_equal(where(), n);
        bp_addr = A(3);
        insert(UKVM_BP_SOFTWARE, bp_addr, 1);
        reverse_continue_all(expect_bp, UKVM_STOP_SWBREAK);
        teardown(state);
    }
}

/* ---- other periods, a tiny budget ---- */

static void reverse_all_ways(void **state)
{
    setup(state);
    test_reverse_stepi_from_end(state);
    teardown(state);
    setup(state);
    test_reverse_continue_breakpoint_from_end(state);
    teardown(state);
    setup(state);
    test_reverse_continue_watch_from_end(state);
    teardown(state);
    setup(state);
    test_forward_continue_after_reverse_watch(state);
    teardown(state);
}

/* Ticks after every instruction or never, checkpoints at every single
 * step re-executed or far apart. */
static void test_other_periods(void **state)
{
    const uint64_t ticks[] = { 1, 2, 3, 7, 1000 }, intervals[] = { 1, 2, 3, 512 };
    for (size_t t = 0; t < sizeof(ticks) / sizeof(ticks[0]); t++)
        for (size_t i = 0; i < sizeof(intervals) / sizeof(intervals[0]); i++) {
            periods.tick_us = ticks[t];
            periods.interval = intervals[i];
            reverse_all_ways(state);
        }
    periods.tick_us = 5;
    periods.interval = 4;
}

/* Room for two checkpoints beside the fixed tables: a continue to the end
 * thins the ones its ticks take, and every reverse answer still holds. */
static void test_thinning_tiny_budget(void **state)
{
    const uint64_t ticks[] = { 1, 2, 5 };
    for (size_t t = 0; t < sizeof(ticks) / sizeof(ticks[0]); t++) {
        periods.tick_us = ticks[t];
        setup(state);
        uint64_t budget = rt_checkpoint_memory(&rt) + 2 * FAKE_CP_COST;
        rt.memory_budget = budget;
        continue_to_end();
        assert_true(rt.dropped > 0);
        assert_true(rt_checkpoint_memory(&rt) <= budget);
        size_t after_continue = rt.st.n;
        assert_true(after_continue <= 3);
        for (size_t k = lg.n - 1; k > 0; k--) {
            assert_int_equal(resume(UKVM_RESUME_REVERSE_STEP).reason, UKVM_STOP_STEP);
            assert_int_equal(where(), k - 1);
            assert_true(rt_checkpoint_memory(&rt) <= budget);
        }
        teardown(state);
        setup(state);
        rt.memory_budget = rt_checkpoint_memory(&rt) + 2 * FAKE_CP_COST;
        continue_to_end();
        bp_addr = A(4);
        insert(UKVM_BP_SOFTWARE, bp_addr, 1);
        reverse_continue_all(expect_bp, UKVM_STOP_SWBREAK);
        teardown(state);
        setup(state);
        rt.memory_budget = rt_checkpoint_memory(&rt) + 2 * FAKE_CP_COST;
        continue_to_end();
        insert(UKVM_WP_WRITE, WATCHED, 8);
        reverse_continue_all(last_write_before, UKVM_STOP_WATCH);
        teardown(state);
    }
    periods.tick_us = 5;
}

/* ---- a walk of mixed operations ---- */

/* The points set for a walk: a breakpoint (0: none), the write watch. */
static struct { uint64_t bp; bool watch; } pts;

/* Where a forward continue from k stops: a breakpoint before its
 * instruction (not the one it starts on), a watch just after the write,
 * or the end. */
static size_t oracle_continue(size_t k, enum ukvm_stop_reason *reason)
{
    size_t end = lg.n - 1;
    for (size_t j = k;; j++) {
        if (j > k && pts.bp && lg.s[j].regs.rip == pts.bp) {
            *reason = UKVM_STOP_SWBREAK;
            return j;
        }
        if (j == end) {
            *reason = UKVM_STOP_REPLAY_END;
            return end;
        }
        if (pts.watch && writes_watched(j)) {
            *reason = UKVM_STOP_WATCH;
            return j + 1;
        }
    }
}

/* Where a reverse-continue from k stops: the latest breakpoint arrival or
 * write before k (SIZE_MAX: the start). */
static size_t oracle_reverse_continue(size_t k)
{
    size_t b = pts.bp ? last_arrival_before(pts.bp, k) : SIZE_MAX;
    size_t w = pts.watch ? last_write_before(k) : SIZE_MAX;
    if (b == SIZE_MAX)
        return w;
    if (w == SIZE_MAX)
        return b;
    return b > w ? b : w;
}

/* One operation, checked against the oracle. */
static void walk_op(unsigned op)
{
    size_t k = where();
    struct ukvm_stop stop;
    switch (op) {
    case 0: /* stepi */
        stop = resume(UKVM_RESUME_STEP);
        if (k == lg.n - 1) {
            assert_int_equal(stop.reason, UKVM_STOP_REPLAY_END);
            assert_int_equal(where(), k);
        } else {
            assert_int_equal(where(), k + 1);
            assert_int_equal(stop.reason, pts.watch && writes_watched(k)
                    ? UKVM_STOP_WATCH : UKVM_STOP_STEP);
        }
        break;
    case 1: /* reverse-stepi */
        stop = resume(UKVM_RESUME_REVERSE_STEP);
        assert_int_equal(stop.reason, k == 0 ? UKVM_STOP_REPLAY_BEGIN : UKVM_STOP_STEP);
        assert_int_equal(where(), k == 0 ? 0 : k - 1);
        break;
    case 2: { /* continue */
        enum ukvm_stop_reason want_reason;
        size_t want = oracle_continue(k, &want_reason);
        stop = resume(UKVM_RESUME_CONTINUE);
        assert_int_equal(stop.reason, want_reason);
        assert_int_equal(where(), want);
        break;
    }
    default: { /* reverse-continue */
        size_t want = oracle_reverse_continue(k);
        stop = resume(UKVM_RESUME_REVERSE_CONTINUE);
        if (want == SIZE_MAX) {
            assert_int_equal(stop.reason, UKVM_STOP_REPLAY_BEGIN);
            assert_int_equal(where(), 0);
        } else {
            /* (a breakpoint on the writing instruction: either stop) */
            assert_true(stop.reason == UKVM_STOP_SWBREAK || stop.reason == UKVM_STOP_WATCH);
            assert_int_equal(where(), want);
        }
        break;
    }
    }
}

static uint64_t rng_state;

static unsigned rng(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rng_state >> 33) % n);
}

/* Walks of 60 operations chosen by a fixed seed, with a breakpoint, the
 * watch, both or neither set, under budgets from two checkpoints to
 * plenty, with several tick periods. */
static void test_mixed_walks(void **state)
{
    const uint64_t bps[] = { 0, A(2), A(9), A(11), A(14) };
    const uint64_t room[] = { 2, 3, 5, 1000 };
    const uint64_t ticks[] = { 1, 3, 5 };
    rng_state = 12345;
    for (size_t b = 0; b < sizeof(bps) / sizeof(bps[0]); b++)
        for (int w = 0; w < 2; w++)
            for (size_t r = 0; r < sizeof(room) / sizeof(room[0]); r++)
                for (size_t t = 0; t < sizeof(ticks) / sizeof(ticks[0]); t++) {
                    periods.tick_us = ticks[t];
                    setup(state);
                    rt.memory_budget = rt_checkpoint_memory(&rt) + room[r] * FAKE_CP_COST;
                    pts.bp = bps[b];
                    pts.watch = w;
                    if (pts.bp)
                        insert(UKVM_BP_SOFTWARE, pts.bp, 1);
                    if (pts.watch)
                        insert(UKVM_WP_WRITE, WATCHED, 8);
                    for (int i = 0; i < 60; i++)
                        walk_op(rng(4));
                    teardown(state);
                }
    periods.tick_us = 5;
}

int main(void)
{
    build_log(); /* lg.n, for the tests that loop over moments */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reverse_stepi_from_end, setup, teardown),
        cmocka_unit_test(test_reverse_stepi_after_steps),
        cmocka_unit_test_setup_teardown(test_reverse_stepi_inside_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reverse_continue_breakpoint_from_end, setup,
                teardown),
        cmocka_unit_test(test_reverse_continue_breakpoint_after_steps),
        cmocka_unit_test_setup_teardown(test_reverse_continue_from_a_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reverse_continue_nothing_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reverse_continue_no_earlier_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reverse_continue_watch_from_end, setup, teardown),
        cmocka_unit_test(test_reverse_continue_watch_after_steps),
        cmocka_unit_test_setup_teardown(test_forward_continue_after_reverse_breakpoint, setup,
                teardown),
        cmocka_unit_test_setup_teardown(test_forward_continue_after_reverse_watch, setup,
                teardown),
        cmocka_unit_test(test_positions_after_interrupt),
        cmocka_unit_test(test_other_periods),
        cmocka_unit_test(test_thinning_tiny_budget),
        cmocka_unit_test(test_mixed_walks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

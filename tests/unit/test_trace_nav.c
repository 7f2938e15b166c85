/* trace_nav: event count, end, random reads and the guest clock, from the
 * frame index and lazy samples, against a plain linear reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "record/trace_nav.h"

static char dir[64];
static char path[128];
static char err[256];
static uint8_t kernel[100];

#define N_EVENTS 5000
#define TSC_HZ 1000000000ull    /* 1 tick per ns keeps the arithmetic plain */

/* Events: walltime every 700, rdtsc every 3, puts otherwise; a halt last. */
static struct ukvm_event make_event(uint64_t i, uint64_t n)
{
    struct ukvm_event e = { .rip = 0x100000 + i };
    if (i == n - 1) {
        e.kind = UKVM_EV_HALT;
    } else if (i % 700 == 5) {
        e.kind = UKVM_EV_WALLTIME;
        e.a[0] = 1000000000000ull + i * 1000;
    } else if (i % 3 == 0) {
        e.kind = UKVM_EV_RDTSC;
        e.a[0] = 50000 + i * 10;
    } else {
        e.kind = UKVM_EV_PUTS;
        e.a[0] = 0;
        e.a[1] = ukvm_digest("", 0);
    }
    return e;
}

static void write_trace(uint64_t n, bool complete)
{
    struct ukvm_trace_header h = { .ukvm_version = "test", .kernel = kernel,
        .kernel_len = sizeof kernel, .cmdline = "", .mem_size = 1 << 20, .tsc_hz = TSC_HZ };
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(path, true, &h, err, sizeof err);
    assert_non_null(w);
    for (uint64_t i = 0; i < n; i++) {
        struct ukvm_event e = make_event(i, complete ? n : n + 1);
        assert_int_equal(ukvm_trace_writer_event(w, &e, err, sizeof err), 0);
        if (i % 333 == 0)       /* many frames */
            assert_int_equal(ukvm_trace_writer_flush(w, err, sizeof err), 0);
    }
    if (complete)
        assert_int_equal(ukvm_trace_writer_close(w, 0, err, sizeof err), 0);
    else
        assert_int_equal(ukvm_trace_writer_abandon(w, err, sizeof err), 0);
}

/* The clock before event `next`, worked out the slow way. */
static struct guest_clock expected_clock(uint64_t next, uint64_t n)
{
    struct guest_clock c = { 0 };
    bool tsc_at_wall_known = false;
    uint64_t tsc_at_wall = 0;
    for (uint64_t i = 0; i < next; i++) {
        struct ukvm_event e = make_event(i, n);
        if (e.kind == UKVM_EV_WALLTIME) {
            c.have_wall = true;
            c.wall_ns = e.a[0];
            tsc_at_wall_known = c.have_tsc;
            tsc_at_wall = c.tsc;
        } else if (e.kind == UKVM_EV_RDTSC) {
            c.have_tsc = true;
            c.tsc = e.a[0];
        }
    }
    if (c.have_wall && tsc_at_wall_known && c.tsc > tsc_at_wall)
        c.wall_ns += c.tsc - tsc_at_wall;   /* TSC_HZ: 1 tick per ns */
    return c;
}

static void check_clock(struct trace_nav *nav, uint64_t next, uint64_t n)
{
    struct guest_clock got, want = expected_clock(next, n);
    assert_int_equal(trace_nav_clock(nav, next, &got, err, sizeof err), 0);
    assert_int_equal(got.have_wall, want.have_wall);
    assert_int_equal(got.have_tsc, want.have_tsc);
    if (want.have_wall)
        assert_int_equal(got.wall_ns, want.wall_ns);
    if (want.have_tsc)
        assert_int_equal(got.tsc, want.tsc);
}

static void check_read(struct trace_nav *nav, uint64_t i, uint64_t n)
{
    struct ukvm_event got, want = make_event(i, n);
    assert_int_equal(trace_nav_read(nav, i, &got, err, sizeof err), 0);
    assert_int_equal(got.kind, want.kind);
    assert_int_equal(got.rip, want.rip);
    assert_int_equal(got.a[0], want.a[0]);
}

static void test_complete_trace(void **state)
{
    (void)state;
    write_trace(N_EVENTS, true);
    struct trace_nav *nav = trace_nav_open(path, err, sizeof err);
    assert_non_null(nav);
    assert_int_equal(trace_nav_count(nav), N_EVENTS);
    assert_int_equal(trace_nav_end_event(nav), N_EVENTS - 1);    /* the halt */
    /* out of order, backwards, forwards, and sequential runs */
    static const uint64_t order[] = { 4999, 0, 2500, 2501, 2502, 1, 4998, 700, 699, 3333 };
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
        check_read(nav, order[k], N_EVENTS);
    /* clock questions far, near, backwards, interleaved with reads */
    static const uint64_t at[] = { 4000, 0, 5, 6, 7, 256, 257, 1500, 5000, 3, 4705, 4706 };
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        check_clock(nav, at[k], N_EVENTS);
        check_read(nav, at[k] < N_EVENTS ? at[k] : 0, N_EVENTS);
    }
    struct ukvm_event ev;
    assert_int_equal(trace_nav_read(nav, N_EVENTS, &ev, err, sizeof err), -1);
    assert_non_null(strstr(err, "no event 5000"));
    trace_nav_close(nav);
}

static void test_cut_short_trace(void **state)
{
    (void)state;
    write_trace(2000, false);
    struct trace_nav *nav = trace_nav_open(path, err, sizeof err);
    assert_non_null(nav);
    assert_int_equal(trace_nav_count(nav), 2000);
    assert_int_equal(trace_nav_end_event(nav), 2000);   /* no halt: the count */
    check_read(nav, 1999, 2001);
    check_clock(nav, 2000, 2001);
    check_clock(nav, 1000, 2001);
    trace_nav_close(nav);
}

static void test_not_a_trace(void **state)
{
    (void)state;
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a trace\n", f);
    fclose(f);
    assert_null(trace_nav_open(path, err, sizeof err));
    assert_true(strlen(err) > 0 && !strchr(err, '\n'));
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/ukvm-nav-test.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/t.zst", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_trace),
        cmocka_unit_test(test_cut_short_trace),
        cmocka_unit_test(test_not_a_trace),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

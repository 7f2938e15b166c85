/*
 * Watchpoints stored as ranges (src/vcpu/watch_ranges.c): an identical
 * insert is stored once, a huge watch is one entry and one run, the count
 * is capped, and the protected runs take the stronger protection where
 * watches of different kinds meet; an instruction's access list merges
 * touching accesses of a kind and still names every watch they hit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vcpu/watch_ranges.h"

#define PAGE 0x1000ULL

static struct watch W(enum ukvm_bp_type type, uint64_t gpa, uint64_t len)
{
    return (struct watch){ .type = type, .addr = gpa, .len = len, .gpa = gpa };
}

static void test_duplicates_stored_once(void **state)
{
    (void)state;
    struct watch_set ws = { 0 };
    struct watch big = W(UKVM_WP_WRITE, 0x1000, (4ULL << 30) - 0x1000);
    assert_int_equal(watch_set_add(&ws, &big), WATCH_ADDED);
    for (int i = 0; i < 200; i++)
        assert_int_equal(watch_set_add(&ws, &big), WATCH_PRESENT);
    assert_int_equal(ws.n, 1);
    assert_true(ws.cap <= 16);
    struct prot_run *runs;
    assert_int_equal(watch_set_runs(&ws, NULL, -1, true, &runs), 1);
    assert_int_equal(runs[0].gpa, 0x1000);
    assert_int_equal(runs[0].len, (4ULL << 30) - 0x1000);
    assert_int_equal(runs[0].prot, PAGE_READONLY);
    free(runs);
    /* one remove takes it out */
    assert_true(watch_set_remove(&ws, UKVM_WP_WRITE, 0x1000, (4ULL << 30) - 0x1000));
    assert_int_equal(ws.n, 0);
    assert_false(watch_set_remove(&ws, UKVM_WP_WRITE, 0x1000, (4ULL << 30) - 0x1000));
    /* the same range as another kind is another watch */
    struct watch r = W(UKVM_WP_READ, 0x1000, 8), a = W(UKVM_WP_ACCESS, 0x1000, 8);
    assert_int_equal(watch_set_add(&ws, &r), WATCH_ADDED);
    assert_int_equal(watch_set_add(&ws, &a), WATCH_ADDED);
    assert_int_equal(ws.n, 2);
    watch_set_free(&ws);
}

static void test_count_capped(void **state)
{
    (void)state;
    struct watch_set ws = { 0 };
    for (uint64_t i = 0; i < WATCH_MAX; i++) {
        struct watch w = W(UKVM_WP_WRITE, i * 8, 8);
        assert_int_equal(watch_set_add(&ws, &w), WATCH_ADDED);
    }
    struct watch more = W(UKVM_WP_WRITE, WATCH_MAX * 8, 8);
    assert_int_equal(watch_set_add(&ws, &more), WATCH_FULL);
    assert_int_equal(ws.n, WATCH_MAX);
    /* 4096 watches of 8 bytes: 8 pages, one read-only run */
    struct prot_run *runs;
    assert_int_equal(watch_set_runs(&ws, NULL, -1, true, &runs), 1);
    assert_int_equal(runs[0].len, 8 * PAGE);
    free(runs);
    watch_set_free(&ws);
}

static void test_runs_stronger_wins(void **state)
{
    (void)state;
    struct watch_set ws = { 0 };
    struct watch w = W(UKVM_WP_WRITE, 0, 10 * PAGE), a = W(UKVM_WP_ACCESS, 3 * PAGE + 8, 16),
        r = W(UKVM_WP_READ, 9 * PAGE, 2 * PAGE);
    watch_set_add(&ws, &w);
    watch_set_add(&ws, &a);
    watch_set_add(&ws, &r);
    struct prot_run *runs;
    long n = watch_set_runs(&ws, NULL, -1, true, &runs);
    assert_int_equal(n, 4);
    assert_int_equal(runs[0].gpa, 0);
    assert_int_equal(runs[0].len, 3 * PAGE);
    assert_int_equal(runs[0].prot, PAGE_READONLY);
    assert_int_equal(runs[1].gpa, 3 * PAGE);
    assert_int_equal(runs[1].len, PAGE);
    assert_int_equal(runs[1].prot, PAGE_UNMAPPED);
    assert_int_equal(runs[2].gpa, 4 * PAGE);
    assert_int_equal(runs[2].len, 5 * PAGE);
    assert_int_equal(runs[2].prot, PAGE_READONLY);
    assert_int_equal(runs[3].gpa, 9 * PAGE);
    assert_int_equal(runs[3].len, 2 * PAGE);
    assert_int_equal(runs[3].prot, PAGE_UNMAPPED);
    free(runs);
    /* leaving the write watch out (skip), or adding one (extra) */
    n = watch_set_runs(&ws, NULL, 0, true, &runs);
    assert_int_equal(n, 2);
    free(runs);
    struct watch e = W(UKVM_WP_WRITE, 20 * PAGE, 1);
    n = watch_set_runs(&ws, &e, -1, true, &runs);
    assert_int_equal(n, 5);
    assert_int_equal(runs[4].gpa, 20 * PAGE);
    assert_int_equal(runs[4].len, PAGE);
    free(runs);
    watch_set_free(&ws);
}

static void test_hits_and_ghosts(void **state)
{
    (void)state;
    struct watch_set ws = { 0 };
    struct watch w = W(UKVM_WP_WRITE, 0x2000, 4), r = W(UKVM_WP_READ, 0x3000, 4),
        a = W(UKVM_WP_ACCESS, 0x4000, 4);
    watch_set_add(&ws, &w);
    watch_set_add(&ws, &r);
    watch_set_add(&ws, &a);
    assert_ptr_equal(watch_set_hit(&ws, 0x2002, 4, true), &ws.w[0]);
    assert_null(watch_set_hit(&ws, 0x2002, 4, false));
    assert_null(watch_set_hit(&ws, 0x2004, 4, true));
    assert_null(watch_set_hit(&ws, 0x3000, 1, true));
    assert_ptr_equal(watch_set_hit(&ws, 0x3000, 1, false), &ws.w[1]);
    assert_ptr_equal(watch_set_hit(&ws, 0x3ffc, 8, true), &ws.w[2]);
    assert_ptr_equal(watch_set_hit(&ws, 0x4003, 1, false), &ws.w[2]);
    /* a ghost protects its pages but reports nothing; inserting it again
     * brings it back */
    ws.w[0].ghost = true;
    assert_null(watch_set_hit(&ws, 0x2000, 4, true));
    struct prot_run *runs;
    /* the read and access pages touch: one unmapped run */
    assert_int_equal(watch_set_runs(&ws, NULL, -1, true, &runs), 2);
    free(runs);
    assert_int_equal(watch_set_runs(&ws, NULL, -1, false, &runs), 1);
    free(runs);
    assert_int_equal(watch_set_add(&ws, &w), WATCH_PRESENT);
    assert_false(ws.w[0].ghost);
    ws.w[1].ghost = true;
    assert_int_equal(watch_set_drop_ghosts(&ws), 1);
    assert_int_equal(ws.n, 2);
    watch_set_free(&ws);
}

/* A rep stosb over two watches (one byte at a time, the first stop naming
 * the first watch) and a movs (reads and writes kept apart). */
static void test_access_list(void **state)
{
    (void)state;
    struct access_list l = { 0 };
    for (uint64_t b = 0x5000; b < 0x52c0; b++)
        access_list_add(&l, b, 1, true);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.a[0].gpa, 0x5000);
    assert_int_equal(l.a[0].len, 0x2c0);
    struct watch first = W(UKVM_WP_WRITE, 0x5040, 16), later = W(UKVM_WP_ACCESS, 0x5080, 8),
        past = W(UKVM_WP_WRITE, 0x52c0, 8), read = W(UKVM_WP_READ, 0x5080, 8);
    assert_true(access_list_hits(&l, &first));
    assert_true(access_list_hits(&l, &later));
    assert_false(access_list_hits(&l, &past));
    assert_false(access_list_hits(&l, &read));
    /* a descending copy: reads and writes each merge, not into each other */
    struct access_list m = { 0 };
    for (uint64_t i = 0; i < 64; i++) {
        access_list_add(&m, 0x7000 - 8 * i, 8, false);
        access_list_add(&m, 0x9000 - 8 * i, 8, true);
    }
    assert_int_equal(m.n, 2);
    assert_int_equal(m.a[0].gpa, 0x7000 - 8 * 63);
    assert_int_equal(m.a[0].len, 64 * 8);
    assert_false(m.a[0].write);
    struct watch rd = W(UKVM_WP_READ, 0x6e10, 1), wr = W(UKVM_WP_WRITE, 0x6e10, 1);
    assert_true(access_list_hits(&m, &rd));
    assert_false(access_list_hits(&m, &wr));
    /* apart: one entry each, up to the cap, then the rest are dropped */
    struct access_list f = { 0 };
    for (uint64_t i = 0; i < ACCESS_LIST_MAX + 3; i++)
        access_list_add(&f, 0x10000 + 0x100 * i, 4, true);
    assert_int_equal(f.n, ACCESS_LIST_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicates_stored_once),
        cmocka_unit_test(test_count_capped),
        cmocka_unit_test(test_runs_stronger_wins),
        cmocka_unit_test(test_hits_and_ghosts),
        cmocka_unit_test(test_access_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * ukvm_event_diff (src/record/event_diff.h): what `ukvm-trace diff` says
 * differs between two events, on events made up here: the same event, an
 * argument, the rip, the kind, the bytes read (same and different lengths),
 * the console text, and a buffer too small for the description.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "record/event_diff.h"

static char buf[512];

static const char *diff(const struct ukvm_event *a, const struct ukvm_event *b)
{
    memset(buf, 'X', sizeof buf);
    return ukvm_event_diff(buf, sizeof buf, a, b) ? buf : NULL;
}

static void test_same(void **state)
{
    (void)state;
    uint8_t d[4] = { 1, 2, 3, 4 };
    struct ukvm_event a = { .kind = UKVM_EV_BLOCK_READ, .rip = 0x1000, .a = { 1, 512, 4, 0 },
        .data = d, .data_len = 4 };
    struct ukvm_event b = a;
    uint8_t d2[4] = { 1, 2, 3, 4 };
    b.data = d2;    /* equal bytes elsewhere */
    assert_null(diff(&a, &b));
    assert_string_equal(buf, "");
}

static void test_args_in_dump_words(void **state)
{
    (void)state;
    struct ukvm_event a = { .kind = UKVM_EV_RDTSC, .rip = 0x10, .a = { 12 } };
    struct ukvm_event b = a;
    b.a[0] = 12345;
    assert_string_equal(diff(&a, &b), "tsc: 12 vs 12345");
    /* hex, signed and digest fields as the event line writes them */
    struct ukvm_event p = { .kind = UKVM_EV_POLL, .a = { 10, 1, 0 } };
    struct ukvm_event q = p;
    q.a[1] = 0x10;
    q.a[2] = (uint64_t)-22;
    assert_string_equal(diff(&p, &q), "ready: 0x1 vs 0x10; ret: 0 vs -22");
    struct ukvm_event s = { .kind = UKVM_EV_PUTS, .a = { 5, 0xab } };
    struct ukvm_event t = s;
    t.rip = 0x20;
    t.a[1] = 0xcd;
    assert_string_equal(diff(&s, &t), "rip: 0x0 vs 0x20; digest: 00000000000000ab vs 00000000000000cd");
}

static void test_kind(void **state)
{
    (void)state;
    struct ukvm_event a = { .kind = UKVM_EV_RDTSC, .rip = 0x1000, .a = { 7 } };
    struct ukvm_event b = { .kind = UKVM_EV_WALLTIME, .rip = 0x1004, .a = { 8 } };
    assert_string_equal(diff(&a, &b), "kind: rdtsc vs walltime; rip: 0x1000 vs 0x1004");
}

static void test_data(void **state)
{
    (void)state;
    uint8_t fa[60], fb[60];
    for (int i = 0; i < 60; i++)
        fa[i] = fb[i] = (uint8_t)i;
    fb[14] = 0x03;
    fa[14] = 0x02;
    struct ukvm_event a = { .kind = UKVM_EV_NET_READ, .a = { 0, 1514, 0, 60 }, .data = fa, .data_len = 60 };
    struct ukvm_event b = a;
    b.data = fb;
    assert_string_equal(diff(&a, &b), "data: first differing byte at offset 14: 0x02 vs 0x03");
    fb[14] = 0x02;
    b.a[3] = 42;
    b.data_len = 42;
    assert_string_equal(diff(&a, &b), "len: 60 vs 42; data: 60 vs 42 bytes, the same for the first 42");
    fb[0] = 0xff;
    assert_string_equal(diff(&a, &b),
            "len: 60 vs 42; data: 60 vs 42 bytes, first differing byte at offset 0: 0x00 vs 0xff");
    /* no data on one side (a failed read) */
    b.data = NULL;
    b.data_len = 0;
    b.a[3] = 60;
    assert_string_equal(diff(&a, &b), "data: 60 vs 0 bytes");
}

static void test_text(void **state)
{
    (void)state;
    struct ukvm_event a = { .kind = UKVM_EV_PUTS, .a = { 3, 9 }, .text = (const uint8_t *)"abc", .text_len = 3 };
    struct ukvm_event b = a;
    b.text = (const uint8_t *)"abd";
    assert_string_equal(diff(&a, &b), "text: first differing byte at offset 2: 0x63 vs 0x64");
}

static void test_small_buffer(void **state)
{
    (void)state;
    struct ukvm_event a = { .kind = UKVM_EV_RDTSC, .a = { 12 } };
    struct ukvm_event b = a;
    b.a[0] = 12345;
    b.rip = 1;
    char small[8];
    memset(small, 'X', sizeof small);
    assert_true(ukvm_event_diff(small, sizeof small, &a, &b));
    assert_string_equal(small, "rip: 0x");
    assert_true(ukvm_event_diff(small, 1, &a, &b));
    assert_string_equal(small, "");
    assert_true(ukvm_event_diff(NULL, 0, &a, &b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same),
        cmocka_unit_test(test_args_in_dump_words),
        cmocka_unit_test(test_kind),
        cmocka_unit_test(test_data),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

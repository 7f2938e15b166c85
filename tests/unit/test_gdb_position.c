/* Unit tests for the place parser (monitor_parse_place, src/vcpu/
 * gdb_monitor_cmd.c) that gdb's `run ARG` and --goto use: it reads a word as
 * `monitor goto WORD` does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vcpu/gdb_monitor_cmd.h"

static char err[256];

static void test_words(void **state)
{
    (void)state;
    struct ukvm_position p;
    assert_int_equal(monitor_parse_place("start", &p, err, sizeof(err)), 0);
    assert_int_equal(p.where, UKVM_AT_START);
    assert_int_equal(monitor_parse_place("end", &p, err, sizeof(err)), 0);
    assert_int_equal(p.where, UKVM_AT_END);
    assert_int_equal(monitor_parse_place("1234", &p, err, sizeof(err)), 0);
    assert_int_equal(p.where, UKVM_AT_EVENT);
    assert_int_equal(p.n, 1234);
    assert_int_equal(monitor_parse_place("+7", &p, err, sizeof(err)), 0);
    assert_int_equal(p.where, UKVM_AT_FORWARD);
    assert_int_equal(p.n, 7);
    assert_int_equal(monitor_parse_place("-3", &p, err, sizeof(err)), 0);
    assert_int_equal(p.where, UKVM_AT_BACK);
    assert_int_equal(p.n, 3);
    assert_int_equal(monitor_parse_place("before_puts", &p, err, sizeof(err)), 0);
    assert_int_equal(p.where, UKVM_AT_BOOKMARK);
    assert_string_equal(p.name, "before_puts");
    assert_int_equal(monitor_parse_place("", &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no place"));
    assert_int_equal(monitor_parse_place("5x", &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'5x' is not an event number"));
    assert_int_equal(monitor_parse_place("+", &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is not +N or -N"));
    assert_int_equal(monitor_parse_place("99999999999999999999999", &p, err, sizeof(err)), -1);
    assert_int_equal(monitor_parse_place("a/b", &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bookmark name"));
}

/* Every word means the same as after `monitor goto` (or both refuse it). */
static void test_same_as_monitor_goto(void **state)
{
    (void)state;
    static const char *const words[] = {
        "start", "end", "0", "20", "007", "18446744073709551615", "18446744073709551616",
        "+0", "+5", "-5", "+-1", "--1", "+x", "-", "mark1", "_m", "a.b-c", "1abc", "x y",
        "ab$", "abcdefghijklmnopqrstuvwxyz0123456", "abcdefghijklmnopqrstuvwxyz012345",
    };
    static const enum ukvm_where map[] = {
        [WHERE_EVENT] = UKVM_AT_EVENT, [WHERE_START] = UKVM_AT_START,
        [WHERE_END] = UKVM_AT_END, [WHERE_FORWARD] = UKVM_AT_FORWARD,
        [WHERE_BACK] = UKVM_AT_BACK, [WHERE_BOOKMARK] = UKVM_AT_BOOKMARK,
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        char line[80];
        struct monitor_cmd c;
        struct ukvm_position p;
        snprintf(line, sizeof(line), "goto %s", words[i]);
        int want = monitor_cmd_parse(line, &c, err, sizeof(err));
        if (strchr(words[i], ' '))
            want = -1; /* two words after goto: a position is one */
        int got = monitor_parse_place(words[i], &p, err, sizeof(err));
        if (got != want)
            fail_msg("'%s': position %d, monitor goto %d", words[i], got, want);
        if (got < 0)
            continue;
        assert_int_equal(p.where, map[c.where]);
        assert_int_equal(p.n, c.n);
        assert_string_equal(p.name, c.name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_same_as_monitor_goto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

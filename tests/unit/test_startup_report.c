/*
 * The start-up breakdown (src/monitor/startup_report.c): marks charge the
 * time since the previous mark to one phase, the phases add up to the
 * total, and the report has one line per phase plus the CPU and total lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "monitor/startup_report.h"

static void test_marks_charge_intervals(void **state)
{
    (void)state;
    struct startup_times t = { .start = 1000, .last = 1000 };
    startup_times_mark(&t, STARTUP_CLI, 1100);
    startup_times_mark(&t, STARTUP_MEMORY, 1600);
    startup_times_mark(&t, STARTUP_MEMORY, 1700);   /* a phase marked twice adds up */
    startup_times_mark(&t, STARTUP_SCAN_PATCH, 1750);
    assert_int_equal(t.ns[STARTUP_CLI], 100);
    assert_int_equal(t.ns[STARTUP_MEMORY], 600);
    assert_int_equal(t.ns[STARTUP_SCAN_PATCH], 50);
    assert_int_equal(t.ns[STARTUP_KVM_OPEN], 0);
    assert_int_equal(startup_times_sum(&t), t.last - t.start);
}

static void test_clock_going_back_charges_nothing(void **state)
{
    (void)state;
    struct startup_times t = { .start = 1000, .last = 1000 };
    startup_times_mark(&t, STARTUP_CLI, 900);
    assert_int_equal(t.ns[STARTUP_CLI], 0);
    startup_times_mark(&t, STARTUP_ELF_LOAD, 1010);
    assert_int_equal(t.ns[STARTUP_ELF_LOAD], 10);
    startup_times_mark(&t, STARTUP_N_PHASES, 1020);  /* out of range: dropped, not stored */
    assert_int_equal(startup_times_sum(&t), 10);
}

static void test_names(void **state)
{
    (void)state;
    for (int p = 0; p < STARTUP_N_PHASES; p++) {
        const char *n = startup_phase_name((enum startup_phase)p);
        assert_non_null(n);
        assert_null(strchr(n, ' '));    /* one word: the bench splits on spaces */
        for (int q = 0; q < p; q++)
            assert_string_not_equal(n, startup_phase_name((enum startup_phase)q));
    }
    assert_null(startup_phase_name(STARTUP_N_PHASES));
    assert_string_equal(startup_phase_name(STARTUP_SCAN_PATCH), "scan_patch");
}

static void test_format(void **state)
{
    (void)state;
    struct startup_times t = { .start = 0, .last = 0 };
    startup_times_mark(&t, STARTUP_KVM_OPEN, 200);
    startup_times_mark(&t, STARTUP_TRACE_HEADER, 1234);
    char buf[4096];
    size_t n = startup_times_format(&t, 3000, 4000, 500, buf, sizeof(buf));
    assert_int_equal(n, strlen(buf));
    assert_non_null(strstr(buf, "ukvm: startup phase kvm_open 200 ns\n"));
    assert_non_null(strstr(buf, "ukvm: startup phase trace_header 1034 ns\n"));
    assert_non_null(strstr(buf, "ukvm: startup phase cli 0 ns\n"));
    assert_non_null(strstr(buf, "ukvm: startup cpu 7000 ns (user 3000 sys 4000, before main 500)\n"));
    /* the total last, in the words `make bench` has always parsed */
    const char *total = "ukvm: startup 1234 ns to the first guest instruction\n";
    assert_true(n >= strlen(total));
    assert_string_equal(buf + n - strlen(total), total);
    int lines = 0;
    for (const char *p = buf; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, STARTUP_N_PHASES + 2);

    /* a short buffer: truncated, NUL-terminated, full length returned */
    char small[16];
    assert_int_equal(startup_times_format(&t, 3000, 4000, 500, small, sizeof(small)), n);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(startup_times_format(&t, 3000, 4000, 500, NULL, 0), n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_marks_charge_intervals),
        cmocka_unit_test(test_clock_going_back_charges_nothing),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Console lines tagged with the event that began them (grep), and the
 * "[ev N] " prefixes of `ukvm replay --mark-output`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "record/console_lines.h"

struct seen {
    char text[8][128];
    uint64_t ev[8];
    size_t len[8];
    int n;
};

static void collect(uint64_t event, const uint8_t *line, size_t len, void *arg)
{
    struct seen *s = arg;
    assert_true(s->n < 8);
    size_t k = len < 127 ? len : 127;
    memcpy(s->text[s->n], line, k);
    s->text[s->n][k] = 0;
    s->len[s->n] = len;
    s->ev[s->n++] = event;
}

static void feed(struct console_lines *cl, uint64_t ev, const char *p, struct seen *s)
{
    console_lines_feed(cl, ev, (const uint8_t *)p, strlen(p), collect, s);
}

static void lines_in_pieces(void **state)
{
    (void)state;
    struct console_lines cl = { 0 };
    struct seen s = { 0 };
    feed(&cl, 3, "hel", &s);
    feed(&cl, 4, "lo\nwor", &s);        /* ends one line, begins the next */
    feed(&cl, 5, "ld\n\nlast", &s);     /* an empty line too */
    console_lines_finish(&cl, collect, &s);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.text[0], "hello");
    assert_int_equal(s.ev[0], 3);
    assert_string_equal(s.text[1], "world");
    assert_int_equal(s.ev[1], 4);
    assert_string_equal(s.text[2], "");
    assert_int_equal(s.ev[2], 5);
    assert_string_equal(s.text[3], "last");
    assert_int_equal(s.ev[3], 5);
}

static void long_line_in_pieces(void **state)
{
    (void)state;
    struct console_lines cl = { 0 };
    struct seen s = { 0 };
    size_t n = CONSOLE_LINE_MAX + 10;
    uint8_t *big = malloc(n);
    memset(big, 'x', n);
    console_lines_feed(&cl, 9, big, n, collect, &s);
    feed(&cl, 10, "y\n", &s);
    console_lines_finish(&cl, collect, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.len[0], CONSOLE_LINE_MAX);
    assert_int_equal(s.len[1], 11);
    assert_int_equal(s.ev[1], 9);
    free(big);
}

static void mark_prefixes(void **state)
{
    (void)state;
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    bool mid = false;
    console_mark_write(fd[1], &mid, 7, (const uint8_t *)"a", 1);
    console_mark_write(fd[1], &mid, 8, (const uint8_t *)"b\nc\n", 4);
    console_mark_write(fd[1], &mid, 12, (const uint8_t *)"d", 1);
    close(fd[1]);
    char out[128] = { 0 };
    ssize_t got = read(fd[0], out, sizeof out - 1);
    close(fd[0]);
    assert_true(got > 0);
    assert_string_equal(out, "[ev 7] ab\n[ev 8] c\n[ev 12] d");
    assert_true(mid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_in_pieces),
        cmocka_unit_test(long_line_in_pieces),
        cmocka_unit_test(mark_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

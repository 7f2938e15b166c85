/*
 * Console output as lines, each with the event that wrote its first byte:
 * guests write lines in pieces (several puts per line, several lines per
 * puts), and `ukvm-trace grep` and `ukvm replay --mark-output` both name a
 * line by the event that began it.
 */
#ifndef UKVM_CONSOLE_LINES_H
#define UKVM_CONSOLE_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longer lines are handed on in pieces of this size. */
#define CONSOLE_LINE_MAX (64u << 10)

typedef void (*console_line_fn)(uint64_t event, const uint8_t *line, size_t len, void *arg);

struct console_lines {
    uint8_t *buf;               /* the current line, without its newline */
    size_t len;
    uint64_t event;             /* the event that wrote its first byte */
    bool open;                  /* a line has begun */
    bool oom;
};

/* Bytes written by `event`: calls fn for every line they complete. */
void console_lines_feed(struct console_lines *cl, uint64_t event, const uint8_t *p, size_t n,
        console_line_fn fn, void *arg);
/* The last line, if it had no newline; frees the buffer. */
void console_lines_finish(struct console_lines *cl, console_line_fn fn, void *arg);

/*
 * `--mark-output`: writes p[0..n) to fd with "[ev N] " before every line
 * that begins in it. *mid_line carries over between calls.
 */
void console_mark_write(int fd, bool *mid_line, uint64_t event, const uint8_t *p, size_t n);

#endif

/* Console output as lines tagged with events (console_lines.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor.h"
#include "record/console_lines.h"

void console_lines_feed(struct console_lines *cl, uint64_t event, const uint8_t *p, size_t n,
        console_line_fn fn, void *arg)
{
    if (!cl->buf && !cl->oom) {
        cl->buf = malloc(CONSOLE_LINE_MAX);
        cl->oom = !cl->buf;
    }
    for (size_t i = 0; i < n; i++) {
        if (!cl->open) {
            cl->open = true;
            cl->event = event;
            cl->len = 0;
        }
        if (p[i] == '\n' || cl->len == CONSOLE_LINE_MAX || cl->oom) {
            fn(cl->event, cl->buf, cl->oom ? 0 : cl->len, arg);
            cl->open = false;
            if (p[i] != '\n' && !cl->oom) {
                /* a long line goes on in a new piece, from this event */
                cl->open = true;
                cl->event = event;
                cl->len = 0;
                cl->buf[cl->len++] = p[i];
            }
            continue;
        }
        cl->buf[cl->len++] = p[i];
    }
}

void console_lines_finish(struct console_lines *cl, console_line_fn fn, void *arg)
{
    if (cl->open && !cl->oom)
        fn(cl->event, cl->buf, cl->len, arg);
    free(cl->buf);
    memset(cl, 0, sizeof *cl);
}

void console_mark_write(int fd, bool *mid_line, uint64_t event, const uint8_t *p, size_t n)
{
    char tag[32];
    int tl = snprintf(tag, sizeof tag, "[ev %" PRIu64 "] ", event);
    size_t i = 0;
    while (i < n) {
        if (!*mid_line)
            ukvm_write_all(fd, tag, (size_t)tl);
        const uint8_t *nl = memchr(p + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - p) + 1 : n;
        ukvm_write_all(fd, p + i, end - i);
        *mid_line = !nl;
        i = end;
    }
}

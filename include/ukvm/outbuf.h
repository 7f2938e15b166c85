/*
 * A growing text buffer: what a debugger command answers (gdb's `monitor`
 * prints it). Allocation failure is remembered, never fatal: the text is
 * then cut short and `failed` is set.
 */
#ifndef UKVM_OUTBUF_H
#define UKVM_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>

struct ukvm_outbuf {
    char *buf;          /* NUL-terminated when len > 0 */
    size_t len, cap;
    bool failed;
    /* Where text that cannot wait for the answer goes (a long command's
     * progress), with ctx: for a vRun, stderr plus a keepalive to gdb
     * (gdb_rcmd.c). NULL: stderr alone. */
    void (*live)(void *ctx, const char *text, size_t len);
    void *live_ctx;
};

void ukvm_outbuf_printf(struct ukvm_outbuf *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ukvm_outbuf_free(struct ukvm_outbuf *o);
/* Says fmt now, through o->live (or on stderr when o or o->live is NULL);
 * it is not part of the answer. */
void ukvm_outbuf_live(struct ukvm_outbuf *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif

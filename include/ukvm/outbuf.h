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
};

void ukvm_outbuf_printf(struct ukvm_outbuf *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ukvm_outbuf_free(struct ukvm_outbuf *o);

#endif

/* The growing text buffer of include/ukvm/outbuf.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ukvm/outbuf.h"

/* Answers stay small; a runaway caller is cut off here. */
#define OUTBUF_MAX (1u << 20)

void ukvm_outbuf_printf(struct ukvm_outbuf *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || o->failed)
        return;
    size_t need = o->len + (size_t)n + 1;
    if (need > OUTBUF_MAX) {
        o->failed = true;
        return;
    }
    if (need > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < need)
            cap *= 2;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->failed = true;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    o->len += (size_t)n;
}

void ukvm_outbuf_free(struct ukvm_outbuf *o)
{
    free(o->buf);
    o->buf = NULL;
    o->len = o->cap = 0;
    o->failed = false;
}

void ukvm_outbuf_live(struct ukvm_outbuf *o, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (o && o->live)
        o->live(o->live_ctx, line, len);
    else
        fwrite(line, 1, len, stderr);
}

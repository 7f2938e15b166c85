/* Events as text (see event_format.h). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "record/event_format.h"

/* Per kind: the name of each a[] and how to print it. */
struct field {
    const char *name;
    char fmt;       /* 'u' decimal, 'd' signed, 'x' hex, 'h' 64-bit digest */
};

static const struct field fields[UKVM_EV_KIND_MAX][UKVM_EVENT_NARGS] = {
    [UKVM_EV_WALLTIME]    = { { "nsecs", 'u' } },
    [UKVM_EV_PUTS]        = { { "len", 'u' }, { "digest", 'h' } },
    [UKVM_EV_POLL]        = { { "timeout_ns", 'u' }, { "ready", 'x' }, { "ret", 'd' } },
    [UKVM_EV_BLOCK_WRITE] = { { "handle", 'u' }, { "offset", 'u' }, { "len", 'u' },
                              { "digest", 'h' }, { "ret", 'd' } },
    [UKVM_EV_BLOCK_READ]  = { { "handle", 'u' }, { "offset", 'u' }, { "len", 'u' }, { "ret", 'd' } },
    [UKVM_EV_NET_WRITE]   = { { "handle", 'u' }, { "len", 'u' }, { "digest", 'h' }, { "ret", 'd' } },
    [UKVM_EV_NET_READ]    = { { "handle", 'u' }, { "size", 'u' }, { "ret", 'd' }, { "len", 'u' } },
    [UKVM_EV_HALT]        = { { "status", 'd' }, { "cookie", 'x' } },
    [UKVM_EV_RDTSC]       = { { "tsc", 'u' } },
    [UKVM_EV_RDTSCP]      = { { "tsc", 'u' }, { "aux", 'x' } },
    [UKVM_EV_RDRAND]      = { { "value", 'x' }, { "bits", 'u' }, { "cf", 'u' } },
    [UKVM_EV_RDSEED]      = { { "value", 'x' }, { "bits", 'u' }, { "cf", 'u' } },
    [UKVM_EV_RDMSR_TSC]   = { { "tsc", 'u' } },
};

void ukvm_line_vadd(struct ukvm_line *l, const char *fmt, va_list ap)
{
    if (l->used + 1 >= l->len)
        return;
    int n = vsnprintf(l->buf + l->used, l->len - l->used, fmt, ap);
    if (n > 0)
        l->used += (size_t)n < l->len - l->used ? (size_t)n : l->len - l->used - 1;
}

void ukvm_line_add(struct ukvm_line *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ukvm_line_vadd(l, fmt, ap);
    va_end(ap);
}

size_t ukvm_event_format(char *buf, size_t len, uint64_t n, const struct ukvm_event *e)
{
    if (len == 0)
        return 0;
    struct ukvm_line l = { buf, len, 0 };
    buf[0] = 0;
    ukvm_line_add(&l, "#%" PRIu64 " %s rip=0x%" PRIx64, n, ukvm_event_kind_name(e->kind), e->rip);
    for (unsigned i = 0; i < UKVM_EVENT_NARGS; i++) {
        const struct field *f = e->kind < UKVM_EV_KIND_MAX ? &fields[e->kind][i] : NULL;
        if (!f || !f->name)
            break;
        char v[UKVM_EVENT_VALUE_MAX];
        ukvm_event_field_value(v, e->kind, i, e->a[i]);
        ukvm_line_add(&l, " %s=%s", f->name, v);
    }
    if (e->data_len)
        ukvm_line_add(&l, " data=%u bytes digest=%016" PRIx64, e->data_len,
            ukvm_digest(e->data, e->data_len));
    return l.used;
}

void ukvm_event_field_value(char out[UKVM_EVENT_VALUE_MAX], uint32_t kind, unsigned i, uint64_t v)
{
    char fmt = kind < UKVM_EV_KIND_MAX && i < UKVM_EVENT_NARGS ? fields[kind][i].fmt : 'u';
    switch (fmt) {
    case 'd':
        /* hvt return values and exit statuses are 32-bit ints */
        if (kind == UKVM_EV_HALT)
            snprintf(out, UKVM_EVENT_VALUE_MAX, "%d", (int32_t)(uint32_t)v);
        else
            snprintf(out, UKVM_EVENT_VALUE_MAX, "%" PRId64, (int64_t)v);
        break;
    case 'x': snprintf(out, UKVM_EVENT_VALUE_MAX, "0x%" PRIx64, v); break;
    case 'h': snprintf(out, UKVM_EVENT_VALUE_MAX, "%016" PRIx64, v); break;
    default:  snprintf(out, UKVM_EVENT_VALUE_MAX, "%" PRIu64, v); break;
    }
}

const char *ukvm_event_field_name(uint32_t kind, unsigned i)
{
    if (kind >= UKVM_EV_KIND_MAX || i >= UKVM_EVENT_NARGS)
        return NULL;
    return fields[kind][i].name;
}

void ukvm_escape_byte(uint8_t c, char out[5])
{
    if (c == '\\')
        snprintf(out, 5, "\\\\");
    else if (c >= 0x20 && c < 0x7f)
        snprintf(out, 5, "%c", c);
    else
        snprintf(out, 5, "\\x%02x", c);
}

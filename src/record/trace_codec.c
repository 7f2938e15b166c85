/* Varints, buffers and the event record encoding (docs/trace-format.md). */
#include <stdlib.h>
#include <string.h>

#include "trace_codec.h"

size_t varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t varint_get(const uint8_t *p, size_t avail, uint64_t *v)
{
    uint64_t r = 0;
    for (size_t i = 0; i < TRACE_MAX_VARINT; i++) {
        if (i >= avail)
            return 0;
        uint8_t c = p[i];
        if (i == 9 && c > 1)
            return 0;           /* more than 64 bits */
        r |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            if (c == 0 && i > 0)
                return 0;       /* overlong */
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

/* ---- buffers ---- */

bool obuf_reserve(struct obuf *b, size_t more)
{
    if (b->oom)
        return false;
    if (more <= b->cap - b->len)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < more) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void obuf_u8(struct obuf *b, uint8_t v)
{
    if (obuf_reserve(b, 1))
        b->p[b->len++] = v;
}

void obuf_varint(struct obuf *b, uint64_t v)
{
    if (obuf_reserve(b, TRACE_MAX_VARINT))
        b->len += varint_put(b->p + b->len, v);
}

void obuf_bytes(struct obuf *b, const void *p, size_t n)
{
    if (n && obuf_reserve(b, n)) {
        memcpy(b->p + b->len, p, n);
        b->len += n;
    }
}

void obuf_free(struct obuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

uint64_t ibuf_varint(struct ibuf *b)
{
    uint64_t v = 0;
    if (b->bad)
        return 0;
    size_t n = varint_get(b->p + b->pos, b->len - b->pos, &v);
    if (!n) {
        b->bad = true;
        return 0;
    }
    b->pos += n;
    return v;
}

uint8_t ibuf_u8(struct ibuf *b)
{
    if (b->bad || b->pos >= b->len) {
        b->bad = true;
        return 0;
    }
    return b->p[b->pos++];
}

const uint8_t *ibuf_bytes(struct ibuf *b, uint64_t n)
{
    if (b->bad || n > b->len - b->pos) {
        b->bad = true;
        return NULL;
    }
    const uint8_t *p = b->p + b->pos;
    b->pos += (size_t)n;
    return p;
}

/* ---- events ---- */

#define DATA 0x80u
/* Per kind: number of a[] used, | DATA when the event carries data. */
static const uint8_t kind_table[UKVM_EV_KIND_MAX] = {
    [UKVM_EV_WALLTIME]    = 1,
    [UKVM_EV_PUTS]        = 2,
    [UKVM_EV_POLL]        = 3,
    [UKVM_EV_BLOCK_WRITE] = 5,
    [UKVM_EV_BLOCK_READ]  = 4 | DATA,
    [UKVM_EV_NET_WRITE]   = 4,
    [UKVM_EV_NET_READ]    = 4 | DATA,
    [UKVM_EV_HALT]        = 2,
    [UKVM_EV_RDTSC]       = 1,
    [UKVM_EV_RDTSCP]      = 2,
    [UKVM_EV_RDRAND]      = 3,
    [UKVM_EV_RDSEED]      = 3,
    [UKVM_EV_RDMSR_TSC]   = 1,
};

bool trace_kind_valid(uint32_t kind)
{
    return kind >= 1 && kind < UKVM_EV_KIND_MAX;
}

unsigned trace_kind_nargs(uint32_t kind)
{
    return trace_kind_valid(kind) ? (kind_table[kind] & 0x7fu) : 0;
}

bool trace_kind_has_data(uint32_t kind)
{
    return trace_kind_valid(kind) && (kind_table[kind] & DATA);
}

static bool is_tsc_kind(uint32_t kind)
{
    return kind == UKVM_EV_RDTSC || kind == UKVM_EV_RDTSCP || kind == UKVM_EV_RDMSR_TSC;
}

const char *trace_event_check(const struct ukvm_event *ev)
{
    if (!trace_kind_valid(ev->kind))
        return "unknown event kind";
    unsigned n = trace_kind_nargs(ev->kind);
    for (unsigned i = n; i < UKVM_EVENT_NARGS; i++)
        if (ev->a[i])
            return "an argument not used by this kind is not zero";
    if (ev->data_len && !trace_kind_has_data(ev->kind))
        return "data given for a kind without data";
    if (ev->data_len && !ev->data)
        return "data_len without data";
    if (ev->data_len > TRACE_MAX_FRAME_CONTENT - TRACE_PAD_ROOM - 128)
        return "event data too large";
    if (ev->text_len && (ev->kind != UKVM_EV_PUTS || !ev->text || ev->text_len != ev->a[0] ||
                ev->text_len > UKVM_TRACE_MAX_TEXT))
        return "console text only for a puts, of its length (at most 1 MiB)";
    return NULL;
}

void trace_record_begin(struct obuf *b, uint8_t tag, size_t payload_len)
{
    obuf_u8(b, tag);
    obuf_varint(b, payload_len);
}

void trace_event_encode(struct obuf *b, struct trace_delta *d, const struct ukvm_event *ev)
{
    uint8_t tmp[TRACE_MAX_VARINT * (2 + UKVM_EVENT_NARGS)];
    size_t n = 0;
    unsigned nargs = trace_kind_nargs(ev->kind);

    n += varint_put(tmp + n, zz_enc((int64_t)(ev->rip - d->rip)));
    for (unsigned i = 0; i < nargs; i++) {
        uint64_t v = ev->a[i];
        if (i == 0 && is_tsc_kind(ev->kind)) {
            v = zz_enc((int64_t)(ev->a[0] - d->tsc));
        } else if (i == 0 && ev->kind == UKVM_EV_WALLTIME) {
            v = zz_enc((int64_t)(ev->a[0] - d->wall));
        }
        n += varint_put(tmp + n, v);
    }
    bool data = trace_kind_has_data(ev->kind);
    if (data)
        n += varint_put(tmp + n, ev->data_len);

    size_t total = n + (data ? ev->data_len : 0);
    if (!obuf_reserve(b, 1 + TRACE_MAX_VARINT + total))
        return;
    trace_record_begin(b, (uint8_t)(TAG_EVENT | ev->kind), total);
    obuf_bytes(b, tmp, n);
    if (data)
        obuf_bytes(b, ev->data, ev->data_len);
    /* Console text rides in an optional record: a 1.0 reader skips it. */
    if (ev->text_len) {
        trace_record_begin(b, TAG_TEXT, ev->text_len);
        obuf_bytes(b, ev->text, ev->text_len);
    }

    d->rip = ev->rip;
    if (is_tsc_kind(ev->kind))
        d->tsc = ev->a[0];
    else if (ev->kind == UKVM_EV_WALLTIME)
        d->wall = ev->a[0];
}

const char *trace_event_decode(uint32_t kind, const uint8_t *payload, size_t len,
        struct trace_delta *d, struct ukvm_event *ev)
{
    if (!trace_kind_valid(kind))
        return "unknown event kind";
    struct ibuf in = { .p = payload, .len = len };
    struct ukvm_event e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.rip = d->rip + (uint64_t)zz_dec(ibuf_varint(&in));
    unsigned nargs = trace_kind_nargs(kind);
    for (unsigned i = 0; i < nargs; i++)
        e.a[i] = ibuf_varint(&in);
    if (is_tsc_kind(kind))
        e.a[0] = d->tsc + (uint64_t)zz_dec(e.a[0]);
    else if (kind == UKVM_EV_WALLTIME)
        e.a[0] = d->wall + (uint64_t)zz_dec(e.a[0]);
    if (trace_kind_has_data(kind)) {
        uint64_t dl = ibuf_varint(&in);
        if (!in.bad && dl > UINT32_MAX)
            return "event data length out of range";
        e.data = ibuf_bytes(&in, dl);
        e.data_len = (uint32_t)dl;
        if (!dl)
            e.data = NULL;
    }
    if (in.bad)
        return "malformed event record";
    if (ibuf_left(&in))
        return "trailing bytes in event record";
    d->rip = e.rip;
    if (is_tsc_kind(kind))
        d->tsc = e.a[0];
    else if (kind == UKVM_EV_WALLTIME)
        d->wall = e.a[0];
    *ev = e;
    return NULL;
}

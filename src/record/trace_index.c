/*
 * The frame index (trace_index.h): the footer's, checked against the frame
 * boundaries found by trace_scan_frames, or rebuilt from those boundaries
 * when there is no footer. Only the last frame is decompressed (the footer,
 * or the last complete event frame of a cut-short trace), plus, lazily, the
 * start of a frame whose first event a cut-short trace does not say. Every
 * number from the file is checked before use: a hostile index is a one-line
 * error, and memory stays within 8 bytes per frame of the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_codec.h"
#include "trace_index.h"

#define KIND_BITS ((1ull << UKVM_EV_KIND_MAX) - 2)  /* bits 1..KIND_MAX-1 */

/* Decompresses the frame at off into *buf (grown). */
static int decode(struct trace_input *in, ZSTD_DCtx *dctx, uint64_t off, uint8_t **buf,
        size_t *cap, size_t *len, char *err, size_t errlen)
{
    struct trace_frame f;
    char why[200];
    int rc = trace_input_frame(in, off, &f, why, sizeof why);
    if (rc == TI_IO) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (rc != TI_FRAME) {
        snprintf(err, errlen, "corrupt trace at byte %llu: %s", (unsigned long long)off,
                rc == TI_CUT ? "frame cut short" : why);
        return -1;
    }
    if (f.content > *cap) {
        uint8_t *nb = realloc(*buf, f.content);
        if (!nb) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        *buf = nb;
        *cap = f.content;
    }
    size_t got = ZSTD_decompressDCtx(dctx, *buf, f.content, f.bytes, f.csize);
    if (ZSTD_isError(got) || got != f.content) {
        snprintf(err, errlen, "corrupt trace at byte %llu: %s", (unsigned long long)off,
                ZSTD_isError(got) ? ZSTD_getErrorName(got) : "frame content size mismatch");
        return -1;
    }
    *len = f.content;
    return 0;
}

/* The record at *pos of p[0..len): tag and payload; false when malformed. */
static bool record(const uint8_t *p, size_t len, size_t *pos, uint8_t *tag,
        struct ibuf *payload)
{
    uint64_t l;
    if (*pos >= len)
        return false;
    size_t n = varint_get(p + *pos + 1, len - *pos - 1, &l);
    if (!n || l > len - *pos - 1 - n)
        return false;
    *tag = p[*pos];
    *payload = (struct ibuf){ .p = p + *pos + 1 + n, .len = (size_t)l };
    *pos += 1 + n + (size_t)l;
    return true;
}

/* Parses a FRAME record's first_event and elapsed_ns; the first record's tag. */
static int frame_start(const uint8_t *p, size_t len, uint8_t *tag, struct ibuf *payload,
        size_t *after)
{
    *after = 0;
    return record(p, len, after, tag, payload) ? 0 : -1;
}

static int footer(struct trace_index *ix, struct ibuf *in, uint64_t footer_off,
        uint64_t file_len, char *err, size_t errlen)
{
    uint64_t count = ibuf_varint(in);
    int64_t status = zz_dec(ibuf_varint(in));
    uint64_t elapsed = ibuf_varint(in);
    uint64_t n = ibuf_varint(in);
    if (in->bad || status < INT32_MIN || status > INT32_MAX)
        goto bad;
    if (n != ix->n) {
        snprintf(err, errlen, "corrupt trace at byte %llu: the footer indexes %llu frames, the "
                "file holds %zu", (unsigned long long)footer_off, (unsigned long long)n, ix->n);
        return -1;
    }
    uint64_t off = 0, first = 0;
    for (size_t i = 0; i < ix->n; i++) {
        uint64_t prev = first;
        off += ibuf_varint(in);
        first += ibuf_varint(in);
        /* frames hold at least one event: first events strictly increase */
        if (in->bad || off != ix->f[i].off || (i ? first <= prev : first != 0) || first >= count) {
            snprintf(err, errlen, "corrupt trace at byte %llu: the footer's frame index does not "
                    "match frame %zu", (unsigned long long)footer_off, i);
            return -1;
        }
        ix->f[i].first_event = first;
    }
    if (ix->n == 0 && count != 0)
        goto bad;
    /* Format 1.1: per-frame summaries (absent in 1.0). */
    if (ibuf_left(in)) {
        for (size_t i = 0; i < ix->n; i++) {
            uint64_t frame_events = (i + 1 < ix->n ? ix->f[i + 1].first_event : count) -
                ix->f[i].first_event;
            uint64_t csize = (i + 1 < ix->n ? ix->f[i + 1].off : ix->events_end) - ix->f[i].off;
            uint64_t bytes = ibuf_varint(in), mask = ibuf_varint(in);
            if (in->bad || bytes > TRACE_MAX_FRAME_CONTENT || (mask & ~KIND_BITS))
                goto bad_sum;
            uint64_t sum = 0, raw = 0;
            for (unsigned k = 1; k < UKVM_EV_KIND_MAX; k++) {
                if (!(mask >> k & 1))
                    continue;
                uint64_t c = ibuf_varint(in), r = ibuf_varint(in);
                if (in->bad || c == 0 || c > frame_events - sum || r > bytes - raw)
                    goto bad_sum;
                sum += c;
                raw += r;
                ix->kinds[k].count += c;
                ix->kinds[k].raw_bytes += r;
                if (bytes)
                    ix->kinds[k].comp_bytes += (double)csize * (double)r / (double)bytes;
            }
            if (sum != frame_events)
                goto bad_sum;
        }
        ix->has_kinds = true;
    }
    ix->end = (struct ukvm_trace_end){ .complete = true, .events = count,
        .exit_status = (int)status, .elapsed_ns = elapsed, .valid_bytes = file_len };
    return 0;
bad_sum:
    snprintf(err, errlen, "corrupt trace at byte %llu: bad frame summary in the footer",
            (unsigned long long)footer_off);
    return -1;
bad:
    snprintf(err, errlen, "corrupt trace at byte %llu: malformed footer",
            (unsigned long long)footer_off);
    return -1;
}

/* A cut-short trace: its last complete frame says how far it got. */
static int last_frame(struct trace_index *ix, const uint8_t *p, size_t len, size_t pos,
        struct ibuf *frec, char *err, size_t errlen)
{
    uint64_t first = ibuf_varint(frec), elapsed = ibuf_varint(frec);
    uint64_t off = ix->f[ix->n - 1].off;
    if (frec->bad || (ix->n == 1 && first != 0) || first < ix->n - 1) {
        snprintf(err, errlen, "corrupt trace at byte %llu: malformed frame record",
                (unsigned long long)off);
        return -1;
    }
    uint64_t events = 0;
    while (pos < len) {
        uint8_t tag;
        struct ibuf pl;
        if (!record(p, len, &pos, &tag, &pl) ||
                (!(tag & TAG_EVENT) && (tag < TAG_OPT_MIN || tag > TAG_OPT_MAX))) {
            snprintf(err, errlen, "corrupt trace at byte %llu: malformed record",
                    (unsigned long long)off);
            return -1;
        }
        events += (tag & TAG_EVENT) != 0;
    }
    ix->f[ix->n - 1].first_event = first;
    if (ix->n >= 1)
        ix->f[0].first_event = 0;
    ix->end = (struct ukvm_trace_end){ .complete = false, .events = first + events,
        .elapsed_ns = elapsed, .valid_bytes = ix->events_end };
    return 0;
}

int trace_index_build(struct trace_index *ix, struct trace_input *in, ZSTD_DCtx *dctx,
        uint64_t start, uint8_t **buf, size_t *buf_cap, char *err, size_t errlen)
{
    memset(ix, 0, sizeof *ix);
    uint64_t *offs = NULL, valid;
    size_t n = 0;
    if (trace_scan_frames(in, start, &offs, &n, &valid, err, errlen) < 0) {
        free(offs);
        return -1;
    }
    ix->f = calloc(n ? n : 1, sizeof *ix->f);
    if (!ix->f) {
        free(offs);
        snprintf(err, errlen, "out of memory indexing the trace");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        ix->f[i] = (struct trace_ix_frame){ offs[i], IX_UNKNOWN };
    free(offs);
    ix->n = n;
    ix->events_end = valid;
    if (n == 0) {
        ix->end = (struct ukvm_trace_end){ .valid_bytes = valid };
        return 0;
    }
    size_t len, pos;
    uint8_t tag;
    struct ibuf rec;
    uint64_t last = ix->f[n - 1].off;
    if (decode(in, dctx, last, buf, buf_cap, &len, err, errlen) < 0)
        return -1;
    if (frame_start(*buf, len, &tag, &rec, &pos) < 0) {
        snprintf(err, errlen, "corrupt trace at byte %llu: malformed record",
                (unsigned long long)last);
        return -1;
    }
    if (tag == TAG_FOOTER) {
        if (valid != in->len) {
            snprintf(err, errlen, "corrupt trace: %llu bytes of data after the footer at byte %llu",
                    (unsigned long long)(in->len - valid), (unsigned long long)valid);
            return -1;
        }
        ix->n = n - 1;
        ix->events_end = last;
        return footer(ix, &rec, last, in->len, err, errlen);
    }
    if (tag == TAG_FRAME)
        return last_frame(ix, *buf, len, pos, &rec, err, errlen);
    snprintf(err, errlen, "corrupt trace at byte %llu: frame starts with record tag 0x%02x",
            (unsigned long long)last, tag);
    return -1;
}

int trace_index_first_event(struct trace_index *ix, size_t i, struct trace_input *in,
        ZSTD_DCtx *dctx, uint8_t **buf, size_t *buf_cap, uint64_t *out,
        char *err, size_t errlen)
{
    if (ix->f[i].first_event == IX_UNKNOWN) {
        size_t len, pos;
        uint8_t tag;
        struct ibuf rec;
        if (decode(in, dctx, ix->f[i].off, buf, buf_cap, &len, err, errlen) < 0)
            return -1;
        uint64_t first = 0;
        if (frame_start(*buf, len, &tag, &rec, &pos) == 0 && tag == TAG_FRAME)
            first = ibuf_varint(&rec);
        /* each frame holds at least one event: numbers increase with i */
        if (tag != TAG_FRAME || rec.bad || first < i || first >= ix->end.events) {
            snprintf(err, errlen, "corrupt trace at byte %llu: bad frame record",
                    (unsigned long long)ix->f[i].off);
            return -1;
        }
        ix->f[i].first_event = first;
    }
    *out = ix->f[i].first_event;
    return 0;
}

void trace_index_free(struct trace_index *ix)
{
    free(ix->f);
    memset(ix, 0, sizeof *ix);
}

/*
 * Trace writer: buffers encoded event records and writes them as independent
 * zstd frames (docs/trace-format.md). A frame goes to the file in one write()
 * sequence, so a recorder killed at any moment leaves a file that reads up to
 * its last complete frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "trace_codec.h"

/* Room kept at the start of the pending buffer for the frame record. */
#define FRAME_RESERVE 32u

struct frame_ix {
    uint64_t off, first_event;
};

struct ukvm_trace_writer {
    int fd;
    ZSTD_CCtx *cctx;
    struct obuf pend;           /* FRAME_RESERVE bytes, then event records */
    struct obuf cbuf;           /* compressed output */
    uint64_t events;            /* events appended so far */
    uint64_t frame_first;       /* number of the first pending event */
    uint32_t pend_events;
    struct trace_delta delta;
    uint64_t start_ns;          /* CLOCK_MONOTONIC at open */
    bool elapsed_given;         /* ...unless the caller says the time (a copy) */
    uint64_t elapsed_ns;
    uint64_t last_flush_coarse; /* CLOCK_MONOTONIC_COARSE at the last flush */
    uint64_t file_off;          /* bytes written so far (all complete frames) */
    struct frame_ix *ix;
    size_t n_ix, cap_ix;
    bool broken;                /* a write failed: the file ends at file_off */
    /* Per-frame summaries for the footer (format 1.1): the pending frame's
     * events and record bytes per kind, and those of the frames written. */
    uint64_t kind_count[UKVM_EV_KIND_MAX], kind_bytes[UKVM_EV_KIND_MAX];
    struct obuf sums;
};

static uint64_t now_ns(clockid_t c);

/* The time since the start that the next frame or the footer carries. */
static uint64_t elapsed_now(const struct ukvm_trace_writer *w)
{
    return w->elapsed_given ? w->elapsed_ns : now_ns(CLOCK_MONOTONIC) - w->start_ns;
}

void ukvm_trace_writer_set_elapsed(struct ukvm_trace_writer *w, uint64_t ns)
{
    w->elapsed_given = true;
    w->elapsed_ns = ns;
}

static uint64_t now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int write_all(struct ukvm_trace_writer *w, const uint8_t *p, size_t n,
        char *err, size_t errlen)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(w->fd, p + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : ENOSPC;
            snprintf(err, errlen, "writing the trace: %s", strerror(e));
            /* Drop the partial frame so that the file stays readable. */
            if (done && ftruncate(w->fd, (off_t)w->file_off) == 0)
                (void)lseek(w->fd, (off_t)w->file_off, SEEK_SET);
            w->broken = true;
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

static size_t compress_frame(struct ukvm_trace_writer *w, const uint8_t *content, size_t len,
        char *err, size_t errlen)
{
    size_t bound = ZSTD_compressBound(len);
    w->cbuf.len = 0;
    if (!obuf_reserve(&w->cbuf, bound)) {
        snprintf(err, errlen, "out of memory compressing a trace frame");
        return 0;
    }
    size_t c = ZSTD_compress2(w->cctx, w->cbuf.p, bound, content, len);
    if (ZSTD_isError(c)) {
        snprintf(err, errlen, "compressing a trace frame: %s", ZSTD_getErrorName(c));
        return 0;
    }
    return c;
}

/*
 * Content that compresses better than readers accept (TRACE_MAX_RATIO: a
 * guest reading megabytes of zeros) is written again with a TAG_PAD record of
 * noise, which does not compress, appended: the frame grows by about
 * content / TRACE_MAX_RATIO bytes. Returns the compressed size, 0 on error.
 */
static size_t compress_padded(struct ukvm_trace_writer *w, const uint8_t *content, size_t len,
        size_t c, char *err, size_t errlen)
{
    struct obuf padded = { 0 };
    uint64_t noise = 0x9e3779b97f4a7c15ull;
    size_t pad = (len - TRACE_RATIO_FREE) / (TRACE_MAX_RATIO - 1) + 64;
    for (int tries = 0; c && tries < 8 && len + pad + 16 <= TRACE_MAX_FRAME_CONTENT; tries++) {
        padded.len = 0;
        obuf_bytes(&padded, content, len);
        trace_record_begin(&padded, TAG_PAD, pad);
        if (!obuf_reserve(&padded, pad))
            break;
        for (size_t i = 0; i < pad; i++) {
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            padded.p[padded.len++] = (uint8_t)(noise >> 32);
        }
        c = compress_frame(w, padded.p, padded.len, err, errlen);
        if (c && trace_ratio_ok(padded.len, c)) {
            obuf_free(&padded);
            return c;
        }
        pad *= 2;
    }
    if (c)
        snprintf(err, errlen, "%s padding a trace frame", padded.oom ? "out of memory" :
                "failed");
    obuf_free(&padded);
    return 0;
}

/* Compresses content as one frame and writes it. */
static int put_frame(struct ukvm_trace_writer *w, const uint8_t *content, size_t len,
        char *err, size_t errlen)
{
    size_t c = compress_frame(w, content, len, err, errlen);
    if (c && !trace_ratio_ok(len, c))
        c = compress_padded(w, content, len, c, err, errlen);
    if (!c)
        return -1;
    if (write_all(w, w->cbuf.p, c, err, errlen) < 0)
        return -1;
    w->file_off += c;
    return 0;
}

static void reset_pending(struct ukvm_trace_writer *w)
{
    w->pend.len = FRAME_RESERVE;
    w->pend_events = 0;
    w->frame_first = w->events;
    memset(&w->delta, 0, sizeof w->delta);
    memset(w->kind_count, 0, sizeof w->kind_count);
    memset(w->kind_bytes, 0, sizeof w->kind_bytes);
}

/* The frame summary: event bytes, a mask of the kinds present, then per kind
 * (in increasing order) its count and record bytes. */
static void add_summary(struct ukvm_trace_writer *w)
{
    uint64_t mask = 0;
    obuf_varint(&w->sums, w->pend.len - FRAME_RESERVE);
    for (unsigned k = 1; k < UKVM_EV_KIND_MAX; k++)
        if (w->kind_count[k])
            mask |= 1ull << k;
    obuf_varint(&w->sums, mask);
    for (unsigned k = 1; k < UKVM_EV_KIND_MAX; k++) {
        if (!w->kind_count[k])
            continue;
        obuf_varint(&w->sums, w->kind_count[k]);
        obuf_varint(&w->sums, w->kind_bytes[k]);
    }
}

struct ukvm_trace_writer *ukvm_trace_writer_open(const char *path, bool force,
        const struct ukvm_trace_header *h, char *err, size_t errlen)
{
    struct ukvm_trace_writer *w = calloc(1, sizeof *w);
    struct obuf hdr = { 0 };
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->fd = -1;

    uint8_t sum[32];
    trace_sha256(h->kernel ? (const void *)h->kernel : "", h->kernel_len, sum);
    if (trace_header_encode(&hdr, h, sum, err, errlen) < 0)
        goto fail;

    w->cctx = ZSTD_createCCtx();
    if (!w->cctx || !obuf_reserve(&w->pend, FRAME_RESERVE + 4096)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, TRACE_ZSTD_LEVEL);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_contentSizeFlag, 1);

    /* Remember whether we created the file: only then may a failure remove
     * it (with --force the path may be someone's file, or a device). */
    bool created = true;
    w->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_EXCL, 0644);
    if (w->fd < 0 && errno == EEXIST && force) {
        created = false;
        w->fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
    }
    if (w->fd < 0) {
        if (errno == EEXIST)
            snprintf(err, errlen, "%s already exists (not overwriting it)", path);
        else
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (put_frame(w, hdr.p, hdr.len, err, errlen) < 0) {
        if (created)
            unlink(path);
        goto fail;
    }
    obuf_free(&hdr);
    w->start_ns = now_ns(CLOCK_MONOTONIC);
    w->last_flush_coarse = now_ns(CLOCK_MONOTONIC_COARSE);
    reset_pending(w);
    return w;

fail:
    obuf_free(&hdr);
    if (w->fd >= 0)
        close(w->fd);
    ZSTD_freeCCtx(w->cctx);
    obuf_free(&w->pend);
    free(w);
    return NULL;
}

int ukvm_trace_writer_flush(struct ukvm_trace_writer *w, char *err, size_t errlen)
{
    if (w->broken) {
        snprintf(err, errlen, "the trace is unusable after an earlier write error");
        return -1;
    }
    w->last_flush_coarse = now_ns(CLOCK_MONOTONIC_COARSE);
    if (!w->pend_events)
        return 0;
    if (w->n_ix == w->cap_ix) {
        size_t cap = w->cap_ix ? w->cap_ix * 2 : 64;
        struct frame_ix *ix = realloc(w->ix, cap * sizeof *ix);
        if (!ix) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        w->ix = ix;
        w->cap_ix = cap;
    }

    /* The frame record, right-aligned in the reserved room. */
    uint64_t elapsed = elapsed_now(w);
    uint8_t rec[FRAME_RESERVE];
    size_t pl = varint_len(w->frame_first) + varint_len(elapsed);
    size_t n = 0;
    rec[n++] = TAG_FRAME;
    n += varint_put(rec + n, pl);
    n += varint_put(rec + n, w->frame_first);
    n += varint_put(rec + n, elapsed);
    uint8_t *content = w->pend.p + FRAME_RESERVE - n;
    memcpy(content, rec, n);

    uint64_t off = w->file_off;
    if (put_frame(w, content, w->pend.len - FRAME_RESERVE + n, err, errlen) < 0)
        return -1;
    w->ix[w->n_ix].off = off;
    w->ix[w->n_ix].first_event = w->frame_first;
    w->n_ix++;
    add_summary(w);
    reset_pending(w);
    return 0;
}

int ukvm_trace_writer_event(struct ukvm_trace_writer *w,
        const struct ukvm_event *ev, char *err, size_t errlen)
{
    if (w->broken) {
        snprintf(err, errlen, "the trace is unusable after an earlier write error");
        return -1;
    }
    const char *why = trace_event_check(ev);
    if (why) {
        snprintf(err, errlen, "event %llu (%s, kind %u): %s",
                (unsigned long long)w->events, ukvm_event_kind_name(ev->kind), ev->kind, why);
        return -1;
    }
    /* Keep every frame under the readers' size cap, with room for padding. */
    if (w->pend_events &&
            w->pend.len + ev->data_len + ev->text_len + 128 + TRACE_PAD_ROOM > TRACE_MAX_FRAME_CONTENT &&
            ukvm_trace_writer_flush(w, err, errlen) < 0)
        return -1;
    size_t before = w->pend.len;
    trace_event_encode(&w->pend, &w->delta, ev);
    w->kind_count[ev->kind]++;
    w->kind_bytes[ev->kind] += w->pend.len - before;
    if (w->pend.oom) {
        snprintf(err, errlen, "out of memory buffering trace events");
        w->pend.oom = false;
        return -1;
    }
    w->events++;
    w->pend_events++;
    if (w->pend_events >= TRACE_FLUSH_EVENTS || w->pend.len - FRAME_RESERVE >= TRACE_FLUSH_BYTES ||
            now_ns(CLOCK_MONOTONIC_COARSE) - w->last_flush_coarse >= TRACE_FLUSH_NS)
        return ukvm_trace_writer_flush(w, err, errlen);
    return 0;
}

uint64_t ukvm_trace_writer_event_count(const struct ukvm_trace_writer *w)
{
    return w->events;
}

static void writer_free(struct ukvm_trace_writer *w)
{
    ZSTD_freeCCtx(w->cctx);
    obuf_free(&w->pend);
    obuf_free(&w->cbuf);
    obuf_free(&w->sums);
    free(w->ix);
    free(w);
}

static int finish_fd(struct ukvm_trace_writer *w, int rc, char *err, size_t errlen)
{
    if (close(w->fd) < 0 && rc == 0) {
        snprintf(err, errlen, "closing the trace: %s", strerror(errno));
        rc = -1;
    }
    writer_free(w);
    return rc;
}

int ukvm_trace_writer_close(struct ukvm_trace_writer *w, int exit_status,
        char *err, size_t errlen)
{
    if (ukvm_trace_writer_flush(w, err, errlen) < 0)
        return finish_fd(w, -1, err, errlen);

    struct obuf p = { 0 };
    obuf_varint(&p, w->events);
    obuf_varint(&p, zz_enc(exit_status));
    obuf_varint(&p, elapsed_now(w));
    obuf_varint(&p, w->n_ix);
    uint64_t prev_off = 0, prev_ev = 0;
    for (size_t i = 0; i < w->n_ix; i++) {
        obuf_varint(&p, w->ix[i].off - prev_off);
        obuf_varint(&p, w->ix[i].first_event - prev_ev);
        prev_off = w->ix[i].off;
        prev_ev = w->ix[i].first_event;
    }
    if (w->sums.len)
        obuf_bytes(&p, w->sums.p, w->sums.len);
    struct obuf rec = { 0 };
    trace_record_begin(&rec, TAG_FOOTER, p.len);
    obuf_bytes(&rec, p.p, p.len);
    int rc = 0;
    if (p.oom || rec.oom || w->sums.oom) {
        snprintf(err, errlen, "out of memory writing the trace footer");
        rc = -1;
    } else {
        rc = put_frame(w, rec.p, rec.len, err, errlen);
    }
    obuf_free(&p);
    obuf_free(&rec);
    return finish_fd(w, rc, err, errlen);
}

int ukvm_trace_writer_abandon(struct ukvm_trace_writer *w, char *err, size_t errlen)
{
    int rc = ukvm_trace_writer_flush(w, err, errlen);
    return finish_fd(w, rc, err, errlen);
}

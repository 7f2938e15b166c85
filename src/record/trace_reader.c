/*
 * Trace reader: validates the header frame, then reads and decodes event
 * frames one at a time (docs/trace-format.md), with pread into buffers of its
 * own (trace_input.c). Every count and length read from the file is checked
 * against what is left before it is used, so a hostile file is an error
 * message, never a crash, a hang or a huge allocation; a file that shrinks
 * while it is read is an error too.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "trace_reader.h"

int trace_reader_set_err(struct ukvm_trace_reader *r, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errmsg, sizeof r->errmsg, fmt, ap);
    va_end(ap);
    r->state = ST_ERR;
    if (err && errlen)
        snprintf(err, errlen, "%s", r->errmsg);
    return -1;
}

static void set_cut(struct ukvm_trace_reader *r, size_t valid)
{
    r->state = ST_CUT;
    r->end.complete = false;
    r->end.events = r->evno;
    r->end.exit_status = 0;
    r->end.elapsed_ns = r->n_fk ? r->fk[r->n_fk - 1].elapsed_ns : 0;
    r->end.valid_bytes = valid;
}

static const char *zstd_err_text(size_t code)
{
    if (ZSTD_getErrorCode(code) == ZSTD_error_checksum_wrong)
        return "checksum mismatch";
    return ZSTD_getErrorName(code);
}

/*
 * Decompresses the frame at `off` into buf. Returns 1 when loaded, 0 when the
 * file ends inside it (cut short), -1 on corruption or a read error (message
 * in r->errmsg).
 */
int trace_reader_load_frame(struct ukvm_trace_reader *r, size_t off, char *err, size_t errlen)
{
    struct trace_frame f;
    char why[200];
    int fetched = trace_input_frame(&r->in, off, &f, why, sizeof why);
    if (fetched == TI_CUT)
        return 0;
    if (fetched == TI_IO)
        return trace_reader_set_err(r, err, errlen, "%s", why);
    if (fetched == TI_CORRUPT)
        return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu (before event %llu): %s",
                off, (unsigned long long)r->evno, why);
    const uint8_t *p = f.bytes;
    size_t cs = f.csize, content = f.content;
    if (content == 0)
        return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu (before event %llu): "
                "bad frame content size", off, (unsigned long long)r->evno);
    if (content > r->buf_cap) {
        uint8_t *nb = realloc(r->buf, content);
        if (!nb)
            return trace_reader_set_err(r, err, errlen, "out of memory");
        r->buf = nb;
        r->buf_cap = content;
    }
    r->fr_loaded = false;
    size_t got = ZSTD_decompressDCtx(r->dctx, r->buf, content, p, cs);
    if (ZSTD_isError(got) || got != content)
        return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu (before event %llu): %s",
                off, (unsigned long long)r->evno,
                ZSTD_isError(got) ? zstd_err_text(got) : "frame content size mismatch");
    r->fr_off = off;
    r->fr_csize = cs;
    r->fr_loaded = true;
    r->buf_len = content;
    r->buf_pos = 0;
    return 1;
}

/* Reads the record at buf_pos: tag and payload bounds. */
static int read_record(struct ukvm_trace_reader *r, uint8_t *tag, const uint8_t **payload,
        size_t *plen, char *err, size_t errlen)
{
    size_t at = r->buf_pos;
    uint64_t l;
    size_t n = varint_get(r->buf + at + 1, r->buf_len - at - 1, &l);
    if (!n || l > r->buf_len - at - 1 - n)
        return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu (event %llu): "
                "malformed record at offset %zu of the frame", r->fr_off,
                (unsigned long long)r->evno, at);
    *tag = r->buf[at];
    *payload = r->buf + at + 1 + n;
    *plen = (size_t)l;
    r->buf_pos = at + 1 + n + (size_t)l;
    return 0;
}

/* Parses the record that opens a freshly loaded frame. */
int trace_reader_frame_start(struct ukvm_trace_reader *r, struct first_rec *fr, char *err, size_t errlen)
{
    const uint8_t *payload;
    size_t plen;
    if (read_record(r, &fr->tag, &payload, &plen, err, errlen) < 0)
        return -1;
    fr->payload = payload;
    fr->payload_len = plen;
    if (fr->tag == TAG_FRAME) {
        struct ibuf in = { .p = payload, .len = plen };
        fr->first_event = ibuf_varint(&in);
        fr->elapsed_ns = ibuf_varint(&in);
        if (in.bad)
            return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu (event %llu): "
                    "malformed frame record", r->fr_off, (unsigned long long)r->evno);
        r->frame_rec_len = r->buf_pos;
        r->fr_elapsed = fr->elapsed_ns;
        return 0;
    }
    if (fr->tag == TAG_FOOTER)
        return 0;
    return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu (event %llu): frame starts "
            "with record tag 0x%02x", r->fr_off, (unsigned long long)r->evno, fr->tag);
}

static int remember_frame(struct ukvm_trace_reader *r, const struct first_rec *fr,
        char *err, size_t errlen)
{
    /* Kept sorted by offset: after a goto, frames may be met out of order. */
    size_t at = r->n_fk;
    while (at && r->fk[at - 1].off >= r->fr_off) {
        if (r->fk[at - 1].off == r->fr_off)
            return 0;       /* seen before (after a seek back) */
        at--;
    }
    if (r->n_fk == r->cap_fk) {
        size_t cap = r->cap_fk ? r->cap_fk * 2 : 64;
        struct frame_known *fk = realloc(r->fk, cap * sizeof *fk);
        if (!fk)
            return trace_reader_set_err(r, err, errlen, "out of memory");
        r->fk = fk;
        r->cap_fk = cap;
    }
    memmove(r->fk + at + 1, r->fk + at, (r->n_fk - at) * sizeof *r->fk);
    r->fk[at] = (struct frame_known){ r->fr_off, r->fr_csize, fr->first_event, fr->elapsed_ns };
    r->n_fk++;
    return 0;
}

static int footer(struct ukvm_trace_reader *r, const struct first_rec *fr, char *err, size_t errlen)
{
    struct ibuf in = { .p = fr->payload, .len = fr->payload_len };
    size_t at = r->fr_off;
    uint64_t count = ibuf_varint(&in);
    int64_t status = zz_dec(ibuf_varint(&in));
    uint64_t elapsed = ibuf_varint(&in);
    uint64_t n = ibuf_varint(&in);
    if (in.bad)
        return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu: malformed footer", at);
    if (count != r->evno)
        return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu: the footer counts %llu events, "
                "the frames hold %llu", at, (unsigned long long)count, (unsigned long long)r->evno);
    if (n != r->n_fk && (!r->jumped || n < r->n_fk || n > r->in.len))
        return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu: the footer indexes %llu frames, "
                "the file holds %zu", at, (unsigned long long)n, r->n_fk);
    /* Every frame walked must be in the footer's index; after a goto the
     * walk skipped some (the index checked them against the frame headers). */
    uint64_t off = 0, first = 0;
    size_t j = 0;
    for (uint64_t i = 0; i < n; i++) {
        off += ibuf_varint(&in);
        first += ibuf_varint(&in);
        if (!in.bad && j < r->n_fk && off == r->fk[j].off && first == r->fk[j].first_event)
            j++;
        else if (in.bad || !r->jumped)
            return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu: the footer's frame index "
                    "does not match frame %llu", at, (unsigned long long)i);
    }
    if (j != r->n_fk)
        return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu: the footer's frame index "
                "misses a frame", at);
    /* Later minor versions may append fields: ignored. Only optional
     * records may follow the footer in its frame. */
    while (r->buf_pos < r->buf_len) {
        uint8_t tag;
        const uint8_t *payload;
        size_t plen;
        if (read_record(r, &tag, &payload, &plen, err, errlen) < 0)
            return -1;
        if (tag < TAG_OPT_MIN || tag > TAG_OPT_MAX)
            return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu: record tag 0x%02x after "
                    "the footer", at, tag);
    }
    if (r->fr_off + r->fr_csize != r->in.len)
        return trace_reader_set_err(r, err, errlen, "corrupt trace: %llu bytes of data after the footer at "
                "byte %zu", (unsigned long long)(r->in.len - r->fr_off - r->fr_csize),
                r->fr_off + r->fr_csize);
    if (status < INT32_MIN || status > INT32_MAX)
        return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu: bad exit status", at);
    r->state = ST_END;
    r->end.complete = true;
    r->end.events = r->evno;
    r->end.exit_status = (int)status;
    r->end.elapsed_ns = elapsed;
    r->end.valid_bytes = r->in.len;
    return 0;
}

/* A TAG_TEXT record right after a puts holds its bytes: they must be the
 * ones the event's length and digest describe. */
static int attach_text(struct ukvm_trace_reader *r, struct ukvm_event *ev, char *err,
        size_t errlen)
{
    if (r->buf_pos >= r->buf_len || r->buf[r->buf_pos] != TAG_TEXT)
        return 0;
    uint8_t tag;
    const uint8_t *payload;
    size_t plen;
    if (read_record(r, &tag, &payload, &plen, err, errlen) < 0)
        return -1;
    if (plen != ev->a[0] || ukvm_digest(payload, plen) != ev->a[1])
        return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu (event %llu): console text does "
                "not match its puts", r->fr_off, (unsigned long long)r->evno);
    ev->text = plen ? payload : NULL;
    ev->text_len = (uint32_t)plen;
    return 0;
}

int ukvm_trace_reader_next(struct ukvm_trace_reader *r, struct ukvm_event *ev,
        char *err, size_t errlen)
{
    for (;;) {
        if (r->state == ST_END || r->state == ST_CUT)
            return 0;
        if (r->state == ST_ERR) {
            if (err && errlen)
                snprintf(err, errlen, "%s", r->errmsg);
            return -1;
        }
        if (r->fr_loaded && r->buf_pos == r->buf_len) {
            r->fr_off += r->fr_csize;
            r->fr_loaded = false;
        }
        if (!r->fr_loaded) {
            if (r->fr_off == r->in.len) {
                set_cut(r, r->fr_off);          /* no footer */
                return 0;
            }
            int rc = trace_reader_load_frame(r, r->fr_off, err, errlen);
            if (rc < 0)
                return -1;
            if (rc == 0) {
                set_cut(r, r->fr_off);          /* the last frame is incomplete */
                return 0;
            }
            struct first_rec fr;
            if (trace_reader_frame_start(r, &fr, err, errlen) < 0)
                return -1;
            if (fr.tag == TAG_FOOTER) {
                if (footer(r, &fr, err, errlen) < 0)
                    return -1;
                continue;
            }
            if (fr.first_event != r->evno)
                return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu: frame starts at event "
                        "%llu, expected %llu", r->fr_off, (unsigned long long)fr.first_event,
                        (unsigned long long)r->evno);
            memset(&r->d, 0, sizeof r->d);
            if (remember_frame(r, &fr, err, errlen) < 0)
                return -1;
            continue;
        }

        size_t at = r->buf_pos;
        uint8_t tag;
        const uint8_t *payload;
        size_t plen;
        if (read_record(r, &tag, &payload, &plen, err, errlen) < 0)
            return -1;
        if (tag & TAG_EVENT) {
            const char *why = trace_event_decode(tag & 0x7fu, payload, plen, &r->d, ev);
            if (why) {
                r->buf_pos = at;
                return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu (event %llu): %s",
                        r->fr_off, (unsigned long long)r->evno, why);
            }
            if (ev->kind == UKVM_EV_PUTS && attach_text(r, ev, err, errlen) < 0)
                return -1;
            r->last_rec_len = (uint32_t)(r->buf_pos - at);
            r->last_rec_frame = r->fr_off;
            r->evno++;
            return 1;
        }
        if (tag >= TAG_OPT_MIN && tag <= TAG_OPT_MAX)
            continue;
        r->buf_pos = at;
        return trace_reader_set_err(r, err, errlen, "corrupt trace at byte %zu (event %llu): unexpected record "
                "tag 0x%02x", r->fr_off, (unsigned long long)r->evno, tag);
    }
}

/* ---- opening ---- */

static struct ukvm_trace_reader *open_data(struct ukvm_trace_reader *r, char *err, size_t errlen)
{
    static uint64_t counter;
    r->id = 0x75747263ull << 32 ^ (uint64_t)(uintptr_t)r ^ ++counter * 0x9e3779b97f4a7c15ull;
    r->dctx = ZSTD_createDCtx();
    if (!r->dctx) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    uint8_t magic[4];
    char why[200];
    long n = trace_input_peek(&r->in, 0, magic, sizeof magic, why, sizeof why);
    if (n < 0) {
        snprintf(err, errlen, "%s", why);
        goto fail;
    }
    if (n < 4 || (magic[0] | magic[1] << 8 | magic[2] << 16 | (uint32_t)magic[3] << 24) !=
            ZSTD_MAGICNUMBER) {
        snprintf(err, errlen, "not a ukvm trace (not a zstd file)");
        goto fail;
    }
    struct trace_frame f;
    switch (trace_input_frame(&r->in, 0, &f, why, sizeof why)) {
    case TI_CUT:
        snprintf(err, errlen, "the trace is cut short inside its header (%llu bytes)",
                (unsigned long long)r->in.len);
        goto fail;
    case TI_IO:
        snprintf(err, errlen, "%s", why);
        goto fail;
    case TI_CORRUPT:
        snprintf(err, errlen, "corrupt trace header frame: %s", why);
        goto fail;
    }
    if (f.content < TRACE_PREAMBLE_LEN) {
        snprintf(err, errlen, "not a ukvm trace (bad magic)");
        goto fail;
    }
    r->hdr_buf = malloc(f.content);
    if (!r->hdr_buf) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    size_t got = ZSTD_decompressDCtx(r->dctx, r->hdr_buf, f.content, f.bytes, f.csize);
    if (ZSTD_isError(got) || got != f.content) {
        snprintf(err, errlen, "corrupt trace header frame: %s",
                ZSTD_isError(got) ? zstd_err_text(got) : "content size mismatch");
        goto fail;
    }
    if (trace_header_decode(r->hdr_buf, f.content, &r->hs, err, errlen) < 0)
        goto fail;
    r->events_start = f.csize;
    r->hdr_csize = f.csize;
    r->fr_off = f.csize;
    r->state = ST_READING;
    return r;
fail:
    ukvm_trace_reader_close(r);
    return NULL;
}

struct ukvm_trace_reader *ukvm_trace_reader_open(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_size == 0) {
        snprintf(err, errlen, "%s: empty file", path);
        close(fd);
        return NULL;
    }
    struct ukvm_trace_reader *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* Read with pread, never mapped: a file truncated under us (a recording
     * over the trace being replayed) must be an error, not SIGBUS. */
    trace_input_init(&r->in, fd, NULL, (uint64_t)st.st_size);
    return open_data(r, err, errlen);
}

struct ukvm_trace_reader *ukvm_trace_reader_open_mem(const void *data, size_t len,
        char *err, size_t errlen)
{
    struct ukvm_trace_reader *r = calloc(1, sizeof *r);
    uint8_t *copy = malloc(len ? len : 1);
    if (!r || !copy) {
        free(r);
        free(copy);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (len)
        memcpy(copy, data, len);
    trace_input_init(&r->in, -1, copy, len);
    return open_data(r, err, errlen);
}

void ukvm_trace_reader_close(struct ukvm_trace_reader *r)
{
    if (!r)
        return;
    trace_input_close(&r->in);
    trace_header_store_free(&r->hs);
    free(r->hdr_buf);
    free(r->buf);
    free(r->fk);
    trace_index_free(&r->ix);
    free(r->ix_buf);
    ZSTD_freeDCtx(r->dctx);
    free(r);
}

const struct ukvm_trace_header *ukvm_trace_reader_header(const struct ukvm_trace_reader *r)
{
    return &r->hs.h;
}

uint64_t ukvm_trace_reader_event_number(const struct ukvm_trace_reader *r)
{
    return r->evno;
}

void ukvm_trace_reader_end(const struct ukvm_trace_reader *r, struct ukvm_trace_end *out)
{
    if (r->state == ST_END || r->state == ST_CUT) {
        *out = r->end;
        return;
    }
    memset(out, 0, sizeof *out);
    out->events = r->evno;
    out->elapsed_ns = r->n_fk ? r->fk[r->n_fk - 1].elapsed_ns : 0;
    out->valid_bytes = r->fr_loaded ? r->fr_off + r->fr_csize : r->fr_off;
}

void ukvm_trace_reader_event_info(const struct ukvm_trace_reader *r,
        struct ukvm_trace_event_info *out)
{
    memset(out, 0, sizeof *out);
    out->record_bytes = r->last_rec_len;
    out->frame_offset = r->last_rec_frame;
    if (r->fr_loaded && r->fr_off == r->last_rec_frame) {
        out->frame_bytes = r->fr_csize;
        out->frame_raw_bytes = r->buf_len;
        out->frame_event_bytes = r->buf_len - r->frame_rec_len;
        out->frame_elapsed_ns = r->fr_elapsed;
    }
    out->header_bytes = r->hdr_csize;
    out->file_bytes = r->in.len;
}

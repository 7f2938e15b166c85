/*
 * Fetching trace frames with pread into an owned window of the file
 * (trace_input.h). The window holds the frame being fetched and what was read
 * ahead of it; it never grows past what a valid frame of the largest allowed
 * content can take.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "trace_codec.h"
#include "trace_input.h"

/* The first read for a frame; later reads double it while the frame is longer. */
#define FIRST_READ (256u << 10)

void trace_input_init(struct trace_input *in, int fd, uint8_t *mem, uint64_t len)
{
    memset(in, 0, sizeof *in);
    in->fd = fd;
    in->mem = mem;
    in->len = len;
}

void trace_input_close(struct trace_input *in)
{
    if (in->fd >= 0)
        close(in->fd);
    free(in->mem);
    free(in->win);
    memset(in, 0, sizeof *in);
    in->fd = -1;
}

/* Reads exactly n bytes at off (all inside the file as opened). */
static int read_exact(struct trace_input *in, uint64_t off, uint8_t *out, size_t n,
        char *why, size_t whylen)
{
    if (in->fd < 0) {
        memcpy(out, in->mem + off, n);
        return 0;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(in->fd, out + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(why, whylen, "reading the trace at byte %llu: %s",
                    (unsigned long long)(off + done), strerror(errno));
            return -1;
        }
        if (r == 0) {
            snprintf(why, whylen, "the trace file shrank while it was read (it had %llu bytes, "
                    "byte %llu is gone); was it overwritten?", (unsigned long long)in->len,
                    (unsigned long long)(off + done));
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

/*
 * Makes the window start at off and hold at least `need` bytes (fewer only
 * where the file ends). Returns the bytes available, or -1 (why set).
 */
static long window(struct trace_input *in, uint64_t off, size_t need, char *why, size_t whylen)
{
    if (need > in->len - off)
        need = (size_t)(in->len - off);
    if (off >= in->win_off && off - in->win_off < in->win_len) {
        size_t skip = (size_t)(off - in->win_off);
        memmove(in->win, in->win + skip, in->win_len - skip);
        in->win_len -= skip;
    } else {
        in->win_len = 0;
    }
    in->win_off = off;
    if (in->win_len >= need)
        return (long)in->win_len;
    if (need > in->win_cap) {
        uint8_t *w = realloc(in->win, need);
        if (!w) {
            snprintf(why, whylen, "out of memory reading the trace");
            return -1;
        }
        in->win = w;
        in->win_cap = need;
    }
    /* Read what was asked for, and ahead up to the window's size. */
    uint64_t at = off + in->win_len;
    size_t more = in->win_cap - in->win_len;
    if (more > in->len - at)
        more = (size_t)(in->len - at);
    if (read_exact(in, at, in->win + in->win_len, more, why, whylen) < 0)
        return -1;
    in->win_len += more;
    return (long)in->win_len;
}

long trace_input_peek(struct trace_input *in, uint64_t off, void *out, size_t n,
        char *why, size_t whylen)
{
    if (off >= in->len)
        return 0;
    long got = window(in, off, n, why, whylen);
    if (got < 0)
        return -1;
    if ((size_t)got < n)
        n = (size_t)got;
    memcpy(out, in->win, n);
    return (long)n;
}

int trace_input_read(struct trace_input *in, uint64_t off, void *out, size_t n,
        char *why, size_t whylen)
{
    if (off > in->len || n > in->len - off) {
        snprintf(why, whylen, "read past the end of the trace");
        return -1;
    }
    return read_exact(in, off, out, n, why, whylen);
}

static const char *zstd_why(size_t code)
{
    if (ZSTD_getErrorCode(code) == ZSTD_error_checksum_wrong)
        return "checksum mismatch";
    return ZSTD_getErrorName(code);
}

int trace_input_frame(struct trace_input *in, uint64_t off, struct trace_frame *f,
        char *why, size_t whylen)
{
    if (off >= in->len)
        return TI_CUT;
    long got = window(in, off, FIRST_READ, why, whylen);
    if (got < 0)
        return TI_IO;
    unsigned long long declared = ZSTD_getFrameContentSize(in->win, (size_t)got);
    if (declared == ZSTD_CONTENTSIZE_ERROR) {
        /* a bad magic number, or a frame header cut short */
        size_t cs = ZSTD_findFrameCompressedSize(in->win, (size_t)got);
        if (ZSTD_isError(cs) && ZSTD_getErrorCode(cs) == ZSTD_error_srcSize_wrong &&
                off + (uint64_t)got == in->len)
            return TI_CUT;
        snprintf(why, whylen, "%s", ZSTD_isError(cs) ? zstd_why(cs) : "bad frame header");
        return TI_CORRUPT;
    }
    if (declared == ZSTD_CONTENTSIZE_UNKNOWN || declared > TRACE_MAX_FRAME_CONTENT) {
        snprintf(why, whylen, "bad frame content size");
        return TI_CORRUPT;
    }
    size_t content = (size_t)declared;
    /* No valid frame of this content is longer than this (header and checksum included). */
    size_t limit = ZSTD_compressBound(content) + 32;
    size_t want = (size_t)got;
    for (;;) {
        if (want > limit)
            want = limit;
        got = window(in, off, want, why, whylen);
        if (got < 0)
            return TI_IO;
        size_t cs = ZSTD_findFrameCompressedSize(in->win, (size_t)got);
        if (!ZSTD_isError(cs)) {
            if (cs > limit) {
                snprintf(why, whylen, "a frame of %zu bytes is longer than its content allows", cs);
                return TI_CORRUPT;
            }
            if (!trace_ratio_ok(content, cs)) {
                snprintf(why, whylen, "a frame of %zu bytes declares %zu bytes of content, more "
                        "than %u times its size (a decompression bomb?)", cs, content,
                        TRACE_MAX_RATIO);
                return TI_CORRUPT;
            }
            f->bytes = in->win;
            f->csize = cs;
            f->content = content;
            return TI_FRAME;
        }
        if (ZSTD_getErrorCode(cs) != ZSTD_error_srcSize_wrong) {
            snprintf(why, whylen, "%s", zstd_why(cs));
            return TI_CORRUPT;
        }
        if (off + (uint64_t)got == in->len)
            return TI_CUT;
        if ((size_t)got >= limit) {
            snprintf(why, whylen, "a frame is longer than its content allows");
            return TI_CORRUPT;
        }
        want = (size_t)got * 2;
    }
}

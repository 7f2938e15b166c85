/*
 * Walking a trace's zstd frames by their headers alone (RFC 8878, 3.1.1):
 * the frame header gives the content size and whether a checksum follows,
 * each block header gives the block's size, so a frame's length is known
 * after reading a few bytes per 128 KiB block, and nothing is decompressed.
 * This finds the footer of a complete trace and rebuilds the frame index of a
 * cut-short one. A frame that does not parse here would not decode either:
 * the same limits as trace_input_frame apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_codec.h"
#include "trace_index.h"

#define ZMAGIC        0xFD2FB528u
#define BLOCK_MAX     (128u << 10)
#define FHDR_MAX      18u           /* magic 4, FHD 1, window 1, dict 4, size 8 */

enum { FR_OK, FR_CUT, FR_BAD };

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Length of the frame at off; FR_CUT when the file ends inside it. */
static int frame_length(struct trace_input *in, uint64_t off, uint64_t *len,
        char *why, size_t whylen)
{
    uint8_t h[FHDR_MAX + 3];
    uint64_t left = in->len - off;
    size_t n = left < sizeof h ? (size_t)left : sizeof h;
    if (trace_input_read(in, off, h, n, why, whylen) < 0)
        return -1;
    if (n < 5)
        return FR_CUT;
    uint32_t magic = (uint32_t)le(h, 4);
    if ((magic & 0xFFFFFFF0u) == 0x184D2A50u) {
        snprintf(why, whylen, "a zstd skippable frame");
        return FR_BAD;
    }
    if (magic != ZMAGIC) {
        snprintf(why, whylen, "not a zstd frame");
        return FR_BAD;
    }
    uint8_t fhd = h[4];
    unsigned fcs_flag = fhd >> 6, single = (fhd >> 5) & 1, checksum = (fhd >> 2) & 1;
    unsigned dict = fhd & 3;
    if (fhd & 0x08) {
        snprintf(why, whylen, "bad frame header (reserved bit set)");
        return FR_BAD;
    }
    if (dict) {
        snprintf(why, whylen, "a frame that needs a dictionary");
        return FR_BAD;
    }
    static const unsigned fcs_len[4] = { 0, 2, 4, 8 };
    unsigned fcs = fcs_flag == 0 ? single : fcs_len[fcs_flag];
    unsigned hlen = 5 + !single + fcs;
    if (!fcs) {
        snprintf(why, whylen, "bad frame content size");
        return FR_BAD;
    }
    if (n < hlen + 3)
        return FR_CUT;
    uint64_t content = le(h + 5 + !single, fcs) + (fcs == 2 ? 256 : 0);
    if (content == 0 || content > TRACE_MAX_FRAME_CONTENT) {
        snprintf(why, whylen, "bad frame content size");
        return FR_BAD;
    }
    uint64_t limit = ZSTD_compressBound((size_t)content) + 32;
    uint64_t at = off + hlen;
    const uint8_t *bh = h + hlen;
    uint8_t b[3];
    for (;;) {
        if (!bh) {
            if (in->len - at < 3)
                return FR_CUT;
            if (trace_input_read(in, at, b, 3, why, whylen) < 0)
                return -1;
            bh = b;
        }
        uint32_t v = (uint32_t)le(bh, 3);
        bh = NULL;
        unsigned type = (v >> 1) & 3;
        uint64_t size = v >> 3;
        if (type == 3 || size > BLOCK_MAX) {
            snprintf(why, whylen, "bad block header at byte %llu", (unsigned long long)at);
            return FR_BAD;
        }
        at += 3 + (type == 1 ? 1 : size);
        if (at - off > limit) {
            snprintf(why, whylen, "a frame is longer than its content allows");
            return FR_BAD;
        }
        if (v & 1)
            break;
    }
    at += checksum ? 4 : 0;
    if (at > in->len)
        return FR_CUT;
    if (!trace_ratio_ok(content, at - off)) {
        snprintf(why, whylen, "a frame of %llu bytes declares %llu bytes of content, more than "
                "%u times its size (a decompression bomb?)", (unsigned long long)(at - off),
                (unsigned long long)content, TRACE_MAX_RATIO);
        return FR_BAD;
    }
    *len = at - off;
    return FR_OK;
}

int trace_scan_frames(struct trace_input *in, uint64_t start, uint64_t **offs, size_t *n,
        uint64_t *valid, char *why, size_t whylen)
{
    size_t cap = 0;
    *n = 0;
    uint64_t off = start;
    while (off < in->len) {
        uint64_t len;
        char what[160];
        int rc = frame_length(in, off, &len, what, sizeof what);
        if (rc < 0) {
            snprintf(why, whylen, "%s", what);
            return -1;
        }
        if (rc == FR_CUT)
            break;
        if (rc == FR_BAD) {
            snprintf(why, whylen, "corrupt trace at byte %llu: %s", (unsigned long long)off, what);
            return -1;
        }
        if (*n == cap) {
            /* bounded by the file: a frame is at least 12 bytes long */
            cap = cap ? cap * 2 : 256;
            uint64_t *p = realloc(*offs, cap * sizeof *p);
            if (!p) {
                snprintf(why, whylen, "out of memory indexing the trace");
                return -1;
            }
            *offs = p;
        }
        (*offs)[(*n)++] = off;
        off += len;
    }
    *valid = off;
    return 0;
}

/*
 * Internal to the trace reader: the index of event frames (file offset and
 * first event number of each), taken from the footer of a complete trace
 * and checked against a scan of the zstd frame and block headers, or rebuilt
 * from that scan alone when the trace was cut short. It lets `info` and
 * `stats` answer without decompressing every frame and `dump --from` start
 * at the right frame (docs/trace-format.md, sections 5 and 6).
 */
#ifndef UKVM_TRACE_INDEX_H
#define UKVM_TRACE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

#include "trace_input.h"
#include "ukvm/trace.h"

#define IX_UNKNOWN UINT64_MAX       /* first_event not known yet (cut-short trace) */

struct trace_ix_frame {
    uint64_t off;                   /* file offset of the frame */
    uint64_t first_event;           /* or IX_UNKNOWN */
};

struct trace_index {
    struct trace_ix_frame *f;       /* event frames, in file order */
    size_t n;
    uint64_t events_end;            /* file offset where the event frames end */
    struct ukvm_trace_end end;
    struct ukvm_trace_kind_stats kinds[UKVM_EV_KIND_MAX];
    bool has_kinds;                 /* the footer holds per-frame summaries (1.1) */
};

/*
 * Frame boundaries from the zstd frame and block headers only (3 bytes per
 * block read, nothing decompressed). Appends the offset of every complete
 * frame from `start` on to *offs (grown with realloc) and sets *valid to the
 * end of the last complete one. Returns 0, or -1 with a one-line reason.
 */
int trace_scan_frames(struct trace_input *in, uint64_t start, uint64_t **offs, size_t *n,
        uint64_t *valid, char *why, size_t whylen);

/*
 * Builds the index of the events that start at `start` (the end of the header
 * frame). `buf` is a scratch buffer for one frame's content (grown). Returns 0,
 * or -1 with a one-line message.
 */
int trace_index_build(struct trace_index *ix, struct trace_input *in, ZSTD_DCtx *dctx,
        uint64_t start, uint8_t **buf, size_t *buf_cap, char *err, size_t errlen);

/* The first event of frame i, decoding the frame's start when unknown. */
int trace_index_first_event(struct trace_index *ix, size_t i, struct trace_input *in,
        ZSTD_DCtx *dctx, uint8_t **buf, size_t *buf_cap, uint64_t *out,
        char *err, size_t errlen);

void trace_index_free(struct trace_index *ix);

#endif

/*
 * The trace reader's insides (trace_reader.c), for the rest of the reader
 * (trace_seek.c: the frame index, summary, goto, tell and seek). The public
 * interface is include/ukvm/trace.h.
 */
#ifndef UKVM_TRACE_READER_H
#define UKVM_TRACE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

#include "trace_codec.h"
#include "trace_index.h"
#include "trace_input.h"

enum { ST_READING, ST_END, ST_CUT, ST_ERR };

struct frame_known {
    uint64_t off, csize, first_event, elapsed_ns;
};

struct ukvm_trace_reader {
    struct trace_input in;          /* the file; in.len is its size when opened */

    uint8_t *hdr_buf;               /* the first frame's content (kernel points here) */
    struct trace_header_store hs;
    size_t events_start;            /* file offset of the first frame after the header */
    size_t hdr_csize;
    ZSTD_DCtx *dctx;

    /* current frame */
    size_t fr_off, fr_csize;        /* when !fr_loaded, fr_off is the next frame to load */
    bool fr_loaded;
    uint8_t *buf;
    size_t buf_cap, buf_len, buf_pos;
    size_t frame_rec_len;           /* bytes of the frame record at the start of buf */
    uint64_t fr_elapsed;

    uint64_t evno;
    struct trace_delta d;
    uint32_t last_rec_len;
    uint64_t last_rec_frame;        /* frame offset of the last event returned */

    int state;
    char errmsg[256];
    struct ukvm_trace_end end;
    uint64_t id;                    /* tags positions from this reader */

    struct frame_known *fk;         /* event frames walked so far, in file order */
    size_t n_fk, cap_fk;
    bool jumped;                    /* goto skipped frames: fk has gaps */

    struct trace_index ix;          /* built on first use (summary, goto) */
    int ix_state;                   /* 0 not built, 1 built, -1 failed (ix_err) */
    uint8_t *ix_buf;                /* its scratch frame (the last one, looked-up ones) */
    size_t ix_cap;
    char ix_err[256];
};

/* One parsed record of a frame's start. */
struct first_rec {
    uint8_t tag;
    uint64_t first_event, elapsed_ns;   /* TAG_FRAME */
    const uint8_t *payload;             /* TAG_FOOTER */
    size_t payload_len;
};

/* Records the error (the reader's state becomes an error) and copies it to
 * err when err is not NULL. Returns -1. */
int trace_reader_set_err(struct ukvm_trace_reader *r, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Decompresses the frame at `off` into buf. Returns 1 when loaded, 0 when
 * the file ends inside it (cut short), -1 on corruption or a read error
 * (message in r->errmsg). */
int trace_reader_load_frame(struct ukvm_trace_reader *r, size_t off, char *err, size_t errlen);
/* Parses the record that opens a freshly loaded frame. */
int trace_reader_frame_start(struct ukvm_trace_reader *r, struct first_rec *fr, char *err, size_t errlen);

#endif

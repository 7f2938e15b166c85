/*
 * Internal to the trace reader: fetching one zstd frame of a trace file into
 * an owned buffer with pread (never mmap: a file that shrinks under the
 * reader is an error message, not SIGBUS), with the size checks that bound
 * the work a hostile file can cause (docs/trace-format.md, section 1).
 */
#ifndef UKVM_TRACE_INPUT_H
#define UKVM_TRACE_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct trace_input {
    int fd;                     /* -1 when reading from mem */
    uint8_t *mem;               /* an owned copy of the trace (open_mem) */
    uint64_t len;               /* the file's size when it was opened */
    uint8_t *win;               /* file bytes [win_off, win_off + win_len) */
    size_t win_cap, win_len;
    uint64_t win_off;
};

enum {
    TI_FRAME = 1,               /* the frame is in *frame */
    TI_CUT = 0,                 /* the file (as opened) ends inside it */
    TI_CORRUPT = -1,            /* a bad frame: why says what is wrong */
    TI_IO = -2,                 /* reading failed: why is the whole message */
};

struct trace_frame {
    const uint8_t *bytes;       /* the compressed frame; valid until the next fetch */
    size_t csize;
    size_t content;             /* declared decompressed size, within the limits */
};

/* Takes fd (closed by trace_input_close) or mem (freed by it). */
void trace_input_init(struct trace_input *in, int fd, uint8_t *mem, uint64_t len);
void trace_input_close(struct trace_input *in);

/* Reads up to n bytes at off into out; returns the count, or -1 (why set). */
long trace_input_peek(struct trace_input *in, uint64_t off, void *out, size_t n,
        char *why, size_t whylen);

/* Reads exactly n bytes at off, bypassing the window (small reads spread
 * over the file: the frame-header scan). 0, or -1 with why set. */
int trace_input_read(struct trace_input *in, uint64_t off, void *out, size_t n,
        char *why, size_t whylen);

/* Fetches the frame that starts at off (off < in->len). */
int trace_input_frame(struct trace_input *in, uint64_t off, struct trace_frame *f,
        char *why, size_t whylen);

#endif

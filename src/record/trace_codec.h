/*
 * Internal to the trace layer: the byte-level encoding shared by the writer,
 * the reader and the tools' helpers. docs/trace-format.md is the reference;
 * keep the two in step.
 */
#ifndef UKVM_TRACE_CODEC_H
#define UKVM_TRACE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ukvm/trace.h"

/* First 8 bytes of the first frame's content, then u16 LE major, u16 LE minor. */
#define TRACE_MAGIC          "\x89UKVMTR\n"
#define TRACE_MAGIC_LEN      8u
#define TRACE_VERSION_MINOR  1u   /* 1.1: footer frame summaries, console text */
#define TRACE_PREAMBLE_LEN   (TRACE_MAGIC_LEN + 4u)

/* Record tags. 0x01-0x3f: structural, must be understood. 0x40-0x7f:
 * optional, skipped by readers that do not know them. 0x80 | kind: events. */
#define TAG_HEADER   0x01u
#define TAG_FRAME    0x02u
#define TAG_FOOTER   0x03u
#define TAG_OPT_MIN  0x40u
#define TAG_OPT_MAX  0x7fu
#define TAG_EVENT    0x80u
#define TAG_PAD      0x40u   /* optional: noise the writer adds (see TRACE_MAX_RATIO) */
#define TAG_TEXT     0x41u   /* optional: the bytes of the PUTS event just before (1.1) */

/* Limits a reader enforces (and a writer respects). */
#define TRACE_MAX_FRAME_CONTENT  (64u << 20)   /* decompressed size of any frame */
#define TRACE_MAX_CMDLINE        8192u
#define TRACE_MAX_VARINT         10u

/*
 * Decompression bound: a frame's content may exceed TRACE_RATIO_FREE bytes
 * only by TRACE_MAX_RATIO times the frame's compressed size, so that reading
 * a file costs at most a few thousand bytes of decompression per byte of it
 * (a frame of zstd RLE blocks expands 32768 times). The writer pads a frame
 * that compresses better than that with a TAG_PAD record of noise, and keeps
 * TRACE_PAD_ROOM of every frame's content for it.
 */
#define TRACE_MAX_RATIO          1024u
#define TRACE_RATIO_FREE         (16u << 10)
#define TRACE_PAD_ROOM           (256u << 10)

static inline bool trace_ratio_ok(uint64_t content, uint64_t csize)
{
    return content <= TRACE_RATIO_FREE || (content - TRACE_RATIO_FREE) / TRACE_MAX_RATIO < csize;
}

/* Writer flush policy. */
#define TRACE_FLUSH_NS       250000000ull
#define TRACE_FLUSH_EVENTS   4096u
#define TRACE_FLUSH_BYTES    (1u << 20)
#define TRACE_ZSTD_LEVEL     3

/* ---- varints (LEB128, canonical) and zigzag ---- */

static inline uint64_t zz_enc(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t zz_dec(uint64_t u)
{
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

/* Writes v at p (room for TRACE_MAX_VARINT bytes); returns bytes written. */
size_t varint_put(uint8_t *p, uint64_t v);
/* Length of v's encoding. */
size_t varint_len(uint64_t v);
/*
 * Reads a canonical varint from p[0..avail). Returns bytes consumed, or 0 when
 * truncated, longer than 10 bytes, overflowing 64 bits, or overlong (a
 * trailing zero byte that a shorter encoding would not have).
 */
size_t varint_get(const uint8_t *p, size_t avail, uint64_t *v);

/* ---- a growable output buffer ---- */

struct obuf {
    uint8_t *p;
    size_t len, cap;
    bool oom;             /* sticky: an allocation failed */
};

bool obuf_reserve(struct obuf *b, size_t more);
void obuf_u8(struct obuf *b, uint8_t v);
void obuf_varint(struct obuf *b, uint64_t v);
void obuf_bytes(struct obuf *b, const void *p, size_t n);
void obuf_free(struct obuf *b);

/* ---- a bounded input cursor ---- */

struct ibuf {
    const uint8_t *p;
    size_t len, pos;
    bool bad;             /* sticky: a read went past the end or was malformed */
};

uint64_t ibuf_varint(struct ibuf *b);
uint8_t ibuf_u8(struct ibuf *b);
/* Pointer to n bytes, or NULL (and bad) when fewer remain. */
const uint8_t *ibuf_bytes(struct ibuf *b, uint64_t n);
static inline size_t ibuf_left(const struct ibuf *b) { return b->len - b->pos; }

/* ---- events ---- */

/* Number of a[] a kind uses (0 for an unknown kind), and whether it has data. */
unsigned trace_kind_nargs(uint32_t kind);
bool trace_kind_has_data(uint32_t kind);
bool trace_kind_valid(uint32_t kind);

/* Delta-coding state, reset at the start of every event frame. */
struct trace_delta {
    uint64_t rip, tsc, wall;
};

/*
 * Checks that ev is encodable: a known kind, unused a[] zero, no data for a
 * kind without data. Returns NULL when fine, else a static reason.
 */
const char *trace_event_check(const struct ukvm_event *ev);

/* Appends the event record (tag, length, payload) and updates d. */
void trace_event_encode(struct obuf *b, struct trace_delta *d, const struct ukvm_event *ev);

/*
 * Decodes an event payload (the record's tag already read, kind = tag & 0x7f).
 * ev->data points into payload. Returns NULL on success (d updated), else a
 * static reason (d unchanged).
 */
const char *trace_event_decode(uint32_t kind, const uint8_t *payload, size_t len,
        struct trace_delta *d, struct ukvm_event *ev);

/* Record framing: tag byte, varint length, payload. */
void trace_record_begin(struct obuf *b, uint8_t tag, size_t payload_len);

/* ---- header ---- */

/* Serialises the whole first-frame content (magic, version, header record). */
int trace_header_encode(struct obuf *b, const struct ukvm_trace_header *h,
        const uint8_t sha256[32], char *err, size_t errlen);

/* Storage for a decoded header (owned by the reader). */
struct trace_header_store {
    struct ukvm_trace_header h;
    char *cmdline;
    struct ukvm_trace_device *devices;
    struct ukvm_trace_cpuid *cpuid;
    struct ukvm_trace_patch *patches;
};

/*
 * Parses the first frame's content (kernel points into content, which must
 * outlive st). Returns 0, or -1 with a one-line reason in err.
 */
int trace_header_decode(const uint8_t *content, size_t len,
        struct trace_header_store *st, char *err, size_t errlen);
void trace_header_store_free(struct trace_header_store *st);

void trace_sha256(const void *data, size_t len, uint8_t out[32]);

#endif

/*
 * The ukvm trace: one self-contained file holding the header (the kernel, its
 * configuration, CPUID, patch table) and every event of a recorded run.
 * docs/trace-format.md describes the bytes; this is the C interface. The
 * encoding (varints, deltas, frames) is the trace layer's business: callers
 * see only decoded events.
 */
#ifndef UKVM_TRACE_H
#define UKVM_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UKVM_TRACE_FORMAT_VERSION 1u

/*
 * Event kinds. `rip` is the guest rip of the instruction that caused the
 * event (the `out` of a hypercall, the first byte of a patched instruction).
 * The meaning of a[] per kind is listed beside it; unused a[] are zero.
 * `data` is present only where noted.
 */
enum ukvm_event_kind {
    UKVM_EV_WALLTIME    = 1,  /* a0 = nsecs */
    UKVM_EV_PUTS        = 2,  /* a0 = len, a1 = digest of the bytes */
    UKVM_EV_POLL        = 3,  /* a0 = timeout_nsecs, a1 = ready_set, a2 = ret */
    UKVM_EV_BLOCK_WRITE = 4,  /* a0 = handle, a1 = offset, a2 = len, a3 = digest, a4 = ret */
    UKVM_EV_BLOCK_READ  = 5,  /* a0 = handle, a1 = offset, a2 = len, a3 = ret; data = bytes read (len of them when ret == 0, else none) */
    UKVM_EV_NET_WRITE   = 6,  /* a0 = handle, a1 = len, a2 = digest, a3 = ret */
    UKVM_EV_NET_READ    = 7,  /* a0 = handle, a1 = buffer size, a2 = ret, a3 = frame length; data = the frame (when ret == 0) */
    UKVM_EV_HALT        = 8,  /* a0 = exit status (as u32), a1 = cookie address */
    UKVM_EV_RDTSC       = 9,  /* a0 = tsc value */
    UKVM_EV_RDTSCP      = 10, /* a0 = tsc value, a1 = TSC_AUX (ecx) */
    UKVM_EV_RDRAND      = 11, /* a0 = value, a1 = operand size in bits, a2 = CF (1 = valid) */
    UKVM_EV_RDSEED      = 12, /* as RDRAND */
    UKVM_EV_RDMSR_TSC   = 13, /* a0 = tsc value read through rdmsr IA32_TSC */
    UKVM_EV_KIND_MAX    = 14
};

#define UKVM_EVENT_NARGS 6

struct ukvm_event {
    uint32_t kind;
    uint64_t rip;
    uint64_t a[UKVM_EVENT_NARGS];
    const uint8_t *data;       /* owned by the reader; valid until the next call */
    uint32_t data_len;
    /* PUTS only: the console bytes (a0 of them) when the trace holds them
     * (format 1.1, at most UKVM_TRACE_MAX_TEXT bytes); else NULL and 0. */
    const uint8_t *text;
    uint32_t text_len;
};

#define UKVM_TRACE_MAX_TEXT (1u << 20)

/* Name of an event kind ("walltime", "rdtsc", ...), or "?" when unknown. */
const char *ukvm_event_kind_name(uint32_t kind);

/* A 64-bit digest of output data (puts, block and net writes). */
uint64_t ukvm_digest(const void *data, size_t len);

#define UKVM_TRACE_MAX_DEVICES  64u
#define UKVM_TRACE_MAX_CPUID    256u
#define UKVM_TRACE_MAX_PATCHES  65536u

struct ukvm_trace_device {
    char name[68];             /* NUL-terminated */
    uint32_t type;             /* HVT_MFT_DEV_BLOCK_BASIC or HVT_MFT_DEV_NET_BASIC */
    uint32_t mft_index;        /* index in the kernel's manifest */
    uint64_t capacity;         /* block */
    uint16_t block_size;       /* block */
    uint8_t mac[6];            /* net */
    uint16_t mtu;              /* net */
};

struct ukvm_trace_cpuid {
    uint32_t function, index, flags;
    uint32_t eax, ebx, ecx, edx;
};

/* A patched instruction site (see include/ukvm/scan.h for the kinds). */
struct ukvm_trace_patch {
    uint64_t addr;             /* guest address of the first byte */
    uint8_t len;               /* instruction length, 1..15 */
    uint8_t kind;
    uint8_t orig[15];          /* the original bytes (len of them) */
};

struct ukvm_trace_header {
    uint32_t format_version;
    char ukvm_version[32];
    uint8_t kernel_sha256[32];
    const uint8_t *kernel;     /* the kernel ELF file */
    uint64_t kernel_len;
    const char *cmdline;       /* guest arguments joined by single spaces */
    uint64_t mem_size;
    uint64_t tsc_hz;
    uint64_t start_walltime_ns; /* when the recording began (informational) */
    uint32_t n_devices;
    const struct ukvm_trace_device *devices;
    uint32_t n_cpuid;
    const struct ukvm_trace_cpuid *cpuid;
    uint32_t n_patches;
    const struct ukvm_trace_patch *patches;
};

/* ---- writing ---- */

struct ukvm_trace_writer;

/*
 * Create `path` and write the header (the kernel's SHA-256 is computed here
 * and h->kernel_sha256 is ignored). Refuses an existing file unless `force`.
 * On failure returns NULL with a one-line message in err.
 */
struct ukvm_trace_writer *ukvm_trace_writer_open(const char *path, bool force,
        const struct ukvm_trace_header *h, char *err, size_t errlen);

/* Append one event. Frames are flushed to the file every few hundred
 * milliseconds or few thousand events. Returns 0, or -1 with err set. */
int ukvm_trace_writer_event(struct ukvm_trace_writer *w,
        const struct ukvm_event *ev, char *err, size_t errlen);

/* Flush the pending events as a complete frame now. */
int ukvm_trace_writer_flush(struct ukvm_trace_writer *w, char *err, size_t errlen);

/* Flush, write the footer (event count, exit status, elapsed time, frame
 * index) and close. Frees w in every case. */
int ukvm_trace_writer_close(struct ukvm_trace_writer *w, int exit_status,
        char *err, size_t errlen);

/* From now on the frames and the footer carry ns as their time since the
 * start instead of the clock's: a copy of a trace keeps its original's. */
void ukvm_trace_writer_set_elapsed(struct ukvm_trace_writer *w, uint64_t ns);

/* Number of events appended so far. */
uint64_t ukvm_trace_writer_event_count(const struct ukvm_trace_writer *w);

/*
 * Flush the pending events and close without writing a footer, leaving a
 * cut-short trace as a killed recorder would (for tests and tools). Frees w
 * in every case. Returns 0, or -1 with err set.
 */
int ukvm_trace_writer_abandon(struct ukvm_trace_writer *w, char *err, size_t errlen);

/* ---- reading ---- */

struct ukvm_trace_reader;

/* Open and validate the header. NULL with a one-line message on failure. */
struct ukvm_trace_reader *ukvm_trace_reader_open(const char *path,
        char *err, size_t errlen);

/* As ukvm_trace_reader_open, from a buffer (copied; the caller keeps its own). */
struct ukvm_trace_reader *ukvm_trace_reader_open_mem(const void *data, size_t len,
        char *err, size_t errlen);

/* The header; valid while the reader is open. */
const struct ukvm_trace_header *ukvm_trace_reader_header(const struct ukvm_trace_reader *r);

/*
 * Next event: 1 with *ev filled, 0 at the end of the events (see
 * ukvm_trace_reader_end), -1 on a corrupt trace with a one-line message.
 */
int ukvm_trace_reader_next(struct ukvm_trace_reader *r, struct ukvm_event *ev,
        char *err, size_t errlen);

/* Number of the next event ukvm_trace_reader_next would return. */
uint64_t ukvm_trace_reader_event_number(const struct ukvm_trace_reader *r);

struct ukvm_trace_end {
    bool complete;             /* the footer was found and matches */
    uint64_t events;           /* events readable */
    int exit_status;           /* from the footer, when complete */
    uint64_t elapsed_ns;       /* from the footer, or the last frame's time */
    uint64_t valid_bytes;      /* bytes of the file up to the last complete frame */
};

/* After next() returned 0: how the trace ended. */
void ukvm_trace_reader_end(const struct ukvm_trace_reader *r, struct ukvm_trace_end *out);

/* Per event kind: how many, and how many bytes their records take. */
struct ukvm_trace_kind_stats {
    uint64_t count;
    uint64_t raw_bytes;         /* decompressed records (console text included) */
    double comp_bytes;          /* their share of the compressed frames */
};

/*
 * The whole trace at a glance, from the frame index (the footer, checked
 * against the frames' zstd headers; rebuilt from those headers when the trace
 * was cut short) without decompressing the event frames: fast on any length.
 * It does not verify every frame's checksum (reading the events does).
 */
struct ukvm_trace_summary {
    struct ukvm_trace_end end;
    uint64_t frames;            /* event frames */
    bool has_kinds;             /* kinds[] is filled (a format 1.1 footer) */
    struct ukvm_trace_kind_stats kinds[UKVM_EV_KIND_MAX];
    uint64_t header_bytes;      /* compressed size of the header frame */
    uint64_t file_bytes;
};

/* Returns 0, or -1 with a one-line message (a corrupt or hostile index). */
int ukvm_trace_reader_summary(struct ukvm_trace_reader *r, struct ukvm_trace_summary *out,
        char *err, size_t errlen);

/*
 * Moves the reader to just before event n (or to the end when there are not
 * that many), decoding only the frame that holds it. Returns 0, or -1 with
 * a one-line message.
 */
int ukvm_trace_reader_goto(struct ukvm_trace_reader *r, uint64_t n, char *err, size_t errlen);

/*
 * Where the event last returned by next() sits in the file (for statistics):
 * its record's size and its frame's compressed and decompressed sizes.
 */
struct ukvm_trace_event_info {
    uint32_t record_bytes;      /* the event's record (tag, length, payload) */
    uint64_t frame_offset;      /* file offset of its frame */
    uint64_t frame_bytes;       /* the frame's compressed size */
    uint64_t frame_raw_bytes;   /* the frame's decompressed size */
    uint64_t frame_event_bytes; /* frame_raw_bytes minus the frame record */
    uint64_t frame_elapsed_ns;  /* the frame record's time since the start */
    uint64_t header_bytes;      /* compressed size of the header frame */
    uint64_t file_bytes;        /* size of the whole file */
};
void ukvm_trace_reader_event_info(const struct ukvm_trace_reader *r,
        struct ukvm_trace_event_info *out);

/*
 * Saving and restoring the read position (for checkpoints): an opaque value
 * that seek() accepts only from the same reader.
 */
struct ukvm_trace_pos {
    uint64_t opaque[8];
};
void ukvm_trace_reader_tell(const struct ukvm_trace_reader *r, struct ukvm_trace_pos *pos);
int ukvm_trace_reader_seek(struct ukvm_trace_reader *r, const struct ukvm_trace_pos *pos);

void ukvm_trace_reader_close(struct ukvm_trace_reader *r);

#endif

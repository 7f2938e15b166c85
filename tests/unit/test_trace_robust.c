/*
 * Hostile and damaged traces: truncation at every byte, random bit flips,
 * forged lengths and counts. The reader must never crash, hang or make a
 * huge allocation; it reports "cut short" or a one-line error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zstd.h>

#include "../../src/record/trace_codec.h"

/* The largest single allocation made while armed (ASan's hooks). */
int __sanitizer_install_malloc_and_free_hooks(void (*m)(const volatile void *, size_t),
        void (*f)(const volatile void *));
static volatile size_t max_alloc;
static volatile int armed;
static void on_malloc(const volatile void *p, size_t n)
{
    (void)p;
    if (armed && n > max_alloc)
        max_alloc = n;
}
static void on_free(const volatile void *p)
{
    (void)p;
}

static char dir[64];
static char err[256];

static int setup(void **state)
{
    (void)state;
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    strcpy(dir, "/tmp/ukvm-trace-robust.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct ukvm_event ev_of(uint64_t i)
{
    static const uint8_t data[] = "block data!";
    struct ukvm_event e = { 0 };
    e.rip = 0x100000 + i * 4;
    switch (i % 4) {
    case 0: e.kind = UKVM_EV_RDTSC; e.a[0] = 1000 + i * 50; break;
    case 1: e.kind = UKVM_EV_WALLTIME; e.a[0] = 5000 + i * 20; break;
    case 2: e.kind = UKVM_EV_BLOCK_READ; e.a[0] = 0; e.a[1] = i * 512; e.a[2] = 11;
            e.data = data; e.data_len = 11; break;
    default: e.kind = UKVM_EV_PUTS; e.a[0] = 5; e.a[1] = ukvm_digest("hello", 5); break;
    }
    return e;
}

enum { SMALL_EVENTS = 30 };

/* A small complete trace with several frames; returns its bytes. */
static uint8_t *small_trace(size_t *len)
{
    char p[128];
    snprintf(p, sizeof p, "%s/small.zst", dir);
    static uint8_t kernel[200];
    for (size_t i = 0; i < sizeof kernel; i++)
        kernel[i] = (uint8_t)(i * 13);
    struct ukvm_trace_cpuid c = { 1, 0, 0, 2, 3, 4, 5 };
    struct ukvm_trace_patch pt = { .addr = 0x100010, .len = 2, .kind = 1, .orig = { 0x0f, 0x31 } };
    struct ukvm_trace_device d = { .name = "blk", .type = 1, .capacity = 4096, .block_size = 512 };
    struct ukvm_trace_header h = {
        .ukvm_version = "t", .kernel = kernel, .kernel_len = sizeof kernel, .cmdline = "a b",
        .mem_size = 1 << 20, .tsc_hz = 1000000, .n_devices = 1, .devices = &d,
        .n_cpuid = 1, .cpuid = &c, .n_patches = 1, .patches = &pt,
    };
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(p, true, &h, err, sizeof err);
    assert_non_null(w);
    for (uint64_t i = 0; i < SMALL_EVENTS; i++) {
        struct ukvm_event e = ev_of(i);
        assert_int_equal(ukvm_trace_writer_event(w, &e, err, sizeof err), 0);
        if (i % 7 == 6)
            assert_int_equal(ukvm_trace_writer_flush(w, err, sizeof err), 0);
    }
    assert_int_equal(ukvm_trace_writer_close(w, 3, err, sizeof err), 0);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    uint8_t *buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    assert_true(*len > 0 && *len < (1 << 16));
    return buf;
}

static void assert_one_line(const char *msg)
{
    assert_true(msg[0] != 0);
    assert_null(strchr(msg, '\n'));
}

static void assert_one_line(const char *msg);

/*
 * The frame index (summary, goto) on the same bytes: a one-line error or an
 * answer; when `want` (the sequential read's end) is given, the same answer,
 * and goto lands on the right event.
 */
static void index_agrees(const uint8_t *buf, size_t len, bool check,
        const struct ukvm_trace_end *want)
{
    char ierr[256];     /* err keeps the sequential read's message */
    struct ukvm_trace_reader *r = ukvm_trace_reader_open_mem(buf, len, ierr, sizeof ierr);
    if (!r)
        return;
    struct ukvm_trace_summary sum;
    if (ukvm_trace_reader_summary(r, &sum, ierr, sizeof ierr) < 0) {
        assert_one_line(ierr);
        assert_null(want);
        ukvm_trace_reader_close(r);
        return;
    }
    if (want) {
        assert_int_equal(sum.end.complete, want->complete);
        assert_int_equal(sum.end.events, want->events);
        assert_int_equal(sum.end.valid_bytes, want->valid_bytes);
        if (want->complete)
            assert_int_equal(sum.end.exit_status, want->exit_status);
    }
    for (uint64_t n = 0; n <= sum.end.events + 1 && n < 64; n += 5) {
        struct ukvm_event e;
        if (ukvm_trace_reader_goto(r, n, ierr, sizeof ierr) < 0) {
            assert_one_line(ierr);
            assert_null(want);
            break;
        }
        int rc = ukvm_trace_reader_next(r, &e, ierr, sizeof ierr);
        if (rc < 0) {
            assert_one_line(ierr);
            assert_null(want);
            break;
        }
        if (want)
            assert_int_equal(rc, n < sum.end.events);
        if (check && rc == 1) {
            struct ukvm_event w = ev_of(n);
            assert_int_equal(e.kind, w.kind);
            assert_true(e.rip == w.rip);
        }
    }
    ukvm_trace_reader_close(r);
}

/*
 * Reads everything; returns 1 complete, 0 cut short, -1 error, 2 open failed.
 * When `check` is set, every event read must match ev_of().
 */
static int read_all(const uint8_t *buf, size_t len, bool check, struct ukvm_trace_end *end)
{
    err[0] = 0;
    struct ukvm_trace_reader *r = ukvm_trace_reader_open_mem(buf, len, err, sizeof err);
    if (!r) {
        assert_one_line(err);
        return 2;
    }
    struct ukvm_event e;
    int rc;
    uint64_t n = 0;
    while ((rc = ukvm_trace_reader_next(r, &e, err, sizeof err)) == 1) {
        if (check) {
            struct ukvm_event want = ev_of(n);
            assert_int_equal(e.kind, want.kind);
            assert_true(e.rip == want.rip);
            assert_memory_equal(e.a, want.a, sizeof e.a);
            assert_int_equal(e.data_len, want.data_len);
        }
        n++;
        if (e.data_len)     /* touch the data: ASan checks it is in bounds */
            assert_true(e.data[0] == e.data[0] && e.data[e.data_len - 1] == e.data[e.data_len - 1]);
    }
    if (rc < 0) {
        assert_one_line(err);
        /* the error sticks */
        assert_int_equal(ukvm_trace_reader_next(r, &e, err, sizeof err), -1);
        ukvm_trace_reader_close(r);
        index_agrees(buf, len, false, NULL);
        return -1;
    }
    assert_int_equal(ukvm_trace_reader_next(r, &e, err, sizeof err), 0);
    ukvm_trace_reader_end(r, end);
    assert_int_equal(end->events, n);
    assert_true(end->valid_bytes <= len);
    ukvm_trace_reader_close(r);
    /* an undamaged (maybe truncated) trace: the index must agree */
    index_agrees(buf, len, check, check ? end : NULL);
    return end->complete ? 1 : 0;
}

static void truncation_at_every_byte(void **state)
{
    (void)state;
    size_t len;
    uint8_t *full = small_trace(&len);
    struct ukvm_trace_end end;
    assert_int_equal(read_all(full, len, true, &end), 1);
    assert_int_equal(end.events, SMALL_EVENTS);
    assert_int_equal(end.exit_status, 3);
    size_t hdr = ZSTD_findFrameCompressedSize(full, len);
    uint64_t prev_events = 0;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, full, cut);
        int rc = read_all(copy, cut, true, &end);
        if (cut < hdr) {
            assert_int_equal(rc, 2);
        } else {
            /* never complete, never corrupt: cut short with the events of
             * the complete frames, growing with the cut */
            assert_int_equal(rc, 0);
            assert_true(end.events >= prev_events);
            assert_true(end.valid_bytes <= cut);
            prev_events = end.events;
        }
        free(copy);
    }
    assert_int_equal(prev_events, SMALL_EVENTS);
    /* the same through files, for some offsets */
    char p[128];
    snprintf(p, sizeof p, "%s/trunc.zst", dir);
    for (size_t cut = hdr; cut < len; cut += 17) {
        FILE *f = fopen(p, "wb");
        fwrite(full, 1, cut, f);
        fclose(f);
        struct ukvm_trace_reader *r = ukvm_trace_reader_open(p, err, sizeof err);
        assert_non_null(r);
        struct ukvm_event e;
        while (ukvm_trace_reader_next(r, &e, err, sizeof err) == 1)
            ;
        ukvm_trace_reader_end(r, &end);
        assert_false(end.complete);
        ukvm_trace_reader_close(r);
    }
    free(full);
}

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void random_bit_flips(void **state)
{
    (void)state;
    size_t len;
    uint8_t *full = small_trace(&len);
    uint8_t *copy = malloc(len);
    int outcome[4] = { 0 };
    struct ukvm_trace_end end;
    for (int it = 0; it < 20000; it++) {
        memcpy(copy, full, len);
        int flips = 1 + (int)(next_rand() % 4);
        for (int k = 0; k < flips; k++) {
            size_t at = next_rand() % len;
            copy[at] ^= (uint8_t)(1u << (next_rand() % 8));
        }
        int rc = read_all(copy, len, false, &end);
        outcome[rc + 1]++;
    }
    print_message("bit flips: %d error, %d cut short, %d complete, %d open failed\n",
            outcome[0], outcome[1], outcome[2], outcome[3]);
    /* byte-level mutations: overwrite, insert, delete */
    uint8_t *big = malloc(len + 64);
    for (int it = 0; it < 5000; it++) {
        size_t at = next_rand() % len, n = len;
        memcpy(big, full, len);
        switch (next_rand() % 3) {
        case 0: big[at] = (uint8_t)next_rand(); break;
        case 1: memmove(big + at + 1, big + at, len - at); big[at] = (uint8_t)next_rand(); n++; break;
        default: memmove(big + at, big + at + 1, len - at - 1); n--; break;
        }
        (void)read_all(big, n, false, &end);
    }
    free(big);
    free(copy);
    free(full);
}

/* ---- hand-made traces ---- */

static void add_frame(struct obuf *file, const void *content, size_t len)
{
    size_t bound = ZSTD_compressBound(len);
    assert_true(obuf_reserve(file, bound));
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    size_t n = ZSTD_compress2(cc, file->p + file->len, bound, content, len);
    assert_false(ZSTD_isError(n));
    ZSTD_freeCCtx(cc);
    file->len += n;
}

static void add_header(struct obuf *file)
{
    struct ukvm_trace_header h = { .ukvm_version = "t" };
    struct obuf c = { 0 };
    uint8_t sum[32];
    trace_sha256("", 0, sum);
    assert_int_equal(trace_header_encode(&c, &h, sum, err, sizeof err), 0);
    add_frame(file, c.p, c.len);
    obuf_free(&c);
}

/* Runs the reader on file with allocations watched; returns read_all's code. */
static int read_watched(struct obuf *file)
{
    struct ukvm_trace_end end;
    max_alloc = 0;
    armed = 1;
    int rc = read_all(file->p, file->len, false, &end);
    armed = 0;
    assert_true(max_alloc < (4u << 20));
    return rc;
}

static void forged_record_length(void **state)
{
    (void)state;
    struct obuf file = { 0 }, c = { 0 };
    add_header(&file);
    /* frame record, then an rdtsc record claiming 2^40 bytes */
    trace_record_begin(&c, TAG_FRAME, 2);
    obuf_varint(&c, 0);
    obuf_varint(&c, 0);
    obuf_u8(&c, TAG_EVENT | UKVM_EV_RDTSC);
    obuf_varint(&c, 1ull << 40);
    obuf_bytes(&c, "\0\0", 2);
    add_frame(&file, c.p, c.len);
    assert_int_equal(read_watched(&file), -1);
    assert_non_null(strstr(err, "malformed record"));
    /* a block read whose data length is far beyond its record */
    c.len = 0;
    file.len = 0;
    add_header(&file);
    trace_record_begin(&c, TAG_FRAME, 2);
    obuf_varint(&c, 0);
    obuf_varint(&c, 0);
    trace_record_begin(&c, TAG_EVENT | UKVM_EV_BLOCK_READ, 10);
    obuf_bytes(&c, "\0\0\0\0\0", 5);
    obuf_bytes(&c, "\xff\xff\xff\xff\x0f", 5);
    add_frame(&file, c.p, c.len);
    assert_int_equal(read_watched(&file), -1);
    obuf_free(&c);
    obuf_free(&file);
}

/* Builds a header frame from a raw header payload. */
static void header_payload_case(const uint8_t *payload, size_t plen, const char *want)
{
    struct obuf file = { 0 }, c = { 0 };
    obuf_bytes(&c, TRACE_MAGIC, TRACE_MAGIC_LEN);
    obuf_bytes(&c, "\x01\x00\x00\x00", 4);
    trace_record_begin(&c, TAG_HEADER, plen);
    obuf_bytes(&c, payload, plen);
    add_frame(&file, c.p, c.len);
    max_alloc = 0;
    armed = 1;
    struct ukvm_trace_reader *r = ukvm_trace_reader_open_mem(file.p, file.len, err, sizeof err);
    armed = 0;
    assert_null(r);
    assert_true(max_alloc < (1u << 20));
    assert_one_line(err);
    if (!strstr(err, want))
        fail_msg("expected '%s' in '%s'", want, err);
    obuf_free(&c);
    obuf_free(&file);
}

static void forged_header_counts(void **state)
{
    (void)state;
    struct obuf p = { 0 };
    uint8_t sum[32] = { 0 };
    /* kernel of 2^62 bytes */
    obuf_varint(&p, 1); obuf_u8(&p, 't'); obuf_bytes(&p, sum, 32);
    obuf_varint(&p, 1ull << 62);
    header_payload_case(p.p, p.len, "kernel length");
    /* command line too long */
    p.len = 0;
    obuf_varint(&p, 0); obuf_bytes(&p, sum, 32); obuf_varint(&p, 0);
    size_t base = p.len;
    obuf_varint(&p, 1u << 30);
    header_payload_case(p.p, p.len, "command line");
    /* 1000 devices */
    p.len = base;
    obuf_varint(&p, 0); obuf_varint(&p, 0); obuf_varint(&p, 0); obuf_varint(&p, 0);
    size_t base2 = p.len;
    obuf_varint(&p, 1000);
    header_payload_case(p.p, p.len, "device count");
    /* 4 billion CPUID entries */
    p.len = base2;
    obuf_varint(&p, 0);
    size_t base3 = p.len;
    obuf_varint(&p, UINT32_MAX);
    header_payload_case(p.p, p.len, "CPUID");
    /* 65536 patches, in a few bytes */
    p.len = base3;
    obuf_varint(&p, 0);
    obuf_varint(&p, 65536);
    obuf_bytes(&p, "\0\0\0\0\0\0\0\0", 8);
    header_payload_case(p.p, p.len, "patch count");
    /* ukvm version string of 2^63 */
    p.len = 0;
    obuf_varint(&p, 1ull << 63);
    header_payload_case(p.p, p.len, "version");
    obuf_free(&p);
}

static void oversized_frame(void **state)
{
    (void)state;
    struct obuf file = { 0 };
    add_header(&file);
    size_t big = TRACE_MAX_FRAME_CONTENT + 1;
    uint8_t *zeros = calloc(1, big);
    zeros[0] = TAG_FRAME;
    add_frame(&file, zeros, big);
    free(zeros);
    assert_int_equal(read_watched(&file), -1);
    assert_non_null(strstr(err, "content size"));
    obuf_free(&file);
}

/*
 * A decompression bomb: frames of a few kilobytes that each expand to 64 MiB
 * (a FRAME record, then an optional record of zeros). The reader refuses the
 * first one from its sizes alone: no 64 MiB buffer, no decompression.
 */
static void decompression_bomb(void **state)
{
    (void)state;
    size_t big = TRACE_MAX_FRAME_CONTENT;
    uint8_t *content = calloc(1, big);
    struct obuf rec = { 0 };
    trace_record_begin(&rec, TAG_FRAME, 2);
    obuf_varint(&rec, 0);
    obuf_varint(&rec, 0);
    size_t room = big - rec.len - 1 - TRACE_MAX_VARINT;
    trace_record_begin(&rec, TAG_OPT_MIN + 1, room);
    memcpy(content, rec.p, rec.len);
    size_t used = rec.len + room;
    struct obuf file = { 0 };
    add_header(&file);
    size_t hdr = file.len;
    for (int i = 0; i < 3; i++)
        add_frame(&file, content, used);
    free(content);
    size_t each = (file.len - hdr) / 3;
    print_message("bomb: 3 frames of %zu bytes, %zu bytes of content each\n", each, used);
    assert_true(each < 8192);
    assert_int_equal(read_watched(&file), -1);
    assert_one_line(err);
    if (!strstr(err, "decompression bomb"))
        fail_msg("expected a decompression bomb, got '%s'", err);
    obuf_free(&rec);
    obuf_free(&file);
}

/* The writer keeps its own frames within that bound: a guest that reads
 * megabytes of zeros gets a frame padded with noise, which reads back. */
static void zero_reads_are_padded(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof p, "%s/zeros.zst", dir);
    struct ukvm_trace_header h = { .ukvm_version = "t", .cmdline = "" };
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(p, true, &h, err, sizeof err);
    assert_non_null(w);
    uint32_t n = 16u << 20;
    uint8_t *zeros = calloc(1, n);
    struct ukvm_event e = { .kind = UKVM_EV_BLOCK_READ, .rip = 0x100000, .a = { 1, 0, n, 0 },
        .data = zeros, .data_len = n };
    for (int i = 0; i < 2; i++)
        assert_int_equal(ukvm_trace_writer_event(w, &e, err, sizeof err), 0);
    assert_int_equal(ukvm_trace_writer_close(w, 0, err, sizeof err), 0);
    struct ukvm_trace_reader *r = ukvm_trace_reader_open(p, err, sizeof err);
    assert_non_null(r);
    struct ukvm_event got;
    int rc, events = 0;
    while ((rc = ukvm_trace_reader_next(r, &got, err, sizeof err)) == 1) {
        assert_int_equal(got.data_len, n);
        assert_memory_equal(got.data, zeros, n);
        events++;
    }
    if (rc < 0)
        fail_msg("%s", err);
    struct ukvm_trace_end end;
    ukvm_trace_reader_end(r, &end);
    assert_true(end.complete);
    assert_int_equal(events, 2);
    print_message("two 16 MiB reads of zeros: %llu bytes of trace\n",
            (unsigned long long)end.valid_bytes);
    assert_true(end.valid_bytes >= 2 * (n / TRACE_MAX_RATIO));
    assert_true(end.valid_bytes < 2 * (n / TRACE_MAX_RATIO) + 4096);
    ukvm_trace_reader_close(r);
    free(zeros);
}

/*
 * The file shrinks while it is read (ukvm record --force over the trace
 * being replayed): the next frame is an error line, not SIGBUS.
 */
static void file_shrinks_while_read(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof p, "%s/shrink.zst", dir);
    struct ukvm_trace_header h = { .ukvm_version = "t", .cmdline = "" };
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(p, true, &h, err, sizeof err);
    assert_non_null(w);
    static uint8_t noise[4096];
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 800; i++) {
        for (size_t k = 0; k < sizeof noise; k++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            noise[k] = (uint8_t)x;
        }
        struct ukvm_event e = { .kind = UKVM_EV_BLOCK_READ, .rip = 0x100000,
            .a = { 1, (uint64_t)i * 4096, 4096, 0 }, .data = noise, .data_len = sizeof noise };
        assert_int_equal(ukvm_trace_writer_event(w, &e, err, sizeof err), 0);
        if (i % 10 == 9)
            assert_int_equal(ukvm_trace_writer_flush(w, err, sizeof err), 0);
    }
    assert_int_equal(ukvm_trace_writer_close(w, 0, err, sizeof err), 0);
    struct ukvm_trace_reader *r = ukvm_trace_reader_open(p, err, sizeof err);
    assert_non_null(r);
    struct ukvm_event got;
    assert_int_equal(ukvm_trace_reader_next(r, &got, err, sizeof err), 1);
    assert_int_equal(truncate(p, 1 << 20), 0);      /* of about 3.3 MB */
    int rc, events = 1;
    while ((rc = ukvm_trace_reader_next(r, &got, err, sizeof err)) == 1)
        events++;
    assert_int_equal(rc, -1);
    assert_one_line(err);
    if (!strstr(err, "shrank"))
        fail_msg("expected 'shrank' in '%s'", err);
    print_message("shrunk to 1 MiB: %d events read, then '%s'\n", events, err);
    ukvm_trace_reader_close(r);
}

static void structural_errors(void **state)
{
    (void)state;
    size_t len;
    uint8_t *full = small_trace(&len);
    struct obuf file = { 0 };
    struct ukvm_trace_end end;

    /* data after the footer */
    obuf_bytes(&file, full, len);
    obuf_bytes(&file, full, 40);
    assert_int_equal(read_all(file.p, file.len, true, &end), -1);
    assert_non_null(strstr(err, "after the footer"));

    /* a second header frame appended after the footer */
    file.len = 0;
    obuf_bytes(&file, full, len);
    add_header(&file);
    assert_int_equal(read_all(file.p, file.len, true, &end), -1);

    /* a frame whose first event number is wrong */
    file.len = 0;
    add_header(&file);
    struct obuf c = { 0 };
    trace_record_begin(&c, TAG_FRAME, 2);
    obuf_varint(&c, 5);
    obuf_varint(&c, 0);
    add_frame(&file, c.p, c.len);
    assert_int_equal(read_all(file.p, file.len, false, &end), -1);
    assert_non_null(strstr(err, "expected 0"));

    /* a footer that counts the wrong number of events */
    file.len = 0;
    add_header(&file);
    c.len = 0;
    trace_record_begin(&c, TAG_FOOTER, 4);
    obuf_varint(&c, 9); obuf_varint(&c, 0); obuf_varint(&c, 0); obuf_varint(&c, 0);
    add_frame(&file, c.p, c.len);
    assert_int_equal(read_all(file.p, file.len, false, &end), -1);
    assert_non_null(strstr(err, "footer counts 9"));
    /* the same, right: complete with no events */
    file.len = 0;
    add_header(&file);
    c.len = 0;
    trace_record_begin(&c, TAG_FOOTER, 4);
    obuf_varint(&c, 0); obuf_varint(&c, zz_enc(-1)); obuf_varint(&c, 7); obuf_varint(&c, 0);
    add_frame(&file, c.p, c.len);
    assert_int_equal(read_all(file.p, file.len, false, &end), 1);
    assert_int_equal(end.exit_status, -1);
    assert_int_equal(end.elapsed_ns, 7);

    /* unknown structural tag inside an event frame; optional ones are skipped */
    file.len = 0;
    add_header(&file);
    c.len = 0;
    trace_record_begin(&c, TAG_FRAME, 2);
    obuf_varint(&c, 0); obuf_varint(&c, 0);
    trace_record_begin(&c, 0x55, 3);            /* optional: skipped */
    obuf_bytes(&c, "abc", 3);
    trace_record_begin(&c, TAG_EVENT | UKVM_EV_RDTSC, 2);
    obuf_bytes(&c, "\x02\x04", 2);
    add_frame(&file, c.p, c.len);
    assert_int_equal(read_all(file.p, file.len, false, &end), 0);
    assert_int_equal(end.events, 1);
    c.p[c.len - 4] = 0x20;                      /* unknown structural tag instead */
    file.len = 0;
    add_header(&file);
    add_frame(&file, c.p, c.len);
    assert_int_equal(read_all(file.p, file.len, false, &end), -1);
    assert_non_null(strstr(err, "tag 0x20"));

    /* a corrupt frame in the middle names its offset */
    size_t hdr = ZSTD_findFrameCompressedSize(full, len);
    size_t f1 = ZSTD_findFrameCompressedSize(full + hdr, len - hdr);
    memcpy(file.p, full, len);
    file.len = len;
    file.p[hdr + f1 + 12] ^= 0x40;             /* inside the second event frame */
    int rc = read_all(file.p, file.len, false, &end);
    assert_int_equal(rc, -1);
    char want[64];
    snprintf(want, sizeof want, "at byte %zu", hdr + f1);
    if (!strstr(err, want))
        fail_msg("expected '%s' in '%s'", want, err);

    /* a skippable frame is not a trace frame */
    file.len = 0;
    obuf_bytes(&file, full, hdr);
    obuf_bytes(&file, "\x50\x2a\x4d\x18\x02\x00\x00\x00xx", 10);
    assert_int_equal(read_all(file.p, file.len, false, &end), -1);

    obuf_free(&c);
    obuf_free(&file);
    free(full);
}

/* One event frame (one rdtsc) and a footer with the given tail after
 * event_count, exit status and elapsed time; returns the summary's result. */
static int footer_case(const uint8_t *tail, size_t tlen, struct ukvm_trace_summary *sum,
        char *msg, size_t msglen)
{
    struct obuf file = { 0 }, c = { 0 };
    add_header(&file);
    trace_record_begin(&c, TAG_FRAME, 2);
    obuf_varint(&c, 0); obuf_varint(&c, 0);
    trace_record_begin(&c, TAG_EVENT | UKVM_EV_RDTSC, 2);
    obuf_bytes(&c, "\x02\x04", 2);
    add_frame(&file, c.p, c.len);
    c.len = 0;
    trace_record_begin(&c, TAG_FOOTER, 3 + tlen);
    obuf_varint(&c, 1); obuf_varint(&c, 0); obuf_varint(&c, 0);
    obuf_bytes(&c, tail, tlen);
    add_frame(&file, c.p, c.len);
    struct ukvm_trace_reader *r = ukvm_trace_reader_open_mem(file.p, file.len, msg, msglen);
    assert_non_null(r);
    armed = 1;
    max_alloc = 0;
    int rc = ukvm_trace_reader_summary(r, sum, msg, msglen);
    armed = 0;
    assert_true(max_alloc < (1u << 20));
    if (rc < 0)
        assert_one_line(msg);
    ukvm_trace_reader_close(r);
    obuf_free(&file);
    obuf_free(&c);
    return rc;
}

static void hostile_index(void **state)
{
    (void)state;
    struct ukvm_trace_summary sum;
    char msg[256];
    /* the header frame's size: the event frame's offset */
    struct obuf h = { 0 };
    add_header(&h);
    uint8_t off[10];
    size_t ol = varint_put(off, h.len);
    obuf_free(&h);
    uint8_t t[64];
#define TAIL(...) do { const uint8_t b[] = { __VA_ARGS__ }; memcpy(t, b, sizeof b); tl = sizeof b; } while (0)
    size_t tl;
    /* 1.0 footer: n = 1, the right entry: complete, no summaries */
    t[0] = 1; memcpy(t + 1, off, ol); t[1 + ol] = 0; tl = 2 + ol;
    assert_int_equal(footer_case(t, tl, &sum, msg, sizeof msg), 0);
    assert_true(sum.end.complete && !sum.has_kinds && sum.end.events == 1 && sum.frames == 1);
    /* 1.1: with the frame's summary */
    size_t base = tl;
    uint8_t ok[] = { 4, 0x80, 0x04, 1, 4 };      /* 4 bytes, mask 1 << 9, count 1, 4 bytes */
    memcpy(t + base, ok, sizeof ok);
    assert_int_equal(footer_case(t, base + sizeof ok, &sum, msg, sizeof msg), 0);
    assert_true(sum.has_kinds && sum.kinds[UKVM_EV_RDTSC].count == 1 &&
            sum.kinds[UKVM_EV_RDTSC].raw_bytes == 4);
    uint8_t two[] = { 4, 0x80, 0x04, 2, 4 };     /* counts 2 events in a frame of 1 */
    memcpy(t + base, two, sizeof two);
    assert_int_equal(footer_case(t, base + sizeof two, &sum, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "frame summary"));
    uint8_t kind[] = { 4, 0x80, 0x80, 0x01, 1, 4 };   /* an unknown kind (bit 14) */
    memcpy(t + base, kind, sizeof kind);
    assert_int_equal(footer_case(t, base + sizeof kind, &sum, msg, sizeof msg), -1);
    uint8_t raw[] = { 4, 0x80, 0x04, 1, 9 };     /* more record bytes than the frame */
    memcpy(t + base, raw, sizeof raw);
    assert_int_equal(footer_case(t, base + sizeof raw, &sum, msg, sizeof msg), -1);
    /* a wrong offset, a wrong first event, a huge frame count, nothing */
    t[0] = 1; memcpy(t + 1, off, ol); t[1] ^= 1; t[1 + ol] = 0;
    assert_int_equal(footer_case(t, 2 + ol, &sum, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "does not match frame 0"));
    t[0] = 1; memcpy(t + 1, off, ol); t[1 + ol] = 1;
    assert_int_equal(footer_case(t, 2 + ol, &sum, msg, sizeof msg), -1);
    TAIL(0xff, 0xff, 0xff, 0xff, 0x0f);
    assert_int_equal(footer_case(t, tl, &sum, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "frames"));
    assert_int_equal(footer_case(t, 0, &sum, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "malformed footer"));
#undef TAIL
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(truncation_at_every_byte),
        cmocka_unit_test(random_bit_flips),
        cmocka_unit_test(forged_record_length),
        cmocka_unit_test(forged_header_counts),
        cmocka_unit_test(oversized_frame),
        cmocka_unit_test(structural_errors),
        cmocka_unit_test(hostile_index),
        cmocka_unit_test(decompression_bomb),
        cmocka_unit_test(zero_reads_are_padded),
        cmocka_unit_test(file_shrinks_while_read),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

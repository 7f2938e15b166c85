/* Trace writer and reader: round trips, header, positions, file handling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zstd.h>

#include "../../src/record/trace_codec.h"

static char dir[64];
static char err[256];

static const char *tpath(const char *name)
{
    static char p[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static uint8_t kernel[3000];
static struct ukvm_trace_device devs[2];
static struct ukvm_trace_cpuid cpuid[3];
static struct ukvm_trace_patch patches[2];

static struct ukvm_trace_header sample_header(void)
{
    for (size_t i = 0; i < sizeof kernel; i++)
        kernel[i] = (uint8_t)(i * 7 + (i >> 5));
    memset(devs, 0, sizeof devs);
    strcpy(devs[0].name, "storage");
    devs[0].type = 1;
    devs[0].mft_index = 0;
    devs[0].capacity = 1 << 20;
    devs[0].block_size = 512;
    memset(devs[1].name, 'n', sizeof devs[1].name - 1);   /* longest name */
    devs[1].type = 2;
    devs[1].mft_index = 1;
    memcpy(devs[1].mac, "\x02\x00\x10\x20\x30\x40", 6);
    devs[1].mtu = 1500;
    for (unsigned i = 0; i < 3; i++)
        cpuid[i] = (struct ukvm_trace_cpuid){ i, i + 1, 1, 0xdeadbeef, UINT32_MAX, i, 0 };
    patches[0] = (struct ukvm_trace_patch){ .addr = 0x100123, .len = 2, .kind = 1,
        .orig = { 0x0f, 0x31 } };
    patches[1] = (struct ukvm_trace_patch){ .addr = UINT64_MAX - 15, .len = 15, .kind = 3,
        .orig = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 } };
    struct ukvm_trace_header h = {
        .ukvm_version = "0.1-test",
        .kernel = kernel, .kernel_len = sizeof kernel,
        .cmdline = "--foo=bar baz",
        .mem_size = 512ull << 20, .tsc_hz = 2893300000ull, .start_walltime_ns = 1700000000123456789ull,
        .n_devices = 2, .devices = devs,
        .n_cpuid = 3, .cpuid = cpuid,
        .n_patches = 2, .patches = patches,
    };
    return h;
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/ukvm-trace-test.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A deterministic event sequence covering every kind. */
static uint8_t databuf[70000];

static struct ukvm_event make_event(uint64_t i)
{
    struct ukvm_event e;
    memset(&e, 0, sizeof e);
    e.kind = (uint32_t)(i % (UKVM_EV_KIND_MAX - 1)) + 1;
    e.rip = 0x100000 + (i * 37) % 4096 + ((i % 97) == 0 ? 0xffff000000000000ull : 0);
    unsigned n = trace_kind_nargs(e.kind);
    for (unsigned a = 0; a < n; a++)
        e.a[a] = (i * 0x9e3779b97f4a7c15ull) >> (a * 9);
    if (e.kind == UKVM_EV_RDTSC || e.kind == UKVM_EV_RDTSCP || e.kind == UKVM_EV_RDMSR_TSC)
        e.a[0] = 1000000 + i * 3000 - (i % 5) * 7;
    if (trace_kind_has_data(e.kind) && i % 3) {
        e.data_len = (uint32_t)((i * 131) % 3000);
        if (i % 1000 == 5)
            e.data_len = sizeof databuf;
        e.data = databuf + (i % 17);
        if (e.data_len > sizeof databuf - 17)
            e.data_len = sizeof databuf - 17;
        if (!e.data_len)
            e.data = NULL;
    }
    return e;
}

static void assert_event_equal(const struct ukvm_event *a, const struct ukvm_event *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_true(a->rip == b->rip);
    assert_memory_equal(a->a, b->a, sizeof a->a);
    assert_int_equal(a->data_len, b->data_len);
    if (a->data_len)
        assert_memory_equal(a->data, b->data, a->data_len);
}

static void write_events(const char *path, uint64_t n, int exit_status)
{
    struct ukvm_trace_header h = sample_header();
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(path, true, &h, err, sizeof err);
    assert_non_null(w);
    for (uint64_t i = 0; i < n; i++) {
        struct ukvm_event e = make_event(i);
        assert_int_equal(ukvm_trace_writer_event(w, &e, err, sizeof err), 0);
    }
    assert_int_equal(ukvm_trace_writer_event_count(w), n);
    assert_int_equal(ukvm_trace_writer_close(w, exit_status, err, sizeof err), 0);
}

static void header_round_trip(void **state)
{
    (void)state;
    const char *p = tpath("hdr.zst");
    write_events(p, 0, 0);
    struct ukvm_trace_reader *r = ukvm_trace_reader_open(p, err, sizeof err);
    assert_non_null(r);
    const struct ukvm_trace_header *h = ukvm_trace_reader_header(r);
    struct ukvm_trace_header s = sample_header();
    assert_int_equal(h->format_version, UKVM_TRACE_FORMAT_VERSION);
    assert_string_equal(h->ukvm_version, s.ukvm_version);
    assert_true(h->kernel_len == s.kernel_len);
    assert_memory_equal(h->kernel, s.kernel, s.kernel_len);
    uint8_t sum[32];
    trace_sha256(kernel, sizeof kernel, sum);
    assert_memory_equal(h->kernel_sha256, sum, 32);
    assert_string_equal(h->cmdline, s.cmdline);
    assert_true(h->mem_size == s.mem_size);
    assert_true(h->tsc_hz == s.tsc_hz);
    assert_true(h->start_walltime_ns == s.start_walltime_ns);
    assert_int_equal(h->n_devices, 2);
    assert_memory_equal(h->devices, devs, sizeof devs);
    assert_int_equal(h->n_cpuid, 3);
    assert_memory_equal(h->cpuid, cpuid, sizeof cpuid);
    assert_int_equal(h->n_patches, 2);
    for (int i = 0; i < 2; i++) {
        assert_true(h->patches[i].addr == patches[i].addr);
        assert_int_equal(h->patches[i].len, patches[i].len);
        assert_int_equal(h->patches[i].kind, patches[i].kind);
        assert_memory_equal(h->patches[i].orig, patches[i].orig, patches[i].len);
    }
    struct ukvm_event e;
    assert_int_equal(ukvm_trace_reader_next(r, &e, err, sizeof err), 0);
    struct ukvm_trace_end end;
    ukvm_trace_reader_end(r, &end);
    assert_true(end.complete);
    assert_int_equal(end.events, 0);
    ukvm_trace_reader_close(r);

    /* an empty header: no kernel, no cmdline, no tables */
    struct ukvm_trace_header empty = { .ukvm_version = "" };
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(tpath("empty.zst"), false, &empty,
            err, sizeof err);
    assert_non_null(w);
    assert_int_equal(ukvm_trace_writer_close(w, -3, err, sizeof err), 0);
    r = ukvm_trace_reader_open(tpath("empty.zst"), err, sizeof err);
    assert_non_null(r);
    h = ukvm_trace_reader_header(r);
    assert_true(h->kernel_len == 0);
    assert_string_equal(h->cmdline, "");
    assert_int_equal(ukvm_trace_reader_next(r, &e, err, sizeof err), 0);
    ukvm_trace_reader_end(r, &end);
    assert_true(end.complete);
    assert_int_equal(end.exit_status, -3);
    ukvm_trace_reader_close(r);
}

static void header_rejected_by_writer(void **state)
{
    (void)state;
    struct ukvm_trace_header h = sample_header();
    h.n_devices = UKVM_TRACE_MAX_DEVICES + 1;
    assert_null(ukvm_trace_writer_open(tpath("bad.zst"), true, &h, err, sizeof err));
    h = sample_header();
    patches[1].len = 16;
    assert_null(ukvm_trace_writer_open(tpath("bad.zst"), true, &h, err, sizeof err));
    h = sample_header();
    char *longcmd = malloc(TRACE_MAX_CMDLINE + 2);
    memset(longcmd, 'x', TRACE_MAX_CMDLINE + 1);
    longcmd[TRACE_MAX_CMDLINE + 1] = 0;
    h.cmdline = longcmd;
    assert_null(ukvm_trace_writer_open(tpath("bad.zst"), true, &h, err, sizeof err));
    free(longcmd);
    assert_int_equal(access(tpath("bad.zst"), F_OK), -1);
}

static void every_kind_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof databuf; i++)
        databuf[i] = (uint8_t)(i ^ (i >> 8));
    const char *p = tpath("all.zst");
    const uint64_t n = 20000;
    write_events(p, n, 42);
    struct ukvm_trace_reader *r = ukvm_trace_reader_open(p, err, sizeof err);
    assert_non_null(r);
    struct ukvm_event e;
    uint64_t frames = 0, last_frame = 0;
    for (uint64_t i = 0; i < n; i++) {
        assert_int_equal(ukvm_trace_reader_event_number(r), i);
        assert_int_equal(ukvm_trace_reader_next(r, &e, err, sizeof err), 1);
        struct ukvm_event want = make_event(i);
        assert_event_equal(&e, &want);
        struct ukvm_trace_event_info info;
        ukvm_trace_reader_event_info(r, &info);
        assert_true(info.record_bytes > 2);
        assert_true(info.frame_bytes > 0);
        if (info.frame_offset != last_frame) {
            frames++;
            last_frame = info.frame_offset;
        }
    }
    /* 4096 events per frame at most */
    assert_true(frames >= (n + 4095) / 4096);
    assert_int_equal(ukvm_trace_reader_next(r, &e, err, sizeof err), 0);
    assert_int_equal(ukvm_trace_reader_next(r, &e, err, sizeof err), 0);
    struct ukvm_trace_end end;
    ukvm_trace_reader_end(r, &end);
    assert_true(end.complete);
    assert_int_equal(end.events, n);
    assert_int_equal(end.exit_status, 42);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(end.valid_bytes, st.st_size);
    ukvm_trace_reader_close(r);
}

static void writer_rejects_bad_events(void **state)
{
    (void)state;
    struct ukvm_trace_header h = sample_header();
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(tpath("rej.zst"), true, &h, err, sizeof err);
    assert_non_null(w);
    struct ukvm_event e = { .kind = UKVM_EV_RDTSC, .a = { 1, 1 } };
    assert_int_equal(ukvm_trace_writer_event(w, &e, err, sizeof err), -1);
    assert_non_null(strstr(err, "not zero"));
    e = (struct ukvm_event){ .kind = 99 };
    assert_int_equal(ukvm_trace_writer_event(w, &e, err, sizeof err), -1);
    e = (struct ukvm_event){ .kind = UKVM_EV_HALT, .a = { 1 } };
    assert_int_equal(ukvm_trace_writer_event(w, &e, err, sizeof err), 0);
    assert_int_equal(ukvm_trace_writer_event_count(w), 1);
    assert_int_equal(ukvm_trace_writer_close(w, 1, err, sizeof err), 0);
}

static void refuses_overwrite(void **state)
{
    (void)state;
    const char *p = tpath("exists.zst");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("precious", f);
    fclose(f);
    struct ukvm_trace_header h = sample_header();
    assert_null(ukvm_trace_writer_open(p, false, &h, err, sizeof err));
    assert_non_null(strstr(err, "exists"));
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 8);
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(p, true, &h, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(ukvm_trace_writer_close(w, 0, err, sizeof err), 0);
    struct ukvm_trace_reader *r = ukvm_trace_reader_open(p, err, sizeof err);
    assert_non_null(r);
    ukvm_trace_reader_close(r);
    /* unwritable place */
    assert_null(ukvm_trace_writer_open("/nonexistent-dir/t.zst", false, &h, err, sizeof err));
    assert_non_null(strstr(err, "nonexistent"));
}

static void reader_open_errors(void **state)
{
    (void)state;
    assert_null(ukvm_trace_reader_open(tpath("missing.zst"), err, sizeof err));
    assert_non_null(strstr(err, "missing.zst"));
    assert_null(ukvm_trace_reader_open(dir, err, sizeof err));
    const char *p = tpath("junk");
    FILE *f = fopen(p, "w");
    fputs("this is not a trace at all", f);
    fclose(f);
    assert_null(ukvm_trace_reader_open(p, err, sizeof err));
    assert_non_null(strstr(err, "not a ukvm trace"));
    f = fopen(p, "w");
    fclose(f);
    assert_null(ukvm_trace_reader_open(p, err, sizeof err));
    assert_non_null(strstr(err, "empty"));
    /* a zstd file that is not a trace */
    char z[64];
    size_t zn = ZSTD_compress(z, sizeof z, "hello world, hello world", 24, 3);
    assert_false(ZSTD_isError(zn));
    assert_null(ukvm_trace_reader_open_mem(z, zn, err, sizeof err));
    assert_non_null(strstr(err, "magic"));
}

/* Replaces the first frame of `src` by a recompressed, edited copy. */
static void rewrite_header(const char *src, const char *dst, void (*edit)(uint8_t *, size_t))
{
    FILE *f = fopen(src, "rb");
    assert_non_null(f);
    static uint8_t file[1 << 20];
    size_t n = fread(file, 1, sizeof file, f);
    fclose(f);
    size_t cs = ZSTD_findFrameCompressedSize(file, n);
    assert_false(ZSTD_isError(cs));
    unsigned long long content = ZSTD_getFrameContentSize(file, cs);
    uint8_t *c = malloc(content);
    assert_int_equal(ZSTD_decompress(c, content, file, cs), content);
    edit(c, content);
    size_t bound = ZSTD_compressBound(content);
    uint8_t *z = malloc(bound);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    size_t zn = ZSTD_compress2(cc, z, bound, c, content);
    assert_false(ZSTD_isError(zn));
    ZSTD_freeCCtx(cc);
    f = fopen(dst, "wb");
    fwrite(z, 1, zn, f);
    fwrite(file + cs, 1, n - cs, f);
    fclose(f);
    free(c);
    free(z);
}

static void edit_major(uint8_t *c, size_t n)
{
    (void)n;
    c[8] = 2;
}

static void edit_minor(uint8_t *c, size_t n)
{
    (void)n;
    c[10] = 7;
}

static void edit_kernel(uint8_t *c, size_t n)
{
    /* the kernel is the bulk of the header: flip a byte in the middle */
    c[n / 2] ^= 1;
}

static void header_validation(void **state)
{
    (void)state;
    const char *p = tpath("v.zst");
    write_events(p, 10, 0);
    rewrite_header(p, tpath("v2.zst"), edit_major);
    assert_null(ukvm_trace_reader_open(tpath("v2.zst"), err, sizeof err));
    assert_non_null(strstr(err, "version 2.1 is newer"));
    /* a newer minor version of the same major reads */
    rewrite_header(p, tpath("v1.7.zst"), edit_minor);
    struct ukvm_trace_reader *r = ukvm_trace_reader_open(tpath("v1.7.zst"), err, sizeof err);
    assert_non_null(r);
    ukvm_trace_reader_close(r);
    rewrite_header(p, tpath("k.zst"), edit_kernel);
    assert_null(ukvm_trace_reader_open(tpath("k.zst"), err, sizeof err));
    assert_non_null(strstr(err, "SHA-256"));
}

static void check_same(struct ukvm_trace_reader *r, uint64_t from, uint64_t count)
{
    struct ukvm_event e;
    for (uint64_t i = from; i < from + count; i++) {
        assert_int_equal(ukvm_trace_reader_event_number(r), i);
        assert_int_equal(ukvm_trace_reader_next(r, &e, err, sizeof err), 1);
        struct ukvm_event want = make_event(i);
        assert_event_equal(&e, &want);
    }
}

static void tell_seek(void **state)
{
    (void)state;
    const char *p = tpath("seek.zst");
    const uint64_t n = 10000;
    write_events(p, n, 0);
    struct ukvm_trace_reader *r = ukvm_trace_reader_open(p, err, sizeof err);
    assert_non_null(r);
    static const uint64_t marks[] = { 0, 1, 2, 100, 4095, 4096, 4097, 8191, 8192, 9999, 10000 };
    enum { NM = sizeof marks / sizeof marks[0] };
    struct ukvm_trace_pos pos[NM];
    uint64_t at = 0;
    for (int m = 0; m < NM; m++) {
        check_same(r, at, marks[m] - at);
        at = marks[m];
        ukvm_trace_reader_tell(r, &pos[m]);
    }
    struct ukvm_event e;
    assert_int_equal(ukvm_trace_reader_next(r, &e, err, sizeof err), 0);
    struct ukvm_trace_pos endpos;
    ukvm_trace_reader_tell(r, &endpos);
    /* back and forth, in every order */
    for (int m = NM - 1; m >= 0; m--) {
        assert_int_equal(ukvm_trace_reader_seek(r, &pos[m]), 0);
        assert_int_equal(ukvm_trace_reader_event_number(r), marks[m]);
        check_same(r, marks[m], (n - marks[m]) < 50 ? n - marks[m] : 50);
    }
    for (int m = 0; m < NM; m++) {
        assert_int_equal(ukvm_trace_reader_seek(r, &pos[(m * 7) % NM]), 0);
        uint64_t s = marks[(m * 7) % NM];
        check_same(r, s, n - s);
        assert_int_equal(ukvm_trace_reader_next(r, &e, err, sizeof err), 0);
        struct ukvm_trace_end end;
        ukvm_trace_reader_end(r, &end);
        assert_true(end.complete);
        assert_int_equal(end.events, n);
    }
    assert_int_equal(ukvm_trace_reader_seek(r, &endpos), 0);
    assert_int_equal(ukvm_trace_reader_next(r, &e, err, sizeof err), 0);
    /* a position from another reader, or garbage, is refused */
    struct ukvm_trace_reader *r2 = ukvm_trace_reader_open(p, err, sizeof err);
    assert_non_null(r2);
    assert_int_equal(ukvm_trace_reader_seek(r2, &pos[3]), -1);
    struct ukvm_trace_pos junk = pos[5];
    junk.opaque[0] += 1;
    assert_int_equal(ukvm_trace_reader_seek(r, &junk), -1);
    junk = pos[5];
    junk.opaque[1] = 1u << 30;
    assert_int_equal(ukvm_trace_reader_seek(r, &junk), -1);
    /* still usable after refused seeks */
    assert_int_equal(ukvm_trace_reader_seek(r, &pos[4]), 0);
    check_same(r, marks[4], 10);
    ukvm_trace_reader_close(r2);
    ukvm_trace_reader_close(r);
}

static void abandoned_is_cut_short(void **state)
{
    (void)state;
    const char *p = tpath("cut.zst");
    struct ukvm_trace_header h = sample_header();
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(p, false, &h, err, sizeof err);
    assert_non_null(w);
    for (uint64_t i = 0; i < 5000; i++) {
        struct ukvm_event e = make_event(i);
        assert_int_equal(ukvm_trace_writer_event(w, &e, err, sizeof err), 0);
    }
    assert_int_equal(ukvm_trace_writer_abandon(w, err, sizeof err), 0);
    struct ukvm_trace_reader *r = ukvm_trace_reader_open(p, err, sizeof err);
    assert_non_null(r);
    check_same(r, 0, 5000);
    struct ukvm_event e;
    assert_int_equal(ukvm_trace_reader_next(r, &e, err, sizeof err), 0);
    struct ukvm_trace_end end;
    ukvm_trace_reader_end(r, &end);
    assert_false(end.complete);
    assert_int_equal(end.events, 5000);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(end.valid_bytes, st.st_size);
    ukvm_trace_reader_close(r);
}

static void killed_writer_leaves_readable_file(void **state)
{
    (void)state;
    const char *p = tpath("killed.zst");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct ukvm_trace_header h = sample_header();
        struct ukvm_trace_writer *w = ukvm_trace_writer_open(p, false, &h, err, sizeof err);
        if (!w)
            _exit(1);
        for (uint64_t i = 0; i < 5000; i++) {
            struct ukvm_event e = make_event(i);
            if (ukvm_trace_writer_event(w, &e, err, sizeof err) < 0)
                _exit(1);
        }
        raise(SIGKILL);
        _exit(2);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    struct ukvm_trace_reader *r = ukvm_trace_reader_open(p, err, sizeof err);
    assert_non_null(r);
    check_same(r, 0, 4096);     /* the first frame was flushed at 4096 events */
    struct ukvm_event e;
    int rc;
    uint64_t more = 0;
    while ((rc = ukvm_trace_reader_next(r, &e, err, sizeof err)) == 1)
        more++;
    assert_int_equal(rc, 0);
    struct ukvm_trace_end end;
    ukvm_trace_reader_end(r, &end);
    assert_false(end.complete);
    assert_int_equal(end.events, 4096 + more);
    ukvm_trace_reader_close(r);
}

static off_t file_size(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
}

static void time_based_flush(void **state)
{
    (void)state;
    const char *p = tpath("timed.zst");
    struct ukvm_trace_header h = sample_header();
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(p, false, &h, err, sizeof err);
    assert_non_null(w);
    off_t hdr = file_size(p);
    struct ukvm_event e = make_event(0);
    assert_int_equal(ukvm_trace_writer_event(w, &e, err, sizeof err), 0);
    assert_int_equal(file_size(p), hdr);        /* buffered */
    struct timespec ts = { 0, 300 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    e = make_event(1);
    assert_int_equal(ukvm_trace_writer_event(w, &e, err, sizeof err), 0);
    assert_true(file_size(p) > hdr);            /* flushed: 250 ms passed */
    off_t one = file_size(p);
    assert_int_equal(ukvm_trace_writer_flush(w, err, sizeof err), 0);   /* nothing pending */
    assert_int_equal(file_size(p), one);
    assert_int_equal(ukvm_trace_writer_close(w, 0, err, sizeof err), 0);
    struct ukvm_trace_reader *r = ukvm_trace_reader_open(p, err, sizeof err);
    check_same(r, 0, 2);
    struct ukvm_trace_end end;
    assert_int_equal(ukvm_trace_reader_next(r, &e, err, sizeof err), 0);
    ukvm_trace_reader_end(r, &end);
    assert_true(end.complete);
    assert_true(end.elapsed_ns >= 300 * 1000 * 1000ull);
    ukvm_trace_reader_close(r);
}

/*
 * The size target: a guest that reads the clock in a loop (rdtsc and
 * walltime alternately, from two sites) must cost at most 8 bytes per event
 * after compression. The deltas carry ~10 bits of jitter, as a real
 * recording's would (the time of a trap and an exit varies).
 */
static void clock_events_are_small(void **state)
{
    (void)state;
    const char *p = tpath("clock.zst");
    struct ukvm_trace_header h = { .ukvm_version = "x" };
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(p, false, &h, err, sizeof err);
    assert_non_null(w);
    off_t hdr = file_size(p);
    uint64_t x = 88172645463325252ull, tsc = 1ull << 40, wall = 1700000000000000000ull;
    const uint64_t n = 200000;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        struct ukvm_event e = { 0 };
        if (i & 1) {
            wall += 1500 + (x & 1023);
            e.kind = UKVM_EV_WALLTIME;
            e.rip = 0x104a2c;
            e.a[0] = wall;
        } else {
            tsc += 4200 + (x & 2047);
            e.kind = UKVM_EV_RDTSC;
            e.rip = 0x1031f0;
            e.a[0] = tsc;
        }
        assert_int_equal(ukvm_trace_writer_event(w, &e, err, sizeof err), 0);
    }
    assert_int_equal(ukvm_trace_writer_close(w, 0, err, sizeof err), 0);
    double per = (double)(file_size(p) - hdr) / (double)n;
    print_message("clock events: %.2f bytes/event (compressed, footer included)\n", per);
    assert_true(per <= 8.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_round_trip),
        cmocka_unit_test(header_rejected_by_writer),
        cmocka_unit_test(every_kind_round_trip),
        cmocka_unit_test(writer_rejects_bad_events),
        cmocka_unit_test(refuses_overwrite),
        cmocka_unit_test(reader_open_errors),
        cmocka_unit_test(header_validation),
        cmocka_unit_test(tell_seek),
        cmocka_unit_test(abandoned_is_cut_short),
        cmocka_unit_test(killed_writer_leaves_readable_file),
        cmocka_unit_test(time_based_flush),
        cmocka_unit_test(clock_events_are_small),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

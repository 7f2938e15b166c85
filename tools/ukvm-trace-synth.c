/*
 * ukvm-trace-synth: writes synthetic traces with the trace writer, for tests
 * and the fuzzing seed corpus (no VM involved).
 *
 *   ukvm-trace-synth [options] OUT
 *     --events N       number of events (default 100)
 *     --clock          only rdtsc/walltime events (a clock-reading loop)
 *     --flush-every K  end a frame every K events (default: the writer's policy)
 *     --cut            leave the trace cut short (no footer), as a killed recorder
 *     --kernel FILE    embed FILE as the kernel (default: 64 synthetic bytes)
 *     --exit S         exit status in the footer (default 0)
 *     --seed S         seed for the synthetic values (default 1)
 *     --force          overwrite OUT
 *     --version S      the ukvm version string (at most 31 bytes)
 *     --cmdline S      the command line
 *     --device-name S  the name of the block device (the net device is S2)
 *     --puts-text S    the console text of every puts (default "hello world\n")
 *     --no-text        puts events without console text (as format 1.0 wrote)
 *     --bomb N         instead of events: N frames of a few kilobytes that
 *                      each expand to 64 MiB, as a hostile file would (no footer)
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "ukvm/hvt_abi.h"
#include "ukvm/scan.h"
#include "ukvm/trace.h"

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("ukvm-trace-synth: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t rng;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint8_t *read_file(const char *path, uint64_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *p = malloc(cap);
    size_t got;
    while (p && (got = fread(p + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            p = realloc(p, cap *= 2);
    }
    fclose(f);
    if (!p)
        die("out of memory");
    *len = n;
    return p;
}

/* A varint (LEB128), for the hand-made bomb frames. */
static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    for (; v >= 0x80; v >>= 7)
        p[n++] = (uint8_t)(v | 0x80);
    p[n++] = (uint8_t)v;
    return n;
}

/*
 * Appends n frames whose content is 64 MiB: a FRAME record (first event 0),
 * then one optional record (tag 0x41) of zeros; zstd turns them into a few
 * kilobytes of RLE blocks. This bypasses the writer, which never writes such
 * frames.
 */
static void append_bombs(const char *path, uint64_t n)
{
    size_t len = 64u << 20;
    uint8_t *content = calloc(1, len);
    size_t bound = ZSTD_compressBound(len);
    uint8_t *out = malloc(bound);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    if (!content || !out || !cc)
        die("out of memory");
    size_t k = 0;
    content[k++] = 0x02;                    /* FRAME: first_event 0, elapsed 0 */
    content[k++] = 2;
    content[k++] = 0;
    content[k++] = 0;
    content[k++] = 0x41;                    /* an optional record filling the rest */
    uint8_t v[10];
    size_t plen = len - k - 4;              /* its length takes 4 bytes */
    if (put_varint(v, plen) != 4)
        die("internal error: bomb record length");
    memcpy(content + k, v, 4);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    size_t c = ZSTD_compress2(cc, out, bound, content, len);
    if (ZSTD_isError(c))
        die("compressing: %s", ZSTD_getErrorName(c));
    FILE *f = fopen(path, "ab");
    if (!f)
        die("%s: %s", path, strerror(errno));
    for (uint64_t i = 0; i < n; i++)
        if (fwrite(out, 1, c, f) != c)
            die("%s: write failed", path);
    if (fclose(f) != 0)
        die("%s: %s", path, strerror(errno));
    ZSTD_freeCCtx(cc);
    free(out);
    free(content);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "events", required_argument, NULL, 'n' },
        { "clock", no_argument, NULL, 'c' },
        { "flush-every", required_argument, NULL, 'F' },
        { "cut", no_argument, NULL, 'x' },
        { "kernel", required_argument, NULL, 'k' },
        { "exit", required_argument, NULL, 'e' },
        { "seed", required_argument, NULL, 's' },
        { "force", no_argument, NULL, 'f' },
        { "version", required_argument, NULL, 'V' },
        { "cmdline", required_argument, NULL, 'C' },
        { "device-name", required_argument, NULL, 'D' },
        { "bomb", required_argument, NULL, 'B' },
        { "puts-text", required_argument, NULL, 'P' },
        { "no-text", no_argument, NULL, 'T' },
        { NULL, 0, NULL, 0 },
    };
    uint64_t events = 100, flush_every = 0, bombs = 0;
    const char *version = "synth", *cmdline = "synthetic trace", *dev_name = NULL;
    bool clock_only = false, cut = false, force = false, text = true;
    const char *puts_text = "hello world\n";
    const char *kernel_path = NULL;
    int exit_status = 0;
    rng = 1;
    int c;
    while ((c = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
        switch (c) {
        case 'n': events = strtoull(optarg, NULL, 0); break;
        case 'c': clock_only = true; break;
        case 'F': flush_every = strtoull(optarg, NULL, 0); break;
        case 'x': cut = true; break;
        case 'k': kernel_path = optarg; break;
        case 'e': exit_status = atoi(optarg); break;
        case 's': rng = strtoull(optarg, NULL, 0) * 0x9e3779b97f4a7c15ull | 1; break;
        case 'f': force = true; break;
        case 'P': puts_text = optarg; break;
        case 'T': text = false; break;
        case 'V': version = optarg; break;
        case 'C': cmdline = optarg; break;
        case 'D': dev_name = optarg; break;
        case 'B': bombs = strtoull(optarg, NULL, 0); break;
        default: die("bad option (see the comment at the top of tools/ukvm-trace-synth.c)");
        }
    }
    if (optind != argc - 1)
        die("usage: ukvm-trace-synth [options] OUT");

    uint8_t synthetic[64];
    for (size_t i = 0; i < sizeof synthetic; i++)
        synthetic[i] = (uint8_t)(i * 3);
    memcpy(synthetic, "\x7f" "ELF", 4);
    uint64_t klen = sizeof synthetic;
    uint8_t *kernel = kernel_path ? read_file(kernel_path, &klen) : synthetic;

    /* As in a real Solo5 kernel, manifest entry 0 is the reserved entry:
     * the devices are entries (and handles) 1 and 2. */
    struct ukvm_trace_device devs[2] = {
        { .name = "storage", .type = HVT_MFT_DEV_BLOCK_BASIC, .mft_index = 1,
          .capacity = 1 << 20, .block_size = 512 },
        { .name = "service0", .type = HVT_MFT_DEV_NET_BASIC, .mft_index = 2,
          .mac = { 2, 0, 0, 0, 0, 1 }, .mtu = 1500 },
    };
    if (dev_name) {
        if (strlen(dev_name) + 1 >= sizeof devs[0].name)
            die("--device-name: at most %zu bytes", sizeof devs[0].name - 2);
        snprintf(devs[0].name, sizeof devs[0].name, "%s", dev_name);
        snprintf(devs[1].name, sizeof devs[1].name, "%s2", dev_name);
    }
    struct ukvm_trace_cpuid cpuid[2] = {
        { 0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69 },
        { 1, 0, 0, 0x906ea, 0x800, 0x3ffafbff, 0x178bfbff },
    };
    struct ukvm_trace_patch patches[2] = {
        { .addr = 0x100040, .len = 2, .kind = UKVM_PATCH_RDTSC, .orig = { 0x0f, 0x31 } },
        { .addr = 0x100080, .len = 4, .kind = UKVM_PATCH_RDRAND, .orig = { 0x48, 0x0f, 0xc7, 0xf0 } },
    };
    struct ukvm_trace_header h = {
        .kernel = kernel, .kernel_len = klen,
        .cmdline = cmdline,
        .mem_size = 32 << 20, .tsc_hz = 2000000000, .start_walltime_ns = 1700000000000000000ull,
        .n_devices = 2, .devices = devs, .n_cpuid = 2, .cpuid = cpuid,
        .n_patches = 2, .patches = patches,
    };
    if (strlen(version) >= sizeof h.ukvm_version)
        die("--version: at most %zu bytes", sizeof h.ukvm_version - 1);
    snprintf(h.ukvm_version, sizeof h.ukvm_version, "%s", version);
    char err[256];
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(argv[optind], force, &h, err, sizeof err);
    if (!w)
        die("%s", err);
    if (bombs) {
        if (ukvm_trace_writer_abandon(w, err, sizeof err) < 0)
            die("%s", err);
        append_bombs(argv[optind], bombs);
        return 0;
    }

    static uint8_t data[2048];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)rnd();
    uint64_t tsc = 1000000, wall = 1700000000000000000ull;
    for (uint64_t i = 0; i < events; i++) {
        struct ukvm_event e = { 0 };
        unsigned k = clock_only ? (i & 1 ? UKVM_EV_WALLTIME : UKVM_EV_RDTSC)
                                : (unsigned)(i % (UKVM_EV_KIND_MAX - 1)) + 1;
        if (i + 1 == events && !clock_only)
            k = UKVM_EV_HALT;
        e.kind = k;
        e.rip = 0x100000 + ((k * 0x40 + (rnd() & 3)) & 0xfff);
        switch (k) {
        case UKVM_EV_WALLTIME: wall += 1000 + (rnd() & 1023); e.a[0] = wall; break;
        case UKVM_EV_RDTSC: case UKVM_EV_RDMSR_TSC:
            tsc += 3000 + (rnd() & 2047); e.a[0] = tsc; break;
        case UKVM_EV_RDTSCP: tsc += 3000 + (rnd() & 2047); e.a[0] = tsc; e.a[1] = 0; break;
        case UKVM_EV_PUTS:
            e.a[0] = strlen(puts_text);
            e.a[1] = ukvm_digest(puts_text, e.a[0]);
            if (text && e.a[0]) {
                e.text = (const uint8_t *)puts_text;
                e.text_len = (uint32_t)e.a[0];
            }
            break;
        case UKVM_EV_POLL: e.a[0] = 1000000; e.a[1] = (rnd() & 1) << 2; e.a[2] = e.a[1] != 0;
            break;
        case UKVM_EV_BLOCK_WRITE: e.a[0] = 1; e.a[1] = (i % 64) * 512; e.a[2] = 512;
            e.a[3] = ukvm_digest(data, 512); e.a[4] = 0; break;
        case UKVM_EV_BLOCK_READ: e.a[0] = 1; e.a[1] = (i % 64) * 512; e.a[2] = 512; e.a[3] = 0;
            e.data = data + (i % 512); e.data_len = 512; break;
        case UKVM_EV_NET_WRITE: e.a[0] = 2; e.a[1] = 60; e.a[2] = ukvm_digest(data, 60); e.a[3] = 0;
            break;
        case UKVM_EV_NET_READ: e.a[0] = 2; e.a[1] = 1514; e.a[2] = 0; e.a[3] = 60;
            e.data = data + (i % 64); e.data_len = 60; break;
        case UKVM_EV_HALT: e.a[0] = (uint32_t)exit_status; e.a[1] = 0; break;
        case UKVM_EV_RDRAND: case UKVM_EV_RDSEED: e.a[0] = rnd(); e.a[1] = 64; e.a[2] = 1; break;
        }
        if (ukvm_trace_writer_event(w, &e, err, sizeof err) < 0)
            die("%s", err);
        if (flush_every && (i + 1) % flush_every == 0 && ukvm_trace_writer_flush(w, err, sizeof err) < 0)
            die("%s", err);
    }
    int rc = cut ? ukvm_trace_writer_abandon(w, err, sizeof err)
                 : ukvm_trace_writer_close(w, exit_status, err, sizeof err);
    if (rc < 0)
        die("%s", err);
    if (kernel != synthetic)
        free(kernel);
    return 0;
}

/*
 * ukvm-trace: look inside a ukvm trace (docs/trace-format.md).
 *
 *   ukvm-trace info TRACE
 *   ukvm-trace dump [--from N] [--count M] [--data] TRACE
 *   ukvm-trace stats TRACE
 *   ukvm-trace grep [-F] [-i] PATTERN TRACE   console lines matching (exit 3: none)
 *   ukvm-trace verify TRACE          exit 0 complete, 2 cut short, 1 corrupt
 *   ukvm-trace extract-kernel -o FILE TRACE
 *   ukvm-trace pcap -o FILE [-f] [--from N] [--to N] [--net=NAME] TRACE
 *   ukvm-trace edit TRACE OUT --event N [--arg I=VALUE]... [--rip VALUE] [--kind K]
 *                   [--byte O=VALUE] [--force]
 *   ukvm-trace diff [--ignore=KIND,...] [--context N] A B
 *
 * Errors are one line on stderr ("ukvm-trace: ...") and a non-zero exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <regex.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ukvm/hvt_abi.h"
#include "ukvm/scan.h"
#include "ukvm/trace.h"
#include "record/console_lines.h"
#include "record/event_format.h"
#include "record/net_pcap.h"
#include "trace_diff.h"
#include "trace_print.h"

#define EXIT_CUT 2

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("ukvm-trace: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static const char usage_text[] =
          "usage: ukvm-trace info TRACE\n"
          "       ukvm-trace dump [--from N] [--count M] [--data] TRACE\n"
          "       ukvm-trace stats TRACE\n"
          "       ukvm-trace grep [-F] [-i] PATTERN TRACE\n"
          "       ukvm-trace verify TRACE\n"
          "       ukvm-trace extract-kernel -o FILE [-f] TRACE\n"
          "       ukvm-trace pcap -o FILE [-f] [--from N] [--to N] [--net=NAME] TRACE\n"
          "       ukvm-trace edit TRACE OUT --event N [--arg I=VALUE]... [--rip VALUE]\n"
          "                  [--kind KIND] [--byte O=VALUE] [--force]\n"
          "       ukvm-trace diff [--ignore=KIND,...] [--context N] A B\n"
          "\n"
          "Looks inside a trace written by `ukvm record`, checks it, edits copies of\n"
          "it and compares two of them.\n"
          "\n"
          "commands:\n"
          "  info             the header (kernel, arguments, devices) and how the trace ends\n"
          "  dump             one line per event, then how the trace ends\n"
          "  stats            events and bytes per kind of event\n"
          "  grep             the guest's console lines (only those) that match PATTERN, an\n"
          "                   extended regular expression, each after the event that wrote it\n"
          "  verify           reads every event: complete, cut short or corrupt (exit status)\n"
          "  extract-kernel   writes the recorded kernel to FILE\n"
          "  pcap             writes the frames the guest read to FILE as pcapng, one\n"
          "                   interface per net device, each frame commented with its\n"
          "                   event number (written frames: only digests are in a trace;\n"
          "                   `ukvm replay --pcap` writes both)\n"
          "  edit             writes a copy of TRACE to OUT with event N changed\n"
          "  diff             compares two recordings of the same kernel: the first event\n"
          "                   where they part, with --context events around it from each side\n"
          "                   (one line when the same on both), what differs (kind, rip,\n"
          "                   arguments; of the bytes read, the first that differs), then\n"
          "                   events by kind on each side and, from the first difference\n"
          "                   on, how many pairs at the same place differ\n"
          "\n"
          "options:\n"
          "  --from N         (dump) start at event N\n"
          "  --count M        (dump) at most M events\n"
          "  --data           (dump) also the bytes net_read and block_read gave the guest,\n"
          "                   in hex and as printable characters\n"
          "  -F               (grep) PATTERN is a plain string, not a regular expression\n"
          "  -i               (grep) ignore case\n"
          "  -o FILE          (extract-kernel, pcap) the file to write\n"
          "  -f               (extract-kernel, pcap) overwrite FILE\n"
          "  --from/--to N    (pcap) only events N..M\n"
          "  --net NAME       (pcap) only that net device\n"
          "  --event N        (edit) the event to change (required)\n"
          "  --arg I=VALUE    (edit) set its argument I (0-5; as dump names them) to VALUE\n"
          "  --rip VALUE      (edit) set the instruction address it is recorded at\n"
          "  --kind KIND      (edit) make it an event of another kind (a dump name)\n"
          "  --byte O=VALUE   (edit) set byte O (an offset) of the data a net_read or block_read\n"
          "                   gave the guest to VALUE (0-255)\n"
          "  --force          (edit) overwrite OUT\n"
          "  --ignore KINDS   (diff) leave out events of these kinds (dump names, separated\n"
          "                   by commas) on both sides, e.g. walltime,rdtsc,rdtscp: clocks\n"
          "                   differ from run to run\n"
          "  --context N      (diff) events shown before and after the first difference\n"
          "                   (default 3)\n"
          "\n"
          "exit status:\n"
          "  0                done (grep: a line matched; verify: the trace is complete;\n"
          "                   diff: the traces are the same)\n"
          "  1                bad arguments, an unreadable or corrupt trace (one line on stderr);\n"
          "                   (diff) the traces differ, or are of different kernels (one line)\n"
          "  2                (verify) the trace is cut short (a recorder that was killed);\n"
          "                   (diff) the same as far as a cut-short trace goes\n"
          "  3                (grep) no line matched\n";

/* Bad arguments: one line, like every other error. */
static void usage(void)
{
    fputs("ukvm-trace: bad or missing arguments (see ukvm-trace --help)\n", stderr);
    exit(1);
}

/* getopt refused argv[optind - 1] (the option string starts with ':'). */
static void bad_option(const char *cmd, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        die("%s: option '%s' needs a value (see ukvm-trace --help)", cmd, arg);
    if (optopt && strncmp(arg, "--", 2))
        die("%s: unknown option '-%c' (see ukvm-trace --help)", cmd, optopt);
    die("%s: unknown option '%s' (see ukvm-trace --help)", cmd, arg);
}

/* After the options: exactly `want` operands, named by `names`. */
static void want_operands(const char *cmd, int argc, int want, const char *names)
{
    if (argc - optind != want)
        die("%s takes %s after its options, not %d argument%s (see ukvm-trace --help)", cmd,
                names, argc - optind, argc - optind == 1 ? "" : "s");
}

static struct ukvm_trace_reader *open_trace(const char *path)
{
    char err[256];
    struct ukvm_trace_reader *r = ukvm_trace_reader_open(path, err, sizeof err);
    if (!r)
        die("%s", err);
    return r;
}

static uint64_t parse_u64(const char *s, const char *what)
{
    char *end;
    errno = 0;
    uint64_t v;
    if (s[0] == '-')
        v = (uint64_t)strtoll(s, &end, 0);
    else
        v = strtoull(s, &end, 0);
    if (errno || end == s || *end)
        die("bad %s '%s'", what, s);
    return v;
}

/* ---- describing events ---- */

static const char *patch_kind(unsigned k)
{
    switch (k) {
    case UKVM_PATCH_RDTSC: return "rdtsc";
    case UKVM_PATCH_RDTSCP: return "rdtscp";
    case UKVM_PATCH_RDRAND: return "rdrand";
    case UKVM_PATCH_RDSEED: return "rdseed";
    default: return "?";
    }
}

/* Reads every event (calling fn for each); returns next()'s final status. */
static int read_events(struct ukvm_trace_reader *r,
        void (*fn)(struct ukvm_trace_reader *, uint64_t, const struct ukvm_event *, void *),
        void *arg, char *err, size_t errlen)
{
    struct ukvm_event e;
    int rc;
    while (true) {
        uint64_t n = ukvm_trace_reader_event_number(r);
        rc = ukvm_trace_reader_next(r, &e, err, errlen);
        if (rc != 1)
            break;
        if (fn)
            fn(r, n, &e, arg);
    }
    return rc;
}

/* ---- info ---- */

/* A string that came from the trace, escaped (trace_print.h). */
static void print_escaped(const char *s)
{
    trace_print_escaped(stdout, (const uint8_t *)s, strlen(s));
}

static int cmd_info(const char *path)
{
    struct ukvm_trace_reader *r = open_trace(path);
    const struct ukvm_trace_header *h = ukvm_trace_reader_header(r);
    /* From the frame index: no event frame is decompressed (verify does). */
    char err[256];
    struct ukvm_trace_summary sum;
    if (ukvm_trace_reader_summary(r, &sum, err, sizeof err) < 0)
        die("%s", err);
    printf("format version: %u\n", h->format_version);
    printf("ukvm version: ");
    print_escaped(h->ukvm_version);
    printf("\nkernel: %" PRIu64 " bytes, sha256 ", h->kernel_len);
    for (int i = 0; i < 32; i++)
        printf("%02x", h->kernel_sha256[i]);
    printf("\ncmdline: ");
    print_escaped(h->cmdline);
    putchar('\n');
    printf("memory: %" PRIu64 " bytes (%" PRIu64 " MiB)\n", h->mem_size, h->mem_size >> 20);
    printf("tsc: %" PRIu64 " Hz\n", h->tsc_hz);
    printf("start walltime: %" PRIu64 " ns\n", h->start_walltime_ns);
    printf("devices: %u\n", h->n_devices);
    for (uint32_t i = 0; i < h->n_devices; i++) {
        const struct ukvm_trace_device *d = &h->devices[i];
        if (d->type == HVT_MFT_DEV_BLOCK_BASIC)
            printf("  [%u] block ", d->mft_index);
        else if (d->type == HVT_MFT_DEV_NET_BASIC)
            printf("  [%u] net ", d->mft_index);
        else
            printf("  [%u] type %u ", d->mft_index, d->type);
        print_escaped(d->name);
        if (d->type == HVT_MFT_DEV_BLOCK_BASIC)
            printf(": capacity %" PRIu64 ", block size %u", d->capacity, d->block_size);
        else if (d->type == HVT_MFT_DEV_NET_BASIC)
            printf(": mac %02x:%02x:%02x:%02x:%02x:%02x, mtu %u", d->mac[0], d->mac[1],
                    d->mac[2], d->mac[3], d->mac[4], d->mac[5], d->mtu);
        putchar('\n');
    }
    printf("cpuid entries: %u\n", h->n_cpuid);
    printf("patches: %u\n", h->n_patches);
    for (uint32_t i = 0; i < h->n_patches; i++) {
        const struct ukvm_trace_patch *p = &h->patches[i];
        printf("  0x%" PRIx64 " %s len %u:", p->addr, patch_kind(p->kind), p->len);
        for (unsigned k = 0; k < p->len && k < 15; k++)
            printf(" %02x", p->orig[k]);
        putchar('\n');
    }
    trace_print_end(stdout, "end: ", &sum.end);
    printf("event frames: %" PRIu64 "\n", sum.frames);
    ukvm_trace_reader_close(r);
    return 0;
}

/* ---- dump ---- */

struct dump_range {
    uint64_t from, count;
    bool data;                  /* --data: the bytes of net_read and block_read */
};

static void dump_one(struct ukvm_trace_reader *r, uint64_t n, const struct ukvm_event *e, void *arg)
{
    (void)r;
    const struct dump_range *d = arg;
    if (n < d->from || n - d->from >= d->count)
        return;
    trace_print_event(stdout, n, e);
    if (d->data && e->data_len && (e->kind == UKVM_EV_NET_READ || e->kind == UKVM_EV_BLOCK_READ))
        trace_print_data(stdout, e->data, e->data_len);
}

static int cmd_dump(int argc, char **argv)
{
    struct dump_range d = { 0, UINT64_MAX, false };
    static const struct option opts[] = {
        { "from", required_argument, NULL, 'f' },
        { "count", required_argument, NULL, 'n' },
        { "data", no_argument, NULL, 'd' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, ":f:n:", opts, NULL)) != -1) {
        if (c == 'f')
            d.from = parse_u64(optarg, "event number");
        else if (c == 'n')
            d.count = parse_u64(optarg, "count");
        else if (c == 'd')
            d.data = true;
        else
            bad_option("dump", c, argv);
    }
    want_operands("dump", argc, 1, "one TRACE");
    struct ukvm_trace_reader *r = open_trace(argv[optind]);
    char err[256];
    /* Start at the frame that holds event `from` (the frame index). */
    if (d.from && ukvm_trace_reader_goto(r, d.from, err, sizeof err) < 0)
        die("%s", err);
    if (read_events(r, dump_one, &d, err, sizeof err) < 0)
        die("%s", err);
    struct ukvm_trace_end end;
    ukvm_trace_reader_end(r, &end);
    trace_print_end(stdout, "end: ", &end);
    ukvm_trace_reader_close(r);
    return 0;
}

/* ---- stats ---- */

struct kind_stats {
    uint64_t count, raw;
    double comp;
};

static void stat_one(struct ukvm_trace_reader *r, uint64_t n, const struct ukvm_event *e, void *arg)
{
    (void)n;
    struct kind_stats *ks = arg;
    struct ukvm_trace_event_info info;
    ukvm_trace_reader_event_info(r, &info);
    struct kind_stats *k = &ks[e->kind < UKVM_EV_KIND_MAX ? e->kind : 0];
    k->count++;
    k->raw += info.record_bytes;
    /* this event's share of its frame's compressed bytes */
    if (info.frame_event_bytes)
        k->comp += (double)info.frame_bytes * info.record_bytes / (double)info.frame_event_bytes;
}

static int cmd_stats(const char *path)
{
    struct ukvm_trace_reader *r = open_trace(path);
    struct kind_stats ks[UKVM_EV_KIND_MAX] = { { 0, 0, 0 } };
    char err[256];
    struct ukvm_trace_summary sum;
    struct ukvm_trace_end end;
    struct ukvm_trace_event_info info = { 0 };
    if (ukvm_trace_reader_summary(r, &sum, err, sizeof err) < 0)
        die("%s", err);
    if (sum.has_kinds && sum.end.complete) {
        /* the footer's per-frame summaries: nothing else to decompress */
        for (unsigned k = 1; k < UKVM_EV_KIND_MAX; k++)
            ks[k] = (struct kind_stats){ sum.kinds[k].count, sum.kinds[k].raw_bytes,
                sum.kinds[k].comp_bytes };
        end = sum.end;
        info.file_bytes = sum.file_bytes;
        info.header_bytes = sum.header_bytes;
    } else {
        /* a 1.0 trace or a cut-short one: count every event */
        if (read_events(r, stat_one, ks, err, sizeof err) < 0)
            die("%s", err);
        ukvm_trace_reader_end(r, &end);
        ukvm_trace_reader_event_info(r, &info);
    }
    const struct ukvm_trace_header *h = ukvm_trace_reader_header(r);

    printf("%-12s %12s %14s %14s %10s %10s\n", "kind", "events", "raw bytes", "compressed",
            "raw/event", "comp/event");
    struct kind_stats tot = { 0, 0, 0 };
    for (unsigned k = 1; k < UKVM_EV_KIND_MAX; k++) {
        if (!ks[k].count)
            continue;
        printf("%-12s %12" PRIu64 " %14" PRIu64 " %14.0f %10.2f %10.2f\n", ukvm_event_kind_name(k),
                ks[k].count, ks[k].raw, ks[k].comp, (double)ks[k].raw / (double)ks[k].count,
                ks[k].comp / (double)ks[k].count);
        tot.count += ks[k].count;
        tot.raw += ks[k].raw;
        tot.comp += ks[k].comp;
    }
    printf("%-12s %12" PRIu64 " %14" PRIu64 " %14.0f %10.2f %10.2f\n", "all", tot.count, tot.raw,
            tot.comp, tot.count ? (double)tot.raw / (double)tot.count : 0.0,
            tot.count ? tot.comp / (double)tot.count : 0.0);
    uint64_t other = info.file_bytes - info.header_bytes - (uint64_t)(tot.comp + 0.5);
    printf("file: %" PRIu64 " bytes = header %" PRIu64 " (kernel %" PRIu64 ") + events %.0f + "
            "footer and rest %" PRId64 "\n", info.file_bytes, info.header_bytes, h->kernel_len,
            tot.comp, (int64_t)other);
    if (tot.count)
        printf("bytes/event overall (whole file): %.2f\n",
                (double)info.file_bytes / (double)tot.count);
    double secs = (double)end.elapsed_ns / 1e9;
    printf("events: %" PRIu64 " in %.3f s of recording", end.events, secs);
    if (end.elapsed_ns)
        printf(", %.0f events/s", (double)end.events / secs);
    putchar('\n');
    trace_print_end(stdout, "end: ", &end);
    ukvm_trace_reader_close(r);
    return 0;
}

/* ---- grep ---- */

struct grep_state {
    regex_t re;
    const char *fixed;          /* -F: a plain substring */
    bool icase;                 /* -i */
    uint64_t matches, puts, texts;
};

/* -F -i: does line hold s, letters of either case alike? */
static bool has_icase(const uint8_t *line, size_t len, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp((const char *)line + i, s, n) == 0)
            return true;
    return false;
}

static void grep_line(uint64_t event, const uint8_t *line, size_t len, void *arg)
{
    struct grep_state *g = arg;
    bool hit;
    if (g->fixed) {
        hit = g->icase ? has_icase(line, len, g->fixed)
                       : memmem(line, len, g->fixed, strlen(g->fixed)) != NULL;
    } else {
        /* regexec wants a C string: a NUL in the line ends it */
        char *s = strndup((const char *)line, len);
        if (!s)
            die("out of memory");
        hit = regexec(&g->re, s, 0, NULL, 0) == 0;
        free(s);
    }
    if (!hit)
        return;
    g->matches++;
    printf("#%" PRIu64 " ", event);
    trace_print_escaped(stdout, line, len);
    putchar('\n');
}

static int cmd_grep(int argc, char **argv)
{
    struct grep_state g = { 0 };
    bool fixed = false;
    int c;
    while ((c = getopt(argc, argv, ":Fi")) != -1) {
        if (c == 'F')
            fixed = true;
        else if (c == 'i')
            g.icase = true;
        else
            bad_option("grep", c, argv);
    }
    want_operands("grep", argc, 2, "PATTERN and TRACE");
    const char *pattern = argv[optind];
    if (fixed) {
        g.fixed = pattern;
    } else {
        int rc = regcomp(&g.re, pattern, REG_EXTENDED | REG_NOSUB | (g.icase ? REG_ICASE : 0));
        if (rc) {
            char msg[128];
            regerror(rc, &g.re, msg, sizeof msg);
            die("bad pattern '%s': %s", pattern, msg);
        }
    }
    struct ukvm_trace_reader *r = open_trace(argv[optind + 1]);
    struct console_lines cl = { 0 };
    struct ukvm_event e;
    char err[256];
    int rc;
    /* lines of the console as the guest wrote it, each named by the event
     * that wrote its first byte (what `ukvm replay --mark-output` shows) */
    while ((rc = ukvm_trace_reader_next(r, &e, err, sizeof err)) == 1) {
        if (e.kind != UKVM_EV_PUTS)
            continue;
        g.puts++;
        if (e.text_len) {
            g.texts++;
            console_lines_feed(&cl, ukvm_trace_reader_event_number(r) - 1, e.text, e.text_len,
                    grep_line, &g);
        }
    }
    console_lines_finish(&cl, grep_line, &g);
    if (rc < 0)
        die("%s", err);
    if (g.puts && !g.texts)
        die("%s holds no console text (recorded before trace format 1.1)", argv[optind + 1]);
    if (!fixed)
        regfree(&g.re);
    ukvm_trace_reader_close(r);
    return g.matches ? 0 : 3;
}

/* ---- verify ---- */

static int cmd_verify(const char *path)
{
    struct ukvm_trace_reader *r = open_trace(path);
    char err[256];
    if (read_events(r, NULL, NULL, err, sizeof err) < 0)
        die("%s", err);
    struct ukvm_trace_end end;
    ukvm_trace_reader_end(r, &end);
    ukvm_trace_reader_close(r);
    if (end.complete) {
        printf("complete: %" PRIu64 " events, exit status %d\n", end.events, end.exit_status);
        return 0;
    }
    trace_print_cut(stdout, end.events, end.valid_bytes);
    printf("\n");
    return EXIT_CUT;
}

/* ---- extract-kernel ---- */

static void write_file(const char *path, const void *data, uint64_t len, bool force)
{
    /* The bytes come from the trace: not executable unless asked for. */
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), 0644);
    if (fd < 0)
        die("%s: %s", path, errno == EEXIST ? "already exists (use -f to overwrite)" : strerror(errno));
    const uint8_t *p = data;
    uint64_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : ENOSPC;
            close(fd);
            unlink(path);
            die("writing %s: %s", path, strerror(e));
        }
        done += (uint64_t)n;
    }
    if (close(fd) < 0)
        die("writing %s: %s", path, strerror(errno));
}

static int cmd_extract_kernel(int argc, char **argv)
{
    const char *out = NULL;
    bool force = false;
    int c;
    while ((c = getopt(argc, argv, ":o:f")) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'f')
            force = true;
        else
            bad_option("extract-kernel", c, argv);
    }
    want_operands("extract-kernel", argc, 1, "one TRACE");
    if (!out)
        die("extract-kernel needs -o FILE (see ukvm-trace --help)");
    struct ukvm_trace_reader *r = open_trace(argv[optind]);
    const struct ukvm_trace_header *h = ukvm_trace_reader_header(r);
    if (!h->kernel_len)
        die("%s holds no kernel", argv[optind]);
    write_file(out, h->kernel, h->kernel_len, force);
    ukvm_trace_reader_close(r);
    return 0;
}

/* ---- edit ---- */

/* The kind dump names s, or 0. */
static uint32_t kind_by_name(const char *s)
{
    for (uint32_t k = 1; k < UKVM_EV_KIND_MAX; k++)
        if (!strcmp(s, ukvm_event_kind_name(k)))
            return k;
    return 0;
}

static uint32_t parse_kind(const char *s)
{
    uint32_t k = kind_by_name(s);
    if (k)
        return k;
    uint64_t v = parse_u64(s, "event kind");
    if (v == 0 || v >= UKVM_EV_KIND_MAX)
        die("unknown event kind '%s'", s);
    return (uint32_t)v;
}

static int cmd_edit(int argc, char **argv)
{
    static const struct option opts[] = {
        { "event", required_argument, NULL, 'e' },
        { "arg", required_argument, NULL, 'a' },
        { "rip", required_argument, NULL, 'r' },
        { "kind", required_argument, NULL, 'k' },
        { "byte", required_argument, NULL, 'b' },
        { "force", no_argument, NULL, 'f' },
        { NULL, 0, NULL, 0 },
    };
    uint64_t byte_off = UINT64_MAX, byte_val = 0;
    uint64_t target = UINT64_MAX, rip = 0, args[UKVM_EVENT_NARGS] = { 0 };
    bool set_arg[UKVM_EVENT_NARGS] = { false }, set_rip = false, force = false;
    uint32_t kind = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":f", opts, NULL)) != -1) {
        switch (c) {
        case 'e': target = parse_u64(optarg, "event number"); break;
        case 'r': rip = parse_u64(optarg, "rip"); set_rip = true; break;
        case 'k': kind = parse_kind(optarg); break;
        case 'f': force = true; break;
        case 'b': {
            char *eq = strchr(optarg, '=');
            if (!eq)
                die("--byte wants OFFSET=VALUE, not '%s'", optarg);
            *eq = 0;
            byte_off = parse_u64(optarg, "byte offset");
            byte_val = parse_u64(eq + 1, "byte value");
            if (byte_val > 0xff)
                die("--byte: value %" PRIu64 " is not a byte", byte_val);
            break;
        }
        case 'a': {
            char *eq = strchr(optarg, '=');
            if (!eq)
                die("--arg wants I=VALUE, not '%s'", optarg);
            *eq = 0;
            uint64_t i = parse_u64(optarg, "argument index");
            if (i >= UKVM_EVENT_NARGS)
                die("argument index %" PRIu64 " out of range (0..%d)", i, UKVM_EVENT_NARGS - 1);
            args[i] = parse_u64(eq + 1, "argument value");
            set_arg[i] = true;
            break;
        }
        default: bad_option("edit", c, argv);
        }
    }
    want_operands("edit", argc, 2, "TRACE and OUT");
    if (target == UINT64_MAX)
        die("edit needs --event N (see ukvm-trace --help)");
    const char *in = argv[optind], *out = argv[optind + 1];
    struct ukvm_trace_reader *r = open_trace(in);
    char err[256];
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(out, force, ukvm_trace_reader_header(r),
            err, sizeof err);
    if (!w)
        die("%s", err);
    struct ukvm_event e;
    int rc;
    bool edited = false;
    uint8_t *edited_data = NULL;
    while ((rc = ukvm_trace_reader_next(r, &e, err, sizeof err)) == 1) {
        uint64_t n = ukvm_trace_reader_event_number(r) - 1;
        if (n == target) {
            if (kind && kind != e.kind) {
                e.kind = kind;
                for (unsigned i = 0; i < UKVM_EVENT_NARGS; i++)
                    if (!ukvm_event_field_name(kind, i))
                        e.a[i] = 0;
                if (kind != UKVM_EV_BLOCK_READ && kind != UKVM_EV_NET_READ) {
                    e.data = NULL;
                    e.data_len = 0;
                }
            }
            for (unsigned i = 0; i < UKVM_EVENT_NARGS; i++) {
                if (!set_arg[i])
                    continue;
                if (!ukvm_event_field_name(e.kind, i)) {
                    ukvm_trace_writer_abandon(w, err, sizeof err);
                    unlink(out);
                    die("event %" PRIu64 " (%s) has no argument %u", n,
                            ukvm_event_kind_name(e.kind), i);
                }
                e.a[i] = args[i];
            }
            if (set_rip)
                e.rip = rip;
            if (byte_off != UINT64_MAX) {
                if (byte_off >= e.data_len) {
                    ukvm_trace_writer_abandon(w, err, sizeof err);
                    unlink(out);
                    die("event %" PRIu64 " (%s) has no byte %" PRIu64 " of data (%u bytes)", n,
                            ukvm_event_kind_name(e.kind), byte_off, e.data_len);
                }
                /* the reader owns e.data: change a copy */
                edited_data = malloc(e.data_len);
                if (!edited_data)
                    die("out of memory");
                memcpy(edited_data, e.data, e.data_len);
                edited_data[byte_off] = (uint8_t)byte_val;
                e.data = edited_data;
            }
            /* keep console text only while it still matches its puts */
            if (e.text_len && (e.kind != UKVM_EV_PUTS || e.a[0] != e.text_len ||
                        e.a[1] != ukvm_digest(e.text, e.text_len))) {
                e.text = NULL;
                e.text_len = 0;
            }
            edited = true;
        }
        /* the copy's frames carry the times of the original's */
        struct ukvm_trace_event_info info;
        ukvm_trace_reader_event_info(r, &info);
        if (info.frame_elapsed_ns)
            ukvm_trace_writer_set_elapsed(w, info.frame_elapsed_ns);
        if (ukvm_trace_writer_event(w, &e, err, sizeof err) < 0) {
            char err2[256];
            ukvm_trace_writer_abandon(w, err2, sizeof err2);
            unlink(out);
            die("%s", err);
        }
        free(edited_data);
        edited_data = NULL;
    }
    if (rc < 0 || !edited) {
        char err2[256];
        ukvm_trace_writer_abandon(w, err2, sizeof err2);
        unlink(out);
        if (rc < 0)
            die("%s", err);
        die("%s has no event %" PRIu64 " (%" PRIu64 " events)", in, target,
                ukvm_trace_reader_event_number(r));
    }
    struct ukvm_trace_end end;
    ukvm_trace_reader_end(r, &end);
    ukvm_trace_writer_set_elapsed(w, end.elapsed_ns);
    /* a cut-short input stays cut short */
    rc = end.complete ? ukvm_trace_writer_close(w, end.exit_status, err, sizeof err)
                      : ukvm_trace_writer_abandon(w, err, sizeof err);
    if (rc < 0)
        die("%s", err);
    ukvm_trace_reader_close(r);
    return 0;
}

/* ---- diff ---- */

static int cmd_diff(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ignore", required_argument, NULL, 'i' },
        { "context", required_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 },
    };
    struct trace_diff_opts o = { .context = 3 };
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'i') {
            /* a comma-separated list of dump's kind names */
            for (char *save = NULL, *k = strtok_r(optarg, ",", &save); k;
                    k = strtok_r(NULL, ",", &save))
            {
                uint32_t kind = kind_by_name(k);
                if (!kind) {
                    char names[256] = "";
                    for (uint32_t i = 1; i < UKVM_EV_KIND_MAX; i++)
                        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                                i > 1 ? "," : "", ukvm_event_kind_name(i));
                    die("diff: --ignore: unknown event kind '%s' (the kinds: %s)", k, names);
                }
                o.ignore[kind] = true;
            }
        } else if (c == 'c') {
            uint64_t n = parse_u64(optarg, "context");
            if (n > TRACE_DIFF_CONTEXT_MAX)
                die("diff: --context %" PRIu64 " is more than %d", n, TRACE_DIFF_CONTEXT_MAX);
            o.context = (unsigned)n;
        } else {
            bad_option("diff", c, argv);
        }
    }
    want_operands("diff", argc, 2, "two TRACEs");
    char err[512];
    int rc = trace_diff(argv[optind], argv[optind + 1], &o, err, sizeof err);
    if (rc < 0)
        die("%s", err);
    return rc;
}

/* ---- pcap ---- */

static int cmd_pcap(int argc, char **argv)
{
    const char *out = NULL, *net = NULL;
    bool force = false;
    uint64_t from = 0, to = UINT64_MAX;
    static const struct option opts[] = {
        { "from", required_argument, NULL, 'F' },
        { "to", required_argument, NULL, 'T' },
        { "net", required_argument, NULL, 'N' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, ":o:f", opts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'f')
            force = true;
        else if (c == 'F')
            from = parse_u64(optarg, "event number");
        else if (c == 'T')
            to = parse_u64(optarg, "event number");
        else if (c == 'N')
            net = optarg;
        else
            bad_option("pcap", c, argv);
    }
    want_operands("pcap", argc, 1, "one TRACE");
    if (!out)
        die("pcap: -o FILE is required");
    if (from > to)
        die("pcap: --from %" PRIu64 " is after --to %" PRIu64, from, to);
    struct ukvm_trace_reader *r = open_trace(argv[optind]);
    char err[256];
    struct net_pcap *p = net_pcap_create(out, force, "-f", ukvm_trace_reader_header(r), net,
            "ukvm-trace pcap", err, sizeof err);
    if (!p)
        die("pcap: %s", err);

    /* Events are read from the first even with --from: the walltime events
     * before it set the guest's clock. */
    struct ukvm_event e;
    int rc;
    while (true) {
        uint64_t n = ukvm_trace_reader_event_number(r);
        if (n > to)
            break;
        rc = ukvm_trace_reader_next(r, &e, err, sizeof err);
        if (rc != 1)
            break;
        if (n < from && e.kind != UKVM_EV_WALLTIME)
            continue;
        /* the frames read are in the trace; of those written, only digests */
        const uint8_t *frame = e.kind == UKVM_EV_NET_READ ? e.data : NULL;
        char werr[300];
        if (net_pcap_event(p, n, &e, frame, e.data_len, werr, sizeof werr) < 0)
            die("pcap: %s", werr);
    }
    struct net_pcap_counts count;
    net_pcap_counts(p, &count);
    uint64_t reads = count.read, writes = count.left_out;
    char cerr[300];
    if (net_pcap_close(p, cerr, sizeof cerr) < 0)
        die("pcap: %s", cerr);
    if (rc < 0)
        die("pcap: %s (%s holds the %" PRIu64 " frames read before it)", err, out, reads);
    bool cut = false;
    uint64_t events = 0;
    if (rc == 0) {
        struct ukvm_trace_end end;
        ukvm_trace_reader_end(r, &end);
        cut = !end.complete && (to == UINT64_MAX || end.events <= to);
        events = end.events;
    }
    fprintf(stderr, "ukvm-trace: %s: %" PRIu64 " frame%s read", out, reads, reads == 1 ? "" : "s");
    if (writes)
        fprintf(stderr, "; %" PRIu64 " written not in it (a trace holds only their digests; "
                "ukvm replay --pcap has both)", writes);
    if (cut)
        fprintf(stderr, "; the trace is cut short after %" PRIu64 " events, the file ends there",
                events);
    fputc('\n', stderr);
    ukvm_trace_reader_close(r);
    return cut ? EXIT_CUT : 0;
}

int main(int argc, char **argv)
{
    opterr = 0; /* our own one-line message instead of getopt's */
    if (argc < 2)
        usage();
    const char *cmd = argv[1];
    argc--;
    argv++;
    if (!strcmp(cmd, "info") && argc == 2)
        return cmd_info(argv[1]);
    if (!strcmp(cmd, "dump"))
        return cmd_dump(argc, argv);
    if (!strcmp(cmd, "stats") && argc == 2)
        return cmd_stats(argv[1]);
    if (!strcmp(cmd, "grep"))
        return cmd_grep(argc, argv);
    if (!strcmp(cmd, "verify") && argc == 2)
        return cmd_verify(argv[1]);
    if (!strcmp(cmd, "extract-kernel"))
        return cmd_extract_kernel(argc, argv);
    if (!strcmp(cmd, "pcap"))
        return cmd_pcap(argc, argv);
    if (!strcmp(cmd, "edit"))
        return cmd_edit(argc, argv);
    if (!strcmp(cmd, "diff"))
        return cmd_diff(argc, argv);
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "info") || !strcmp(cmd, "stats") || !strcmp(cmd, "verify"))
        usage();
    die("unknown command '%s' (try ukvm-trace --help)", cmd);
}

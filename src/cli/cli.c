/*
 * Parsing `ukvm run|record|replay` options. Device options name a manifest
 * entry (`--block:NAME=FILE`); their modifiers (`--block-sector-size:NAME=N`,
 * `--net-mac:NAME=MAC`) may come in any order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char ukvm_usage[] =
    "usage: ukvm run    [OPTIONS] [--] KERNEL.elf [ARGS...]\n"
    "       ukvm record [-o TRACE] [--force] [OPTIONS] [--] KERNEL.elf [ARGS...]\n"
    "       ukvm replay [--gdb[=PORT]] [--gdb-listen=ADDR] [--checkpoint-mem=MB] [--goto=EVENT|end]\n"
    "                   [--once] [--mark-output] [--pcap=FILE [--force]] [--dumpcore[=DIR]] TRACE\n"
    "       ukvm debug  [--debugger=GDB] [--port=PORT] [--checkpoint-mem=MB] [--goto=EVENT|end]\n"
    "                   TRACE [GDB-ARGS...]\n"
    "       ukvm --help | --version\n"
    "\n"
    "Runs a Solo5 hvt unikernel on KVM; records a run into a trace; replays it;\n"
    "debug starts gdb on a replay of the trace (with ukvm's gdb commands loaded)\n"
    "and ends the replay when gdb exits.\n"
    "\n"
    "options (a value may follow as --opt=VALUE or as the next argument, --opt VALUE):\n"
    "  --mem=MB                     guest memory in MiB (even, 2..4096; default 512)\n"
    "  --block:NAME=FILE            attach FILE as the block device NAME\n"
    "  --block-sector-size:NAME=N   block size of NAME in bytes (default 512)\n"
    "  --net:NAME=TAP               attach the tap interface TAP as the net device NAME\n"
    "  --net-mac:NAME=MAC           MAC address of NAME (default: random)\n"
    "  --gdb[=PORT]                 stop before the first instruction and serve gdb (default port 1234; 0: a free port)\n"
    "  --gdb-listen=ADDR            address the gdb server listens on (default 127.0.0.1)\n"
    "  -o TRACE                     (record) trace file to write (default trace.zst)\n"
    "  --force                      (record) overwrite an existing trace; (replay) an existing\n"
    "                               --pcap FILE\n"
    "  --checkpoint-mem=MB          (replay --gdb, debug) memory for checkpoints (default 256)\n"
    "  --debugger=GDB               (debug) the gdb to run (default gdb)\n"
    "  --port=PORT                  (debug) the replay's port on 127.0.0.1 (default 0: a free one)\n"
    "  --once                       (replay --gdb) end the replay when gdb detaches or goes (under\n"
    "                               debug always); without it the replay waits for the next gdb\n"
    "  --mark-output                (replay) begin each console line with the event that wrote it: [ev N]\n"
    "  --pcap=FILE                  (replay) write every network frame the guest read and wrote,\n"
    "                               in event order, to FILE as pcapng (the trace holds only digests\n"
    "                               of the frames written: the replay makes them again)\n"
    "  --dumpcore[=DIR]             (run, record, replay) when the guest aborts or faults, or a signal\n"
    "                               stops ukvm, write an ELF core DIR/core.ukvm.PID (default DIR: .)\n"
    "  --goto=EVENT|end             (replay --gdb, debug) replay to just before event EVENT (or to\n"
    "                               the stop before the final halt) before gdb's session starts\n"
    "\n"
    "In replay, gdb's `monitor help` lists ukvm's commands (when, goto, bookmark, events);\n"
    "with `target extended-remote` (as debug connects), gdb's `run` restarts the replay from\n"
    "the start, also once the guest has exited (`run N`: at event N).\n"
    "\n"
    "exit status: the guest's own; 1 when the monitor stops the guest or an input is bad;\n"
    "125 when a replayed guest diverges from its trace.\n";

static struct device *device_named(struct config *cfg, const char *name, size_t namelen,
        char *err, size_t errlen)
{
    if (namelen == 0 || namelen >= HVT_MFT_NAME_SIZE) {
        snprintf(err, errlen, "device name must be 1 to %u characters", HVT_MFT_NAME_SIZE - 1);
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_devices; i++)
        if (strlen(cfg->devices[i].name) == namelen &&
            memcmp(cfg->devices[i].name, name, namelen) == 0)
            return &cfg->devices[i];
    if (cfg->n_devices == HVT_MFT_MAX_ENTRIES) {
        snprintf(err, errlen, "too many devices (at most %u)", HVT_MFT_MAX_ENTRIES);
        return NULL;
    }
    struct device *d = &cfg->devices[cfg->n_devices++];
    memset(d, 0, sizeof(*d));
    memcpy(d->name, name, namelen);
    d->fd = -1;
    d->block_size = 512;
    return d;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                &tail) != 6)
        return false;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
    return true;
}

static int set_device_kind(struct device *d, uint32_t type, const char *path,
        char *err, size_t errlen)
{
    if (d->path) {
        snprintf(err, errlen, "device '%s' is given twice", d->name);
        return -1;
    }
    d->type = type;
    d->path = path;
    return 0;
}

/* Options that take a value, as `--opt=VALUE` or `--opt VALUE`; a name
 * ending in ':' takes a device name after it (`--block:NAME=FILE`). */
static const char *const value_options[] = {
    "--mem", "--block:", "--net:", "--block-sector-size:", "--net-mac:", "--gdb-listen",
    "--checkpoint-mem", "--goto", "--debugger", "--pcap", "--port",
};

static bool takes_value(const char *key, size_t klen)
{
    for (size_t i = 0; i < sizeof(value_options) / sizeof(value_options[0]); i++) {
        const char *o = value_options[i];
        size_t olen = strlen(o);
        if (o[olen - 1] == ':' ? klen >= olen && strncmp(key, o, olen) == 0
                : klen == olen && strncmp(key, o, olen) == 0)
            return true;
    }
    return false;
}

static bool key_is(const char *key, size_t klen, const char *name)
{
    return strlen(name) == klen && strncmp(key, name, klen) == 0;
}

static bool key_has_prefix(const char *key, size_t klen, const char *prefix)
{
    size_t plen = strlen(prefix);
    return klen >= plen && strncmp(key, prefix, plen) == 0;
}

/* key[0..klen) is the option's name; value is what follows its '=' or the
 * next argument (NULL: none given). */
static int parse_option(struct config *cfg, const char *key, size_t klen, const char *value,
        char *err, size_t errlen)
{
    struct device *d;
    int kl = (int)klen;
    if (takes_value(key, klen) && (!value || !*value)) {
        snprintf(err, errlen, "option '%.*s' needs a value (%.*s=VALUE or %.*s VALUE)",
                kl, key, kl, key, kl, key);
        return -1;
    }
    if (!takes_value(key, klen) && value && !key_is(key, klen, "--gdb") &&
        !key_is(key, klen, "--dumpcore")) {
        snprintf(err, errlen, "option '%.*s' takes no value", kl, key);
        if (key_is(key, klen, "--block") || key_is(key, klen, "--net") ||
            key_is(key, klen, "--block-sector-size") || key_is(key, klen, "--net-mac"))
            snprintf(err, errlen, "option '%.*s' needs the form %.*s:NAME=VALUE", kl, key, kl, key);
        return -1;
    }
    if (key_is(key, klen, "--mem")) {
        uint64_t mb;
        if (!parse_u64(value, &mb) || mb < 2 || mb > 4096 || mb % 2) {
            snprintf(err, errlen, "--mem: '%s' is not an even number of MiB from 2 to 4096", value);
            return -1;
        }
        cfg->mem_size = mb << 20;
    } else if (key_has_prefix(key, klen, "--block:")) {
        if (!(d = device_named(cfg, key + 8, klen - 8, err, errlen)) ||
            set_device_kind(d, HVT_MFT_DEV_BLOCK_BASIC, value, err, errlen) < 0)
            return -1;
    } else if (key_has_prefix(key, klen, "--net:")) {
        if (!(d = device_named(cfg, key + 6, klen - 6, err, errlen)) ||
            set_device_kind(d, HVT_MFT_DEV_NET_BASIC, value, err, errlen) < 0)
            return -1;
    } else if (key_has_prefix(key, klen, "--block-sector-size:")) {
        uint64_t n;
        if (!(d = device_named(cfg, key + 20, klen - 20, err, errlen)))
            return -1;
        if (!parse_u64(value, &n) || n < 512 || n > 32768 || (n & (n - 1))) {
            snprintf(err, errlen, "%.*s: block size must be a power of two from 512 to 32768",
                    kl, key);
            return -1;
        }
        d->block_size = (uint16_t)n;
    } else if (key_has_prefix(key, klen, "--net-mac:")) {
        if (!(d = device_named(cfg, key + 10, klen - 10, err, errlen)))
            return -1;
        if (!parse_mac(value, d->mac)) {
            snprintf(err, errlen, "%.*s: '%s' is not a MAC address (xx:xx:xx:xx:xx:xx)", kl, key,
                    value);
            return -1;
        }
        d->mac_given = true;
    } else if (key_is(key, klen, "--gdb")) {
        uint64_t port;
        cfg->gdb = true;
        if (!value)
            return 0;
        if (!parse_u64(value, &port) || port > 65535) {
            snprintf(err, errlen, "--gdb: '%s' is not a TCP port", value);
            return -1;
        }
        cfg->gdb_port = (int)port;
    } else if (key_is(key, klen, "--checkpoint-mem") && cfg->mode >= MODE_REPLAY) {
        uint64_t mb;
        if (!parse_u64(value, &mb) || mb < 1 || mb > (1ULL << 20)) {
            snprintf(err, errlen, "--checkpoint-mem: '%s' is not a size in MiB", value);
            return -1;
        }
        cfg->checkpoint_mem = mb << 20;
    } else if (key_is(key, klen, "--once") && cfg->mode == MODE_REPLAY) {
        cfg->gdb_once = true;
    } else if (key_is(key, klen, "--mark-output") && cfg->mode == MODE_REPLAY) {
        cfg->mark_output = true;
    } else if (key_is(key, klen, "--goto") && cfg->mode >= MODE_REPLAY) {
        uint64_t n;
        if (strcmp(value, "end") && strcmp(value, "start") && !parse_u64(value, &n)) {
            snprintf(err, errlen, "--goto: '%s' is not an event number, start or end", value);
            return -1;
        }
        cfg->goto_target = value;
    } else if (key_is(key, klen, "--dumpcore") && cfg->mode != MODE_DEBUG) {
        if (value && !*value) {
            snprintf(err, errlen, "--dumpcore=DIR: the directory name is empty");
            return -1;
        }
        cfg->dumpcore_dir = value ? value : ".";
    } else if (key_is(key, klen, "--gdb-listen")) {
        cfg->gdb_addr = value;
    } else if (key_is(key, klen, "--pcap") && cfg->mode == MODE_REPLAY) {
        cfg->pcap_path = value;
    } else if (key_is(key, klen, "--force") &&
            (cfg->mode == MODE_RECORD || cfg->mode == MODE_REPLAY)) {
        cfg->force = true;
    } else if (key_is(key, klen, "--debugger") && cfg->mode == MODE_DEBUG) {
        cfg->debugger = value;
    } else if (key_is(key, klen, "--port") && cfg->mode == MODE_DEBUG) {
        uint64_t port;
        if (!parse_u64(value, &port) || port > 65535) {
            snprintf(err, errlen, "--port: '%s' is not a TCP port", value);
            return -1;
        }
        cfg->gdb_port = (int)port;
    } else if (key_is(key, klen, "--no-patch") && cfg->mode == MODE_RUN) {
        cfg->no_patch = true;
    } else {
        snprintf(err, errlen, "unknown option '%.*s' (see ukvm --help)", kl, key);
        return -1;
    }
    return 0;
}

/* `--gdb PORT` (with a space): the next argument is a port when it is all
 * digits and is not the last argument (that one is the kernel or trace). */
static bool is_port_arg(int i, int argc, char **argv)
{
    const char *s = argv[i];
    if (i + 1 >= argc || !*s)
        return false;
    return strspn(s, "0123456789") == strlen(s);
}

static int join_cmdline(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    size_t used = 0;
    cfg->cmdline[0] = 0;
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(argv[i]);
        size_t need = used + (i ? 1 : 0) + len;
        if (need >= HVT_CMDLINE_SIZE) {
            snprintf(err, errlen, "guest command line is too long (at most %u bytes)",
                    HVT_CMDLINE_SIZE - 1);
            return -1;
        }
        if (i)
            cfg->cmdline[used++] = ' ';
        memcpy(cfg->cmdline + used, argv[i], len);
        used += len;
        cfg->cmdline[used] = 0;
    }
    return 0;
}

int cli_parse(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    cfg->mem_size = 512ULL << 20;
    cfg->gdb_port = cfg->mode == MODE_DEBUG ? 0 : 1234;   /* debug: a free port */
    cfg->gdb_addr = "127.0.0.1";
    if (cfg->mode == MODE_RECORD)
        cfg->trace_path = "trace.zst";
    int i = 0;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return 1;
        if (cfg->mode == MODE_RECORD && strcmp(arg, "-o") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "-o needs a file name");
                return -1;
            }
            cfg->trace_path = argv[++i];
            continue;
        }
        if (arg[0] != '-' || arg[1] == 0)
            break;
        const char *eq = strchr(arg, '=');
        size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);
        const char *value = eq ? eq + 1 : NULL;
        if (!eq && i + 1 < argc && (takes_value(arg, klen) ||
                    (key_is(arg, klen, "--gdb") && is_port_arg(i + 1, argc, argv))))
            value = argv[++i];
        if (cfg->mode == MODE_DEBUG && !key_is(arg, klen, "--checkpoint-mem") &&
            !key_is(arg, klen, "--debugger") && !key_is(arg, klen, "--goto") &&
            !key_is(arg, klen, "--port")) {
            snprintf(err, errlen, "unknown debug option '%.*s': debug takes --debugger, --goto, "
                    "--port and --checkpoint-mem before the trace; gdb's own options go after it",
                    (int)klen, arg);
            return -1;
        }
        if (cfg->mode == MODE_REPLAY && !key_is(arg, klen, "--gdb") &&
            !key_is(arg, klen, "--gdb-listen") && !key_is(arg, klen, "--checkpoint-mem") &&
            !key_is(arg, klen, "--goto") && !key_is(arg, klen, "--mark-output") &&
            !key_is(arg, klen, "--once") && !key_is(arg, klen, "--pcap") &&
            !key_is(arg, klen, "--force") && !key_is(arg, klen, "--dumpcore")) {
            snprintf(err, errlen, "unknown replay option '%.*s': replay takes only --gdb options, "
                    "--goto, --checkpoint-mem, --once, --mark-output, --pcap, --force and "
                    "--dumpcore (devices and memory come from the trace)", (int)klen, arg);
            return -1;
        }
        if (parse_option(cfg, arg, klen, value, err, errlen) < 0)
            return -1;
    }
    for (size_t d = 0; d < cfg->n_devices; d++) {
        const struct device *dev = &cfg->devices[d];
        if ((dev->type == HVT_MFT_DEV_NET_BASIC && dev->block_size != 512) ||
            (dev->type == HVT_MFT_DEV_BLOCK_BASIC && dev->mac_given)) {
            snprintf(err, errlen, "device '%s': --block-sector-size is for block devices, "
                    "--net-mac for net devices", dev->name);
            return -1;
        }
        if (!cfg->devices[d].path) {
            snprintf(err, errlen, "device '%s' has options but is not attached "
                    "(give --block:%s=FILE or --net:%s=TAP)", cfg->devices[d].name,
                    cfg->devices[d].name, cfg->devices[d].name);
            return -1;
        }
    }
    if (cfg->gdb_once && !cfg->gdb) {
        snprintf(err, errlen, "--once ends the replay when gdb goes: it needs --gdb");
        return -1;
    }
    if (cfg->goto_target && cfg->mode == MODE_REPLAY && !cfg->gdb) {
        snprintf(err, errlen, "--goto starts gdb's session at that point: it needs --gdb");
        return -1;
    }
    if (cfg->pcap_path && cfg->gdb) {
        snprintf(err, errlen, "--pcap writes the frames of a whole replay: it does not go with "
                "--gdb (replay once with --pcap, then debug)");
        return -1;
    }
    if (cfg->force && cfg->mode == MODE_REPLAY && !cfg->pcap_path) {
        snprintf(err, errlen, "--force (replay) overwrites an existing --pcap FILE: it needs --pcap");
        return -1;
    }
    if (cfg->dumpcore_dir && cfg->gdb) {
        snprintf(err, errlen, "--dumpcore is for runs without gdb (under gdb, the session "
                "shows the state: `dump memory` saves it)");
        return -1;
    }
    if (cfg->gdb && cfg->mode == MODE_RECORD) {
        snprintf(err, errlen, "record does not serve gdb: record first, then debug the "
                "recording with 'ukvm replay --gdb'");
        return -1;
    }
    if (i >= argc) {
        snprintf(err, errlen, cfg->mode >= MODE_REPLAY ? "no trace file given (see ukvm --help)"
                : "no kernel file given (see ukvm --help)");
        return -1;
    }
    if (cfg->mode == MODE_DEBUG) {
        cfg->trace_path = argv[i];
        cfg->debugger_argc = argc - i - 1;
        cfg->debugger_argv = argv + i + 1;
        return 0;
    }
    if (cfg->mode == MODE_REPLAY) {
        cfg->trace_path = argv[i];
        if (i + 1 < argc) {
            snprintf(err, errlen, "replay takes no guest arguments (they come from the trace)");
            return -1;
        }
        return 0;
    }
    cfg->kernel_path = argv[i];
    return join_cmdline(cfg, argc - i - 1, argv + i + 1, err, errlen);
}

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
    "                   [--mark-output] TRACE\n"
    "       ukvm debug  [--debugger=GDB] [--checkpoint-mem=MB] [--goto=EVENT|end] TRACE [GDB-ARGS...]\n"
    "       ukvm --help | --version\n"
    "\n"
    "Runs a Solo5 hvt unikernel on KVM; records a run into a trace; replays it;\n"
    "debug starts gdb on a replay of the trace (with ukvm's gdb commands loaded)\n"
    "and ends the replay when gdb exits.\n"
    "\n"
    "options:\n"
    "  --mem=MB                     guest memory in MiB (even, 2..4096; default 512)\n"
    "  --block:NAME=FILE            attach FILE as the block device NAME\n"
    "  --block-sector-size:NAME=N   block size of NAME in bytes (default 512)\n"
    "  --net:NAME=TAP               attach the tap interface TAP as the net device NAME\n"
    "  --net-mac:NAME=MAC           MAC address of NAME (default: random)\n"
    "  --gdb[=PORT]                 stop before the first instruction and serve gdb (default port 1234; 0: a free port)\n"
    "  --gdb-listen=ADDR            address the gdb server listens on (default 127.0.0.1)\n"
    "  -o TRACE                     (record) trace file to write (default trace.zst)\n"
    "  --force                      (record) overwrite an existing trace\n"
    "  --checkpoint-mem=MB          (replay --gdb, debug) memory for checkpoints (default 256)\n"
    "  --debugger=GDB               (debug) the gdb to run (default gdb)\n"
    "  --mark-output                (replay) begin each console line with the event that wrote it: [ev N]\n"
    "  --goto=EVENT|end             (replay --gdb, debug) replay to just before event EVENT (or to\n"
    "                               the stop before the final halt) before gdb's session starts\n"
    "\n"
    "In replay, gdb's `monitor help` lists ukvm's commands (when, goto, bookmark, events);\n"
    "with `target extended-remote`, gdb's `run` restarts the replay from the start.\n"
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

/* `--KIND:NAME=VALUE`: returns the device, with *value pointing at VALUE. */
static struct device *device_option(struct config *cfg, const char *arg, size_t prefix,
        const char **value, char *err, size_t errlen)
{
    const char *name = arg + prefix;
    const char *eq = strchr(name, '=');
    if (!eq || eq[1] == 0) {
        snprintf(err, errlen, "option '%s' needs the form %.*sNAME=VALUE", arg, (int)prefix, arg);
        return NULL;
    }
    *value = eq + 1;
    return device_named(cfg, name, (size_t)(eq - name), err, errlen);
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

static int parse_option(struct config *cfg, const char *arg, char *err, size_t errlen)
{
    const char *value;
    struct device *d;
    if (strncmp(arg, "--mem=", 6) == 0) {
        uint64_t mb;
        if (!parse_u64(arg + 6, &mb) || mb < 2 || mb > 4096 || mb % 2) {
            snprintf(err, errlen, "--mem: '%s' is not an even number of MiB from 2 to 4096", arg + 6);
            return -1;
        }
        cfg->mem_size = mb << 20;
    } else if (strncmp(arg, "--block:", 8) == 0) {
        if (!(d = device_option(cfg, arg, 8, &value, err, errlen)) ||
            set_device_kind(d, HVT_MFT_DEV_BLOCK_BASIC, value, err, errlen) < 0)
            return -1;
    } else if (strncmp(arg, "--net:", 6) == 0) {
        if (!(d = device_option(cfg, arg, 6, &value, err, errlen)) ||
            set_device_kind(d, HVT_MFT_DEV_NET_BASIC, value, err, errlen) < 0)
            return -1;
    } else if (strncmp(arg, "--block-sector-size:", 20) == 0) {
        uint64_t n;
        if (!(d = device_option(cfg, arg, 20, &value, err, errlen)))
            return -1;
        if (!parse_u64(value, &n) || n < 512 || n > 32768 || (n & (n - 1))) {
            snprintf(err, errlen, "%s: block size must be a power of two from 512 to 32768", arg);
            return -1;
        }
        d->block_size = (uint16_t)n;
    } else if (strncmp(arg, "--net-mac:", 10) == 0) {
        if (!(d = device_option(cfg, arg, 10, &value, err, errlen)))
            return -1;
        if (!parse_mac(value, d->mac)) {
            snprintf(err, errlen, "%s: not a MAC address (xx:xx:xx:xx:xx:xx)", arg);
            return -1;
        }
        d->mac_given = true;
    } else if (strcmp(arg, "--gdb") == 0) {
        cfg->gdb = true;
    } else if (strncmp(arg, "--gdb=", 6) == 0) {
        uint64_t port;
        if (!parse_u64(arg + 6, &port) || port > 65535) {
            snprintf(err, errlen, "--gdb: '%s' is not a TCP port", arg + 6);
            return -1;
        }
        cfg->gdb = true;
        cfg->gdb_port = (int)port;
    } else if (strncmp(arg, "--checkpoint-mem=", 17) == 0 && cfg->mode >= MODE_REPLAY) {
        uint64_t mb;
        if (!parse_u64(arg + 17, &mb) || mb < 1 || mb > (1ULL << 20)) {
            snprintf(err, errlen, "--checkpoint-mem: '%s' is not a size in MiB", arg + 17);
            return -1;
        }
        cfg->checkpoint_mem = mb << 20;
    } else if (strcmp(arg, "--mark-output") == 0 && cfg->mode == MODE_REPLAY) {
        cfg->mark_output = true;
    } else if (strncmp(arg, "--goto=", 7) == 0 && cfg->mode >= MODE_REPLAY) {
        uint64_t n;
        const char *w = arg + 7;
        if (strcmp(w, "end") && strcmp(w, "start") && !parse_u64(w, &n)) {
            snprintf(err, errlen, "--goto: '%s' is not an event number, start or end", w);
            return -1;
        }
        cfg->goto_target = w;
    } else if (strncmp(arg, "--gdb-listen=", 13) == 0) {
        cfg->gdb_addr = arg + 13;
    } else if (strcmp(arg, "--force") == 0 && cfg->mode == MODE_RECORD) {
        cfg->force = true;
    } else if (strncmp(arg, "--debugger=", 11) == 0 && cfg->mode == MODE_DEBUG && arg[11]) {
        cfg->debugger = arg + 11;
    } else if (strcmp(arg, "--no-patch") == 0 && cfg->mode == MODE_RUN) {
        cfg->no_patch = true;
    } else {
        snprintf(err, errlen, "unknown option '%s' (see ukvm --help)", arg);
        return -1;
    }
    return 0;
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
    cfg->gdb_port = 1234;
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
        if (cfg->mode == MODE_DEBUG && strncmp(arg, "--checkpoint-mem=", 17) != 0 &&
            strncmp(arg, "--debugger=", 11) != 0 && strncmp(arg, "--goto=", 7) != 0) {
            snprintf(err, errlen, "unknown debug option '%s': debug takes --debugger, --goto and "
                    "--checkpoint-mem before the trace; gdb's own options go after it", arg);
            return -1;
        }
        if (cfg->mode == MODE_REPLAY && strncmp(arg, "--gdb", 5) != 0 &&
            strncmp(arg, "--checkpoint-mem=", 17) != 0 && strncmp(arg, "--goto=", 7) != 0 &&
            strcmp(arg, "--mark-output") != 0) {
            snprintf(err, errlen, "unknown replay option '%s': replay takes only --gdb options, "
                    "--goto, --checkpoint-mem and --mark-output (devices and memory come from the "
                    "trace)", arg);
            return -1;
        }
        if (parse_option(cfg, arg, err, errlen) < 0)
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
    if (cfg->goto_target && cfg->mode == MODE_REPLAY && !cfg->gdb) {
        snprintf(err, errlen, "--goto starts gdb's session at that point: it needs --gdb");
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

/* `ukvm replay`: re-run a recorded guest from its trace alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/boot.h"
#include "cli/modes.h"
#include "monitor/signals.h"
#include "record/replayer.h"
#include "replay/replay_diversion.h"
#include "replay/replay_nav.h"
#include "replay/replay_target.h"
#include "vcpu/gdb_monitor_cmd.h"
#include "vcpu/kvm_engine.h"
#include "cli/kvm_serve.h"
#include "cli/replay_pcap.h"

/* --goto=WHERE: go there before serving gdb, and say where on stderr.
 * 0, or -1 after a one-line error. */
static int start_at(struct ukvm_target *t, const char *where)
{
    struct ukvm_position pos;
    struct ukvm_outbuf out = { 0 };
    char err[200];
    if (monitor_parse_place(where, &pos, err, sizeof(err)) < 0) {
        ukvm_err("--goto=%s: %s", where, err);
        return -1;
    }
    int r = t->ops->restart(t, &pos, &out);
    if (out.len && out.buf[out.len - 1] == '\n')
        out.buf[--out.len] = 0;
    if (r < 0)
        ukvm_err("--goto=%s: %s", where, out.len > 6 && !strncmp(out.buf, "ukvm: ", 6)
                ? out.buf + 6 : out.buf ? out.buf : "failed");
    else
        fprintf(stderr, "ukvm: replay starts at %s\n", out.buf ? out.buf : where);
    ukvm_outbuf_free(&out);
    return r;
}

int mode_replay(struct config *cfg)
{
    char err[1024];
    struct ukvm_trace_reader *r = ukvm_trace_reader_open(cfg->trace_path, err, sizeof(err));
    if (!r) {
        ukvm_err("%s", err);
        return UKVM_EXIT_MONITOR_ERROR;
    }
    const struct ukvm_trace_header *h = ukvm_trace_reader_header(r);
    if (replayer_config(cfg, h, err, sizeof(err)) < 0) {
        ukvm_err("%s: %s", cfg->trace_path, err);
        return UKVM_EXIT_MONITOR_ERROR;
    }
    cfg->kernel_path = "kernel in trace";
    struct kvm_cpuid_entry2 *cpuid = calloc(h->n_cpuid + 1, sizeof(*cpuid));
    if (!cpuid) {
        ukvm_err("out of memory");
        return UKVM_EXIT_MONITOR_ERROR;
    }
    for (uint32_t i = 0; i < h->n_cpuid; i++) {
        const struct ukvm_trace_cpuid *c = &h->cpuid[i];
        cpuid[i] = (struct kvm_cpuid_entry2){ .function = c->function, .index = c->index,
            .flags = c->flags, .eax = c->eax, .ebx = c->ebx, .ecx = c->ecx, .edx = c->edx };
    }
    static struct monitor m;
    m.cfg = cfg;
    if (monitor_boot(&m, h->kernel, h->kernel_len, cpuid, h->n_cpuid, h->tsc_hz,
                err, sizeof(err)) < 0) {
        ukvm_err("%s", err);
        return UKVM_EXIT_MONITOR_ERROR;
    }
    free(cpuid);
    if (replayer_check_patches(&m, h, err, sizeof(err)) < 0) {
        ukvm_err("%s: %s", cfg->trace_path, err);
        return UKVM_EXIT_MONITOR_ERROR;
    }
    m.src = replayer_create(r);
    if (cfg->pcap_path && replay_pcap_start(cfg, h, m.src) < 0)
        return UKVM_EXIT_MONITOR_ERROR;
    if (cfg->mark_output)
        replayer_mark_output(m.src);
    int status;
    if (cfg->gdb) {
        static struct kvm_target kt;
        static struct kvm_engine engine;
        static struct replay_target rt;
        /* An absolute name that exists nowhere: gdb then fetches the file
         * from us (vFile) instead of opening a local one. */
        kvm_target_init(&kt, &m, h->kernel, h->kernel_len, "/ukvm-replay/kernel.elf");
        kvm_engine_init(&engine, &kt);
        const struct replay_setup setup = {
            .src = m.src,
            .checkpoint_mem = cfg->checkpoint_mem,
            .initial_end = m.kernel.kernel_end > 0x200000 ? m.kernel.kernel_end : 0x200000,
        };
        if (replay_target_init(&rt, &engine.base, &setup, err, sizeof(err)) < 0) {
            ukvm_err("%s", err);
            return UKVM_EXIT_MONITOR_ERROR;
        }
        if (replay_nav_attach(&rt, cfg->trace_path, err, sizeof(err)) < 0 ||
            replay_diversion_attach(&rt, err, sizeof(err)) < 0) {
            ukvm_err("%s", err);
            return UKVM_EXIT_MONITOR_ERROR;
        }
        if (cfg->goto_target && start_at(&rt.base, cfg->goto_target) < 0)
            return UKVM_EXIT_MONITOR_ERROR;
        status = kvm_target_serve(&kt, &rt.base, cfg, true);
    } else {
        signals_install(&m.vm);
        status = monitor_run_to_end(&m);
        if (cfg->pcap_path)
            status = replay_pcap_finish(status);
    }
    vm_destroy(&m.vm);
    ukvm_trace_reader_close(r);
    return status;
}

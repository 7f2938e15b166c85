/* `ukvm replay`: re-run a recorded guest from its trace alone. */
#include <stdlib.h>
#include <string.h>

#include "monitor/boot.h"
#include "cli/modes.h"
#include "monitor/signals.h"
#include "record/replayer.h"
#include "gdb/replay_diversion.h"
#include "gdb/replay_nav.h"
#include "gdb/replay_target.h"
#include "gdb/kvm_serve.h"

static bool replay_at_end(struct kvm_target *kt)
{
    return replayer_reached_end(kt->m->src);
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
    if (cfg->mark_output)
        replayer_mark_output(m.src);
    int status;
    if (cfg->gdb) {
        static struct replay_target rt;
        /* An absolute name that exists nowhere: gdb then fetches the file
         * from us (vFile) instead of opening a local one. */
        if (replay_target_init(&rt, &m, h->kernel, h->kernel_len, "/ukvm-replay/kernel.elf",
                    err, sizeof(err)) < 0) {
            ukvm_err("%s", err);
            return UKVM_EXIT_MONITOR_ERROR;
        }
        rt.kt.at_trace_end = replay_at_end;
        if (replay_nav_attach(&rt, cfg->trace_path, err, sizeof(err)) < 0 ||
            replay_diversion_attach(&rt, err, sizeof(err)) < 0) {
            ukvm_err("%s", err);
            return UKVM_EXIT_MONITOR_ERROR;
        }
        if (cfg->goto_target && replay_nav_start_at(&rt, cfg->goto_target) < 0)
            return UKVM_EXIT_MONITOR_ERROR;
        status = kvm_target_serve(&rt.kt, cfg, true);
    } else {
        signals_install(&m.vm);
        status = monitor_run_to_end(&m);
    }
    vm_destroy(&m.vm);
    ukvm_trace_reader_close(r);
    return status;
}

/* `ukvm run`: the real world, nothing recorded. */
#include <stdio.h>
#include <stdlib.h>

#include "monitor/boot.h"
#include "cli/modes.h"
#include "monitor/signals.h"
#include "cli/kvm_serve.h"

int mode_run(struct config *cfg)
{
    static struct monitor m;
    m.cfg = cfg;
    size_t len;
    uint8_t *kernel = monitor_boot_file(&m, &len);
    if (!kernel)
        return UKVM_EXIT_MONITOR_ERROR;
    m.src = world_source_create(&m);
    int status;
    if (cfg->gdb) {
        static struct kvm_target kt;
        static char abs_path[4096];
        if (!realpath(cfg->kernel_path, abs_path))
            snprintf(abs_path, sizeof(abs_path), "%s", cfg->kernel_path);
        kvm_target_init(&kt, &m, kernel, len, abs_path);
        status = kvm_target_serve(&kt, &kt.base, cfg, false);
    } else {
        signals_install(&m.vm);
        status = monitor_run_to_end(&m);
    }
    vm_destroy(&m.vm);
    free(kernel);
    return status;
}

/*
 * Bringing a VM up to the kernel's first instruction, the same way in every
 * mode: parse the kernel, attach devices, create the VM, load, patch, write
 * the boot information and set the CPU state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/boot.h"
#include "monitor/core_dump.h"
#include "monitor/signals.h"
#include "monitor/startup_report.h"

int monitor_boot(struct monitor *m, const uint8_t *kernel, size_t kernel_len,
        const struct kvm_cpuid_entry2 *cpuid, uint32_t n_cpuid, uint64_t tsc_hz,
        char *err, size_t errlen)
{
    char why[512];
    if (kernel_parse(kernel, kernel_len, m->cfg->mem_size, &m->kernel, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s: %s", m->cfg->kernel_path ? m->cfg->kernel_path : "kernel", why);
        return -1;
    }
    startup_mark(STARTUP_ELF_PARSE);
    if (devices_attach(m, err, errlen) < 0)
        return -1;
    startup_mark(STARTUP_DEVICES);
    if (vm_create(&m->vm, m->cfg->mem_size, err, errlen) < 0) /* marks its phases */
        return -1;
    if (tsc_hz)
        m->vm.tsc_hz = tsc_hz; /* replay: the recorded machine's frequency */
    if (vm_set_cpuid(&m->vm, cpuid, n_cpuid, err, errlen) < 0)
        return -1;
    startup_mark(STARTUP_CPUID_MSR);
    if (kernel_load(m, err, errlen) < 0)
        return -1;
    startup_mark(STARTUP_ELF_LOAD);
    if (intercept_patch(m, err, errlen) < 0)
        return -1;
    startup_mark(STARTUP_SCAN_PATCH);
    if (boot_info_write(m, err, errlen) < 0)
        return -1;
    startup_mark(STARTUP_BOOT_INFO);
    return vm_setup_cpu(&m->vm, m->kernel.entry, err, errlen); /* marks its phases */
}

uint8_t *monitor_boot_file(struct monitor *m, size_t *len)
{
    char err[1024];
    uint8_t *kernel = read_whole_file(m->cfg->kernel_path, len, err, sizeof(err));
    if (!kernel) {
        ukvm_err("%s", err);
        return NULL;
    }
    startup_mark(STARTUP_READ_KERNEL);
    if (monitor_boot(m, kernel, *len, NULL, 0, 0, err, sizeof(err)) < 0) {
        ukvm_err("%s", err);
        free(kernel);
        return NULL;
    }
    return kernel;
}

int monitor_run_to_end(struct monitor *m)
{
    /* UKVM_REPORT_STARTUP: where the time to the first instruction went. */
    startup_report();
    for (;;) {
        switch (vcpu_loop(m)) {
        case VCPU_HALTED:
        case VCPU_ERROR:
            core_dump_at_end(m, m->exit_status, 0);
            return m->exit_status;
        case VCPU_INTERRUPTED:
            if (ukvm_stop_signal) {
                ukvm_err("stopped by signal %d (rip 0x%llx)", (int)ukvm_stop_signal,
                        (unsigned long long)vm_regs(&m->vm)->rip);
                core_dump_at_end(m, 128 + ukvm_stop_signal, ukvm_stop_signal);
                return 128 + ukvm_stop_signal;
            }
            m->vm.run->immediate_exit = 0;
            continue;
        case VCPU_MMIO:
        case VCPU_STOP_PENDING:
        case VCPU_DEBUG:
            ukvm_err("unexpected debug exit (rip 0x%llx)",
                    (unsigned long long)vm_regs(&m->vm)->rip);
            return UKVM_EXIT_MONITOR_ERROR;
        case VCPU_HLT:
            ukvm_err("guest executed hlt with nothing to wake it (rip 0x%llx)",
                    (unsigned long long)vm_regs(&m->vm)->rip - 1);
            return UKVM_EXIT_MONITOR_ERROR;
        }
    }
}

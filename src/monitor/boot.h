#ifndef UKVM_BOOT_H
#define UKVM_BOOT_H

#include "monitor/monitor.h"

/*
 * Set the VM up to the kernel's first instruction. m->cfg must be complete.
 * cpuid/n_cpuid: the table to use (NULL: the host's, with RDRAND/RDSEED
 * hidden); tsc_hz: 0 for this host's TSC frequency, else the one to report.
 * Returns 0, or -1 with a one-line message in err.
 */
int monitor_boot(struct monitor *m, const uint8_t *kernel, size_t kernel_len,
        const struct kvm_cpuid_entry2 *cpuid, uint32_t n_cpuid, uint64_t tsc_hz,
        char *err, size_t errlen);

/* Read m->cfg->kernel_path and boot it on this host (run, record). Returns
 * the file's bytes (kept for the trace and gdb), or NULL after printing
 * why. */
uint8_t *monitor_boot_file(struct monitor *m, size_t *len);

/* Run the guest until it halts or the monitor stops it; returns the exit
 * status. */
int monitor_run_to_end(struct monitor *m);

#endif

/*
 * The boot information at 0x10000, followed by the filled-in manifest and
 * the command line (docs/hvt-abi.md, "Boot information").
 */
#include <stdio.h>
#include <string.h>

#include "monitor/monitor.h"

int boot_info_write(struct monitor *m, char *err, size_t errlen)
{
    uint64_t mft_gpa = HVT_BOOT_INFO_BASE + sizeof(struct hvt_boot_info);
    size_t mft_size = sizeof(struct hvt_mft) +
        m->kernel.n_mft_entries * sizeof(struct hvt_mft_entry);
    uint64_t cmdline_gpa = (mft_gpa + mft_size + 7) & ~7ULL;
    size_t cmdline_len = strlen(m->cfg->cmdline) + 1;
    if (cmdline_gpa + cmdline_len > HVT_GUEST_MIN_BASE) {
        snprintf(err, errlen, "boot information does not fit below 1 MiB");
        return -1;
    }
    struct hvt_boot_info bi = {
        .mem_size = m->vm.mem_size,
        .kernel_end = m->kernel.kernel_end,
        .cpu_cycle_freq = m->vm.tsc_hz,
        .cmdline = cmdline_gpa,
        .mft = mft_gpa,
        .host_features = 0,
        .guest_features = 0,
        .net_ring = 0,
    };
    memcpy(m->vm.mem + HVT_BOOT_INFO_BASE, &bi, sizeof(bi));
    struct hvt_mft hdr = { .version = HVT_MFT_VERSION, .entries = m->kernel.n_mft_entries };
    memcpy(m->vm.mem + mft_gpa, &hdr, sizeof(hdr));
    memcpy(m->vm.mem + mft_gpa + sizeof(hdr), m->kernel.mft,
            m->kernel.n_mft_entries * sizeof(struct hvt_mft_entry));
    memcpy(m->vm.mem + cmdline_gpa, m->cfg->cmdline, cmdline_len);
    return 0;
}

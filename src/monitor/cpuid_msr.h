/*
 * What the guest can learn about the machine without exiting to the
 * monitor: the CPUID table, the MSRs KVM answers itself, and the PMU.
 * Everything here either returns the same value on replay, is recorded, or
 * faults (#GP) the same way every time. See cpuid_msr.c.
 */
#ifndef UKVM_CPUID_MSR_H
#define UKVM_CPUID_MSR_H

#include <stdint.h>
#include <linux/kvm.h>

#include "monitor/monitor.h"

/* The hypervisor CPUID range (KVM's signature and PV features live at
 * 0x40000000 and, with Hyper-V emulation, 0x40000100). */
#define CPUID_HYPERVISOR_FIRST 0x40000000u
#define CPUID_HYPERVISOR_LAST  0x4fffffffu

/*
 * Remove from a CPUID table (n entries, edited in place, *n updated) what a
 * recorded guest must not see: the hypervisor leaves, the hypervisor bit,
 * RDRAND, RDSEED, RTM, WAITPKG and the PMU. Used on the host's supported
 * table for `run` and `record`; a replay sets the trace's table unchanged.
 */
void cpuid_hide_nondeterministic(struct kvm_cpuid_entry2 *e, uint32_t *n);

/* Turn off KVM's virtual PMU for this VM (before its vCPU is created), so
 * that rdpmc raises #GP. Returns 1 when done, 0 when this KVM cannot. */
int vm_disable_pmu(struct vm *vm);

/* The MSR ranges the filter denies (the guest gets #GP) or sends to the
 * monitor (IA32_TSC reads, recorded). For tests and documentation. */
struct msr_deny_range {
    uint32_t base, count;
    uint32_t flags;             /* KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE */
    const char *what;
};
extern const struct msr_deny_range msr_deny_ranges[];
extern const unsigned msr_deny_ranges_count;

#endif

/*
 * The CPUID table, the MSR filter and the PMU: the ways a guest at CPL 0
 * can read machine state without an exit that the monitor records.
 *
 * - CPUID is answered inside KVM from the table set here; the table is
 *   recorded in the trace and set again on replay. It hides what a
 *   well-behaved guest should not use because it is not replayable:
 *   RDRAND/RDSEED (patched anyway), RTM (transactions abort at the whim of
 *   the host), WAITPKG (umwait/tpause end on the TSC), the PMU, and every
 *   hypervisor leaf (0x40000000-0x4fffffff: KVM's signature and its
 *   paravirtual features, kvmclock among them). The hypervisor bit (leaf 1
 *   ECX bit 31) is cleared too: by convention software reads the hypervisor
 *   leaves only when it is set, and with it clear no such software looks.
 * - MSRs: KVM's MSR filter sends IA32_TSC reads to the monitor (recorded as
 *   an event) and denies the paravirtual clock and related MSRs, so that
 *   the guest gets #GP on every KVM, recording or replaying. With the
 *   capability, KVM is also told to enforce the (now empty) paravirtual
 *   feature CPUID, which makes those MSRs fault even without the filter.
 * - The PMU: KVM intercepts rdpmc on every KVM (VMX and SVM both) and
 *   answers from its virtual PMU; with the PMU turned off for the VM, it
 *   raises #GP instead. Writes to the counter controls are denied as well,
 *   so that on a KVM that cannot turn the PMU off no counter ever counts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "monitor/cpuid_msr.h"

#define MSR_R  KVM_MSR_FILTER_READ
#define MSR_W  KVM_MSR_FILTER_WRITE
#define MSR_RW (KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE)

/* Every bit of every bitmap is 0: the access is denied. A denied IA32_TSC
 * read exits to the monitor (vcpu_loop.c records it); every other denied
 * access gets #GP from the monitor. */
const struct msr_deny_range msr_deny_ranges[] = {
    { 0x00000010, 1, MSR_R, "IA32_TSC (read: recorded)" },
    { 0x00000011, 2, MSR_RW, "MSR_KVM_WALL_CLOCK, MSR_KVM_SYSTEM_TIME" },
    { 0x4b564d00, 256, MSR_RW, "KVM paravirtual MSRs (kvmclock, async PF, steal time, PV EOI...)" },
    { 0x40000000, 512, MSR_RW, "Hyper-V synthetic MSRs (reference time counter, TSC page...)" },
    { 0x000000e7, 2, MSR_RW, "IA32_MPERF, IA32_APERF" },
    { 0x00000186, 8, MSR_W, "IA32_PERFEVTSEL0-7" },
    { 0x0000038d, 3, MSR_W, "IA32_FIXED_CTR_CTRL, IA32_PERF_GLOBAL_STATUS, _CTRL" },
    { 0xc0010000, 4, MSR_W, "AMD PerfEvtSel0-3" },
    { 0xc0010200, 12, MSR_W, "AMD PerfEvtSel/PerfCtr 0-5" },
    { 0xc0000300, 4, MSR_W, "AMD PerfMonV2 global control" },
};
const unsigned msr_deny_ranges_count = sizeof(msr_deny_ranges) / sizeof(msr_deny_ranges[0]);

static int fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, strerror(errno));
    return -1;
}

void cpuid_hide_nondeterministic(struct kvm_cpuid_entry2 *e, uint32_t *n)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < *n; i++) {
        struct kvm_cpuid_entry2 c = e[i];
        if (c.function >= CPUID_HYPERVISOR_FIRST && c.function <= CPUID_HYPERVISOR_LAST)
            continue;
        switch (c.function) {
        case 1:
            c.ecx &= ~(1u << 30);       /* RDRAND */
            c.ecx &= ~(1u << 31);       /* hypervisor present */
            c.ecx &= ~(1u << 15);       /* PDCM: IA32_PERF_CAPABILITIES */
            break;
        case 7:
            if (c.index == 0) {
                c.ebx &= ~(1u << 18);   /* RDSEED */
                c.ebx &= ~(1u << 11);   /* RTM */
                c.ecx &= ~(1u << 5);    /* WAITPKG: umwait, tpause */
            }
            break;
        case 0xa:                       /* architectural performance monitoring */
        case 0x80000022:                /* AMD PerfMonV2 */
            c.eax = c.ebx = c.ecx = c.edx = 0;
            break;
        case 0x80000001:
            c.ecx &= ~((1u << 23) | (1u << 24) | (1u << 28)); /* AMD core, NB, LLC counters */
            break;
        default:
            break;
        }
        e[kept++] = c;
    }
    *n = kept;
}

int vm_disable_pmu(struct vm *vm)
{
    int caps = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_PMU_CAPABILITY);
    if (caps <= 0 || !(caps & KVM_PMU_CAP_DISABLE))
        return 0;
    struct kvm_enable_cap cap = {
        .cap = KVM_CAP_PMU_CAPABILITY,
        .args[0] = KVM_PMU_CAP_DISABLE,
    };
    return ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) == 0;
}

/* Install the filter. Optional: a KVM without it leaves the MSRs alone
 * (docs/kvms.md); both KVMs ukvm is tested on have it. */
static void vm_filter_msrs(struct vm *vm)
{
    if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER) <= 0 ||
        ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_USER_SPACE_MSR) <= 0)
        return;
    struct kvm_enable_cap cap = {
        .cap = KVM_CAP_X86_USER_SPACE_MSR,
        .args[0] = KVM_MSR_EXIT_REASON_FILTER,
    };
    if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
        return;
    static uint8_t deny_all[512 / 8]; /* zero: deny; as long as the longest range */
    struct kvm_msr_filter filter = { .flags = KVM_MSR_FILTER_DEFAULT_ALLOW };
    _Static_assert(sizeof(msr_deny_ranges) / sizeof(msr_deny_ranges[0]) <=
            KVM_MSR_FILTER_MAX_RANGES, "too many MSR filter ranges");
    for (unsigned i = 0; i < msr_deny_ranges_count; i++) {
        filter.ranges[i].flags = msr_deny_ranges[i].flags;
        filter.ranges[i].nmsrs = msr_deny_ranges[i].count;
        filter.ranges[i].base = msr_deny_ranges[i].base;
        filter.ranges[i].bitmap = deny_all;
    }
    ioctl(vm->vm_fd, KVM_X86_SET_MSR_FILTER, &filter);
}

/* With the capability, KVM itself refuses the paravirtual MSRs and
 * hypercalls whose feature bit the guest's CPUID does not show: with the
 * hypervisor leaves hidden, all of them. */
static void vm_enforce_pv_cpuid(struct vm *vm)
{
    if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ENFORCE_PV_FEATURE_CPUID) <= 0)
        return;
    struct kvm_enable_cap cap = { .cap = KVM_CAP_ENFORCE_PV_FEATURE_CPUID, .args[0] = 1 };
    ioctl(vm->vcpu_fd, KVM_ENABLE_CAP, &cap);
}

int vm_set_cpuid(struct vm *vm, const struct kvm_cpuid_entry2 *entries, uint32_t n,
        char *err, size_t errlen)
{
    uint32_t cap = 256;
    if (n > cap) {
        snprintf(err, errlen, "CPUID table too large (%u entries)", n);
        return -1;
    }
    struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + cap * sizeof(c->entries[0]));
    if (!c)
        return fail(err, errlen, "out of memory");
    if (entries) {
        /* A replay: the recorded table, exactly. */
        c->nent = n;
        memcpy(c->entries, entries, n * sizeof(entries[0]));
    } else {
        c->nent = cap;
        if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
            free(c);
            return fail(err, errlen, "KVM_GET_SUPPORTED_CPUID");
        }
        cpuid_hide_nondeterministic(c->entries, &c->nent);
    }
    if (ioctl(vm->vcpu_fd, KVM_SET_CPUID2, c) < 0) {
        free(c);
        return fail(err, errlen, "KVM_SET_CPUID2");
    }
    free(vm->cpuid);
    vm->cpuid = c;
    vm_enforce_pv_cpuid(vm);
    vm_filter_msrs(vm);
    return 0;
}

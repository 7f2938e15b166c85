/*
 * det_cpuid: what a guest at CPL 0 can read without a hypercall must be
 * replayable (src/monitor/cpuid_msr.c). It installs its own IDT so that
 * #GP and #UD come back to it, then checks:
 *   - CPUID 0x40000000 shows no KVM signature, and leaf 1 has the
 *     hypervisor bit clear (no hypervisor leaves to look at);
 *   - rdmsr of kvmclock and the other KVM paravirtual MSRs faults (#GP),
 *     and so does a wrmsr that would turn kvmclock on (if it went through,
 *     KVM would write the host's clock into the page given);
 *   - a Hyper-V reference counter read and APERF faults;
 *   - rdpmc faults (no virtual PMU), or, on a KVM that cannot turn its
 *     PMU off, reads a counter that does not count;
 *   - rdmsr IA32_TSC works (it is recorded).
 * One line per check ("det_cpuid: <what>: ok" or "... FAIL: <why>"), then
 * "det_cpuid: OK" (exit 0) or "det_cpuid: FAIL (N)" (exit 1). Nothing it
 * prints depends on the host's clock, so record and replay print the same.
 */
#include "rt.h"

RT_MANIFEST(0);

/* Set by the trap stubs: the vector and the rip of the faulting
 * instruction. Every instruction tried here is 2 bytes long (0f 3x), so
 * the stubs resume after it. */
volatile uint64_t det_trap_vector, det_trap_rip;

__asm__(
    ".text\n"
    ".globl det_gp_stub\n"
    "det_gp_stub:\n"                    /* error code, rip, cs, rflags, rsp, ss */
    "    pushq %rax\n"
    "    movq 16(%rsp), %rax\n"
    "    movq %rax, det_trap_rip(%rip)\n"
    "    movq $13, det_trap_vector(%rip)\n"
    "    addq $2, 16(%rsp)\n"
    "    popq %rax\n"
    "    addq $8, %rsp\n"               /* drop the error code */
    "    iretq\n"
    ".globl det_ud_stub\n"
    "det_ud_stub:\n"                    /* rip, cs, rflags, rsp, ss */
    "    pushq %rax\n"
    "    movq 8(%rsp), %rax\n"
    "    movq %rax, det_trap_rip(%rip)\n"
    "    movq $6, det_trap_vector(%rip)\n"
    "    addq $2, 8(%rsp)\n"
    "    popq %rax\n"
    "    iretq\n");
void det_gp_stub(void);
void det_ud_stub(void);

struct idt_gate {
    uint16_t off_lo, selector;
    uint8_t ist, type_attr;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} __attribute__((packed));

static struct idt_gate idt[32] __attribute__((aligned(16)));

static void set_gate(int vector, void (*fn)(void))
{
    uint64_t a = (uint64_t)(uintptr_t)fn;
    idt[vector] = (struct idt_gate){
        .off_lo = (uint16_t)a, .selector = 0x08, .ist = 0,
        .type_attr = 0x8e,              /* present, DPL 0, 64-bit interrupt gate */
        .off_mid = (uint16_t)(a >> 16), .off_hi = (uint32_t)(a >> 32),
    };
}

/* The monitor's GDT (at 0x1000) is not mapped for the guest, and taking an
 * exception reads the code descriptor: bring a copy, as Solo5 does. Same
 * selectors: 0x08 code, 0x10 data. */
static const uint64_t gdt[3] __attribute__((aligned(8))) = {
    0, 0x00af99000000ffffull, 0x00cf93000000ffffull,
};

static void idt_install(void)
{
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } g = {
        sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt,
    };
    __asm__ __volatile__("lgdt %0" : : "m"(g) : "memory");
    set_gate(6, det_ud_stub);
    set_gate(13, det_gp_stub);
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } d = {
        sizeof(idt) - 1, (uint64_t)(uintptr_t)idt,
    };
    __asm__ __volatile__("lidt %0" : : "m"(d) : "memory");
}

static int errors;

static void result(const char *what, int ok, const char *why)
{
    if (ok) {
        printf("det_cpuid: %s: ok\n", what);
    } else {
        printf("det_cpuid: %s: FAIL: %s\n", what, why);
        errors++;
    }
}

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ __volatile__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                         : "a"(leaf), "c"(sub));
}

/* Returns the vector the rdmsr raised (0: none) and the value read. */
static uint64_t try_rdmsr(uint32_t msr, uint64_t *vector)
{
    uint32_t lo = 0, hi = 0;
    det_trap_vector = 0;
    __asm__ __volatile__("rdmsr" : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
    *vector = det_trap_vector;
    return ((uint64_t)hi << 32) | lo;
}

static uint64_t try_wrmsr(uint32_t msr, uint64_t v)
{
    det_trap_vector = 0;
    __asm__ __volatile__("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
                         : "memory");
    return det_trap_vector;
}

static uint64_t try_rdpmc(uint32_t counter, uint64_t *vector)
{
    uint32_t lo = 0, hi = 0;
    det_trap_vector = 0;
    __asm__ __volatile__("rdpmc" : "+a"(lo), "+d"(hi) : "c"(counter) : "memory");
    *vector = det_trap_vector;
    return ((uint64_t)hi << 32) | lo;
}

static void expect_rdmsr_gp(const char *name, uint32_t msr)
{
    char what[96], why[96];
    uint64_t vec;
    uint64_t v = try_rdmsr(msr, &vec);
    snprintf(what, sizeof what, "rdmsr 0x%x (%s) faults", msr, name);
    snprintf(why, sizeof why, "vector %lu, read 0x%lx", vec, v);
    result(what, vec == 13, why);
}

/* A page for kvmclock to write into, were it turned on. */
static uint8_t pvclock_page[4096] __attribute__((aligned(4096)));

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    idt_install();

    uint32_t r[4];
    cpuid(0x40000000, 0, r);
    char sig[13];
    memcpy(sig, &r[1], 4);
    memcpy(sig + 4, &r[2], 4);
    memcpy(sig + 8, &r[3], 4);
    sig[12] = 0;
    result("cpuid 0x40000000 has no KVM signature", memcmp(sig, "KVMKVMKVM", 9) != 0,
           "the guest sees \"KVMKVMKVM\"");
    /* "rdrand-may-show": this KVM ignores those bits of the CPUID table
     * (tools/kvm-probe cpuid-hides-rdrand says "shown"). The instructions
     * are patched into recorded traps anyway: then they must replay. */
    char arg[32] = "";
    cmdline_arg(0, arg, sizeof arg);
    int may_show = strcmp(arg, "rdrand-may-show") == 0;
    cpuid(1, 0, r);
    result("cpuid 1: hypervisor bit clear", !(r[2] & (1u << 31)), "ECX bit 31 is set");
    int rdrand_shown = (r[2] & (1u << 30)) != 0;
    cpuid(7, 0, r);
    int rdseed_shown = (r[1] & (1u << 18)) != 0;
    if (may_show && (rdrand_shown || rdseed_shown)) {
        uint64_t v;
        unsigned char ok;
        __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
        printf("det_cpuid: RDRAND/RDSEED shown by this KVM; rdrand gave %lx (cf %u)\n",
               (unsigned long)v, ok);
    } else {
        result("cpuid 1: RDRAND hidden", !rdrand_shown, "ECX bit 30 is set");
        result("cpuid 7: RDSEED hidden", !rdseed_shown, "EBX bit 18 is set");
    }

    expect_rdmsr_gp("MSR_KVM_WALL_CLOCK", 0x11);
    expect_rdmsr_gp("MSR_KVM_SYSTEM_TIME", 0x12);
    expect_rdmsr_gp("MSR_KVM_WALL_CLOCK_NEW", 0x4b564d00);
    expect_rdmsr_gp("MSR_KVM_SYSTEM_TIME_NEW", 0x4b564d01);
    expect_rdmsr_gp("MSR_KVM_ASYNC_PF_EN", 0x4b564d02);
    expect_rdmsr_gp("MSR_KVM_STEAL_TIME", 0x4b564d03);
    expect_rdmsr_gp("MSR_KVM_PV_EOI_EN", 0x4b564d04);
    expect_rdmsr_gp("HV_X64_MSR_TIME_REF_COUNT", 0x40000020);
    expect_rdmsr_gp("IA32_APERF", 0xe8);

    uint64_t vec = try_wrmsr(0x4b564d01, (uint64_t)(uintptr_t)pvclock_page | 1);
    char why[96];
    snprintf(why, sizeof why, "vector %lu; kvmclock page version %u", vec,
             *(volatile uint32_t *)pvclock_page);
    result("wrmsr MSR_KVM_SYSTEM_TIME_NEW (kvmclock on) faults", vec == 13, why);
    try_wrmsr(0x4b564d01, 0); /* off again, in case it went through */
    vec = try_wrmsr(0x12, (uint64_t)(uintptr_t)pvclock_page | 1);
    snprintf(why, sizeof why, "vector %lu", vec);
    result("wrmsr MSR_KVM_SYSTEM_TIME (old kvmclock on) faults", vec == 13, why);
    try_wrmsr(0x12, 0);
    vec = try_wrmsr(0x186, 0x43003c); /* count unhalted cycles in counter 0 */
    snprintf(why, sizeof why, "vector %lu", vec);
    result("wrmsr IA32_PERFEVTSEL0 faults", vec == 13, why);
    vec = try_wrmsr(0xc0010000, 0x430076); /* AMD: count cycles in counter 0 */
    snprintf(why, sizeof why, "vector %lu", vec);
    result("wrmsr AMD PerfEvtSel0 faults", vec == 13, why);

    /* KVM traps rdpmc on VMX and SVM alike. With the VM's PMU off it raises
     * #GP; a KVM that cannot turn it off (Linux 6.1 on AMD, for one) reads
     * a virtual counter, which no event ever drives (the selector writes
     * above fault): it must read the same before and after some work. */
    uint64_t vec2;
    uint64_t v = try_rdpmc(0, &vec);
    volatile uint64_t sink = 0;
    for (int i = 0; i < 20000; i++)
        sink += (uint64_t)i * 3;
    uint64_t v2 = try_rdpmc(0, &vec2);
    if (vec == 13 && vec2 == 13) {
        puts("det_cpuid: rdpmc 0: #GP: ok\n");
    } else {
        snprintf(why, sizeof why, "vectors %lu, %lu; read 0x%lx then 0x%lx", vec, vec2, v, v2);
        result("rdpmc 0: does not count", vec == 0 && vec2 == 0 && v == v2, why);
    }
    v = try_rdpmc(1u << 30, &vec); /* Intel's fixed counter 0; on AMD, counter 0 */
    snprintf(why, sizeof why, "vector %lu, read 0x%lx", vec, v);
    result("rdpmc 0x40000000: faults or reads 0", vec == 13 || (vec == 0 && v == 0), why);

    v = try_rdmsr(0x10, &vec);
    snprintf(why, sizeof why, "vector %lu", vec);
    result("rdmsr IA32_TSC works (recorded)", vec == 0 && v != 0, why);

    if (errors) {
        printf("det_cpuid: FAIL (%d)\n", errors);
        return 1;
    }
    puts("det_cpuid: OK\n");
    return 0;
}

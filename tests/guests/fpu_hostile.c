/*
 * fpu_hostile: x87/SSE instructions whose memory operand a debugger
 * watches, so that KVM's emulator gives up on them and the monitor
 * completes them (tests/integration/fpu_hostile.sh). The first argument
 * picks one:
 *   ldmxcsr  ldmxcsr from `mx`, which holds reserved bits: #GP(0)
 *   movsd    movsd of 2.5 into `out` (a write watchpoint must fire)
 *   fstp     fstp of 2.5 into `out` (the same, for x87)
 *   text     movsd into the guest's own text: a translation fault, as for
 *            any store there
 *   readonly movsd into the boot information, which the page tables map
 *            read-only: #PF
 * Each prints what it got and returns 0 when the instruction went through.
 */
#include "rt.h"

RT_MANIFEST(0);

/* each on a page of its own, so that watching one leaves the rest alone */
uint32_t mx __attribute__((aligned(4096))) = 0xffff1f80;
volatile double out __attribute__((aligned(4096)));
static const double two_and_a_half = 2.5;

NOINLINE int target(int x)
{
    return x + 1;
}

int main(const struct hvt_boot_info *bi)
{
    char what[16];
    if (cmdline_arg(0, what, sizeof(what)) < 0)
        what[0] = 0;
    if (strcmp(what, "ldmxcsr") == 0) {
        __asm__ volatile("ldmxcsr %0" : : "m"(mx));
        uint32_t now;
        __asm__ volatile("stmxcsr %0" : "=m"(now));
        printf("fpu_hostile: ldmxcsr went through: mxcsr 0x%x\n", (unsigned)now);
        return 0;
    }
    if (strcmp(what, "movsd") == 0) {
        __asm__ volatile("movsd %1, %%xmm0\n\tmovsd %%xmm0, %0" : "=m"(out) : "m"(two_and_a_half)
                : "xmm0");
        printf("fpu_hostile: movsd stored %d/10\n", (int)(out * 10));
        return 0;
    }
    if (strcmp(what, "fstp") == 0) {
        __asm__ volatile("fldl %1\n\tfstpl %0" : "=m"(out) : "m"(two_and_a_half));
        printf("fpu_hostile: fstp stored %d/10\n", (int)(out * 10));
        return 0;
    }
    if (strcmp(what, "text") == 0) {
        volatile double *p = (volatile double *)(uintptr_t)&target;
        __asm__ volatile("movsd %1, %%xmm0\n\tmovsd %%xmm0, %0" : "=m"(*p) : "m"(two_and_a_half)
                : "xmm0");
        printf("fpu_hostile: FAIL: the store into text at %p went through\n", (void *)(uintptr_t)p);
        return 2;
    }
    if (strcmp(what, "readonly") == 0) {
        volatile double *p = (volatile double *)(uintptr_t)&bi->net_ring;
        __asm__ volatile("movsd %1, %%xmm0\n\tmovsd %%xmm0, %0" : "=m"(*p) : "m"(two_and_a_half)
                : "xmm0");
        printf("fpu_hostile: FAIL: the store into read-only %p went through\n", (void *)(uintptr_t)p);
        return 2;
    }
    printf("fpu_hostile: unknown test '%s'\n", what);
    return 1;
}

/*
 * fpu_hostile: x87/SSE instructions whose memory operand a debugger
 * watches, so that KVM's emulator gives up on them and the monitor
 * completes them (tests/integration/fpu_hostile.sh). The first argument
 * picks one:
 *   ldmxcsr  ldmxcsr from `mx`, which holds reserved bits: #GP(0)
 *   ldmxcsr-idt  the same with a #GP handler installed: it must run, with
 *            error code 0 and the ldmxcsr's address; it halts with 3
 *   movsd    movsd of 2.5 into `out` (a write watchpoint must fire)
 *   fstp     fstp of 2.5 into `out` (the same, for x87)
 *   text     movsd into the guest's own text: a translation fault, as for
 *            any store there
 * Each prints what it got and returns 0 when the instruction went through.
 */
#include "rt.h"

RT_MANIFEST(0);

/* each on a page of its own, so that watching one leaves the rest alone */
uint32_t mx __attribute__((aligned(4096))) = 0xffff1f80;
volatile double out __attribute__((aligned(4096)));
static const double two_and_a_half = 2.5;

/* A 64-bit IDT with only a #GP handler (vector 13). */
struct idt_gate {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
};
static struct idt_gate idt[14] __attribute__((aligned(16)));
extern char ldmxcsr_site[];
void gp_entry(void);
__attribute__((used)) NORETURN void on_gp(const uint64_t *frame);

/* The CPU pushes the error code, then rip, cs, rflags, rsp, ss. */
__asm__(".text\n"
        ".globl gp_entry\n"
        "gp_entry:\n"
        "    mov %rsp, %rdi\n"
        "    and $-16, %rsp\n"
        "    call on_gp\n");

void on_gp(const uint64_t *frame)
{
    printf("fpu_hostile: #GP error code %d at %s\n", (int)frame[0],
            frame[1] == (uint64_t)(uintptr_t)ldmxcsr_site ? "the ldmxcsr" : "another address");
    hc_halt(3);
}

/* The monitor's GDT is not mapped for the guest, and delivering an
 * exception reads the code descriptor: load a copy of it (as Solo5 does). */
static const uint64_t gdt[3] __attribute__((aligned(16))) = {
    0, 0x00af9b000000ffffULL, 0x00cf93000000ffffULL };

static void install_gp_handler(void)
{
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdtr = {
        sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt };
    __asm__ volatile("lgdt %0" : : "m"(gdtr));
    uint64_t h = (uint64_t)(uintptr_t)gp_entry;
    idt[13] = (struct idt_gate){ .off_lo = (uint16_t)h, .sel = 0x08, .type = 0x8e,
        .off_mid = (uint16_t)(h >> 16), .off_hi = (uint32_t)(h >> 32) };
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } idtr = {
        sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

NOINLINE int target(int x)
{
    return x + 1;
}

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    char what[16];
    if (!cmdline_arg(0, what, sizeof(what)))
        what[0] = 0;
    if (strcmp(what, "ldmxcsr") == 0 || strcmp(what, "ldmxcsr-idt") == 0) {
        if (what[7] == '-')
            install_gp_handler();
        /* x87 and SSE state in use first: a KVM may report the state of a
         * guest that never used them as all zero (exceptions unmasked) */
        double d;
        __asm__ volatile("fld1\n\tfstp %%st(0)\n\tmovsd %1, %%xmm1\n\tmovsd %%xmm1, %0"
                : "=m"(d) : "m"(two_and_a_half) : "xmm1");
        __asm__ volatile(".globl ldmxcsr_site\nldmxcsr_site:\n\tldmxcsr %0" : : "m"(mx));
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
    printf("fpu_hostile: unknown test '%s'\n", what);
    return 1;
}

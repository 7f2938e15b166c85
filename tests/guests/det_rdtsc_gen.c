/*
 * det_rdtsc_gen: an rdtsc that ukvm cannot patch, because the load-time
 * scan does not see it (README, "What a guest must do to stay
 * replayable"). With argument
 *   heap    (the default) the guest writes `rdtsc; shl $32,%rdx; or %rdx,%rax;
 *           ret` into a .bss buffer at run time and calls it (guest memory
 *           outside the kernel's text is executable: the hvt page tables set
 *           no NX bit);
 *   hidden  it calls into the middle of a `mov $imm32,%eax` in its own
 *           text whose immediate holds the bytes of rdtsc; ret: the linear
 *           scan decodes the mov and never sees the rdtsc.
 * It first prints a line that does not depend on the value, then
 *     det_rdtsc_gen: MODE tsc T (low digit D)
 * and exits 0. The value is read natively by the CPU and is not in the
 * trace, so a replay prints another one: it must stop with a divergence at
 * that puts event (its rip and event number), not print it.
 */
#include "rt.h"

RT_MANIFEST(0);

static uint8_t code_buf[64] __attribute__((aligned(64)));

static const uint8_t rdtsc_fn[] = {
    0x0f, 0x31,             /* rdtsc */
    0x48, 0xc1, 0xe2, 0x20, /* shl $32, %rdx */
    0x48, 0x09, 0xd0,       /* or %rdx, %rax */
    0xc3,                   /* ret */
};

/* B8 imm32 = mov $0x90c3310f, %eax; its immediate is 0f 31 (rdtsc) c3 (ret). */
__asm__(
    ".text\n"
    ".globl det_hidden_mov\n"
    "det_hidden_mov:\n"
    "    .byte 0xb8\n"
    ".globl det_hidden_rdtsc\n"
    "det_hidden_rdtsc:\n"
    "    .byte 0x0f, 0x31, 0xc3, 0x90\n"
    "    ret\n");

static uint64_t hidden_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("call det_hidden_rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

static uint64_t generated_rdtsc(void)
{
    volatile uint8_t *dst = code_buf;
    for (size_t i = 0; i < sizeof rdtsc_fn; i++)
        dst[i] = rdtsc_fn[i];
    __asm__ __volatile__("" : : : "memory");
    uint64_t (*fn)(void) = (uint64_t (*)(void))(uintptr_t)code_buf;
    return fn();
}

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    char mode[16] = "heap";
    cmdline_arg(0, mode, sizeof mode);
    int hidden = strcmp(mode, "hidden") == 0;
    if (!hidden && strcmp(mode, "heap") != 0) {
        printf("det_rdtsc_gen: FAIL: unknown mode '%s' (heap or hidden)\n", mode);
        return 1;
    }
    printf("det_rdtsc_gen: %s: reading the TSC with an unpatched rdtsc at %p\n", mode,
           hidden ? (void *)(uintptr_t)&hidden_rdtsc : (void *)code_buf);
    uint64_t t = hidden ? hidden_rdtsc() : generated_rdtsc();
    printf("det_rdtsc_gen: %s tsc %lu (low digit %lu)\n", mode, t, t % 10);
    return 0;
}

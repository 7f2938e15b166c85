/*
 * nullptr: prints a message, then reads address 0, which the monitor's page
 * tables leave unmapped. There is no IDT, so the page fault escalates to a
 * triple fault and the monitor must stop the guest (exit status 1). If the
 * read succeeds, the guest says so and halts with status 2.
 */
#include "rt.h"

RT_MANIFEST(0);

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    uint64_t v;
    puts("nullptr: reading address 0\n");
    /* In assembly, so that the compiler cannot turn it into a trap. */
    __asm__ __volatile__("movq 0, %0" : "=r"(v) : : "memory");
    printf("nullptr: FAIL: read 0x%lx from address 0\n", v);
    return 2;
}

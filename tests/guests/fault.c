/*
 * fault: prints a message, then stores into its own text (the first byte of
 * target()). The text segment is read-only on the host side, so the monitor
 * must stop the guest (host/guest translation fault, exit status 1). If the
 * store goes through, the guest says so and halts with status 2.
 */
#include "rt.h"

RT_MANIFEST(0);

NOINLINE int target(int x)
{
    return x + 1;
}

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)&target;
    printf("fault: writing into text at %p\n", (void *)(uintptr_t)p);
    *p = 0xcc;
    printf("fault: FAIL: the store into text at %p went through\n",
           (void *)(uintptr_t)p);
    return 2;
}

/*
 * badcall: abuses the hypercall interface; the monitor must refuse with one
 * line naming the problem and exit 1. The abuse is chosen by the first
 * argument:
 *   ptr     puts with data = 0xffffffff0000 (far outside guest memory)
 *   len     puts with a valid buffer and len = 1 << 40
 *   struct  puts whose struct address is at (or runs past) the end of memory
 *   port    a 4-byte `out` to port 0x5ff (no such hypercall)
 *   size    a 1-byte `out` to port 0x502 (puts with the wrong width)
 *   in      a 4-byte `in` from port 0x502 (wrong direction)
 * Each mode prints "badcall: MODE" first. If the monitor lets the guest go
 * on, it prints "badcall: FAIL: monitor accepted MODE" and exits 2. Without
 * a known mode it prints the usage and exits 3.
 */
#include "rt.h"

RT_MANIFEST(0);

static const char msg[] = "badcall: this text must not be printed\n";

int main(const struct hvt_boot_info *bi)
{
    char mode[16];
    if (!cmdline_arg(0, mode, sizeof mode))
        mode[0] = '\0';
    printf("badcall: %s\n", mode);

    if (strcmp(mode, "ptr") == 0) {
        struct hvt_hc_puts a = { .data = 0xffffffff0000ull, .len = 16 };
        hvt_hypercall(HVT_HYPERCALL_PUTS, &a);
    } else if (strcmp(mode, "len") == 0) {
        struct hvt_hc_puts a = { .data = (uintptr_t)msg, .len = 1ull << 40 };
        hvt_hypercall(HVT_HYPERCALL_PUTS, &a);
    } else if (strcmp(mode, "struct") == 0) {
        /* The first byte past guest memory; with 4 GiB of memory, a struct
         * that starts 8 bytes before the end and runs past it. */
        uint32_t addr = bi->mem_size >= (1ull << 32) ? 0xfffffff8u
                                                     : (uint32_t)bi->mem_size;
        __asm__ __volatile__("outl %0, %1"
                             :
                             : "a"(addr),
                               "d"((uint16_t)(HVT_HYPERCALL_PIO_BASE +
                                              HVT_HYPERCALL_PUTS))
                             : "memory");
    } else if (strcmp(mode, "port") == 0) {
        struct hvt_hc_puts a = { .data = (uintptr_t)msg, .len = sizeof msg - 1 };
        __asm__ __volatile__("outl %0, %1"
                             :
                             : "a"((uint32_t)(uintptr_t)&a), "d"((uint16_t)0x5ff)
                             : "memory");
    } else if (strcmp(mode, "size") == 0) {
        struct hvt_hc_puts a = { .data = (uintptr_t)msg, .len = sizeof msg - 1 };
        __asm__ __volatile__("outb %b0, %1"
                             :
                             : "a"((uint32_t)(uintptr_t)&a),
                               "d"((uint16_t)(HVT_HYPERCALL_PIO_BASE +
                                              HVT_HYPERCALL_PUTS))
                             : "memory");
    } else if (strcmp(mode, "in") == 0) {
        uint32_t v;
        __asm__ __volatile__("inl %1, %0"
                             : "=a"(v)
                             : "d"((uint16_t)(HVT_HYPERCALL_PIO_BASE +
                                              HVT_HYPERCALL_PUTS))
                             : "memory");
        (void)v;
    } else {
        puts("badcall: usage: badcall ptr|len|struct|port|size|in\n");
        return 3;
    }
    printf("badcall: FAIL: monitor accepted %s\n", mode);
    return 2;
}

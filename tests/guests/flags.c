/*
 * flags: pushf and popf, for "debugging leaves no trace" tests and the
 * reverse-execution oracle. In each of ROUNDS rounds:
 *     pushed[r]  = what pushfq pushed (the guest never sets TF, so 0x100
 *                  in it is a debugger's trap flag leaking in)
 *     popped[r]  = pushfq right after popfq of a chosen value (CF, ZF, SF,
 *                  OF and DF in turn): the flags must come back as set
 *     cross.v   += pushed[r] ^ popped[r] ^ r, a read-modify-write of 8 bytes
 *                  that straddle a page boundary (4 bytes on either side)
 * then prints every round and the sum:
 *     flags: round R pushf 0x... popf 0x... -> pushf 0x...
 *     flags: cross 0x...
 * and exits 0.
 */
#include "rt.h"

RT_MANIFEST(0);

#define ROUNDS 6

uint64_t pushed[ROUNDS];
uint64_t popped[ROUNDS];
uint64_t wanted[ROUNDS];
/* v's 8 bytes are the last 4 of one page and the first 4 of the next; in
 * .data (initialised), so that start.S's byte-wise clear of .bss stays short
 * for tests that single-step it */
struct {
    uint8_t pad[4092];
    uint64_t v;
} __attribute__((packed, aligned(4096))) cross = { .v = 1 };

NOINLINE uint64_t read_flags(void)
{
    uint64_t f;
    __asm__ __volatile__("pushfq\n    popq %0" : "=r"(f));
    return f;
}

NOINLINE uint64_t set_and_read_flags(uint64_t want)
{
    uint64_t f;
    __asm__ __volatile__("pushq %1\n    popfq\n    pushfq\n    popq %0\n    cld"
                         : "=r"(f) : "r"(want) : "cc");
    return f;
}

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    static const uint64_t bits[ROUNDS] = { 0x1, 0x40, 0x80, 0x800, 0x400, 0x8c5 };
    for (int r = 0; r < ROUNDS; r++) {
        pushed[r] = read_flags();
        wanted[r] = 0x2 | bits[r];
        popped[r] = set_and_read_flags(wanted[r]);
        cross.v += pushed[r] ^ popped[r] ^ (uint64_t)r;
    }
    for (int r = 0; r < ROUNDS; r++)
        printf("flags: round %d pushf 0x%lx popf 0x%lx -> pushf 0x%lx\n", r, pushed[r],
               wanted[r], popped[r]);
    printf("flags: cross 0x%lx\n", cross.v);
    return 0;
}

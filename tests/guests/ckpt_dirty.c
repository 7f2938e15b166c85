/*
 * ckpt_dirty: a guest that makes checkpoints expensive, for the checkpoint
 * memory tests (tests/integration/checkpoint_mem.sh).
 *   ckpt_dirty dirty ROUNDS PAGES  writes one byte into each of PAGES pages
 *                                  (default 2048: 8 MiB), ROUNDS times, so
 *                                  every periodic checkpoint holds many pages
 *   ckpt_dirty spin ROUNDS         only computes (1000 steps a round): every
 *                                  checkpoint holds no page at all, only its
 *                                  fixed cost
 *   ckpt_dirty spinms MS           the same for MS milliseconds of wall-clock
 *                                  time (read every round, so as long on a
 *                                  fast KVM as on a slow one)
 * Both start with a call to mark_start() and end with one to mark_end(), for
 * breakpoints, and print a digest of what they did.
 */
#include "rt.h"

RT_MANIFEST(0);

volatile uint64_t rounds_done;

__attribute__((noinline, noipa)) void mark_start(void) { __asm__ volatile(""); }
__attribute__((noinline, noipa)) void mark_end(void) { __asm__ volatile(""); }

int main(const struct hvt_boot_info *bi)
{
    /* the pages above the kernel: not part of the boot image, so the boot
     * checkpoint does not have to hold them */
    uint8_t *area = (uint8_t *)((bi->kernel_end + 4095) & ~4095ULL);
    uint64_t room = (bi->mem_size - 0x100000 - ((uint64_t)area)) / 4096;
    char mode[16] = "";
    cmdline_arg(0, mode, sizeof mode);
    uint64_t rounds = cmdline_u64(1, 100);
    uint64_t pages = cmdline_u64(2, 2048);
    if (pages > room)
        pages = room;
    uint64_t digest = 0;
    mark_start();
    if (strcmp(mode, "dirty") == 0) {
        for (uint64_t r = 0; r < rounds; r++) {
            for (uint64_t p = 0; p < pages; p++)
                area[p * 4096 + (r % 64)] = (uint8_t)(r + p);
            rounds_done = r + 1;
        }
        for (uint64_t p = 0; p < pages; p++)
            digest = digest * 31 + area[p * 4096];
    } else if (strcmp(mode, "spin") == 0) {
        for (uint64_t r = 0; r < rounds; r++) {
            for (uint64_t i = 0; i < 1000; i++)
                digest = digest * 6364136223846793005ULL + i;
            rounds_done = r + 1;
        }
    } else if (strcmp(mode, "spinms") == 0) {
        uint64_t until = hc_walltime() + rounds * 1000000ULL;
        uint64_t r = 0;
        do {
            for (uint64_t i = 0; i < 1000; i++)
                digest = digest * 6364136223846793005ULL + i;
            rounds_done = ++r;
        } while (hc_walltime() < until);
        rounds = r;
    } else {
        puts("ckpt_dirty: usage: ckpt_dirty dirty [ROUNDS [PAGES]] | spin [ROUNDS] | spinms [MS]\n");
        return 2;
    }
    mark_end();
    printf("ckpt_dirty: %s %lu rounds, digest %lx\n", mode, rounds, digest);
    return 0;
}

/*
 * loop: a long-running guest for record/replay and kill tests.
 * `loop [N]` runs N iterations (default 0 = forever, until killed); each
 * iteration makes a walltime hypercall and reads the TSC, and every 4096
 * iterations it prints
 *     loop: iter I tsc T wall W
 * At the end it prints "loop: done N iterations" and exits 0.
 */
#include "rt.h"

RT_MANIFEST(0);

#define REPORT_EVERY 4096

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    uint64_t n = cmdline_u64(0, 0);
    uint64_t sum = 0;

    printf("loop: starting, %lu iterations%s\n", n, n ? "" : " (forever)");
    for (uint64_t i = 1; n == 0 || i <= n; i++) {
        uint64_t wall = hc_walltime();
        uint64_t tsc = rdtsc();
        sum += (wall ^ tsc) & 0xff;
        if (i % REPORT_EVERY == 0)
            printf("loop: iter %lu tsc %lu wall %lu\n", i, tsc, wall);
    }
    printf("loop: done %lu iterations (mix %lu)\n", n, sum);
    return 0;
}

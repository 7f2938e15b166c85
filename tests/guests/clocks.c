/*
 * clocks: reads every clock and prints nothing that depends on what it read,
 * so that two recordings of it differ only in their clock events (for
 * `ukvm-trace diff --ignore`). `clocks [N]` (default 5) reads the TSC with
 * rdtsc and rdtscp and the wall clock, N times each, folding the values
 * into a sum it keeps in memory, then prints
 *     clocks: read the clocks N times
 * and exits 0.
 */
#include "rt.h"

RT_MANIFEST(0);

static volatile uint64_t sum;

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    uint64_t n = cmdline_u64(0, 5);
    uint32_t aux;
    for (uint64_t i = 0; i < n; i++)
        sum += rdtsc() + rdtscp(&aux) + hc_walltime();
    printf("clocks: read the clocks %lu times\n", n);
    return 0;
}

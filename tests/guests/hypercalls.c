/*
 * hypercalls: a benchmark guest. `hypercalls [N]` makes N walltime
 * hypercalls (default 100000) in a tight loop, then prints
 *     hypercalls: N walltime calls
 *     hypercalls: elapsed T ns (P ns/call)
 * and exits 0.
 */
#include "rt.h"

RT_MANIFEST(0);

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    uint64_t n = cmdline_u64(0, 100000);
    uint64_t t0 = rdtsc();
    uint64_t i;
    for (i = 0; i < n; i++)
        (void)hc_walltime();
    uint64_t ns = tsc_to_ns(rdtsc() - t0);
    printf("hypercalls: %lu walltime calls\n", i);
    printf("hypercalls: elapsed %lu ns (%lu ns/call)\n", ns, n ? ns / n : 0);
    return 0;
}

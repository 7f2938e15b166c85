/*
 * clockstorm: the cheapest events there are, for long traces.
 * `clockstorm N` makes N walltime hypercalls in a tight loop (one event
 * each) and prints one line at the start and one at the end:
 *     clockstorm: done N calls (mix M)
 * so that a trace of N + 3 events costs as few guest instructions per event
 * as possible (this machine's KVM emulates each one).
 */
#include "rt.h"

RT_MANIFEST(0);

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    uint64_t n = cmdline_u64(0, 1000);
    uint64_t mix = 0;
    printf("clockstorm: %lu calls\n", n);
    for (uint64_t i = 0; i < n; i++)
        mix += hc_walltime() & 0xff;
    printf("clockstorm: done %lu calls (mix %lu)\n", n, mix);
    return 0;
}

/*
 * time: reads the TSC (inline rdtsc, plus one rdtscp) and the wall clock
 * around a 10 ms poll, ITERATIONS times. Each iteration prints
 *     time: iter I tsc A -> B (+C ns) wall D -> E (+F ns)
 * with the raw values and the elapsed times (TSC converted with
 * cpu_cycle_freq). Then it prints "time: OK" and exits 0, or
 * "time: FAIL: <why>" and exits 1 when a clock went backwards or a 10 ms
 * sleep took less than 5 ms by either clock.
 */
#include "rt.h"

RT_MANIFEST(0);

#define ITERATIONS 5
#define SLEEP_NS   10000000ull  /* 10 ms */
#define MIN_NS     5000000ull   /* lenient lower bound for a 10 ms sleep */

int main(const struct hvt_boot_info *bi)
{
    int fail = 0;
    uint32_t aux;

    printf("time: cpu_cycle_freq %lu Hz\n", bi->cpu_cycle_freq);
    if (bi->cpu_cycle_freq == 0) {
        puts("time: FAIL: cpu_cycle_freq is 0\n");
        return 1;
    }

    uint64_t first_tsc = rdtscp(&aux);
    uint64_t first_wall = hc_walltime();

    for (int i = 0; i < ITERATIONS; i++) {
        uint64_t tsc0 = rdtsc();
        uint64_t wall0 = hc_walltime();
        int ret;
        hc_poll(SLEEP_NS, &ret);
        uint64_t tsc1 = rdtsc();
        uint64_t wall1 = hc_walltime();

        uint64_t tsc_ns = tsc1 >= tsc0 ? tsc_to_ns(tsc1 - tsc0) : 0;
        uint64_t wall_ns = wall1 >= wall0 ? wall1 - wall0 : 0;
        printf("time: iter %d tsc %lu -> %lu (+%lu ns) wall %lu -> %lu (+%lu ns)\n",
               i, tsc0, tsc1, tsc_ns, wall0, wall1, wall_ns);
        /* ret counts ready events (none here); negative is an error. */
        if (ret < 0) {
            printf("time: FAIL: poll returned %d\n", ret);
            fail = 1;
        }
        if (tsc1 < tsc0 || wall1 < wall0) {
            puts("time: FAIL: a clock went backwards\n");
            fail = 1;
        } else if (tsc_ns < MIN_NS || wall_ns < MIN_NS) {
            puts("time: FAIL: a 10 ms sleep took less than 5 ms\n");
            fail = 1;
        }
    }

    uint64_t last_tsc = rdtsc();
    uint64_t last_wall = hc_walltime();
    printf("time: total tsc +%lu ns, wall +%lu ns\n",
           tsc_to_ns(last_tsc - first_tsc), last_wall - first_wall);
    puts(fail ? "time: FAIL\n" : "time: OK\n");
    return fail;
}

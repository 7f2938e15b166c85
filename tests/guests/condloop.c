/*
 * condloop: a guest for conditional-breakpoint tests and benchmarks.
 * `condloop [N]` (default 1000) calls visit(i) for i = 0 .. N-1; visit is
 * noinline and its argument is a C int, so `break visit if i == K` stops
 * on exactly one of the N calls. It prints
 *     condloop: N calls, sum S
 * and exits 0. About 10 instructions per call.
 */
#include "rt.h"

RT_MANIFEST(0);

volatile uint64_t visited;      /* sum of the i visited so far */

NOINLINE void visit(int i)
{
    visited += (uint64_t)i;
}

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    int n = (int)cmdline_u64(0, 1000);
    for (int i = 0; i < n; i++)
        visit(i);
    printf("condloop: %d calls, sum %lu\n", n, (unsigned long)visited);
    return 0;
}

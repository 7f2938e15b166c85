/*
 * sse: a guest built with SSE enabled, like unikernels from Solo5's
 * toolchain. On KVMs that emulate CPL-0 code (this machine's), KVM cannot
 * emulate most SSE instructions and ukvm completes them itself; elsewhere
 * they simply run. Prints the results of sse_work() and exits 0.
 */
#include "rt.h"
#include "sse_work.h"

RT_MANIFEST(0);

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    struct sse_results r;
    sse_work(&r);
    printf("sse: vec=0x%lx dot=%ld sqrt=%ld float=%ld zeroed=%lu x87=%ld\n", r.vec_sum, r.dot_milli,
           r.sqrt_milli, r.float_milli, r.zeroed, r.x87_milli);
    return 0;
}

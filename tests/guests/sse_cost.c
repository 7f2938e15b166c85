/*
 * sse_cost: what one SSE instruction costs the guest, against a hypercall
 * round trip, timed by the guest's own clock (for `make bench`). On a KVM
 * that emulates CPL-0 code, each SSE instruction is an exit that ukvm
 * completes; elsewhere it simply runs. `sse_cost N` times three loops of N
 * iterations each: one integer add (the loop's own cost), one SSE multiply
 * and one SSE compare (the compare changes only RFLAGS), one walltime
 * hypercall; and prints
 *     sse_cost: n=N base_ns=B sse_ns=S hypercall_ns=H above=A x=X
 * (per iteration; A and X are results, the same on every run).
 */
#include "rt.h"

RT_MANIFEST(0);

static const double growth = 1.0001, limit = 1.5;

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    uint64_t n = cmdline_u64(0, 1000);
    uint64_t one = 1, sum = 0, above = 0;
    double x = 1.0;

    /* each loop in assembly, so that only the instructions named run in it */
    uint64_t t0 = hc_walltime();
    if (n) {
        uint64_t i = n;
        __asm__ __volatile__("1: add %[one], %[sum]\n\t"
                             "dec %[i]\n\t"
                             "jnz 1b"
                             : [sum] "+r"(sum), [i] "+r"(i)
                             : [one] "m"(one)
                             : "cc");
    }
    uint64_t t1 = hc_walltime();
    if (n) {
        uint64_t i = n, gt;
        __asm__ __volatile__("1: mulsd %[g], %[x]\n\t"
                             "comisd %[l], %[x]\n\t"
                             "seta %b[gt]\n\t"
                             "movzbl %b[gt], %k[gt]\n\t"
                             "add %[gt], %[above]\n\t"
                             "dec %[i]\n\t"
                             "jnz 1b"
                             : [x] "+x"(x), [above] "+r"(above), [i] "+r"(i), [gt] "=&q"(gt)
                             : [g] "m"(growth), [l] "m"(limit)
                             : "cc");
    }
    uint64_t t2 = hc_walltime();
    uint64_t mix = 0;
    for (uint64_t i = 0; i < n; i++)
        mix += hc_walltime() & 1;
    uint64_t t3 = hc_walltime();

    uint64_t d = n ? n : 1;
    /* x in millionths, as an integer: the console has no %f */
    uint64_t x_micro = (uint64_t)(x * 1e6);
    printf("sse_cost: n=%lu base_ns=%lu sse_ns=%lu hypercall_ns=%lu above=%lu x=%lu.%06lu\n",
           n, (t1 - t0) / d, (t2 - t1) / d, (t3 - t2) / d, above, x_micro / 1000000,
           x_micro % 1000000);
    (void)sum;
    (void)mix;
    return 0;
}

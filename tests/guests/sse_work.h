/*
 * The computation of the `sse` guest, shared with a host build of the same
 * code (tests/integration/sse.sh) that gives the expected output. Built
 * for the guest with SSE enabled, as Solo5's toolchain does by default, so
 * the compiler emits SSE arithmetic (pxor, paddd, mulsd, sqrtsd, cvt*...).
 */
#ifndef SSE_WORK_H
#define SSE_WORK_H

#include <stdint.h>

struct sse_results {
    uint64_t vec_sum;       /* an auto-vectorised integer loop */
    int64_t dot_milli;      /* a double-precision dot product, x1000 */
    int64_t sqrt_milli;     /* sqrt of a sum of squares, x1000 */
    int64_t float_milli;    /* single-precision arithmetic, x1000 */
    uint64_t zeroed;        /* a struct cleared with SSE stores */
    int64_t x87_milli;      /* long double arithmetic: x87 instructions */
};

struct sse_blob { uint64_t a[8]; uint32_t b[6]; };

static __attribute__((noinline, unused)) uint64_t sse_vec_sum(const uint32_t *v, unsigned n)
{
    uint32_t s = 0, x = 0;
    for (unsigned i = 0; i < n; i++) {
        s += v[i] * 3u + (v[i] >> 2);
        x ^= v[i] << 1;
    }
    return ((uint64_t)s << 32) | x;
}

static __attribute__((noinline, unused)) double sse_dot(const double *a, const double *b, unsigned n)
{
    double s = 0;
    for (unsigned i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static inline void sse_work(struct sse_results *r)
{
    static uint32_t v[256];
    static double a[64], b[64];
    for (unsigned i = 0; i < 256; i++)
        v[i] = i * 2654435761u;
    for (unsigned i = 0; i < 64; i++) {
        a[i] = (double)i / 7.0 + 0.25;
        b[i] = (double)(64 - i) * 1.5;
    }
    r->vec_sum = sse_vec_sum(v, 256);
    double d = sse_dot(a, b, 64);
    r->dot_milli = (int64_t)(d * 1000.0);
    double q = 0;
    for (unsigned i = 1; i <= 32; i++)
        q += (double)i * (double)i;
    r->sqrt_milli = (int64_t)(__builtin_sqrt(q) * 1000.0);
    float f = 1.0f;
    for (unsigned i = 1; i < 20; i++)
        f = f * 1.25f - (float)i / 3.0f;
    r->float_milli = (int64_t)(f * 1000.0f);
    volatile struct sse_blob blob;
    struct sse_blob z = { { 0 }, { 0 } };
    z.a[3] = 7;
    blob = z;
    r->zeroed = blob.a[0] + blob.a[3] + blob.b[5];
    volatile long double ld = 1.0L;
    for (unsigned i = 1; i < 12; i++)
        ld = ld * 1.5L + (long double)i / 8.0L;
    r->x87_milli = (int64_t)(ld * 1000.0L);
}

#endif

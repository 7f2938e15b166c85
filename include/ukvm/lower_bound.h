/*
 * One binary search for the tables ukvm keeps sorted by a 64-bit key
 * (breakpoints by address, patch sites, checkpoint pages, frames...).
 */
#ifndef UKVM_LOWER_BOUND_H
#define UKVM_LOWER_BOUND_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The index of the first of n records (`stride` bytes apart from base, each
 * with a uint64_t key `key_off` bytes in, sorted by it) whose key is >= key;
 * n when there is none. */
static inline size_t ukvm_lower_bound(const void *base, size_t n, size_t stride, size_t key_off,
        uint64_t key)
{
    const unsigned char *p = (const unsigned char *)base + key_off;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t k;
        memcpy(&k, p + mid * stride, sizeof(k));
        if (k < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The same over an array of a struct type, by one of its members. */
#define UKVM_LOWER_BOUND(arr, n, member, key) \
    ukvm_lower_bound((arr), (n), sizeof(*(arr)), offsetof(__typeof__(*(arr)), member), (key))

#endif

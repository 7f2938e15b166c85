/*
 * ukvm_digest: the 64-bit digest logged for output data (puts, block and net
 * writes) so that replay can check the guest writes the same bytes. Not
 * cryptographic; it only has to catch divergence. The algorithm is part of
 * the trace format (docs/trace-format.md, "Digest"): 8 bytes per step, so it
 * costs well under a cycle per byte.
 */
#include <string.h>

#include "ukvm/trace.h"

#define K1 0x9e3779b97f4a7c15ull
#define K2 0xc2b2ae3d27d4eb4full

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline uint64_t mix(uint64_t h, uint64_t w)
{
    return rotl64(h ^ (w * K1), 31) * K2;
}

uint64_t ukvm_digest(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull ^ ((uint64_t)len * K1);
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        h = mix(h, load_le64(p + i));
    if (i < len) {
        uint8_t tail[8] = { 0 };
        memcpy(tail, p + i, len - i);
        h = mix(h, load_le64(tail));
    }
    /* final avalanche (the murmur3 64-bit finaliser) */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

const char *ukvm_event_kind_name(uint32_t kind)
{
    static const char *const names[UKVM_EV_KIND_MAX] = {
        [UKVM_EV_WALLTIME]    = "walltime",
        [UKVM_EV_PUTS]        = "puts",
        [UKVM_EV_POLL]        = "poll",
        [UKVM_EV_BLOCK_WRITE] = "block_write",
        [UKVM_EV_BLOCK_READ]  = "block_read",
        [UKVM_EV_NET_WRITE]   = "net_write",
        [UKVM_EV_NET_READ]    = "net_read",
        [UKVM_EV_HALT]        = "halt",
        [UKVM_EV_RDTSC]       = "rdtsc",
        [UKVM_EV_RDTSCP]      = "rdtscp",
        [UKVM_EV_RDRAND]      = "rdrand",
        [UKVM_EV_RDSEED]      = "rdseed",
        [UKVM_EV_RDMSR_TSC]   = "rdmsr_tsc",
    };
    if (kind >= UKVM_EV_KIND_MAX || !names[kind])
        return "?";
    return names[kind];
}

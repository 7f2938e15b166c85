/*
 * SHA-256 (FIPS 180-4), for the kernel's digest in the trace header. Our
 * own, so that ukvm does not load libcrypto (about 0.8 ms of every start on
 * this machine's KVM, for one digest of a few kilobytes).
 */
#ifndef UKVM_SHA256_H
#define UKVM_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256_ctx {
    uint32_t h[8];
    uint64_t total;             /* bytes hashed so far */
    uint8_t block[64];
    size_t fill;                /* bytes waiting in block */
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
void sha256_final(struct sha256_ctx *c, uint8_t out[32]);
/* All three at once. */
void sha256(const void *data, size_t len, uint8_t out[32]);

#endif

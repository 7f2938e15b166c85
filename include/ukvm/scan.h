/*
 * Finding the instructions that read non-deterministic state without
 * exiting to the monitor (rdtsc, rdtscp, rdrand, rdseed), so that they can be
 * patched into a trap at load time.
 */
#ifndef UKVM_SCAN_H
#define UKVM_SCAN_H

#include <stddef.h>
#include <stdint.h>

enum ukvm_patch_kind {
    UKVM_PATCH_RDTSC  = 1,
    UKVM_PATCH_RDTSCP = 2,
    UKVM_PATCH_RDRAND = 3,
    UKVM_PATCH_RDSEED = 4,
};

struct ukvm_scan_site {
    uint64_t addr;             /* guest address of the instruction */
    uint8_t len;               /* its length */
    uint8_t kind;              /* enum ukvm_patch_kind */
    uint8_t operand_bits;      /* rdrand/rdseed: 16, 32 or 64 */
    uint8_t reg;               /* rdrand/rdseed: destination GPR number (0 = rax ... 15 = r15) */
};

/*
 * Linear sweep over one executable region (`code`, `len` bytes, loaded at
 * guest address `base`) in 64-bit mode. Bytes that do not decode are skipped
 * one at a time. Appends found sites to *sites (realloc'd, *n updated).
 * Returns 0, or -1 when memory runs out.
 */
int ukvm_scan_code(const uint8_t *code, size_t len, uint64_t base,
        struct ukvm_scan_site **sites, size_t *n);

/* Decode the single instruction at `code` (at most `avail` bytes). Returns
 * its length, and in *site the kind when it is one of ours (kind 0 if not);
 * 0 when it does not decode. Used at single-step time by the debugger. */
size_t ukvm_scan_one(const uint8_t *code, size_t avail, uint64_t addr,
        struct ukvm_scan_site *site);

const char *ukvm_patch_kind_name(unsigned kind);

#endif

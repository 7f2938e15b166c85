/*
 * Finding the instructions that read non-deterministic state without
 * exiting to the monitor (rdtsc, rdtscp, rdrand, rdseed), so that they can be
 * patched into a trap at load time (docs/architecture.md,
 * "What is recorded").
 *
 * The decoder is Zydis 4 in 64-bit mode (link with -lZydis).
 */
#ifndef UKVM_SCAN_H
#define UKVM_SCAN_H

#include <stddef.h>
#include <stdint.h>

enum ukvm_patch_kind {
    UKVM_PATCH_RDTSC  = 1,     /* 0F 31 */
    UKVM_PATCH_RDTSCP = 2,     /* 0F 01 F9 */
    UKVM_PATCH_RDRAND = 3,     /* 0F C7 /6, register operand */
    UKVM_PATCH_RDSEED = 4,     /* 0F C7 /7, register operand (not F3-prefixed: that is rdpid) */
};

/* Longest x86 instruction; every site's len is at most this. */
#define UKVM_SCAN_MAX_INSN 15

struct ukvm_scan_site {
    uint64_t addr;             /* guest address of the instruction */
    uint8_t len;               /* its length in bytes, prefixes included */
    uint8_t kind;              /* enum ukvm_patch_kind (0: none of ours) */
    uint8_t operand_bits;      /* rdrand/rdseed: 16, 32 or 64 (66 prefix -> 16,
                                * REX.W -> 64, which wins over 66); 0 for rdtsc/rdtscp */
    uint8_t reg;               /* rdrand/rdseed: destination GPR number in the
                                * hardware encoding order (ModRM.rm + REX.B):
                                * 0=rax 1=rcx 2=rdx 3=rbx 4=rsp 5=rbp 6=rsi 7=rdi
                                * 8..15 = r8..r15. NOT gdb's register order.
                                * 0 for rdtsc/rdtscp (they write edx:eax, rdtscp also ecx) */
};

/*
 * Linear sweep over one executable region (`code`, `len` bytes, loaded at
 * guest address `base`) in 64-bit mode. Whole instructions are decoded one
 * after the other, so bytes that merely look like one of ours inside a longer
 * instruction (immediate, displacement) are not reported. Bytes that do not
 * decode are skipped one at a time. Data placed in the region (e.g. after an
 * unconditional jmp) is decoded as code like everything else: a linear sweep
 * cannot tell it apart.
 * Appends found sites, in address order, to *sites (realloc'd once, *n
 * updated; *sites may be NULL with *n == 0). Returns 0, or -1 when memory
 * runs out, in which case *sites and *n are left unchanged.
 */
int ukvm_scan_code(const uint8_t *code, size_t len, uint64_t base,
        struct ukvm_scan_site **sites, size_t *n);

/* A range of guest addresses, [start, end). */
struct ukvm_scan_range {
    uint64_t start, end;
};

/* At most this many ranges are skipped in one kernel (see kernel_image). */
#define UKVM_SCAN_MAX_SKIP 16

/*
 * ukvm_scan_code over the region minus the `n_skip` ranges in `skip` (guest
 * addresses; in any order, they may overlap each other or lie partly or
 * wholly outside the region). Each piece between skipped ranges is swept on
 * its own, from its first byte, so that data which is not code (an ELF
 * .interp string or notes at the start of a text segment) cannot shift the
 * sweep's instruction boundaries in the code that follows it, and nothing
 * inside a skipped range is ever reported. Sites are appended in address
 * order. Returns 0, or -1 when memory runs out, in which case *n is left
 * unchanged (*sites may have been reallocated).
 */
int ukvm_scan_code_skip(const uint8_t *code, size_t len, uint64_t base,
        const struct ukvm_scan_range *skip, size_t n_skip,
        struct ukvm_scan_site **sites, size_t *n);

/* Decode the single instruction at `code` (at most `avail` bytes), located
 * at guest address `addr`. Returns its length, and when `site` is not NULL
 * fills *site (addr, len, and the kind when it is one of ours, kind 0 if
 * not); returns 0 (and *site zeroed, kind 0) when it does not decode.
 * Used at single-step time by the debugger. */
size_t ukvm_scan_one(const uint8_t *code, size_t avail, uint64_t addr,
        struct ukvm_scan_site *site);

/* Whether the instruction at `code` (at most `avail` bytes) is a port I/O
 * instruction: IN, OUT (imm8 or dx forms, any width), INS*, OUTS* (with or
 * without rep). Returns 1 if so, 0 if not or if it does not decode. When
 * `len` is not NULL, *len receives the decoded instruction's length (whether
 * or not it is port I/O), or 0 when it does not decode. */
int ukvm_scan_is_hypercall_out(const uint8_t *code, size_t avail, size_t *len);

/* Whether the instruction at `code` is a string instruction with a rep,
 * repe or repne prefix (one that KVM may stop in the middle of, with rip
 * still on it and rcx part-way down). 1 if so, 0 if not or if it does not
 * decode. */
int ukvm_scan_is_rep_string(const uint8_t *code, size_t avail);

/* The trap bytes written over a site: F4 (hlt) then 90 (nop) up to s->len.
 * out[s->len .. 14] are set to 0 and must not be written to the guest.
 * When the vCPU exits with KVM_EXIT_HLT and rip-1 is a patched site, the
 * monitor emulates the original instruction and sets rip = addr + len. */
void ukvm_patch_bytes(const struct ukvm_scan_site *s, uint8_t out[UKVM_SCAN_MAX_INSN]);

/* "rdtsc", "rdtscp", "rdrand", "rdseed"; "none" for 0, "unknown" otherwise. */
const char *ukvm_patch_kind_name(unsigned kind);

#endif

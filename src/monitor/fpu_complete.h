/*
 * Completing an x87/MMX/SSE instruction that KVM could not emulate, apart
 * from KVM: the guest's registers, control registers, x87/SSE state and a
 * guest-memory accessor go in; the completed state, or the fault the guest's
 * CPU would raise, comes out. fpu_complete.c feeds it from KVM; the unit
 * tests and the fuzzer feed it with fake guest memory.
 */
#ifndef UKVM_FPU_COMPLETE_H
#define UKVM_FPU_COMPLETE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

/* Guest memory as the guest sees it. */
struct fpu_mem {
    /* Guest-virtual to guest-physical through the guest's page tables:
     * false when not mapped; *writable when a supervisor store may go
     * there (page tables and CR0.WP). */
    bool (*translate)(void *ctx, uint64_t gva, uint64_t *gpa, bool *writable);
    /* The monitor's pointer to [gpa, gpa + len) (len stays inside one
     * page), or NULL when that lies outside guest memory. */
    uint8_t *(*host)(void *ctx, uint64_t gpa, size_t len);
    /* The host keeps the page at gpa read-only (the kernel's text and
     * read-only data): a guest store there is a translation fault. */
    bool (*protected_page)(void *ctx, uint64_t gpa);
    /* The monitor stored [gpa, gpa + len) for the guest: dirty tracking
     * and the debugger's write watchpoints. */
    void (*written)(void *ctx, uint64_t gpa, size_t len);
    /* The monitor loaded [gpa, gpa + len) for the guest: the debugger's
     * read watchpoints (may be NULL). */
    void (*read)(void *ctx, uint64_t gpa, size_t len);
    void *ctx;
};

struct fpu_guest {
    struct kvm_regs regs;           /* in and out (rip, flags, one register) */
    struct kvm_sregs sregs;         /* in: cr0, cr4, efer, cs, fs/gs bases */
    _Alignas(16) uint8_t fx[512];   /* in and out: FXSAVE image */
    uint32_t cpuid1_ecx, cpuid1_edx;/* the guest's CPUID leaf 1 features */
    const struct fpu_mem *mem;
};

enum fpu_result {
    FPU_DONE,       /* completed: regs, fx and memory updated, rip advanced */
    FPU_FAULT,      /* the guest's CPU would raise out->vector: nothing changed */
    FPU_REFUSED,    /* not an instruction this code completes (out->why) */
    FPU_STOP,       /* the monitor must stop the guest (out->why) */
};

struct fpu_outcome {
    uint8_t vector;                 /* FPU_FAULT: 6 #UD, 7 #NM, 13 #GP, 14 #PF */
    bool has_error_code;
    uint32_t error_code;
    uint64_t cr2;                   /* #PF: the faulting address */
    char why[160];
};

#define FPU_VEC_UD 6
#define FPU_VEC_NM 7
#define FPU_VEC_GP 13
#define FPU_VEC_PF 14

/* FXSAVE-layout offsets */
#define FPU_FX_FCW 0
#define FPU_FX_FSW 2
#define FPU_FX_FOP 6
#define FPU_FX_FIP 8
#define FPU_FX_FDP 16
#define FPU_FX_MXCSR 24
#define FPU_FX_MXCSR_MASK 28

/* Walk the guest's 4-level (5-level with la57) page tables in `mem` for a
 * supervisor access: false when not present; *writable when every level
 * allows stores (fpu_pagewalk.c). */
bool fpu_walk_page_tables(const uint8_t *mem, uint64_t mem_size, uint64_t cr3, bool la57,
        uint64_t gva, uint64_t *gpa, bool *writable);

/* Complete the instruction at g->regs.rip. */
enum fpu_result fpu_complete_insn(struct fpu_guest *g, struct fpu_outcome *out);

/* ---- running on the host (fpu_host.c) ---- */

/* What the trampoline loads and saves: the guest's x87/SSE state, the
 * host's own (restored afterwards), r11 and the flags. */
struct fpu_run_state {
    uint8_t guest_fx[512];  /* 0 */
    uint8_t host_fx[512];   /* 512 */
    uint64_t r11;           /* 1024 */
    uint64_t rflags;        /* 1032: in, the guest's arithmetic flags; out, the result */
} __attribute__((aligned(64)));

/* Run `code` (one instruction, at most 15 bytes) with its memory operand at
 * `mem`, between loading and saving the guest's x87/SSE state. The code
 * page is never writable and executable at once. -1 when the page cannot
 * be prepared. */
int fpu_host_run(struct fpu_run_state *st, void *mem, const uint8_t *code, size_t len);
/* The host's CPUID leaf 1 features and MXCSR_MASK. */
void fpu_host_features(uint32_t *ecx, uint32_t *edx);
/* Tests: behave as a host without these leaf 1 features (0, 0: as is). */
void fpu_host_hide_features(uint32_t ecx, uint32_t edx);
uint32_t fpu_host_mxcsr_mask(void);
/* The code page (for tests: its protection), NULL before the first run. */
const void *fpu_host_code_page(void);

#endif

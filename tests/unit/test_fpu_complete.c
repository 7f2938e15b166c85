/*
 * Instruction completion (src/monitor/fpu_exec.c) on fake guest memory and
 * state: results, and the faults the guest's CPU would raise instead.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "monitor/fpu_complete.h"

/* 16 pages of guest memory, identity mapped; per page: present, writable
 * in the page tables, protected on the host side. */
#define NPAGES 16
#define CODE 0x1000     /* instructions go here */
#define DATA 0x4000     /* operands here */
#define RO_PAGE 0x8000  /* read-only in the guest's page tables */
#define TEXT_PAGE 0xc000 /* write-protected by the host (kernel text) */
#define ABSENT 0xa000   /* not present */

struct fake {
    uint8_t mem[NPAGES * 4096];
    bool present[NPAGES], writable[NPAGES], protect[NPAGES];
    uint64_t written_gpa;
    size_t written_len;
    int n_written;
    uint64_t read_gpa;
    size_t read_len;
    int n_read;
};
static struct fake F;

static bool fake_translate(void *ctx, uint64_t gva, uint64_t *gpa, bool *writable)
{
    struct fake *f = ctx;
    if (gva >= sizeof(f->mem) || !f->present[gva >> 12])
        return false;
    *gpa = gva;
    *writable = f->writable[gva >> 12];
    return true;
}

static uint8_t *fake_host(void *ctx, uint64_t gpa, size_t len)
{
    struct fake *f = ctx;
    return gpa <= sizeof(f->mem) && len <= sizeof(f->mem) - gpa ? f->mem + gpa : NULL;
}

static bool fake_protected(void *ctx, uint64_t gpa)
{
    struct fake *f = ctx;
    return gpa < sizeof(f->mem) && f->protect[gpa >> 12];
}

static void fake_written(void *ctx, uint64_t gpa, size_t len)
{
    struct fake *f = ctx;
    f->written_gpa = gpa;
    f->written_len = len;
    f->n_written++;
}

static void fake_read(void *ctx, uint64_t gpa, size_t len)
{
    struct fake *f = ctx;
    f->read_gpa = gpa;
    f->read_len = len;
    f->n_read++;
}

static const struct fpu_mem fake_mem = {
    .translate = fake_translate, .host = fake_host, .protected_page = fake_protected,
    .written = fake_written, .read = fake_read, .ctx = &F,
};

static struct fpu_guest G;
static struct fpu_outcome O;

/* A 64-bit guest as ukvm sets it up, with all of the host's features. */
static void reset(void)
{
    memset(&F, 0, sizeof(F));
    for (int i = 1; i < NPAGES; i++)
        F.present[i] = F.writable[i] = true;
    F.writable[RO_PAGE >> 12] = false;
    F.protect[TEXT_PAGE >> 12] = true;
    F.present[ABSENT >> 12] = false;
    memset(&G, 0, sizeof(G));
    G.mem = &fake_mem;
    G.regs.rip = CODE;
    G.regs.rflags = 0x2;
    G.sregs.cr0 = 0x80010033; /* PG WP NE ET MP PE */
    G.sregs.cr4 = 0x620;      /* OSXMMEXCPT OSFXSR PAE */
    G.sregs.efer = 0x500;
    G.sregs.cs.l = 1;
    G.sregs.cs.present = 1;
    uint16_t fcw = 0x37f;
    uint32_t mxcsr = 0x1f80, mask = fpu_host_mxcsr_mask();
    memcpy(G.fx + FPU_FX_FCW, &fcw, 2);
    memcpy(G.fx + FPU_FX_MXCSR, &mxcsr, 4);
    memcpy(G.fx + FPU_FX_MXCSR_MASK, &mask, 4);
    fpu_host_features(&G.cpuid1_ecx, &G.cpuid1_edx);
}

static void code(const char *bytes, size_t len)
{
    memcpy(F.mem + CODE, bytes, len);
}
#define CODE_OF(s) code(s, sizeof(s) - 1)

static void set_xmm(int i, uint64_t lo, uint64_t hi)
{
    memcpy(G.fx + 160 + 16 * i, &lo, 8);
    memcpy(G.fx + 160 + 16 * i + 8, &hi, 8);
}

static uint64_t xmm_lo(int i)
{
    uint64_t v;
    memcpy(&v, G.fx + 160 + 16 * i, 8);
    return v;
}

static void put_double(uint64_t gpa, double d)
{
    memcpy(F.mem + gpa, &d, 8);
}

/* st(i) as a double (the tests use values a double holds exactly) */
static double st_double(const uint8_t fx[512], int i)
{
    uint64_t mant;
    uint16_t se;
    memcpy(&mant, fx + 32 + 16 * i, 8);
    memcpy(&se, fx + 32 + 16 * i + 8, 2);
    if (mant == 0)
        return 0;
    int e = (se & 0x7fff) - 16383 - 63;
    double v = (double)mant;
    while (e > 0) { v *= 2; e--; }
    while (e < 0) { v /= 2; e++; }
    return (se & 0x8000) ? -v : v;
}

static uint64_t fx64(size_t off)
{
    uint64_t v;
    memcpy(&v, G.fx + off, 8);
    return v;
}

static uint16_t fx16(size_t off)
{
    uint16_t v;
    memcpy(&v, G.fx + off, 2);
    return v;
}

/* ---- what worked before ---- */

static void test_paddd_from_memory(void **state)
{
    (void)state;
    reset();
    CODE_OF("\x66\x0f\xfe\x00"); /* paddd xmm0, [rax] */
    G.regs.rax = DATA;
    set_xmm(0, 0x0000000100000002ULL, 0x0000000300000004ULL);
    uint32_t v[4] = { 10, 20, 30, 40 };
    memcpy(F.mem + DATA, v, 16);
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_DONE);
    assert_int_equal(xmm_lo(0), 0x000000150000000cULL);
    assert_int_equal(G.regs.rip, CODE + 4);
}

static void test_store_calls_written(void **state)
{
    (void)state;
    reset();
    CODE_OF("\xf2\x0f\x11\x03"); /* movsd [rbx], xmm0 */
    G.regs.rbx = DATA + 8;
    set_xmm(0, 0x1122334455667788ULL, 0);
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_DONE);
    uint64_t v;
    memcpy(&v, F.mem + DATA + 8, 8);
    assert_int_equal(v, 0x1122334455667788ULL);
    assert_int_equal(F.n_written, 1);
    assert_int_equal(F.written_gpa, DATA + 8);
    assert_int_equal(F.written_len, 8);
}

/* A load reports what it read (read watchpoints), a store only what it
 * wrote: comisd reads its 8-byte operand and writes nothing. */
static void test_load_calls_read(void **state)
{
    (void)state;
    reset();
    CODE_OF("\x66\x0f\x2f\x03"); /* comisd xmm0, [rbx] */
    G.regs.rbx = DATA + 16;
    double two = 2.0;
    memcpy(F.mem + DATA + 16, &two, 8);
    double one = 1.0;
    uint64_t bits;
    memcpy(&bits, &one, 8);
    set_xmm(0, bits, 0);
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_DONE);
    assert_int_equal(F.n_read, 1);
    assert_int_equal(F.read_gpa, DATA + 16);
    assert_int_equal(F.read_len, 8);
    assert_int_equal(F.n_written, 0);
    assert_true(G.regs.rflags & 1); /* CF: 1.0 < 2.0 */
    assert_int_equal(G.regs.rip, CODE + 4);
}

static void test_cvtsi2sd_gpr(void **state)
{
    (void)state;
    reset();
    CODE_OF("\xf2\x48\x0f\x2a\xc1"); /* cvtsi2sd xmm0, rcx */
    G.regs.rcx = (uint64_t)-7;
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_DONE);
    double d;
    uint64_t lo = xmm_lo(0);
    memcpy(&d, &lo, 8);
    assert_true(d == -7.0);
}

static void test_x87_load(void **state)
{
    (void)state;
    reset();
    CODE_OF("\xdd\x00"); /* fld qword [rax] */
    G.regs.rax = DATA;
    put_double(DATA, 2.5);
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_DONE);
    /* FXSAVE keeps st registers in stack order: st0 at offset 32 */
    assert_true(st_double(G.fx, 0) == 2.5);
}

static void test_unmasked_refused(void **state)
{
    (void)state;
    reset();
    CODE_OF("\x0f\x58\xc1"); /* addps xmm0, xmm1 */
    uint32_t mxcsr = 0x1f00; /* invalid-operation exceptions unmasked */
    memcpy(G.fx + FPU_FX_MXCSR, &mxcsr, 4);
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_REFUSED);
}


/* ---- 1: values loaded from guest memory into MXCSR ---- */

static void test_ldmxcsr_reserved_bits_gp(void **state)
{
    (void)state;
    reset();
    CODE_OF("\x0f\xae\x10"); /* ldmxcsr [rax] */
    G.regs.rax = DATA;
    uint32_t v = 0xffff1f80; /* reserved bits set: #GP(0) on hardware */
    memcpy(F.mem + DATA, &v, 4);
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_FAULT);
    assert_int_equal(O.vector, FPU_VEC_GP);
    assert_true(O.has_error_code);
    assert_int_equal(O.error_code, 0);
    assert_int_equal(G.regs.rip, CODE);
}

static void test_ldmxcsr_guest_mask(void **state)
{
    (void)state;
    reset();
    CODE_OF("\x0f\xae\x10"); /* ldmxcsr [rax] */
    G.regs.rax = DATA;
    uint32_t mask = 0xffbf; /* a guest CPU without DAZ */
    memcpy(G.fx + FPU_FX_MXCSR_MASK, &mask, 4);
    uint32_t v = 0x1fc0; /* DAZ */
    memcpy(F.mem + DATA, &v, 4);
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_FAULT);
    assert_int_equal(O.vector, FPU_VEC_GP);
    v = 0x1f80 | 0x8000; /* flush-to-zero is fine */
    memcpy(F.mem + DATA, &v, 4);
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_DONE);
    uint32_t got;
    memcpy(&got, G.fx + FPU_FX_MXCSR, 4);
    assert_int_equal(got, v);
}

static void test_state_mxcsr_reserved_refused(void **state)
{
    (void)state;
    reset();
    CODE_OF("\x0f\x58\xc1"); /* addps xmm0, xmm1 */
    uint32_t mxcsr = 0x80001f80; /* would make FXRSTOR fault on the host */
    memcpy(G.fx + FPU_FX_MXCSR, &mxcsr, 4);
    assert_int_not_equal(fpu_complete_insn(&G, &O), FPU_DONE);
}

/* ---- 2: page protection ---- */

static void test_store_to_readonly_page_faults(void **state)
{
    (void)state;
    reset();
    CODE_OF("\xf2\x0f\x11\x03"); /* movsd [rbx], xmm0 */
    G.regs.rbx = RO_PAGE + 16;
    set_xmm(0, 0x1122334455667788ULL, 0);
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_FAULT);
    assert_int_equal(O.vector, FPU_VEC_PF);
    assert_int_equal(O.error_code, 0x3); /* present, write */
    assert_int_equal(O.cr2, RO_PAGE + 16);
    uint64_t v;
    memcpy(&v, F.mem + RO_PAGE + 16, 8);
    assert_int_equal(v, 0);
    assert_int_equal(F.n_written, 0);
    assert_int_equal(G.regs.rip, CODE);
}

static void test_store_with_wp_clear_goes_through(void **state)
{
    (void)state;
    reset();
    CODE_OF("\xf2\x0f\x11\x03"); /* movsd [rbx], xmm0 */
    G.sregs.cr0 &= ~(1ULL << 16); /* CR0.WP = 0: supervisor stores ignore R/W */
    G.regs.rbx = RO_PAGE + 16;
    set_xmm(0, 5, 0);
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_DONE);
    assert_int_equal(F.mem[RO_PAGE + 16], 5);
}

static void test_store_to_text_is_translation_fault(void **state)
{
    (void)state;
    reset();
    CODE_OF("\x0f\x11\x03"); /* movups [rbx], xmm0 */
    G.regs.rbx = TEXT_PAGE + 32;
    set_xmm(0, ~0ULL, ~0ULL);
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_STOP);
    assert_non_null(strstr(O.why, "translation fault"));
    assert_int_equal(F.mem[TEXT_PAGE + 32], 0);
    assert_int_equal(F.n_written, 0);
}

static void test_store_across_into_absent_page(void **state)
{
    (void)state;
    reset();
    CODE_OF("\x0f\x11\x03"); /* movups [rbx], xmm0: 8 bytes before, 8 in the absent page */
    G.regs.rbx = ABSENT - 8;
    set_xmm(0, ~0ULL, ~0ULL);
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_FAULT);
    assert_int_equal(O.vector, FPU_VEC_PF);
    assert_int_equal(O.error_code, 0x2); /* not present, write */
    assert_int_equal(O.cr2, ABSENT);
    assert_int_equal(F.mem[ABSENT - 8], 0); /* nothing half-written */
}

static void test_load_from_absent_page(void **state)
{
    (void)state;
    reset();
    CODE_OF("\xdd\x00"); /* fld qword [rax] */
    G.regs.rax = ABSENT + 8;
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_FAULT);
    assert_int_equal(O.vector, FPU_VEC_PF);
    assert_int_equal(O.error_code, 0);
    assert_int_equal(O.cr2, ABSENT + 8);
}

/* ---- 3: hidden flag inputs ---- */

static void fcmovb_with_cf(int cf)
{
    reset();
    CODE_OF("\xda\xc1"); /* fcmovb st0, st1 */
    G.regs.rflags = 0x2 | (uint64_t)cf;
    /* st0 = 1.0, st1 = 2.0, written into the FXSAVE image: mantissa 1<<63,
     * exponent 16383 (+1 for 2.0) */
    uint64_t one = 1ULL << 63;
    uint16_t e1 = 16383, e2 = 16384;
    memcpy(G.fx + 32, &one, 8);
    memcpy(G.fx + 40, &e1, 2);
    memcpy(G.fx + 48, &one, 8);
    memcpy(G.fx + 56, &e2, 2);
    G.fx[4] = 0xc0; /* abridged tags: physical registers 6 and 7 valid */
    uint16_t fsw = 6 << 11; /* TOP = 6 */
    memcpy(G.fx + FPU_FX_FSW, &fsw, 2);
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_DONE);
    assert_true(st_double(G.fx, 0) == (cf ? 2.0 : 1.0));
}

static void test_fcmov_uses_guest_cf_set(void **state)
{
    (void)state;
    fcmovb_with_cf(1);
}

static void test_fcmov_uses_guest_cf_clear(void **state)
{
    (void)state;
    fcmovb_with_cf(0);
}

/* ---- 4: no host addresses in FIP/FDP/FOP ---- */

static void test_x87_pointers_are_the_guests(void **state)
{
    (void)state;
    reset();
    CODE_OF("\xdd\x44\x98\x10"); /* fld qword [rax+rbx*4+0x10] */
    G.regs.rax = DATA;
    G.regs.rbx = 2;
    put_double(DATA + 0x18, 1.5);
    uint64_t old = 0x123456;
    memcpy(G.fx + FPU_FX_FIP, &old, 8);
    memcpy(G.fx + FPU_FX_FDP, &old, 8);
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_DONE);
    assert_true(st_double(G.fx, 0) == 1.5);
    assert_int_equal(fx64(FPU_FX_FIP), CODE);
    assert_int_equal(fx64(FPU_FX_FDP), DATA + 0x18);
    assert_int_equal(fx16(FPU_FX_FOP), 0x544); /* DD 44: (5 << 8) | modrm */
}

static void test_sse_keeps_x87_pointers(void **state)
{
    (void)state;
    reset();
    CODE_OF("\x0f\x58\x00"); /* addps xmm0, [rax] */
    G.regs.rax = DATA;
    uint64_t fip = 0x100123, fdp = 0x200456;
    uint16_t fop = 0x1d9;
    memcpy(G.fx + FPU_FX_FIP, &fip, 8);
    memcpy(G.fx + FPU_FX_FDP, &fdp, 8);
    memcpy(G.fx + FPU_FX_FOP, &fop, 2);
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_DONE);
    assert_int_equal(fx64(FPU_FX_FIP), fip);
    assert_int_equal(fx64(FPU_FX_FDP), fdp);
    assert_int_equal(fx16(FPU_FX_FOP), fop);
}

/* ---- 5: control registers, CPUID, alignment, code size, the code page ---- */

static void expect_fault(const char *bytes, size_t len, uint8_t vector)
{
    code(bytes, len);
    G.regs.rax = DATA;
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_FAULT);
    assert_int_equal(O.vector, vector);
    assert_int_equal(G.regs.rip, CODE);
}
#define EXPECT_FAULT(s, v) expect_fault(s, sizeof(s) - 1, v)

static void test_cr0_ts_nm(void **state)
{
    (void)state;
    reset();
    G.sregs.cr0 |= 1 << 3; /* TS */
    EXPECT_FAULT("\x0f\x58\xc1", FPU_VEC_NM); /* addps */
    EXPECT_FAULT("\xdd\x00", FPU_VEC_NM); /* fld */
}

static void test_cr0_em(void **state)
{
    (void)state;
    reset();
    G.sregs.cr0 |= 1 << 2; /* EM */
    EXPECT_FAULT("\x0f\x58\xc1", FPU_VEC_UD); /* addps */
    EXPECT_FAULT("\xdd\x00", FPU_VEC_NM); /* fld */
    EXPECT_FAULT("\x0f\xfe\xc1", FPU_VEC_UD); /* paddd mm0, mm1 */
}

static void test_cr4_osfxsr_clear_ud(void **state)
{
    (void)state;
    reset();
    G.sregs.cr4 &= ~(1ULL << 9);
    EXPECT_FAULT("\x0f\x58\xc1", FPU_VEC_UD); /* addps */
    CODE_OF("\xdd\x00"); /* x87 does not need it */
    G.regs.rax = DATA;
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_DONE);
}

static void test_guest_cpuid_features(void **state)
{
    (void)state;
    reset();
    G.cpuid1_ecx &= ~((1u << 19) | (1u << 20) | (1u << 25) | (1u << 1) | (1u << 9) | 1u);
    EXPECT_FAULT("\x66\x0f\x38\x40\xc1", FPU_VEC_UD);     /* pmulld: SSE4.1 */
    EXPECT_FAULT("\x66\x0f\x38\x37\xc1", FPU_VEC_UD);     /* pcmpgtq: SSE4.2 */
    EXPECT_FAULT("\x66\x0f\x38\xdc\xc1", FPU_VEC_UD);     /* aesenc */
    EXPECT_FAULT("\x66\x0f\x3a\x44\xc1\x00", FPU_VEC_UD); /* pclmulqdq */
    EXPECT_FAULT("\x66\x0f\x38\x00\xc1", FPU_VEC_UD);     /* pshufb: SSSE3 */
    EXPECT_FAULT("\xf2\x0f\x7c\xc1", FPU_VEC_UD);         /* haddps: SSE3 */
    G.cpuid1_edx &= ~(1u << 26);
    EXPECT_FAULT("\x66\x0f\xfe\xc1", FPU_VEC_UD);         /* paddd xmm: SSE2 */
    G.cpuid1_edx &= ~(1u << 0);
    EXPECT_FAULT("\xd9\xe8", FPU_VEC_UD);                 /* fld1: no FPU */
}

static void test_host_without_feature_stops(void **state)
{
    (void)state;
    reset(); /* the guest has the host's real features, SSE4.1 among them */
    if (!(G.cpuid1_ecx & (1u << 19)))
        skip();
    fpu_host_hide_features(1u << 19, 0);
    CODE_OF("\x66\x0f\x38\x40\xc1"); /* pmulld: SSE4.1 */
    enum fpu_result r = fpu_complete_insn(&G, &O);
    fpu_host_hide_features(0, 0);
    assert_int_equal(r, FPU_STOP);
    assert_non_null(strstr(O.why, "SSE4.1"));
    assert_int_equal(G.regs.rip, CODE);
}

static void test_misaligned_movaps_gp(void **state)
{
    (void)state;
    reset();
    CODE_OF("\x0f\x28\x40\x08"); /* movaps xmm0, [rax+8] */
    G.regs.rax = DATA;
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_FAULT);
    assert_int_equal(O.vector, FPU_VEC_GP);
    assert_int_equal(O.error_code, 0);
    CODE_OF("\x0f\x58\x40\x08"); /* addps xmm0, [rax+8] */
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_FAULT);
    assert_int_equal(O.vector, FPU_VEC_GP);
    CODE_OF("\x0f\x10\x40\x08"); /* movups xmm0, [rax+8]: no alignment needed */
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_DONE);
    G.regs.rip = CODE;
    CODE_OF("\xf2\x0f\x10\x40\x04"); /* movsd xmm0, [rax+4] */
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_DONE);
}

static void test_non_canonical_gp(void **state)
{
    (void)state;
    reset();
    CODE_OF("\x0f\x10\x00"); /* movups xmm0, [rax] */
    G.regs.rax = 0x0000800000000000ULL;
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_FAULT);
    assert_int_equal(O.vector, FPU_VEC_GP);
}

static void test_compat_mode_refused(void **state)
{
    (void)state;
    reset();
    /* 48 0f 28 c1 is `movaps xmm0, xmm1` with REX.W in 64-bit code, but
     * `dec eax; movaps ...` in 32-bit code */
    CODE_OF("\x48\x0f\x28\xc1");
    G.sregs.cs.l = 0;
    G.sregs.cs.db = 1;
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_REFUSED);
    assert_int_equal(G.regs.rip, CODE);
}

static void test_code_page_not_writable_and_executable(void **state)
{
    (void)state;
    reset();
    CODE_OF("\x0f\x58\xc1"); /* addps xmm0, xmm1 */
    assert_int_equal(fpu_complete_insn(&G, &O), FPU_DONE);
    uintptr_t page = (uintptr_t)fpu_host_code_page();
    assert_true(page != 0);
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[512];
    bool found = false;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || page < lo || page >= hi)
            continue;
        found = true;
        assert_false(perms[1] == 'w' && perms[2] == 'x');
    }
    fclose(f);
    assert_true(found);
}

/* ---- the page-table walk that gives the KVM side write permission ---- */

static uint8_t pt_mem[0x400000]; /* 4 MiB of guest memory */

static void pt_set(uint64_t at, uint64_t v)
{
    memcpy(pt_mem + at, &v, 8);
}

/* The tables ukvm builds (vm.c): 2 MiB pages, but 4 KiB pages below 2 MiB,
 * none below 0x10000, read-only up to 0x100000. */
static void build_ukvm_tables(void)
{
    memset(pt_mem, 0, sizeof(pt_mem));
    pt_set(0x2000, 0x3000 | 3);
    pt_set(0x3000, 0x4000 | 3);
    pt_set(0x4000, 0x8000 | 3);
    pt_set(0x4008, 0x200000 | 0x83);
    for (uint64_t a = 0x10000; a < 0x200000; a += 0x1000)
        pt_set(0x8000 + (a >> 12) * 8, a | 1 | (a >= 0x100000 ? 2 : 0));
}

static void test_walk_ukvm_tables(void **state)
{
    (void)state;
    build_ukvm_tables();
    uint64_t gpa;
    bool w;
    assert_false(fpu_walk_page_tables(pt_mem, sizeof(pt_mem), 0x2000, false, 0x1000, &gpa, &w));
    assert_true(fpu_walk_page_tables(pt_mem, sizeof(pt_mem), 0x2000, false, 0x10008, &gpa, &w));
    assert_int_equal(gpa, 0x10008);
    assert_false(w); /* the boot information is read-only for the guest */
    assert_true(fpu_walk_page_tables(pt_mem, sizeof(pt_mem), 0x2000, false, 0x100010, &gpa, &w));
    assert_true(w);
    assert_true(fpu_walk_page_tables(pt_mem, sizeof(pt_mem), 0x2000, false, 0x234567, &gpa, &w));
    assert_int_equal(gpa, 0x234567);
    assert_true(w);
    assert_false(fpu_walk_page_tables(pt_mem, sizeof(pt_mem), 0x2000, false, 0x400000, &gpa, &w));
    assert_false(fpu_walk_page_tables(pt_mem, sizeof(pt_mem), 0x2000, false,
            0xffff800000000000ULL, &gpa, &w));
}

static void test_walk_read_only_upper_level_and_bad_tables(void **state)
{
    (void)state;
    build_ukvm_tables();
    uint64_t gpa;
    bool w;
    pt_set(0x3000, 0x4000 | 1); /* the PDPT entry forbids stores below it */
    assert_true(fpu_walk_page_tables(pt_mem, sizeof(pt_mem), 0x2000, false, 0x234567, &gpa, &w));
    assert_false(w);
    pt_set(0x3000, 0x40000000ULL | 3); /* a table outside guest memory */
    assert_false(fpu_walk_page_tables(pt_mem, sizeof(pt_mem), 0x2000, false, 0x234567, &gpa, &w));
    pt_set(0x3000, 0x83); /* a 1 GiB page */
    assert_true(fpu_walk_page_tables(pt_mem, sizeof(pt_mem), 0x2000, false, 0x3456789, &gpa, &w));
    assert_int_equal(gpa, 0x3456789);
    assert_false(fpu_walk_page_tables(pt_mem, sizeof(pt_mem), 0x7ffff000, false, 0, &gpa, &w));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paddd_from_memory),
        cmocka_unit_test(test_store_calls_written),
        cmocka_unit_test(test_load_calls_read),
        cmocka_unit_test(test_cvtsi2sd_gpr),
        cmocka_unit_test(test_x87_load),
        cmocka_unit_test(test_unmasked_refused),
        cmocka_unit_test(test_ldmxcsr_reserved_bits_gp),
        cmocka_unit_test(test_ldmxcsr_guest_mask),
        cmocka_unit_test(test_state_mxcsr_reserved_refused),
        cmocka_unit_test(test_store_to_readonly_page_faults),
        cmocka_unit_test(test_store_with_wp_clear_goes_through),
        cmocka_unit_test(test_store_to_text_is_translation_fault),
        cmocka_unit_test(test_store_across_into_absent_page),
        cmocka_unit_test(test_load_from_absent_page),
        cmocka_unit_test(test_fcmov_uses_guest_cf_set),
        cmocka_unit_test(test_fcmov_uses_guest_cf_clear),
        cmocka_unit_test(test_x87_pointers_are_the_guests),
        cmocka_unit_test(test_sse_keeps_x87_pointers),
        cmocka_unit_test(test_cr0_ts_nm),
        cmocka_unit_test(test_cr0_em),
        cmocka_unit_test(test_cr4_osfxsr_clear_ud),
        cmocka_unit_test(test_guest_cpuid_features),
        cmocka_unit_test(test_host_without_feature_stops),
        cmocka_unit_test(test_misaligned_movaps_gp),
        cmocka_unit_test(test_non_canonical_gp),
        cmocka_unit_test(test_compat_mode_refused),
        cmocka_unit_test(test_code_page_not_writable_and_executable),
        cmocka_unit_test(test_walk_ukvm_tables),
        cmocka_unit_test(test_walk_read_only_upper_level_and_bad_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

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
#define TEXT_PAGE 0x9000 /* write-protected by the host (kernel text) */
#define ABSENT 0xa000   /* not present */

struct fake {
    uint8_t mem[NPAGES * 4096];
    bool present[NPAGES], writable[NPAGES], protect[NPAGES];
    uint64_t written_gpa;
    size_t written_len;
    int n_written;
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

static const struct fpu_mem fake_mem = {
    .translate = fake_translate, .host = fake_host, .protected_page = fake_protected,
    .written = fake_written, .ctx = &F,
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

static __attribute__((unused)) uint64_t fx64(size_t off)
{
    uint64_t v;
    memcpy(&v, G.fx + off, 8);
    return v;
}

static __attribute__((unused)) uint16_t fx16(size_t off)
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paddd_from_memory),
        cmocka_unit_test(test_store_calls_written),
        cmocka_unit_test(test_cvtsi2sd_gpr),
        cmocka_unit_test(test_x87_load),
        cmocka_unit_test(test_unmasked_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

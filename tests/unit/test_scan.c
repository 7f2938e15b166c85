/*
 * Unit tests for the instruction scanner (src/monitor/scan.c).
 * Byte sequences checked with `as --64` / `objdump -d -M intel`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ukvm/scan.h"

#define BASE 0x100000ULL

/* Scans a copy of the bytes in an exactly-sized heap buffer, so that ASan
 * catches any read past the end. */
static size_t scan(const uint8_t *bytes, size_t len, uint64_t base,
        struct ukvm_scan_site **sites)
{
    uint8_t *buf = malloc(len ? len : 1);
    size_t n = 0;

    assert_non_null(buf);
    memcpy(buf, bytes, len);
    *sites = NULL;
    assert_int_equal(ukvm_scan_code(buf, len, base, sites, &n), 0);
    free(buf);
    return n;
}

/* The single site in `bytes` (asserts there is exactly one). */
static struct ukvm_scan_site scan_single(const uint8_t *bytes, size_t len)
{
    struct ukvm_scan_site *sites, s;

    assert_int_equal(scan(bytes, len, BASE, &sites), 1);
    s = sites[0];
    free(sites);
    return s;
}

static void check_site(struct ukvm_scan_site s, uint64_t addr, unsigned len,
        unsigned kind, unsigned bits, unsigned reg)
{
    assert_int_equal(s.addr, addr);
    assert_int_equal(s.len, len);
    assert_int_equal(s.kind, kind);
    assert_int_equal(s.operand_bits, bits);
    assert_int_equal(s.reg, reg);
}

static void test_rdtsc(void **state)
{
    (void)state;
    static const uint8_t b[] = { 0x0F, 0x31 };
    check_site(scan_single(b, sizeof b), BASE, 2, UKVM_PATCH_RDTSC, 0, 0);
}

static void test_rdtsc_prefixed(void **state)
{
    (void)state;
    /* data16 rdtsc: the prefix belongs to the site's length */
    static const uint8_t b[] = { 0x66, 0x0F, 0x31 };
    check_site(scan_single(b, sizeof b), BASE, 3, UKVM_PATCH_RDTSC, 0, 0);
}

static void test_rdtscp(void **state)
{
    (void)state;
    static const uint8_t b[] = { 0x0F, 0x01, 0xF9 };
    check_site(scan_single(b, sizeof b), BASE, 3, UKVM_PATCH_RDTSCP, 0, 0);
}

static void test_rdrand_eax(void **state)
{
    (void)state;
    static const uint8_t b[] = { 0x0F, 0xC7, 0xF0 };
    check_site(scan_single(b, sizeof b), BASE, 3, UKVM_PATCH_RDRAND, 32, 0);
}

static void test_rdrand_rcx_rexw(void **state)
{
    (void)state;
    static const uint8_t b[] = { 0x48, 0x0F, 0xC7, 0xF1 };
    check_site(scan_single(b, sizeof b), BASE, 4, UKVM_PATCH_RDRAND, 64, 1);
}

static void test_rdrand_r9_rexb(void **state)
{
    (void)state;
    static const uint8_t b[] = { 0x49, 0x0F, 0xC7, 0xF1 };     /* rdrand r9 */
    check_site(scan_single(b, sizeof b), BASE, 4, UKVM_PATCH_RDRAND, 64, 9);
}

static void test_rdrand_r12d(void **state)
{
    (void)state;
    static const uint8_t b[] = { 0x41, 0x0F, 0xC7, 0xF4 };     /* rdrand r12d */
    check_site(scan_single(b, sizeof b), BASE, 4, UKVM_PATCH_RDRAND, 32, 12);
}

static void test_rdrand_16bit(void **state)
{
    (void)state;
    static const uint8_t b[] = { 0x66, 0x0F, 0xC7, 0xF0 };     /* rdrand ax */
    check_site(scan_single(b, sizeof b), BASE, 4, UKVM_PATCH_RDRAND, 16, 0);
}

static void test_rdrand_66_and_rexw(void **state)
{
    (void)state;
    /* REX.W wins over 66: rdrand rax */
    static const uint8_t b[] = { 0x66, 0x48, 0x0F, 0xC7, 0xF0 };
    check_site(scan_single(b, sizeof b), BASE, 5, UKVM_PATCH_RDRAND, 64, 0);
}

static void test_rdseed(void **state)
{
    (void)state;
    static const uint8_t edx[] = { 0x0F, 0xC7, 0xFA };         /* rdseed edx */
    static const uint8_t r15[] = { 0x49, 0x0F, 0xC7, 0xFF };   /* rdseed r15 */
    static const uint8_t si[]  = { 0x66, 0x0F, 0xC7, 0xFE };   /* rdseed si */
    check_site(scan_single(edx, sizeof edx), BASE, 3, UKVM_PATCH_RDSEED, 32, 2);
    check_site(scan_single(r15, sizeof r15), BASE, 4, UKVM_PATCH_RDSEED, 64, 15);
    check_site(scan_single(si, sizeof si), BASE, 4, UKVM_PATCH_RDSEED, 16, 6);
}

static void test_not_ours_0fc7(void **state)
{
    (void)state;
    static const uint8_t b[] = {
        0x0F, 0xC7, 0x30,               /* vmptrld [rax]: 0F C7 /6, memory form */
        0x0F, 0xC7, 0x38,               /* vmptrst [rax]: 0F C7 /7, memory form */
        0xF3, 0x0F, 0xC7, 0xF8,         /* rdpid rax: F3 0F C7 /7 */
        0x0F, 0xC7, 0x08,               /* cmpxchg8b [rax] */
    };
    struct ukvm_scan_site *sites;
    assert_int_equal(scan(b, sizeof b, BASE, &sites), 0);
    assert_null(sites);
}

static void test_rdtsc_in_function(void **state)
{
    (void)state;
    static const uint8_t b[] = {
        0x55,                                   /* 0x00 push rbp */
        0x48, 0x89, 0xE5,                       /* 0x01 mov rbp, rsp */
        0x31, 0xC0,                             /* 0x04 xor eax, eax */
        0x48, 0x05, 0x78, 0x56, 0x34, 0x12,     /* 0x06 add rax, 0x12345678 */
        0x0F, 0x31,                             /* 0x0c rdtsc */
        0x48, 0xC1, 0xE2, 0x20,                 /* 0x0e shl rdx, 32 */
        0x48, 0x09, 0xD0,                       /* 0x12 or rax, rdx */
        0x49, 0x0F, 0xC7, 0xF1,                 /* 0x15 rdrand r9 */
        0x5D,                                   /* 0x19 pop rbp */
        0xC3,                                   /* 0x1a ret */
    };
    struct ukvm_scan_site *sites;
    assert_int_equal(scan(b, sizeof b, BASE, &sites), 2);
    check_site(sites[0], BASE + 0x0c, 2, UKVM_PATCH_RDTSC, 0, 0);
    check_site(sites[1], BASE + 0x15, 4, UKVM_PATCH_RDRAND, 64, 9);
    free(sites);
}

static void test_lookalikes(void **state)
{
    (void)state;
    static const uint8_t b[] = {
        0xB8, 0x0F, 0x31, 0x00, 0x00,                   /* mov eax, 0x310f */
        0x48, 0x8D, 0x05, 0x0F, 0x31, 0x00, 0x00,       /* lea rax, [rip+0x310f] */
        0x48, 0x8D, 0x98, 0x0F, 0x31, 0x00, 0x00,       /* lea rbx, [rax+0x310f] */
        0x48, 0xB8, 0x0F, 0x01, 0xF9, 0x0F, 0xC7, 0xF0, 0x0F, 0x31,
                                    /* movabs rax, imm64 holding rdtscp, rdrand, rdtsc */
        0x66, 0xB8, 0x0F, 0x31,                         /* mov ax, 0x310f */
        0xC3,
    };
    struct ukvm_scan_site *sites;
    assert_int_equal(scan(b, sizeof b, BASE, &sites), 0);
    assert_null(sites);
}

static void test_jmp_over_data_inside_insn(void **state)
{
    (void)state;
    /* jmp over 5 data bytes that the sweep decodes as one mov: its 0F 31 is
     * not at an instruction boundary, so it is not reported. */
    static const uint8_t b[] = {
        0xEB, 0x05,                         /* jmp +5 */
        0xB8, 0x0F, 0x31, 0x00, 0x00,       /* data */
        0x0F, 0x31,                         /* 0x07 rdtsc (real) */
    };
    check_site(scan_single(b, sizeof b), BASE + 7, 2, UKVM_PATCH_RDTSC, 0, 0);
}

static void test_jmp_over_data_limitation(void **state)
{
    (void)state;
    /* Known limitation of a linear sweep: data that starts at an instruction
     * boundary and reads as rdtsc is reported (and would be patched). */
    static const uint8_t b[] = {
        0xEB, 0x02,                         /* jmp +2 */
        0x0F, 0x31,                         /* data that happens to be 0F 31 */
        0xC3,
    };
    check_site(scan_single(b, sizeof b), BASE + 2, 2, UKVM_PATCH_RDTSC, 0, 0);
}

static void test_undecodable_then_rdtsc(void **state)
{
    (void)state;
    /* 06 (push es), 27 (daa), 37 (aaa), D6 (salc) are invalid in 64-bit mode */
    static const uint8_t b[] = { 0x06, 0x27, 0x37, 0xD6, 0x0F, 0x31 };
    check_site(scan_single(b, sizeof b), BASE + 4, 2, UKVM_PATCH_RDTSC, 0, 0);
}

static void test_empty(void **state)
{
    (void)state;
    struct ukvm_scan_site *sites = NULL;
    size_t n = 0;
    assert_int_equal(ukvm_scan_code(NULL, 0, BASE, &sites, &n), 0);
    assert_int_equal(n, 0);
    assert_null(sites);
    assert_int_equal(ukvm_scan_one(NULL, 0, BASE, NULL), 0);
}

static void test_site_at_end(void **state)
{
    (void)state;
    static const uint8_t b[] = { 0x90, 0x90, 0x90, 0x0F, 0x01, 0xF9 };
    check_site(scan_single(b, sizeof b), BASE + 3, 3, UKVM_PATCH_RDTSCP, 0, 0);
}

static void test_truncated_at_end(void **state)
{
    (void)state;
    /* rdtscp cut off by the end of the region: nothing is reported and
     * nothing is read past the end (the buffer is exactly sized). */
    static const uint8_t b[] = { 0x90, 0x0F, 0x01 };
    struct ukvm_scan_site *sites;
    assert_int_equal(scan(b, sizeof b, BASE, &sites), 0);
    static const uint8_t c[] = { 0x90, 0x0F };
    assert_int_equal(scan(c, sizeof c, BASE, &sites), 0);
}

static void test_appends(void **state)
{
    (void)state;
    static const uint8_t a[] = { 0x0F, 0x31 };
    static const uint8_t b[] = { 0x90, 0x0F, 0xC7, 0xF8 };     /* rdseed eax */
    struct ukvm_scan_site *sites = NULL;
    size_t n = 0;
    assert_int_equal(ukvm_scan_code(a, sizeof a, 0x1000, &sites, &n), 0);
    assert_int_equal(ukvm_scan_code(b, sizeof b, 0x5000, &sites, &n), 0);
    assert_int_equal(n, 2);
    check_site(sites[0], 0x1000, 2, UKVM_PATCH_RDTSC, 0, 0);
    check_site(sites[1], 0x5001, 3, UKVM_PATCH_RDSEED, 32, 0);
    /* a region with nothing in it leaves the array alone */
    assert_int_equal(ukvm_scan_code(a + 1, 1, 0x9000, &sites, &n), 0);
    assert_int_equal(n, 2);
    free(sites);
}

static void test_many_sites(void **state)
{
    (void)state;
    /* more sites than the initial internal capacity */
    enum { COUNT = 1000 };
    uint8_t *b = malloc(COUNT * 3);
    struct ukvm_scan_site *sites = NULL;
    size_t n = 0;
    assert_non_null(b);
    for (size_t i = 0; i < COUNT; i++) {
        b[3 * i] = 0x90;
        b[3 * i + 1] = 0x0F;
        b[3 * i + 2] = 0x31;
    }
    assert_int_equal(ukvm_scan_code(b, COUNT * 3, 0, &sites, &n), 0);
    assert_int_equal(n, COUNT);
    for (size_t i = 0; i < COUNT; i++)
        check_site(sites[i], 3 * i + 1, 2, UKVM_PATCH_RDTSC, 0, 0);
    free(sites);
    free(b);
}

/*
 * The scan stops after the last opcode pair a wanted instruction could hold
 * (and skips code with none): on random code with such pairs sprinkled in,
 * it finds exactly what a full linear sweep with ukvm_scan_one finds.
 */
static void test_sweep_end_changes_nothing(void **state)
{
    (void)state;
    static const uint8_t seeds[][4] = {
        { 0x0f, 0x31 }, { 0x0f, 0x01, 0xf9 }, { 0x0f, 0xc7, 0xf0 }, { 0x48, 0x0f, 0xc7, 0xf9 },
        { 0x66, 0x0f, 0xc7, 0xf3 }, { 0x0f, 0xc7, 0x08 }, { 0x0f, 0x01, 0xd0 }, { 0x0f, 0x01 },
    };
    uint64_t x = 0x243f6a8885a308d3ULL;
    for (int round = 0; round < 300; round++) {
        size_t len = 1 + round * 7 % 1500;
        uint8_t *code = malloc(len);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            code[i] = (uint8_t)x;
        }
        /* Most rounds: no 0F at all but near the end, so the early stop matters */
        if (round % 3)
            for (size_t i = 0; i < len; i++)
                if (code[i] == 0x0f)
                    code[i] = 0x90;
        for (int k = round % 4; k > 0; k--) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            const uint8_t *sd = seeds[x % 8];
            size_t at = (size_t)(x >> 32) % len;
            for (size_t j = 0; j < 4 && at + j < len && (j < 2 || sd[j]); j++)
                code[at + j] = sd[j];
        }
        struct ukvm_scan_site *got = NULL;
        size_t n = 0;
        assert_int_equal(ukvm_scan_code(code, len, BASE, &got, &n), 0);
        size_t m = 0;
        for (size_t off = 0; off < len;) {
            struct ukvm_scan_site one;
            size_t l = ukvm_scan_one(code + off, len - off, BASE + off, &one);
            if (l && one.kind) {
                assert_true(m < n);
                assert_int_equal(got[m].addr, one.addr);
                assert_int_equal(got[m].len, one.len);
                assert_int_equal(got[m].kind, one.kind);
                assert_int_equal(got[m].reg, one.reg);
                assert_int_equal(got[m].operand_bits, one.operand_bits);
                m++;
            }
            off += l ? l : 1;
        }
        assert_int_equal(m, n);
        free(got);
        free(code);
    }
}

static void test_scan_one(void **state)
{
    (void)state;
    struct ukvm_scan_site s;
    static const uint8_t rdrand_rcx[] = { 0x48, 0x0F, 0xC7, 0xF1, 0xCC };
    assert_int_equal(ukvm_scan_one(rdrand_rcx, sizeof rdrand_rcx, 0x42, &s), 4);
    check_site(s, 0x42, 4, UKVM_PATCH_RDRAND, 64, 1);

    static const uint8_t mov[] = { 0xB8, 0x0F, 0x31, 0x00, 0x00 };
    assert_int_equal(ukvm_scan_one(mov, sizeof mov, 0x42, &s), 5);
    check_site(s, 0x42, 5, 0, 0, 0);
    assert_int_equal(ukvm_scan_one(mov, sizeof mov, 0x42, NULL), 5);

    /* truncated and invalid: 0 */
    assert_int_equal(ukvm_scan_one(mov, 4, 0x42, &s), 0);
    assert_int_equal(s.kind, 0);
    static const uint8_t bad[] = { 0x06 };
    assert_int_equal(ukvm_scan_one(bad, sizeof bad, 0x42, &s), 0);
    assert_int_equal(s.kind, 0);
    assert_int_equal(s.len, 0);
}

static void test_patch_bytes(void **state)
{
    (void)state;
    uint8_t out[UKVM_SCAN_MAX_INSN];
    struct ukvm_scan_site s = { .addr = 0x1000, .len = 2, .kind = UKVM_PATCH_RDTSC };

    memset(out, 0xAA, sizeof out);
    ukvm_patch_bytes(&s, out);
    assert_int_equal(out[0], 0xF4);
    assert_int_equal(out[1], 0x90);
    for (size_t i = 2; i < sizeof out; i++)
        assert_int_equal(out[i], 0);

    static const uint8_t b[] = { 0x66, 0x48, 0x0F, 0xC7, 0xF0 };
    s = scan_single(b, sizeof b);
    ukvm_patch_bytes(&s, out);
    static const uint8_t want[] = { 0xF4, 0x90, 0x90, 0x90, 0x90 };
    assert_memory_equal(out, want, sizeof want);
    assert_int_equal(out[5], 0);

    /* the patched bytes decode as hlt (1 byte) followed by nops, and are no
     * longer a site */
    assert_int_equal(ukvm_scan_one(out, s.len, s.addr, &s), 1);
    assert_int_equal(s.kind, 0);

    s.len = UKVM_SCAN_MAX_INSN;
    ukvm_patch_bytes(&s, out);
    assert_int_equal(out[0], 0xF4);
    for (size_t i = 1; i < sizeof out; i++)
        assert_int_equal(out[i], 0x90);
}

/* Periodic replay checkpoints avoid rep string instructions (KVM can stop
 * part-way through them); mandatory F2/F3 prefixes are not reps. */
static void test_rep_string(void **state)
{
    (void)state;
    static const struct { uint8_t b[6]; size_t n; int want; } cases[] = {
        { { 0xF3, 0xAA }, 2, 1 },                   /* rep stosb */
        { { 0xF3, 0x48, 0xA5 }, 3, 1 },             /* rep movsq */
        { { 0xF2, 0xAE }, 2, 1 },                   /* repne scasb */
        { { 0xF3, 0xA6 }, 2, 1 },                   /* repe cmpsb */
        { { 0xAA }, 1, 0 },                         /* stosb, no rep */
        { { 0xF3, 0x90 }, 2, 0 },                   /* pause */
        { { 0xF3, 0x0F, 0x10, 0xC1 }, 4, 0 },       /* movss xmm0, xmm1 */
        { { 0xF2, 0x0F, 0x59, 0xC1 }, 4, 0 },       /* mulsd xmm0, xmm1 */
        { { 0xF3, 0x0F, 0xB8, 0xC1 }, 4, 0 },       /* popcnt eax, ecx */
        { { 0x0F, 0x31 }, 2, 0 },                   /* rdtsc */
        { { 0xF3 }, 1, 0 },                         /* truncated */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(ukvm_scan_is_rep_string(cases[i].b, cases[i].n), cases[i].want);
    assert_int_equal(ukvm_scan_is_rep_string(cases[0].b, 0), 0);
}

static void test_hypercall_out(void **state)
{
    (void)state;
    static const struct { uint8_t b[4]; size_t n, len; } yes[] = {
        { { 0xEF }, 1, 1 },                 /* out dx, eax */
        { { 0xE7, 0x10 }, 2, 2 },           /* out 0x10, eax */
        { { 0xEE }, 1, 1 },                 /* out dx, al */
        { { 0xE6, 0x80 }, 2, 2 },           /* out 0x80, al */
        { { 0x66, 0xEF }, 2, 2 },           /* out dx, ax */
        { { 0xED }, 1, 1 },                 /* in eax, dx */
        { { 0xE4, 0x60 }, 2, 2 },           /* in al, 0x60 */
        { { 0xF3, 0x6E }, 2, 2 },           /* rep outsb */
        { { 0x6F }, 1, 1 },                 /* outsd */
        { { 0x6C }, 1, 1 },                 /* insb */
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        size_t len = 99;
        uint8_t *buf = malloc(yes[i].n);
        assert_non_null(buf);
        memcpy(buf, yes[i].b, yes[i].n);
        assert_int_equal(ukvm_scan_is_hypercall_out(buf, yes[i].n, &len), 1);
        assert_int_equal(len, yes[i].len);
        assert_int_equal(ukvm_scan_is_hypercall_out(buf, yes[i].n, NULL), 1);
        free(buf);
    }

    size_t len = 99;
    static const uint8_t rdtsc[] = { 0x0F, 0x31 };
    assert_int_equal(ukvm_scan_is_hypercall_out(rdtsc, sizeof rdtsc, &len), 0);
    assert_int_equal(len, 2);
    static const uint8_t hlt[] = { 0xF4 };
    assert_int_equal(ukvm_scan_is_hypercall_out(hlt, sizeof hlt, &len), 0);
    assert_int_equal(len, 1);
    static const uint8_t trunc[] = { 0xE7 };            /* out imm8 without its imm8 */
    assert_int_equal(ukvm_scan_is_hypercall_out(trunc, sizeof trunc, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(ukvm_scan_is_hypercall_out(NULL, 0, &len), 0);
    assert_int_equal(len, 0);
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(ukvm_patch_kind_name(UKVM_PATCH_RDTSC), "rdtsc");
    assert_string_equal(ukvm_patch_kind_name(UKVM_PATCH_RDTSCP), "rdtscp");
    assert_string_equal(ukvm_patch_kind_name(UKVM_PATCH_RDRAND), "rdrand");
    assert_string_equal(ukvm_patch_kind_name(UKVM_PATCH_RDSEED), "rdseed");
    assert_string_equal(ukvm_patch_kind_name(0), "none");
    assert_string_equal(ukvm_patch_kind_name(99), "unknown");
}

/* ukvm_scan_code_skip over a copy of the bytes in an exactly-sized buffer. */
static size_t scan_skip(const uint8_t *bytes, size_t len, uint64_t base,
        const struct ukvm_scan_range *skip, size_t n_skip, struct ukvm_scan_site **sites)
{
    uint8_t *buf = malloc(len ? len : 1);
    size_t n = 0;

    assert_non_null(buf);
    memcpy(buf, bytes, len);
    *sites = NULL;
    assert_int_equal(ukvm_scan_code_skip(buf, len, base, skip, n_skip, sites, &n), 0);
    free(buf);
    return n;
}

/* The start of a Solo5 text segment: the 24-byte .interp string, then code.
 * With the string skipped, the rdtsc right after it is found. */
static void test_skip_interp_then_rdtsc(void **state)
{
    (void)state;
    uint8_t b[24 + 3] = "/nonexistent/solo5/";     /* NUL padded to 24 */
    b[24] = 0x0F; b[25] = 0x31;                     /* 0x18 rdtsc */
    b[26] = 0xC3;                                   /* ret */
    const struct ukvm_scan_range interp = { BASE, BASE + 24 };
    struct ukvm_scan_site *sites;
    assert_int_equal(scan_skip(b, sizeof b, BASE, &interp, 1, &sites), 1);
    check_site(sites[0], BASE + 24, 2, UKVM_PATCH_RDTSC, 0, 0);
    free(sites);
}

/* A string one byte shorter: swept as code, its last NUL and the rdtsc's
 * 0F decode as one `add [rdi], cl`, and the rdtsc is lost. Skipping the
 * string restarts the sweep at the rdtsc. */
static void test_skip_interp_resynchronises(void **state)
{
    (void)state;
    uint8_t b[23 + 3] = "/nonexistent/solo5/";     /* NUL padded to 23 */
    b[23] = 0x0F; b[24] = 0x31;                     /* 0x17 rdtsc */
    b[25] = 0xC3;
    struct ukvm_scan_site *sites;
    assert_int_equal(scan(b, sizeof b, BASE, &sites), 0);  /* plain sweep: missed */
    free(sites);
    const struct ukvm_scan_range interp = { BASE, BASE + 23 };
    assert_int_equal(scan_skip(b, sizeof b, BASE, &interp, 1, &sites), 1);
    check_site(sites[0], BASE + 23, 2, UKVM_PATCH_RDTSC, 0, 0);
    free(sites);
}

/* Bytes inside a skipped range are never reported, even when they read as
 * rdtsc at an instruction boundary. */
static void test_skip_nothing_inside(void **state)
{
    (void)state;
    static const uint8_t b[] = {
        '/', 0x0F, '1', 'a', 0, 0, 0, 0,    /* "string": 2F and 61 are invalid in
                                             * 64-bit mode, 0F 31 between them */
        0x0F, 0x31,                         /* 0x08 rdtsc */
    };
    struct ukvm_scan_site *sites;
    assert_int_equal(scan(b, sizeof b, BASE, &sites), 2);  /* plain: one in the string */
    check_site(sites[0], BASE + 1, 2, UKVM_PATCH_RDTSC, 0, 0);
    free(sites);
    const struct ukvm_scan_range str = { BASE, BASE + 8 };
    assert_int_equal(scan_skip(b, sizeof b, BASE, &str, 1, &sites), 1);
    check_site(sites[0], BASE + 8, 2, UKVM_PATCH_RDTSC, 0, 0);
    free(sites);
}

/* Several ranges, unsorted, overlapping, partly or wholly outside the
 * region: the pieces between them are swept in address order. */
static void test_skip_ranges(void **state)
{
    (void)state;
    uint8_t b[32];
    for (size_t i = 0; i < sizeof b; i += 2) {     /* rdtsc at every even offset */
        b[i] = 0x0F;
        b[i + 1] = 0x31;
    }
    const struct ukvm_scan_range r[] = {
        { BASE + 20, BASE + 24 },       /* skips the sites at 20 and 22 */
        { BASE - 8, BASE + 2 },         /* starts before the region: skips 0 */
        { BASE + 6, BASE + 10 },        /* overlaps the next one */
        { BASE + 8, BASE + 12 },        /* together: skip 6, 8, 10 */
        { BASE + 30, BASE + 100 },      /* runs past the end: skips 30 */
        { BASE + 200, BASE + 300 },     /* outside */
        { BASE + 15, BASE + 15 },       /* empty */
        { BASE + 5, BASE + 3 },         /* backwards: empty */
    };
    static const unsigned want[] = { 2, 4, 12, 14, 16, 18, 24, 26, 28 };
    struct ukvm_scan_site *sites;
    assert_int_equal(scan_skip(b, sizeof b, BASE, r, sizeof r / sizeof r[0], &sites),
            sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        check_site(sites[i], BASE + want[i], 2, UKVM_PATCH_RDTSC, 0, 0);
    free(sites);
}

/* A skipped range in the middle of an instruction: the piece after it
 * starts at the range's end, where the sweep finds the rdtsc. */
static void test_skip_restarts_at_range_end(void **state)
{
    (void)state;
    static const uint8_t b[] = {
        0xB8, 0x11, 0x22, 0x0F, 0x31,       /* mov eax, imm32 holding 0F 31 */
        0x90,
    };
    struct ukvm_scan_site *sites;
    assert_int_equal(scan(b, sizeof b, BASE, &sites), 0);
    const struct ukvm_scan_range r = { BASE, BASE + 3 };
    assert_int_equal(scan_skip(b, sizeof b, BASE, &r, 1, &sites), 1);
    check_site(sites[0], BASE + 3, 2, UKVM_PATCH_RDTSC, 0, 0);
    free(sites);
}

static void test_skip_none_or_all(void **state)
{
    (void)state;
    static const uint8_t b[] = { 0x90, 0x0F, 0x31, 0x0F, 0x01, 0xF9 };
    struct ukvm_scan_site *sites;
    assert_int_equal(scan_skip(b, sizeof b, BASE, NULL, 0, &sites), 2);
    check_site(sites[0], BASE + 1, 2, UKVM_PATCH_RDTSC, 0, 0);
    check_site(sites[1], BASE + 3, 3, UKVM_PATCH_RDTSCP, 0, 0);
    free(sites);
    const struct ukvm_scan_range all = { 0, UINT64_MAX };
    assert_int_equal(scan_skip(b, sizeof b, BASE, &all, 1, &sites), 0);
    assert_null(sites);
    /* a region at the very top of the address space does not wrap */
    const struct ukvm_scan_range top = { UINT64_MAX - 2, UINT64_MAX };
    assert_int_equal(scan_skip(b, sizeof b, UINT64_MAX - 5, &top, 1, &sites), 1);
    check_site(sites[0], UINT64_MAX - 4, 2, UKVM_PATCH_RDTSC, 0, 0);
    free(sites);
}

/* Appends after what is already there, like ukvm_scan_code. */
static void test_skip_appends(void **state)
{
    (void)state;
    static const uint8_t a[] = { 0x0F, 0x31 };
    struct ukvm_scan_site *sites = NULL;
    size_t n = 0;
    const struct ukvm_scan_range r = { 0x5000, 0x5002 };
    assert_int_equal(ukvm_scan_code_skip(a, sizeof a, 0x1000, &r, 1, &sites, &n), 0);
    assert_int_equal(ukvm_scan_code_skip(a, sizeof a, 0x5000, &r, 1, &sites, &n), 0);
    assert_int_equal(ukvm_scan_code_skip(a, sizeof a, 0x9000, &r, 1, &sites, &n), 0);
    assert_int_equal(n, 2);
    check_site(sites[0], 0x1000, 2, UKVM_PATCH_RDTSC, 0, 0);
    check_site(sites[1], 0x9000, 2, UKVM_PATCH_RDTSC, 0, 0);
    free(sites);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rdtsc),
        cmocka_unit_test(test_rdtsc_prefixed),
        cmocka_unit_test(test_rdtscp),
        cmocka_unit_test(test_rdrand_eax),
        cmocka_unit_test(test_rdrand_rcx_rexw),
        cmocka_unit_test(test_rdrand_r9_rexb),
        cmocka_unit_test(test_rdrand_r12d),
        cmocka_unit_test(test_rdrand_16bit),
        cmocka_unit_test(test_rdrand_66_and_rexw),
        cmocka_unit_test(test_rdseed),
        cmocka_unit_test(test_not_ours_0fc7),
        cmocka_unit_test(test_rdtsc_in_function),
        cmocka_unit_test(test_lookalikes),
        cmocka_unit_test(test_jmp_over_data_inside_insn),
        cmocka_unit_test(test_jmp_over_data_limitation),
        cmocka_unit_test(test_undecodable_then_rdtsc),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_sweep_end_changes_nothing),
        cmocka_unit_test(test_site_at_end),
        cmocka_unit_test(test_truncated_at_end),
        cmocka_unit_test(test_appends),
        cmocka_unit_test(test_many_sites),
        cmocka_unit_test(test_scan_one),
        cmocka_unit_test(test_patch_bytes),
        cmocka_unit_test(test_hypercall_out),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_skip_interp_then_rdtsc),
        cmocka_unit_test(test_skip_interp_resynchronises),
        cmocka_unit_test(test_skip_nothing_inside),
        cmocka_unit_test(test_skip_ranges),
        cmocka_unit_test(test_skip_restarts_at_range_end),
        cmocka_unit_test(test_skip_none_or_all),
        cmocka_unit_test(test_skip_appends),
        cmocka_unit_test(test_rep_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

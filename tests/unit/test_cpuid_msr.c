/* The CPUID table a recorded guest sees, and the MSRs it is denied
 * (src/monitor/cpuid_msr.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "monitor/cpuid_msr.h"

static struct kvm_cpuid_entry2 entry(uint32_t fn, uint32_t idx, uint32_t a, uint32_t b,
        uint32_t c, uint32_t d)
{
    struct kvm_cpuid_entry2 e;
    memset(&e, 0, sizeof e);
    e.function = fn;
    e.index = idx;
    e.eax = a;
    e.ebx = b;
    e.ecx = c;
    e.edx = d;
    return e;
}

static void test_hides_hypervisor_leaves_and_bits(void **state)
{
    (void)state;
    struct kvm_cpuid_entry2 t[] = {
        entry(0, 0, 0xd, 0x68747541, 0x444d4163, 0x69746e65),
        entry(1, 0, 0x800f12, 0, 0xffffffff, 0xffffffff),
        entry(7, 0, 0, 0xffffffff, 0xffffffff, 0xffffffff),
        entry(7, 1, 0, 0xffffffff, 0xffffffff, 0xffffffff),
        entry(0xa, 0, 0x07300402, 0, 0, 0x603),
        entry(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
        entry(0x40000001, 0, 0x01007efb, 0, 0, 0),
        entry(0x40000100, 0, 0x40000101, 1, 2, 3),
        entry(0x4fffffff, 0, 1, 1, 1, 1),
        entry(0x80000000, 0, 0x80000022, 0, 0, 0),
        entry(0x80000001, 0, 0, 0, 0xffffffff, 0xffffffff),
        entry(0x80000022, 0, 7, 6, 5, 4),
        entry(0x50000000, 0, 9, 9, 9, 9),
    };
    uint32_t n = sizeof t / sizeof t[0];
    cpuid_hide_nondeterministic(t, &n);
    assert_int_equal(n, 9);
    for (uint32_t i = 0; i < n; i++)
        assert_false(t[i].function >= 0x40000000 && t[i].function <= 0x4fffffff);
    assert_int_equal(t[0].ebx, 0x68747541);                 /* untouched */
    assert_int_equal(t[1].function, 1);
    assert_int_equal(t[1].ecx, 0xffffffffu & ~((1u << 31) | (1u << 30) | (1u << 15)));
    assert_int_equal(t[1].edx, 0xffffffff);
    assert_int_equal(t[2].ebx, 0xffffffffu & ~((1u << 18) | (1u << 11)));
    assert_int_equal(t[2].ecx, 0xffffffffu & ~(1u << 5));
    assert_int_equal(t[3].ebx, 0xffffffff);                 /* leaf 7 subleaf 1 */
    assert_int_equal(t[4].eax | t[4].edx, 0);               /* no PMU */
    assert_int_equal(t[5].function, 0x80000000);
    assert_int_equal(t[6].ecx, 0xffffffffu & ~((1u << 23) | (1u << 24) | (1u << 28)));
    assert_int_equal(t[7].function, 0x80000022);
    assert_int_equal(t[7].eax | t[7].ebx | t[7].ecx | t[7].edx, 0);
    assert_int_equal(t[8].function, 0x50000000);            /* beyond the range: kept */
}

static int denied(uint32_t msr, uint32_t flag)
{
    for (unsigned i = 0; i < msr_deny_ranges_count; i++) {
        const struct msr_deny_range *r = &msr_deny_ranges[i];
        if (msr >= r->base && msr - r->base < r->count && (r->flags & flag))
            return 1;
    }
    return 0;
}

static void test_denied_msrs(void **state)
{
    (void)state;
    assert_true(msr_deny_ranges_count <= KVM_MSR_FILTER_MAX_RANGES);
    for (unsigned i = 0; i < msr_deny_ranges_count; i++)
        assert_true(msr_deny_ranges[i].count >= 1 && msr_deny_ranges[i].count <= 512);
    static const uint32_t pv[] = { 0x11, 0x12, 0x4b564d00, 0x4b564d01, 0x4b564d02,
        0x4b564d03, 0x4b564d04, 0x4b564dff, 0x40000020, 0x40000021, 0xe7, 0xe8 };
    for (size_t i = 0; i < sizeof pv / sizeof pv[0]; i++) {
        assert_true(denied(pv[i], KVM_MSR_FILTER_READ));
        assert_true(denied(pv[i], KVM_MSR_FILTER_WRITE));
    }
    assert_true(denied(0x10, KVM_MSR_FILTER_READ));     /* IA32_TSC: recorded */
    assert_false(denied(0x10, KVM_MSR_FILTER_WRITE));
    assert_true(denied(0x186, KVM_MSR_FILTER_WRITE));   /* PERFEVTSEL0 */
    assert_true(denied(0x38f, KVM_MSR_FILTER_WRITE));   /* PERF_GLOBAL_CTRL */
    assert_true(denied(0xc0010000, KVM_MSR_FILTER_WRITE));
    assert_true(denied(0xc0010200, KVM_MSR_FILTER_WRITE));
    /* What a guest needs stays allowed. */
    static const uint32_t ok[] = { 0x1b, 0x277, 0xc0000080, 0xc0000100, 0xc0000101,
        0xc0000102, 0xc0000103, 0x3b, 0x4b564e00, 0x4b564cff };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_false(denied(ok[i], KVM_MSR_FILTER_READ));
        assert_false(denied(ok[i], KVM_MSR_FILTER_WRITE));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hides_hypervisor_leaves_and_bits),
        cmocka_unit_test(test_denied_msrs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

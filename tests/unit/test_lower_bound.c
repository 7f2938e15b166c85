/*
 * The one binary search (include/ukvm/lower_bound.h) against a linear scan,
 * on sorted tables with repeated keys, of records of several shapes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ukvm/lower_bound.h"

struct wide {
    uint8_t tag;
    struct { uint32_t pad; uint64_t addr; } site; /* a key not at the start */
    uint8_t tail[3];
};

static size_t linear(const uint64_t *keys, size_t n, uint64_t key)
{
    size_t i = 0;
    while (i < n && keys[i] < key)
        i++;
    return i;
}

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_agrees_with_a_scan(void **state)
{
    (void)state;
    srand(17);
    uint64_t keys[64];
    struct wide w[64];
    for (size_t n = 0; n <= 64; n++) {
        for (int round = 0; round < 20; round++) {
            for (size_t i = 0; i < n; i++) /* small values: many repeats */
                keys[i] = (uint64_t)(rand() % 40) * 3;
            qsort(keys, n, sizeof(keys[0]), cmp);
            for (size_t i = 0; i < n; i++)
                w[i] = (struct wide){ .tag = (uint8_t)i, .site = { 0xffffffffu, keys[i] } };
            for (uint64_t key = 0; key <= 125; key++) {
                size_t want = linear(keys, n, key);
                assert_int_equal(ukvm_lower_bound(keys, n, sizeof(uint64_t), 0, key), want);
                assert_int_equal(UKVM_LOWER_BOUND(w, n, site.addr, key), want);
            }
        }
    }
}

static void test_extreme_keys(void **state)
{
    (void)state;
    uint64_t keys[] = { 0, 0, 5, UINT64_MAX - 1, UINT64_MAX, UINT64_MAX };
    size_t n = sizeof(keys) / sizeof(keys[0]);
    assert_int_equal(ukvm_lower_bound(keys, n, 8, 0, 0), 0);
    assert_int_equal(ukvm_lower_bound(keys, n, 8, 0, 1), 2);
    assert_int_equal(ukvm_lower_bound(keys, n, 8, 0, UINT64_MAX), 4);
    assert_int_equal(ukvm_lower_bound(keys, 0, 8, 0, 7), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agrees_with_a_scan),
        cmocka_unit_test(test_extreme_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

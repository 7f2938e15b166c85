/*
 * The memory-slot layout planned around watched ranges (src/monitor/memslots.c):
 * how many slots a layout needs, that neighbouring runs share a slot, and
 * that a layout past the slot limit is refused before KVM is touched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "monitor/memslots.h"

#define MEM (512ULL << 20)
#define PAGE 0x1000ULL

static struct prot_run *pages(size_t n, uint64_t stride, enum page_prot prot)
{
    struct prot_run *r = calloc(n, sizeof(*r));
    for (size_t i = 0; i < n; i++)
        r[i] = (struct prot_run){ 0x100000 + i * stride, PAGE, prot };
    return r;
}

static void test_no_runs_one_slot(void **state)
{
    (void)state;
    struct vm_slot out[2];
    assert_int_equal(memslots_plan(NULL, 0, MEM, out, 2), 1);
    assert_int_equal(out[0].gpa, 0);
    assert_int_equal(out[0].size, MEM);
    assert_int_equal(out[0].flags, 0);
}

static void test_separate_pages(void **state)
{
    (void)state;
    /* every other page: each read-only page and each gap is a slot */
    struct prot_run *r = pages(300, 2 * PAGE, PAGE_READONLY);
    assert_int_equal(memslots_needed(r, 300, MEM), 601);
    struct vm_slot *out = calloc(601, sizeof(*out));
    assert_int_equal(memslots_plan(r, 300, MEM, out, 601), 601);
    assert_int_equal(out[1].gpa, 0x100000);
    assert_int_equal(out[1].size, PAGE);
    assert_int_equal(out[1].flags, KVM_MEM_READONLY);
    assert_int_equal(out[600].gpa + out[600].size, MEM);
    /* a plan that does not fit writes nothing past max */
    assert_int_equal(memslots_plan(r, 300, MEM, out, 10), 601);
    free(out);
    free(r);
    /* unmapped pages need no slot: only the gaps */
    r = pages(300, 2 * PAGE, PAGE_UNMAPPED);
    assert_int_equal(memslots_needed(r, 300, MEM), 301);
    free(r);
}

static void test_adjacent_pages_merge(void **state)
{
    (void)state;
    struct prot_run *r = pages(300, PAGE, PAGE_READONLY);
    struct vm_slot out[3];
    assert_int_equal(memslots_plan(r, 300, MEM, out, 3), 3);
    assert_int_equal(out[1].gpa, 0x100000);
    assert_int_equal(out[1].size, 300 * PAGE);
    free(r);
}

static void test_mixed_and_edges(void **state)
{
    (void)state;
    struct prot_run r[] = {
        { 0, 2 * PAGE, PAGE_READONLY },             /* at the start */
        { 2 * PAGE, PAGE, PAGE_UNMAPPED },
        { 3 * PAGE, PAGE, PAGE_READONLY },
        { MEM - PAGE, PAGE, PAGE_READONLY },        /* at the end */
    };
    struct vm_slot out[8];
    /* ro [0,2) | none | ro [3,4) | normal | ro last page */
    assert_int_equal(memslots_plan(r, 4, MEM, out, 8), 4);
    assert_int_equal(out[0].size, 2 * PAGE);
    assert_int_equal(out[1].gpa, 3 * PAGE);
    assert_int_equal(out[2].gpa, 4 * PAGE);
    assert_int_equal(out[2].size, MEM - 5 * PAGE);
    assert_int_equal(out[3].gpa, MEM - PAGE);
    /* one run over 4 GiB of memory is one slot */
    struct prot_run all = { 0, 4ULL << 30, PAGE_READONLY };
    assert_int_equal(memslots_needed(&all, 1, 4ULL << 30), 1);
}

/* Past the limit nothing is touched: no ioctl is made (the fd is not even
 * valid) and the VM keeps its one slot over all memory. */
static void test_refused_past_limit(void **state)
{
    (void)state;
    struct vm vm;
    memset(&vm, 0, sizeof(vm));
    vm.kvm_fd = vm.vm_fd = vm.vcpu_fd = vm.mem_fd = -1;
    vm.mem_size = MEM;
    vm.n_slots = 1;
    vm.slot_limit = 512;
    struct prot_run *r = pages(300, 2 * PAGE, PAGE_READONLY);
    char err[256] = "";
    assert_int_equal(memslots_apply(&vm, r, 300, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "601 memory slots"));
    assert_int_equal(vm.n_slots, 1);
    assert_null(vm.slots);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_runs_one_slot),
        cmocka_unit_test(test_separate_pages),
        cmocka_unit_test(test_adjacent_pages_merge),
        cmocka_unit_test(test_mixed_and_edges),
        cmocka_unit_test(test_refused_past_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

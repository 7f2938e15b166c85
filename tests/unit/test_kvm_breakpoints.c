/*
 * The KVM target's breakpoints and watchpoints without KVM: guest memory is
 * a plain buffer and KVM_TRANSLATE is answered by the ioctl() below (the
 * library is linked statically, so its calls come here), with virtual
 * ALIAS + x mapping to physical x, as a second mapping of the same page.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include <cmocka.h>

#include "vcpu/kvm_target.h"

#define MEM (64ULL << 20)
#define ALIAS 0x8000000000ULL
#define TEXT 0x100000ULL

static int memslot_ioctls;

int ioctl(int fd, unsigned long req, ...)
{
    (void)fd;
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (req == KVM_TRANSLATE) {
        struct kvm_translation *tr = arg;
        uint64_t a = tr->linear_address;
        if (a >= ALIAS)
            a -= ALIAS;
        tr->physical_address = a;
        tr->valid = a < MEM;
        return 0;
    }
    if (req == KVM_SET_USER_MEMORY_REGION)
        memslot_ioctls++;
    errno = ENOTTY;
    return -1;
}

struct fixture {
    struct config cfg;
    struct monitor m;
    struct kvm_target kt;
};

static int setup(void **state)
{
    struct fixture *x = calloc(1, sizeof(*x));
    x->cfg.no_patch = true;
    x->m.cfg = &x->cfg;
    x->m.vm.mem = calloc(1, MEM);
    x->m.vm.mem_size = MEM;
    x->m.vm.kvm_fd = x->m.vm.vm_fd = x->m.vm.vcpu_fd = -1;
    x->m.vm.n_slots = 1;
    x->m.vm.slot_limit = 512;
    for (size_t i = 0; i < 0x10000; i++)
        x->m.vm.mem[TEXT + i] = (uint8_t)(i * 7 + 1);
    kvm_target_init(&x->kt, &x->m, NULL, 0, "k");
    memslot_ioctls = 0;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *x = *state;
    kvm_target_clear_all(&x->kt);
    free(x->kt.sw);
    free(x->kt.sw_alias);
    watch_set_free(&x->kt.watches);
    free(x->m.vm.mem);
    free(x);
    return 0;
}

static int ins(struct fixture *x, enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    return x->kt.base.ops->insert_bp(&x->kt.base, type, addr, len);
}

static int rem(struct fixture *x, enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    return x->kt.base.ops->remove_bp(&x->kt.base, type, addr, len);
}

/* Two virtual aliases of one physical byte share the planted hlt; the
 * original comes back when the last one goes, whatever the order. */
static void test_aliases_share_the_planted_byte(void **state)
{
    struct fixture *x = *state;
    uint8_t *p = &x->m.vm.mem[TEXT + 0x10];
    uint8_t orig = *p;
    assert_int_equal(ins(x, UKVM_BP_SOFTWARE, TEXT + 0x10, 1), 0);
    assert_int_equal(ins(x, UKVM_BP_SOFTWARE, ALIAS + TEXT + 0x10, 1), 0);
    assert_int_equal(*p, 0xf4);
    uint8_t b = 0;
    assert_int_equal(kvm_target_read_mem(&x->kt.base, ALIAS + TEXT + 0x10, &b, 1), 1);
    assert_int_equal(b, orig);
    assert_int_equal(rem(x, UKVM_BP_SOFTWARE, TEXT + 0x10, 1), 0);
    assert_int_equal(*p, 0xf4);      /* the other alias still wants it */
    assert_non_null(kvm_target_sw_at(&x->kt, ALIAS + TEXT + 0x10));
    assert_int_equal(rem(x, UKVM_BP_SOFTWARE, ALIAS + TEXT + 0x10, 1), 0);
    assert_int_equal(*p, orig);
    assert_null(kvm_target_sw_at(&x->kt, TEXT + 0x10));
    /* the other order, and the same address twice (one remove takes it) */
    assert_int_equal(ins(x, UKVM_BP_SOFTWARE, ALIAS + TEXT + 0x10, 1), 0);
    assert_int_equal(ins(x, UKVM_BP_SOFTWARE, TEXT + 0x10, 1), 0);
    assert_int_equal(ins(x, UKVM_BP_SOFTWARE, TEXT + 0x10, 1), 0);
    assert_int_equal(rem(x, UKVM_BP_SOFTWARE, ALIAS + TEXT + 0x10, 1), 0);
    assert_int_equal(*p, 0xf4);
    assert_int_equal(rem(x, UKVM_BP_SOFTWARE, TEXT + 0x10, 1), 0);
    assert_int_equal(*p, orig);
    /* a hlt reached through an alias gdb never named is still ours */
    assert_int_equal(ins(x, UKVM_BP_SOFTWARE, TEXT + 0x20, 1), 0);
    assert_non_null(kvm_target_sw_at(&x->kt, ALIAS + TEXT + 0x20));
}

/* Reads hide every planted byte, and cost no more with many breakpoints:
 * 8192 of them and 1 MiB read back. */
static void test_reads_hide_many_breakpoints(void **state)
{
    struct fixture *x = *state;
    static uint8_t before[0x10000], after[0x10000];
    memcpy(before, &x->m.vm.mem[TEXT], sizeof(before));
    for (uint64_t i = 0; i < 8192; i++)
        assert_int_equal(ins(x, UKVM_BP_SOFTWARE, TEXT + 0xffff - i * 7, 1), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int round = 0; round < 16; round++)
        assert_int_equal(kvm_target_read_mem(&x->kt.base, TEXT, after, sizeof(after)),
                (long)sizeof(after));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_memory_equal(before, after, sizeof(before));
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(s < 1.0);
    kvm_target_clear_all(&x->kt);
    assert_memory_equal(before, &x->m.vm.mem[TEXT], sizeof(before));
}

/* The same watch 200 times over most of memory is one range; one remove
 * takes it out. */
static void test_watch_duplicates(void **state)
{
    struct fixture *x = *state;
    for (int i = 0; i < 200; i++)
        assert_int_equal(ins(x, UKVM_WP_WRITE, 0x1000, MEM - 0x1000), 0);
    assert_int_equal(x->kt.watches.n, 1);
    assert_int_equal(rem(x, UKVM_WP_WRITE, 0x1000, MEM - 0x1000), 0);
    assert_int_equal(x->kt.watches.n, 0);
    assert_int_equal(ins(x, UKVM_WP_WRITE, MEM - 8, 16), -1);  /* past the end */
}

/* Watches on separate pages until the slots run out: refused with an
 * error, nothing asked of KVM, and what was there stays. Adjacent pages
 * share a slot. */
static void test_watch_slot_limit(void **state)
{
    struct fixture *x = *state;
    for (uint64_t i = 0; i < 300; i++)
        assert_int_equal(ins(x, UKVM_WP_WRITE, 0x2000000 + i * 0x1000, 8), 0);
    int ok = 0, refused = 0;
    for (uint64_t i = 0; i < 300; i++) {
        if (ins(x, UKVM_WP_WRITE, 0x1000000 + 2 * i * 0x1000, 8) == 0)
            ok++;
        else
            refused++;
    }
    /* 512 slots: the adjacent run and the memory around everything take 3,
     * each separate page 2 */
    assert_int_equal(ok, 254);
    assert_int_equal(refused, 46);
    assert_int_equal(x->kt.watches.n, 554);
    assert_int_equal(memslot_ioctls, 0);
    /* access watches need no slot of their own: one over the separate pages
     * joins them into one unmapped run, and then removing it would split
     * them again past the limit: it stays as a ghost that never fires */
    assert_int_equal(ins(x, UKVM_WP_ACCESS, 0x1000000, 0x200000), 0);
    for (uint64_t i = 254; i < 300; i++)
        assert_int_equal(ins(x, UKVM_WP_WRITE, 0x1000000 + 2 * i * 0x1000, 8), 0);
    assert_int_equal(rem(x, UKVM_WP_ACCESS, 0x1000000, 0x200000), 0);
    assert_int_equal(x->kt.watches.n, 601);
    assert_true(x->kt.watches.w[554].ghost);
    kvm_target_drop_ghosts(&x->kt);
    assert_int_equal(x->kt.watches.n, 601);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_aliases_share_the_planted_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_hide_many_breakpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_slot_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

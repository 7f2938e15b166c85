/*
 * Re-laying guest memory slots around watched pages. All slots point into
 * the same host mapping, so memory contents never move; only which accesses
 * exit to the monitor changes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "monitor/memslots.h"

static int set_slot(struct vm *vm, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size,
        char *err, size_t errlen)
{
    struct kvm_userspace_memory_region r = {
        .slot = slot,
        .flags = flags,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)(vm->guest_view + gpa),
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
        snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION (slot %u at 0x%llx): %s", slot,
                (unsigned long long)gpa, strerror(errno));
        return -1;
    }
    return 0;
}

int memslots_apply(struct vm *vm, const struct page_special *pages, size_t n,
        char *err, size_t errlen)
{
    /* Remove the old layout (slot 0 is the first slot of every layout). */
    for (uint32_t s = 0; s < vm->n_slots; s++)
        if (set_slot(vm, s, 0, 0, 0, err, errlen) < 0)
            return -1;
    vm->n_slots = 0;

    uint32_t base_flags = vm->dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0;
    uint64_t at = 0;
    size_t i = 0;
    while (at < vm->mem_size) {
        uint64_t end = i < n ? pages[i].gpa : vm->mem_size;
        if (end > at) {
            if (set_slot(vm, vm->n_slots++, base_flags, at, end - at, err, errlen) < 0)
                return -1;
            at = end;
            continue;
        }
        /* a special page (or a run of equally special ones) at `at` */
        enum page_prot prot = pages[i].prot;
        uint64_t run_end = at;
        while (i < n && pages[i].gpa == run_end && pages[i].prot == prot) {
            run_end += 0x1000;
            i++;
        }
        if (prot == PAGE_READONLY &&
            set_slot(vm, vm->n_slots++, base_flags | KVM_MEM_READONLY, at, run_end - at,
                err, errlen) < 0)
            return -1;
        at = run_end;
    }
    return 0;
}

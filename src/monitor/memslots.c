/*
 * Re-laying guest memory slots around watched pages. All slots point into
 * the same host mapping, so memory contents never move; only which accesses
 * exit to the monitor changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "monitor/memslots.h"

static int set_slot(struct vm *vm, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size,
        char *err, size_t errlen)
{
    if (slot >= 512) {
        snprintf(err, errlen, "too many watched memory ranges (memory slots exhausted)");
        return -1;
    }
    vm->slot_base[slot] = gpa;
    vm->slot_size[slot] = size;
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
    /* Keep what the old slots logged, then remove the old layout. */
    if (vm->dirty_bits)
        vm_dirty_harvest(vm);
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

int vm_dirty_enable(struct vm *vm, char *err, size_t errlen)
{
    size_t words = ((vm->mem_size >> 12) + 63) / 64;
    vm->dirty_bits = calloc(words, sizeof(uint64_t));
    if (!vm->dirty_bits) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    vm->dirty_log = true;
    return memslots_apply(vm, NULL, 0, err, errlen);
}

int vm_dirty_harvest(struct vm *vm)
{
    if (!vm->dirty_log)
        return 0;
    static uint64_t *bitmap;
    static size_t bitmap_words;
    size_t need = ((vm->mem_size >> 12) + 63) / 64;
    if (bitmap_words < need) {
        free(bitmap);
        bitmap = calloc(need, sizeof(uint64_t));
        if (!bitmap)
            return -1;
        bitmap_words = need;
    }
    for (uint32_t s = 0; s < vm->n_slots; s++) {
        if (vm->slot_size[s] == 0)
            continue;
        size_t pages = vm->slot_size[s] >> 12;
        memset(bitmap, 0, ((pages + 63) / 64) * sizeof(uint64_t));
        struct kvm_dirty_log log = { .slot = s, .dirty_bitmap = bitmap };
        if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
            continue; /* a slot without logging (read-only ones may not) */
        uint64_t first = vm->slot_base[s] >> 12;
        for (size_t p = 0; p < pages; p++)
            if (bitmap[p / 64] & (1ULL << (p % 64)))
                vm->dirty_bits[(first + p) / 64] |= 1ULL << ((first + p) % 64);
    }
    return 0;
}

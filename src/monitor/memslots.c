/*
 * Re-laying guest memory slots around watched ranges. All slots point into
 * the same host mapping, so memory contents never move; only which accesses
 * exit to the monitor changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "monitor/memslots.h"
#include "ukvm/lower_bound.h"

/* Lays out the slots for runs (up to max of them into out, which may be
 * NULL when max is 0) and returns how many there are. */
static size_t walk_layout(const struct prot_run *runs, size_t n, uint64_t mem_size,
        struct vm_slot *out, size_t max, uint32_t base_flags)
{
    size_t count = 0;
    uint64_t at = 0;
    size_t i = 0;
#define EMIT(g, sz, fl) do { \
        if (count < max) \
            out[count] = (struct vm_slot){ .gpa = (g), .size = (sz), .flags = (fl) }; \
        count++; \
    } while (0)
    while (at < mem_size) {
        uint64_t end = i < n && runs[i].gpa < mem_size ? runs[i].gpa : mem_size;
        if (end > at) {
            EMIT(at, end - at, base_flags);
            at = end;
            continue;
        }
        /* runs at `at`: neighbours of equal protection share one slot */
        enum page_prot prot = runs[i].prot;
        uint64_t run_end = at;
        while (i < n && runs[i].gpa <= run_end && runs[i].prot == prot) {
            uint64_t e = runs[i].gpa + runs[i].len;
            if (e > run_end)
                run_end = e;
            i++;
        }
        if (run_end > mem_size)
            run_end = mem_size;
        if (prot == PAGE_READONLY)
            EMIT(at, run_end - at, base_flags | KVM_MEM_READONLY);
        else if (prot == PAGE_NORMAL)
            EMIT(at, run_end - at, base_flags);
        at = run_end;
    }
#undef EMIT
    return count;
}

size_t memslots_plan(const struct prot_run *runs, size_t n, uint64_t mem_size,
        struct vm_slot *out, size_t max)
{
    return walk_layout(runs, n, mem_size, out, max, 0);
}

size_t memslots_needed(const struct prot_run *runs, size_t n, uint64_t mem_size)
{
    return walk_layout(runs, n, mem_size, NULL, 0, 0);
}

uint32_t memslots_limit(struct vm *vm)
{
    if (vm->slot_limit)
        return vm->slot_limit;
    int r = vm->vm_fd >= 0 ? ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS) : -1;
    if (r <= 0 && vm->kvm_fd >= 0)
        r = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
    uint32_t limit = r > 0 ? (uint32_t)r : 32; /* KVM's oldest count */
    const char *env = getenv("UKVM_MAX_MEMSLOTS");
    if (env) {
        unsigned long v = strtoul(env, NULL, 10);
        if (v >= 1 && v < limit)
            limit = (uint32_t)v;
    }
    vm->slot_limit = limit;
    return limit;
}

static int set_slot(struct vm *vm, uint32_t id, const struct vm_slot *s, char *err, size_t errlen)
{
    struct kvm_userspace_memory_region r = {
        .slot = id,
        .flags = s->size ? s->flags : 0,
        .guest_phys_addr = s->gpa,
        .memory_size = s->size,
        .userspace_addr = (uint64_t)(uintptr_t)(vm->guest_view + s->gpa),
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
        snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION (slot %u at 0x%llx): %s", id,
                (unsigned long long)s->gpa, strerror(errno));
        return -1;
    }
    vm->slots[id] = *s;
    if (s->size && id >= vm->n_slots)
        vm->n_slots = id + 1;
    return 0;
}

/* The slot table, made the first time (vm_create made slot 0). */
static int ensure_table(struct vm *vm, uint32_t limit)
{
    if (vm->slots)
        return 0;
    vm->slots = calloc(limit, sizeof(*vm->slots));
    if (!vm->slots)
        return -1;
    if (vm->n_slots)
        vm->slots[0] = (struct vm_slot){ .gpa = 0, .size = vm->mem_size, .flags = 0 };
    return 0;
}

static size_t count_used(const struct vm *vm)
{
    size_t n = 0;
    for (uint32_t id = 0; id < vm->n_slots; id++)
        n += vm->slots[id].size != 0;
    return n;
}

/* The plan entry equal to s (plan is sorted by gpa), or -1. */
static long find_in_plan(const struct vm_slot *plan, size_t n, const struct vm_slot *s)
{
    size_t lo = UKVM_LOWER_BOUND(plan, n, gpa, s->gpa);
    if (lo < n && plan[lo].gpa == s->gpa && plan[lo].size == s->size &&
        plan[lo].flags == s->flags)
        return (long)lo;
    return -1;
}

int memslots_apply(struct vm *vm, const struct prot_run *runs, size_t n,
        char *err, size_t errlen)
{
    uint32_t limit = memslots_limit(vm);
    uint32_t base_flags = vm->dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0;
    size_t need = walk_layout(runs, n, vm->mem_size, NULL, 0, base_flags);
    if (need > limit) {
        snprintf(err, errlen, "the watched ranges need %zu memory slots; KVM has %u", need,
                limit);
        return -1;
    }
    struct vm_slot *plan = malloc((need ? need : 1) * sizeof(*plan));
    bool *kept = calloc(need ? need : 1, sizeof(*kept));
    if (!plan || !kept || ensure_table(vm, limit) < 0) {
        free(plan);
        free(kept);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    walk_layout(runs, n, vm->mem_size, plan, need, base_flags);

    size_t n_kept = 0;
    for (uint32_t id = 0; id < vm->n_slots; id++) {
        long p = vm->slots[id].size ? find_in_plan(plan, need, &vm->slots[id]) : -1;
        if (p >= 0) {
            kept[p] = true;
            n_kept++;
        }
    }
    int rc = 0;
    if (n_kept < need || n_kept < count_used(vm)) {
        /* Keep what the old slots logged, then take out the slots that go. */
        if (vm->dirty_bits)
            vm_dirty_harvest(vm);
        static const struct vm_slot none;
        for (uint32_t id = 0; id < vm->n_slots && rc == 0; id++)
            if (vm->slots[id].size && find_in_plan(plan, need, &vm->slots[id]) < 0)
                rc = set_slot(vm, id, &none, err, errlen);
    }
    uint32_t free_id = 0;
    for (size_t i = 0; i < need && rc == 0; i++) {
        if (kept[i])
            continue;
        while (vm->slots[free_id].size)
            free_id++; /* found below limit: the plan has at most limit slots */
        rc = set_slot(vm, free_id, &plan[i], err, errlen);
    }
    while (vm->n_slots && !vm->slots[vm->n_slots - 1].size)
        vm->n_slots--;
    free(plan);
    free(kept);
    return rc;
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
    if (!vm->dirty_log || !vm->slots)
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
        if (vm->slots[s].size == 0)
            continue;
        size_t pages = vm->slots[s].size >> 12;
        memset(bitmap, 0, ((pages + 63) / 64) * sizeof(uint64_t));
        struct kvm_dirty_log log = { .slot = s, .dirty_bitmap = bitmap };
        if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
            continue; /* a slot without logging (read-only ones may not) */
        uint64_t first = vm->slots[s].gpa >> 12;
        for (size_t p = 0; p < pages; p++)
            if (bitmap[p / 64] & (1ULL << (p % 64)))
                vm->dirty_bits[(first + p) / 64] |= 1ULL << ((first + p) % 64);
    }
    return 0;
}

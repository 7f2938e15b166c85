/*
 * The guest-memory slot layout. Normally one slot covers all of guest
 * memory; ranges under a watchpoint are carved out as read-only slots
 * (writes exit as MMIO) or left without a slot (every access exits as MMIO).
 *
 * A layout is planned before KVM is touched: when it needs more slots than
 * KVM has (KVM_CAP_NR_MEMSLOTS), memslots_apply refuses it and the layout in
 * place stays, so the guest never loses its memory.
 */
#ifndef UKVM_MEMSLOTS_H
#define UKVM_MEMSLOTS_H

#include "monitor/monitor.h"

enum page_prot {
    PAGE_NORMAL = 0,
    PAGE_READONLY = 1,      /* writes exit */
    PAGE_UNMAPPED = 2,      /* reads and writes exit */
};

/* A protected stretch of guest memory: page aligned, and in a list sorted
 * by gpa and disjoint. */
struct prot_run {
    uint64_t gpa, len;
    enum page_prot prot;
};

/* The slots a layout needs: one per stretch of normal memory between runs,
 * one per read-only run (after merging neighbours of equal protection),
 * none for unmapped runs. */
size_t memslots_needed(const struct prot_run *runs, size_t n, uint64_t mem_size);

/* Plans the layout into out (room for max entries). Returns the number of
 * slots, or that number without writing past max when it does not fit. */
size_t memslots_plan(const struct prot_run *runs, size_t n, uint64_t mem_size,
        struct vm_slot *out, size_t max);

/* How many slots this VM may use: KVM's KVM_CAP_NR_MEMSLOTS, lowered by
 * the environment variable UKVM_MAX_MEMSLOTS (for tests). Cached. */
uint32_t memslots_limit(struct vm *vm);

/* Lay the slots out again: `runs` (sorted, disjoint) get their protection,
 * everything else is normal memory. Slots that do not change stay as they
 * are. 0, or -1 with err: when the layout needs more slots than
 * memslots_limit(), nothing is changed. */
int memslots_apply(struct vm *vm, const struct prot_run *runs, size_t n,
        char *err, size_t errlen);

#endif

/*
 * The guest-memory slot layout. Normally one slot covers all of guest
 * memory; pages under a watchpoint are carved out as read-only slots (writes
 * exit as MMIO) or left without a slot (every access exits as MMIO).
 */
#ifndef UKVM_MEMSLOTS_H
#define UKVM_MEMSLOTS_H

#include "monitor/monitor.h"

enum page_prot {
    PAGE_NORMAL = 0,
    PAGE_READONLY = 1,      /* writes exit */
    PAGE_UNMAPPED = 2,      /* reads and writes exit */
};

struct page_special {
    uint64_t gpa;           /* page aligned */
    enum page_prot prot;
};

/*
 * Lay the slots out again: `pages` (sorted by gpa, unique, n of them) get
 * their protection, everything else is normal memory. 0, or -1 with err.
 */
int memslots_apply(struct vm *vm, const struct page_special *pages, size_t n,
        char *err, size_t errlen);

#endif

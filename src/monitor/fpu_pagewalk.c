/*
 * The guest's page tables, walked by the monitor: KVM_TRANSLATE on x86
 * reports every present page as writable, so it cannot tell whether a
 * store the monitor completes for the guest may go there.
 */
#include <string.h>

#include "monitor/fpu_complete.h"

#define PTE_P (1ULL << 0)
#define PTE_W (1ULL << 1)
#define PTE_PS (1ULL << 7)
#define PTE_ADDR 0x000ffffffffff000ULL

bool fpu_walk_page_tables(const uint8_t *mem, uint64_t mem_size, uint64_t cr3, bool la57,
        uint64_t gva, uint64_t *gpa, bool *writable)
{
    int levels = la57 ? 5 : 4;
    uint64_t table = cr3 & PTE_ADDR;
    bool w = true;
    for (int level = levels; level >= 1; level--) {
        unsigned shift = 12 + 9 * (unsigned)(level - 1);
        uint64_t at = table + ((gva >> shift) & 0x1ff) * 8;
        if (at > mem_size || mem_size - at < 8)
            return false;
        uint64_t e;
        memcpy(&e, mem + at, 8);
        if (!(e & PTE_P))
            return false;
        w = w && (e & PTE_W);
        if (level == 1 || ((e & PTE_PS) && (level == 2 || level == 3))) {
            uint64_t page_mask = (1ULL << shift) - 1;
            *gpa = ((e & PTE_ADDR) & ~page_mask) | (gva & page_mask);
            *writable = w;
            return true;
        }
        table = e & PTE_ADDR;
    }
    return false;
}

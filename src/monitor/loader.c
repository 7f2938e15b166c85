/*
 * Putting the kernel into guest memory: segments, zeroed bss, and the
 * host-side write protection of text and read-only data that Solo5's tender
 * applies (a guest store into its own text is a translation fault).
 */
#include <elf.h>
#include <string.h>

#include "monitor/monitor.h"

/* True when a writable segment shares the page at `page`. */
static bool page_has_writable(const struct kernel_image *k, uint64_t page)
{
    for (size_t i = 0; i < k->n_segments; i++) {
        const struct elf_segment *s = &k->seg[i];
        if ((s->flags & PF_W) && s->vaddr < page + 0x1000 && s->vaddr + s->memsz > page)
            return true;
    }
    return false;
}

bool kernel_page_protected(const struct kernel_image *k, uint64_t gpa)
{
    uint64_t page = gpa & ~0xfffULL;
    if (page_has_writable(k, page))
        return false;
    for (size_t i = 0; i < k->n_segments; i++) {
        const struct elf_segment *s = &k->seg[i];
        if (!(s->flags & PF_W) && s->vaddr < page + 0x1000 && s->vaddr + s->memsz > page)
            return true;
    }
    return false;
}

int kernel_load(struct monitor *m, char *err, size_t errlen)
{
    const struct kernel_image *k = &m->kernel;
    for (size_t i = 0; i < k->n_segments; i++) {
        const struct elf_segment *s = &k->seg[i];
        /* The rest (memsz - filesz, the bss) is left alone: guest memory
         * is a new memfd, all zeros until written, and the segments do not
         * overlap (elf_load.c). Clearing it would fault in every page of a
         * large bss (Solo5's hello has 2 MiB) for nothing. */
        memcpy(m->vm.mem + s->vaddr, k->file + s->offset, s->filesz);
    }
    for (size_t i = 0; i < k->n_segments; i++) {
        const struct elf_segment *s = &k->seg[i];
        if (s->flags & PF_W)
            continue;
        for (uint64_t page = s->vaddr & ~0xfffULL; page < s->vaddr + s->memsz; page += 0x1000) {
            if (!kernel_page_protected(k, page))
                continue;
            if (vm_protect(&m->vm, page, 0x1000, err, errlen) < 0)
                return -1;
        }
    }
    return 0;
}

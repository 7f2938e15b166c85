/*
 * Taking and restoring checkpoints. Memory is incremental: the monitor's
 * dirty bitmap (KVM's dirty log folded in, plus the monitor's own writes)
 * says which pages changed since the checkpoint on top of the stack, and
 * only those are copied. Restoring checkpoint i rewrites the pages that may
 * differ from it: the ones dirty now and the ones stored above i, each from
 * the nearest checkpoint at or below i that holds it (a page none holds was
 * zero at boot).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "record/checkpoint.h"
#include "ukvm/lower_bound.h"

#define PAGE 4096ULL

static const uint32_t saved_msrs[] = {
    0x174, 0x175, 0x176,            /* SYSENTER_CS/ESP/EIP */
    0x277,                          /* PAT */
    0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, /* STAR LSTAR CSTAR SFMASK */
    0xc0000102, 0xc0000103,         /* KERNEL_GS_BASE, TSC_AUX */
};

static int cpu_save(struct monitor *m, struct checkpoint *cp, char *err, size_t errlen)
{
    struct vm *vm = &m->vm;
    if (vm_regs_flush(vm) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_REGS, &cp->regs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_SREGS, &cp->sregs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_FPU, &cp->fpu) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_VCPU_EVENTS, &cp->events) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_DEBUGREGS, &cp->debugregs) < 0) {
        snprintf(err, errlen, "checkpoint: cannot read the vCPU state: %s", strerror(errno));
        return -1;
    }
    if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0) {
        cp->xsave = malloc(sizeof(*cp->xsave));
        if (!cp->xsave || ioctl(vm->vcpu_fd, KVM_GET_XSAVE, cp->xsave) < 0) {
            free(cp->xsave);
            cp->xsave = NULL;
        }
    }
    cp->have_xcrs = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0 &&
        ioctl(vm->vcpu_fd, KVM_GET_XCRS, &cp->xcrs) == 0;
    union {
        struct kvm_msrs hdr;
        uint8_t room[sizeof(struct kvm_msrs) + CHECKPOINT_MAX_MSRS * sizeof(struct kvm_msr_entry)];
    } msrs;
    memset(&msrs, 0, sizeof(msrs));
    uint32_t n = sizeof(saved_msrs) / sizeof(saved_msrs[0]);
    msrs.hdr.nmsrs = n;
    for (uint32_t i = 0; i < n; i++)
        msrs.hdr.entries[i].index = saved_msrs[i];
    int got = ioctl(vm->vcpu_fd, KVM_GET_MSRS, &msrs);
    cp->n_msrs = got > 0 ? (uint32_t)got : 0; /* the ones before the first unknown */
    memcpy(cp->msrs, msrs.hdr.entries, cp->n_msrs * sizeof(cp->msrs[0]));
    return 0;
}

uint64_t checkpoint_stack_digest(const struct monitor *m, uint64_t rsp)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    if (rsp >= m->vm.mem_size)
        return h;
    uint64_t end = m->vm.mem_size - rsp > CHECKPOINT_STACK_DIGEST_BYTES
        ? rsp + CHECKPOINT_STACK_DIGEST_BYTES : m->vm.mem_size;
    const uint8_t *p = m->vm.mem + rsp;
    size_t n = (size_t)(end - rsp);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static int cpu_restore(struct monitor *m, const struct checkpoint *cp, char *err, size_t errlen)
{
    struct vm *vm = &m->vm;
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &cp->sregs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_SET_FPU, &cp->fpu) < 0 ||
        (cp->xsave && ioctl(vm->vcpu_fd, KVM_SET_XSAVE, cp->xsave) < 0) ||
        (cp->have_xcrs && ioctl(vm->vcpu_fd, KVM_SET_XCRS, &cp->xcrs) < 0) ||
        ioctl(vm->vcpu_fd, KVM_SET_DEBUGREGS, &cp->debugregs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_SET_REGS, &cp->regs) < 0) {
        snprintf(err, errlen, "checkpoint: cannot restore the vCPU state: %s", strerror(errno));
        return -1;
    }
    struct kvm_vcpu_events ev = cp->events;
    ev.flags &= KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
    ioctl(vm->vcpu_fd, KVM_SET_VCPU_EVENTS, &ev);
    if (cp->n_msrs) {
        union {
            struct kvm_msrs hdr;
            uint8_t room[sizeof(struct kvm_msrs) + CHECKPOINT_MAX_MSRS * sizeof(struct kvm_msr_entry)];
        } msrs;
        memset(&msrs, 0, sizeof(msrs));
        msrs.hdr.nmsrs = cp->n_msrs;
        memcpy(msrs.hdr.entries, cp->msrs, cp->n_msrs * sizeof(cp->msrs[0]));
        ioctl(vm->vcpu_fd, KVM_SET_MSRS, &msrs);
    }
    if (vm->sync_regs)
        vm->run->s.regs.regs = cp->regs;
    vm->regs_cache = cp->regs;
    vm->regs_cached = !vm->sync_regs;
    vm->regs_dirty = false;
    return 0;
}

/* Page copies live in their own mappings, not on the malloc heap: thinning
 * frees and merges them all the time, and heap fragments would keep the
 * monitor's resident size growing although the budget is kept. */
static uint8_t *pages_alloc(size_t n)
{
    if (n == 0)
        return NULL;
    void *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void pages_free(uint8_t *pages, size_t n)
{
    if (pages)
        munmap(pages, n * PAGE);
}

size_t checkpoint_cost(const struct checkpoint *cp)
{
    return sizeof(*cp) + (cp->xsave ? sizeof(*cp->xsave) : 0) +
        cp->page_room * PAGE + cp->n_pages * (sizeof(uint64_t) + sizeof(uint32_t));
}

static void checkpoint_free(struct checkpoint *cp)
{
    if (!cp)
        return;
    free(cp->xsave);
    free(cp->pfns);
    free(cp->slots);
    pages_free(cp->pages, cp->page_room);
    free(cp);
}

/* Take cp off the stack's accounts and free it. */
static void discard(struct checkpoint_stack *st, struct checkpoint *cp)
{
    st->bytes -= checkpoint_cost(cp);
    checkpoint_free(cp);
}

static bool bit_test(const uint64_t *bits, uint64_t p)
{
    return bits[p / 64] & (1ULL << (p % 64));
}

/* Copy the dirty pages into cp and clear the bitmap. */
static int save_dirty_pages(struct monitor *m, struct checkpoint *cp,
        checkpoint_clean_fn clean, void *ctx, char *err, size_t errlen)
{
    struct vm *vm = &m->vm;
    vm_dirty_harvest(vm);
    uint64_t npages = vm->mem_size / PAGE;
    size_t words = (npages + 63) / 64;
    size_t count = 0;
    for (size_t w = 0; w < words; w++)
        count += (size_t)__builtin_popcountll(vm->dirty_bits[w]);
    if (count == 0) /* a spinning guest: no page arrays at all */
        return 0;
    cp->pfns = malloc(count * sizeof(uint64_t));
    cp->slots = malloc(count * sizeof(uint32_t));
    cp->pages = pages_alloc(count);
    if (!cp->pfns || !cp->slots || !cp->pages) {
        free(cp->pfns);
        free(cp->slots);
        pages_free(cp->pages, count);
        cp->pfns = NULL;
        cp->slots = NULL;
        cp->pages = NULL;
        snprintf(err, errlen, "checkpoint: out of memory (%zu pages)", count);
        return -1;
    }
    cp->page_room = count;
    size_t i = 0;
    for (uint64_t p = 0; p < npages; p++) {
        if (!bit_test(vm->dirty_bits, p))
            continue;
        cp->pfns[i] = p;
        cp->slots[i] = (uint32_t)i;
        memcpy(cp->pages + i * PAGE, vm->mem + p * PAGE, PAGE);
        if (clean)
            clean(ctx, p, cp->pages + i * PAGE);
        i++;
    }
    cp->n_pages = i;
    memset(vm->dirty_bits, 0, words * sizeof(uint64_t));
    return 0;
}

static int push(struct checkpoint_stack *st, struct monitor *m, checkpoint_clean_fn clean,
        void *ctx, char *err, size_t errlen)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        struct checkpoint **n = realloc(st->cp, cap * sizeof(*n));
        if (!n) {
            snprintf(err, errlen, "checkpoint: out of memory");
            return -1;
        }
        st->cp = n;
        st->cap = cap;
    }
    struct checkpoint *cp = calloc(1, sizeof(*cp));
    if (!cp) {
        snprintf(err, errlen, "checkpoint: out of memory");
        return -1;
    }
    if (cpu_save(m, cp, err, errlen) < 0 ||
        save_dirty_pages(m, cp, clean, ctx, err, errlen) < 0) {
        checkpoint_free(cp);
        return -1;
    }
    replayer_save(m->src, &cp->replay);
    cp->next_event = replayer_next_event(m->src);
    cp->stack_digest = checkpoint_stack_digest(m, cp->regs.rsp);
    cp->halted = m->halted;
    cp->exit_status = m->exit_status;
    st->bytes += checkpoint_cost(cp);
    st->cp[st->n++] = cp;
    return 0;
}

int checkpoint_init(struct checkpoint_stack *st, struct monitor *m, uint64_t initial_end,
        checkpoint_clean_fn clean, void *ctx, char *err, size_t errlen)
{
    memset(st, 0, sizeof(*st));
    if (vm_dirty_enable(&m->vm, err, errlen) < 0)
        return -1;
    if (initial_end > m->vm.mem_size)
        initial_end = m->vm.mem_size;
    vm_mark_dirty(&m->vm, 0, initial_end);
    return push(st, m, clean, ctx, err, errlen);
}

int checkpoint_push(struct checkpoint_stack *st, struct monitor *m,
        checkpoint_clean_fn clean, void *ctx, char *err, size_t errlen)
{
    return push(st, m, clean, ctx, err, errlen);
}

/* The page's contents at checkpoint `index`, or NULL when it was zero. */
static const uint8_t *page_at(const struct checkpoint_stack *st, size_t index, uint64_t pfn)
{
    for (size_t i = index + 1; i-- > 0;) {
        const struct checkpoint *cp = st->cp[i];
        size_t j = ukvm_lower_bound(cp->pfns, cp->n_pages, sizeof(uint64_t), 0, pfn);
        if (j < cp->n_pages && cp->pfns[j] == pfn)
            return cp->pages + (size_t)cp->slots[j] * PAGE;
    }
    return NULL;
}

int checkpoint_restore(struct checkpoint_stack *st, struct monitor *m, size_t index,
        char *err, size_t errlen)
{
    struct vm *vm = &m->vm;
    if (index >= st->n) {
        snprintf(err, errlen, "checkpoint: no checkpoint %zu", index);
        return -1;
    }
    vm_dirty_harvest(vm);
    /* pages stored above index may differ too */
    for (size_t i = index + 1; i < st->n; i++)
        for (size_t j = 0; j < st->cp[i]->n_pages; j++) {
            uint64_t p = st->cp[i]->pfns[j];
            vm->dirty_bits[p / 64] |= 1ULL << (p % 64);
        }
    uint64_t npages = vm->mem_size / PAGE;
    for (uint64_t p = 0; p < npages; p++) {
        if (!vm->dirty_bits[p / 64]) {
            p |= 63;
            continue;
        }
        if (!bit_test(vm->dirty_bits, p))
            continue;
        const uint8_t *src = page_at(st, index, p);
        if (src)
            memcpy(vm->mem + p * PAGE, src, PAGE);
        else
            memset(vm->mem + p * PAGE, 0, PAGE);
    }
    memset(vm->dirty_bits, 0, ((npages + 63) / 64) * sizeof(uint64_t));
    while (st->n > index + 1)
        discard(st, st->cp[--st->n]);
    const struct checkpoint *cp = st->cp[index];
    if (cpu_restore(m, cp, err, errlen) < 0)
        return -1;
    if (replayer_restore(m->src, &cp->replay) < 0) {
        snprintf(err, errlen, "checkpoint: cannot seek the trace");
        return -1;
    }
    m->halted = cp->halted;
    m->exit_status = cp->exit_status;
    return 0;
}

int checkpoint_pop(struct checkpoint_stack *st, struct monitor *m)
{
    if (st->n < 2)
        return -1;
    struct checkpoint *cp = st->cp[--st->n];
    vm_dirty_harvest(&m->vm);
    /* the pages it held may differ from the checkpoint below too */
    for (size_t j = 0; j < cp->n_pages; j++)
        vm_mark_dirty(&m->vm, cp->pfns[j] * PAGE, PAGE);
    discard(st, cp);
    return 0;
}

/* hi takes over the pages of lo it lacks (hi's own copies win). The page
 * copies of the bigger of the two are kept in place and the smaller one's
 * are moved into its mapping, so each drop copies at most the smaller
 * checkpoint's pages: thinning stays cheap however large the merged old
 * checkpoints grow. lo is left for the caller to discard. */
static int merge_pages(struct checkpoint_stack *st, struct checkpoint *lo, struct checkpoint *hi)
{
    size_t n = 0, extra_lo = 0, extra_hi = 0;
    for (size_t i = 0, j = 0; i < lo->n_pages || j < hi->n_pages; n++) {
        if (j >= hi->n_pages || (i < lo->n_pages && lo->pfns[i] < hi->pfns[j]))
            i++, extra_lo++;
        else if (i < lo->n_pages && lo->pfns[i] == hi->pfns[j])
            i++, j++;
        else
            j++, extra_hi++;
    }
    if (extra_lo == 0) /* nothing of lo is needed */
        return 0;
    bool keep_hi = hi->n_pages >= lo->n_pages;
    struct checkpoint *big = keep_hi ? hi : lo;
    /* the big one's mapping grows by the pages only the small one has */
    size_t grow = keep_hi ? extra_lo : extra_hi;
    size_t room = big->page_room + grow;
    uint64_t *pfns = malloc(n * sizeof(uint64_t));
    uint32_t *slots = malloc(n * sizeof(uint32_t));
    uint8_t *pages = big->pages;
    if (grow > 0 && pfns && slots) {
        pages = big->pages
            ? mremap(big->pages, big->page_room * PAGE, room * PAGE, MREMAP_MAYMOVE)
            : pages_alloc(room);
        if (pages == MAP_FAILED)
            pages = NULL;
    }
    if (!pfns || !slots || !pages) {
        free(pfns);
        free(slots);
        return -1;
    }
    size_t next_slot = big->page_room;
    size_t i = 0, j = 0, k = 0;
    while (i < lo->n_pages || j < hi->n_pages) {
        bool both = i < lo->n_pages && j < hi->n_pages && lo->pfns[i] == hi->pfns[j];
        bool from_hi = j < hi->n_pages && (i >= lo->n_pages || hi->pfns[j] <= lo->pfns[i]);
        struct checkpoint *src = from_hi ? hi : lo;
        size_t at = from_hi ? j : i;
        pfns[k] = src->pfns[at];
        if (src == big) {
            slots[k] = big->slots[at];
        } else if (both) { /* hi is the small one: its copy replaces big's */
            slots[k] = big->slots[i];
            memcpy(pages + (size_t)slots[k] * PAGE, src->pages + (size_t)src->slots[at] * PAGE, PAGE);
        } else {
            slots[k] = (uint32_t)next_slot++;
            memcpy(pages + (size_t)slots[k] * PAGE, src->pages + (size_t)src->slots[at] * PAGE, PAGE);
        }
        if (both)
            i++;
        if (from_hi)
            j++;
        else
            i++;
        k++;
    }
    st->bytes -= checkpoint_cost(hi) + checkpoint_cost(lo);
    struct checkpoint *small = keep_hi ? lo : hi;
    /* hi ends up with the merged set; lo keeps nothing */
    free(hi->pfns);
    free(hi->slots);
    free(lo->pfns);
    free(lo->slots);
    pages_free(small->pages, small->page_room);
    hi->pfns = pfns;
    hi->slots = slots;
    hi->pages = pages;
    hi->page_room = room;
    hi->n_pages = k;
    lo->pfns = NULL;
    lo->slots = NULL;
    lo->pages = NULL;
    lo->page_room = 0;
    lo->n_pages = 0;
    st->bytes += checkpoint_cost(hi) + checkpoint_cost(lo);
    return 0;
}

int checkpoint_drop(struct checkpoint_stack *st, size_t index, char *err, size_t errlen)
{
    if (index == 0 || index + 1 >= st->n) {
        snprintf(err, errlen, "checkpoint: cannot drop checkpoint %zu of %zu", index, st->n);
        return -1;
    }
    struct checkpoint *lo = st->cp[index], *hi = st->cp[index + 1];
    if (merge_pages(st, lo, hi) < 0) {
        snprintf(err, errlen, "checkpoint: out of memory while thinning");
        return -1;
    }
    discard(st, lo);
    memmove(&st->cp[index], &st->cp[index + 1], (st->n - index - 1) * sizeof(st->cp[0]));
    st->n--;
    return 0;
}

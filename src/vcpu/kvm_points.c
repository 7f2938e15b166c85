/*
 * The KVM target's state (kvm_points.h): memory, registers, breakpoints and
 * watchpoints. Execution (step, continue) lives in kvm_exec.c, the target's
 * operations table and set-up in kvm_target.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vcpu/kvm_points.h"
#include "vcpu/kvm_regs.h"
#include "ukvm/lower_bound.h"

#define HLT 0xf4

static struct kvm_target *kt_of(struct ukvm_target *t)
{
    return (struct kvm_target *)t;
}

/* Guest-virtual to guest-physical, through the guest's own page tables. */
bool kvm_target_translate(struct kvm_target *kt, uint64_t gva, uint64_t *gpa)
{
    struct kvm_translation tr = { .linear_address = gva };
    if (ioctl(kt->m->vm.vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
        return false;
    if (tr.physical_address >= kt->m->vm.mem_size)
        return false;
    *gpa = tr.physical_address;
    return true;
}

/* Binary searches: the first index whose key is >= key. */
static size_t planted_index(const struct kvm_target *kt, uint64_t gpa)
{
    return UKVM_LOWER_BOUND(kt->sw, kt->n_sw, gpa, gpa);
}

static size_t alias_index(const struct kvm_target *kt, uint64_t addr)
{
    return UKVM_LOWER_BOUND(kt->sw_alias, kt->n_sw_alias, addr, addr);
}

struct sw_bp *kvm_target_planted(struct kvm_target *kt, uint64_t gpa)
{
    size_t i = planted_index(kt, gpa);
    return i < kt->n_sw && kt->sw[i].gpa == gpa ? &kt->sw[i] : NULL;
}

static struct sw_alias *alias_find(struct kvm_target *kt, uint64_t addr)
{
    size_t i = alias_index(kt, addr);
    return i < kt->n_sw_alias && kt->sw_alias[i].addr == addr ? &kt->sw_alias[i] : NULL;
}

struct sw_bp *kvm_target_sw_at(struct kvm_target *kt, uint64_t addr)
{
    if (kt->n_sw == 0)
        return NULL;
    const struct sw_alias *a = alias_find(kt, addr);
    uint64_t gpa;
    if (a)
        gpa = a->gpa;
    else if (!kvm_target_translate(kt, addr, &gpa))
        return NULL;
    return kvm_target_planted(kt, gpa);
}

bool kvm_target_host_protected(struct kvm_target *kt, uint64_t gpa)
{
    return kernel_page_protected(&kt->m->kernel, gpa);
}

/* Puts the original bytes into buf, which holds guest memory [gpa, gpa + n):
 * planted breakpoints and patched instructions are taken out. */
static void unpatch(struct kvm_target *kt, uint64_t gpa, uint8_t *buf, size_t n)
{
    for (size_t i = planted_index(kt, gpa); i < kt->n_sw && kt->sw[i].gpa < gpa + n; i++)
        buf[kt->sw[i].gpa - gpa] = kt->sw[i].orig;
    const struct monitor *m = kt->m;
    if (m->cfg->no_patch)
        return;
    /* patch sites are sorted, disjoint and at most 15 bytes long */
    uint64_t from = gpa >= 15 ? gpa - 15 : 0;
    size_t lo = UKVM_LOWER_BOUND(m->patches, m->n_patches, site.addr, from);
    for (size_t i = lo; i < m->n_patches && m->patches[i].site.addr < gpa + n; i++) {
        const struct patch_site *p = &m->patches[i];
        for (size_t b = 0; b < p->site.len; b++) {
            uint64_t at = p->site.addr + b;
            if (at >= gpa && at < gpa + n)
                buf[at - gpa] = p->orig[b];
        }
    }
}

/* Walk [addr, addr + len) page by page through the guest's page tables,
 * calling fn(kt, gpa, offset into the caller's buffer, bytes). Returns the
 * bytes covered before the first unmapped page, or -1 when none were. */
static long for_each_chunk(struct kvm_target *kt, uint64_t addr, size_t len,
        void (*fn)(struct kvm_target *kt, uint64_t gpa, size_t off, size_t n, void *ctx),
        void *ctx)
{
    size_t done = 0;
    while (done < len) {
        uint64_t gpa;
        if (!kvm_target_translate(kt, addr + done, &gpa))
            break;
        size_t chunk = 0x1000 - ((addr + done) & 0xfff);
        if (chunk > len - done)
            chunk = len - done;
        if (gpa + chunk > kt->m->vm.mem_size)
            chunk = kt->m->vm.mem_size - gpa;
        fn(kt, gpa, done, chunk, ctx);
        done += chunk;
    }
    return done ? (long)done : (len ? -1 : 0);
}

static void read_chunk(struct kvm_target *kt, uint64_t gpa, size_t off, size_t n, void *buf)
{
    uint8_t *out = (uint8_t *)buf + off;
    memcpy(out, kt->m->vm.mem + gpa, n);
    unpatch(kt, gpa, out, n);
}

static void write_chunk(struct kvm_target *kt, uint64_t gpa, size_t off, size_t n, void *buf)
{
    const uint8_t *in = (const uint8_t *)buf + off;
    for (size_t i = 0; i < n; i++) {
        struct sw_bp *bp = kt->n_sw ? kvm_target_planted(kt, gpa + i) : NULL;
        if (bp) {
            bp->orig = in[i]; /* the hlt stays planted */
            /* the byte changes once the hlt goes: a restore must know */
            vm_mark_dirty(&kt->m->vm, gpa + i, 1);
        } else {
            kt->m->vm.mem[gpa + i] = in[i];
            vm_mark_dirty(&kt->m->vm, gpa + i, 1);
        }
    }
}

long kvm_target_read_mem(struct ukvm_target *t, uint64_t addr, void *buf, size_t len)
{
    return for_each_chunk(kt_of(t), addr, len, read_chunk, buf);
}

long kvm_target_write_mem(struct ukvm_target *t, uint64_t addr, const void *buf, size_t len)
{
    return for_each_chunk(kt_of(t), addr, len, write_chunk, (void *)buf);
}

int kvm_target_read_regs(struct ukvm_target *t, struct ukvm_regs *regs)
{
    return kvm_regs_read(&kt_of(t)->m->vm, regs);
}

int kvm_target_write_regs(struct ukvm_target *t, const struct ukvm_regs *regs)
{
    return kvm_regs_write(&kt_of(t)->m->vm, regs);
}

/* Grows *arr (elements of size sz) to hold one more. */
static bool grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, c * sz);
    if (!p)
        return false;
    *arr = p;
    *cap = c;
    return true;
}

static int insert_sw(struct kvm_target *kt, uint64_t addr)
{
    if (alias_find(kt, addr))
        return 0;
    uint64_t gpa;
    if (kt->n_sw_alias >= SW_BP_MAX || !kvm_target_translate(kt, addr, &gpa))
        return -1;
    if (!grow((void **)&kt->sw_alias, &kt->cap_sw_alias, kt->n_sw_alias, sizeof(*kt->sw_alias)) ||
        !grow((void **)&kt->sw, &kt->cap_sw, kt->n_sw, sizeof(*kt->sw)))
        return -1;
    size_t ai = alias_index(kt, addr);
    memmove(&kt->sw_alias[ai + 1], &kt->sw_alias[ai],
            (kt->n_sw_alias - ai) * sizeof(kt->sw_alias[0]));
    kt->sw_alias[ai] = (struct sw_alias){ .addr = addr, .gpa = gpa };
    kt->n_sw_alias++;
    struct sw_bp *bp = kvm_target_planted(kt, gpa);
    if (bp) { /* another alias of a planted byte: orig is already kept */
        bp->refs++;
        return 0;
    }
    size_t pi = planted_index(kt, gpa);
    memmove(&kt->sw[pi + 1], &kt->sw[pi], (kt->n_sw - pi) * sizeof(kt->sw[0]));
    /* Written through the monitor's view: text is write-protected for the
     * guest, not for us. */
    kt->sw[pi] = (struct sw_bp){ .gpa = gpa, .orig = kt->m->vm.mem[gpa], .refs = 1 };
    kt->n_sw++;
    kt->m->vm.mem[gpa] = HLT;
    return 0;
}

static int remove_sw(struct kvm_target *kt, uint64_t addr)
{
    struct sw_alias *a = alias_find(kt, addr);
    if (!a)
        return 0;
    uint64_t gpa = a->gpa;
    size_t ai = (size_t)(a - kt->sw_alias);
    memmove(&kt->sw_alias[ai], &kt->sw_alias[ai + 1],
            (kt->n_sw_alias - ai - 1) * sizeof(kt->sw_alias[0]));
    kt->n_sw_alias--;
    struct sw_bp *bp = kvm_target_planted(kt, gpa);
    if (bp && --bp->refs == 0) {
        kt->m->vm.mem[gpa] = bp->orig;
        size_t pi = (size_t)(bp - kt->sw);
        memmove(&kt->sw[pi], &kt->sw[pi + 1], (kt->n_sw - pi - 1) * sizeof(kt->sw[0]));
        kt->n_sw--;
    }
    return 0;
}

static bool refused_told;

/* A watch refused for a limit: said once on stderr, then only replied. */
static int refuse_watch(const char *why)
{
    if (!refused_told)
        ukvm_err("gdb: watchpoint refused: %s (further refusals get an error reply only)", why);
    refused_told = true;
    return -1;
}

/* Slots needed by the watches (with the ghosts or not), less the one at
 * index skip, plus extra; SIZE_MAX when out of memory. */
static size_t slots_needed(struct kvm_target *kt, const struct watch *extra, long skip,
        bool with_ghosts)
{
    struct prot_run *runs;
    long n = watch_set_runs(&kt->watches, extra, skip, with_ghosts, &runs);
    if (n < 0)
        return SIZE_MAX;
    size_t need = memslots_needed(runs, (size_t)n, kt->m->vm.mem_size);
    free(runs);
    return need;
}

static int add_watch(struct kvm_target *kt, enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    uint64_t gpa;
    if (len == 0 || addr + len < addr || !kvm_target_translate(kt, addr, &gpa) ||
        !vm_range_ok(&kt->m->vm, gpa, len))
        return -1;
    struct watch w = { .type = type, .addr = addr, .len = len, .gpa = gpa };
    for (size_t i = 0; i < kt->watches.n; i++)
        if (kt->watches.w[i].type == type && kt->watches.w[i].addr == addr &&
            kt->watches.w[i].len == len) {
            kt->watches.w[i].ghost = false; /* already there */
            return 0;
        }
    if (kt->watches.n >= WATCH_MAX)
        kvm_target_drop_ghosts(kt);
    if (kt->watches.n >= WATCH_MAX)
        return refuse_watch("too many watchpoints");
    /* Plan the layout with the new watch before accepting it: past KVM's
     * slot count it is refused and the layout in place stays. */
    uint32_t limit = memslots_limit(&kt->m->vm);
    if (slots_needed(kt, &w, -1, true) > limit) {
        if (slots_needed(kt, &w, -1, false) > limit)
            return refuse_watch("the watched ranges would need more memory slots than KVM has");
        watch_set_drop_ghosts(&kt->watches);
    }
    if (watch_set_add(&kt->watches, &w) != WATCH_ADDED)
        return -1;
    kt->layout_dirty = true;
    return 0;
}

/* A remove after which the layout would no longer fit (an access watch
 * that joined many write-watched runs into one unmapped run) leaves the
 * watch as a ghost: its pages stay protected, it reports no hits, and it
 * goes once the layout fits without it. So the watches in the set always
 * fit the slots, and the layout applied at the next resume protects at
 * least every live watch. */
static int remove_watch(struct kvm_target *kt, enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    for (size_t i = 0; i < kt->watches.n; i++) {
        struct watch *w = &kt->watches.w[i];
        if (w->type != type || w->addr != addr || w->len != len || w->ghost)
            continue;
        if (slots_needed(kt, NULL, (long)i, true) > memslots_limit(&kt->m->vm))
            w->ghost = true;
        else
            watch_set_remove(&kt->watches, type, addr, len);
        kt->layout_dirty = true;
        return 0;
    }
    return 0;
}

void kvm_target_drop_ghosts(struct kvm_target *kt)
{
    bool any = false;
    for (size_t i = 0; i < kt->watches.n && !any; i++)
        any = kt->watches.w[i].ghost;
    if (any && slots_needed(kt, NULL, -1, false) <= memslots_limit(&kt->m->vm))
        watch_set_drop_ghosts(&kt->watches);
}

int kvm_target_insert_bp(struct ukvm_target *t, enum ukvm_bp_type type, uint64_t addr,
        uint64_t len)
{
    struct kvm_target *kt = kt_of(t);
    switch (type) {
    case UKVM_BP_SOFTWARE:
        if (len > 1)
            return -1; /* x86: kind 1 (gdb sends it) */
        return insert_sw(kt, addr);
    case UKVM_BP_HARDWARE:
        if (len > 1)
            return -1;
        for (int i = 0; i < 4; i++)
            if (kt->hw_used[i] && kt->hw_addr[i] == addr)
                return 0;
        for (int i = 0; i < 4; i++)
            if (!kt->hw_used[i]) {
                kt->hw_used[i] = true;
                kt->hw_addr[i] = addr;
                return 0;
            }
        return -1; /* four debug registers */
    case UKVM_WP_WRITE:
    case UKVM_WP_READ:
    case UKVM_WP_ACCESS:
        return add_watch(kt, type, addr, len);
    }
    return -2;
}

int kvm_target_remove_bp(struct ukvm_target *t, enum ukvm_bp_type type, uint64_t addr,
        uint64_t len)
{
    struct kvm_target *kt = kt_of(t);
    switch (type) {
    case UKVM_BP_SOFTWARE:
        return remove_sw(kt, addr);
    case UKVM_BP_HARDWARE:
        for (int i = 0; i < 4; i++)
            if (kt->hw_used[i] && kt->hw_addr[i] == addr)
                kt->hw_used[i] = false;
        return 0;
    case UKVM_WP_WRITE:
    case UKVM_WP_READ:
    case UKVM_WP_ACCESS:
        return remove_watch(kt, type, addr, len);
    }
    return -2;
}

/* Remove every breakpoint and watchpoint (detach). */
void kvm_target_clear_all(struct kvm_target *kt)
{
    for (size_t i = 0; i < kt->n_sw; i++)
        kt->m->vm.mem[kt->sw[i].gpa] = kt->sw[i].orig;
    kt->n_sw = 0;
    kt->n_sw_alias = 0;
    memset(kt->hw_used, 0, sizeof(kt->hw_used));
    if (kt->watches.n)
        kt->layout_dirty = true;
    watch_set_clear(&kt->watches);
}

bool kvm_target_hlt_is_breakpoint(struct monitor *m, uint64_t addr)
{
    struct kvm_target *kt = m->debugger;
    if (kt->n_sw == 0)
        return false;
    if (alias_find(kt, addr))
        return true;
    /* a patched instruction's trap (hot: every rdtsc) needs no translation */
    if (!m->cfg->no_patch && intercept_find(m, addr))
        return false;
    return kvm_target_sw_at(kt, addr) != NULL;
}

bool kvm_target_stop_hits_watch(const struct kvm_target *kt, enum ukvm_bp_type type,
        uint64_t addr)
{
    for (size_t i = 0; i < kt->watches.n; i++) {
        const struct watch *w = &kt->watches.w[i];
        if (w->type != type || w->addr != addr)
            continue;
        if (access_list_hits(&kt->last_access, w))
            return true;
    }
    return false;
}

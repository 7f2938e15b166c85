/*
 * struct ukvm_target over a KVM guest: memory, breakpoints and watchpoints.
 * Execution (step, continue) lives in kvm_exec.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "gdb/kvm_regs.h"
#include "gdb/kvm_target.h"

#define HLT 0xf4

static struct kvm_target *kt_of(struct ukvm_target *t)
{
    return (struct kvm_target *)t;
}

/* Guest-virtual to guest-physical, through the guest's own page tables. */
static bool translate(struct kvm_target *kt, uint64_t gva, uint64_t *gpa)
{
    struct kvm_translation tr = { .linear_address = gva };
    if (ioctl(kt->m->vm.vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
        return false;
    if (tr.physical_address >= kt->m->vm.mem_size)
        return false;
    *gpa = tr.physical_address;
    return true;
}

static struct sw_bp *sw_find(struct kvm_target *kt, uint64_t addr)
{
    for (size_t i = 0; i < kt->n_sw; i++)
        if (kt->sw[i].addr == addr)
            return &kt->sw[i];
    return NULL;
}

/* The original byte at a guest-physical address: memory with planted
 * breakpoints and patched instructions taken out. */
static uint8_t original_byte(struct kvm_target *kt, uint64_t gpa)
{
    for (size_t i = 0; i < kt->n_sw; i++)
        if (kt->sw[i].gpa == gpa)
            return kt->sw[i].orig;
    const struct monitor *m = kt->m;
    if (!m->cfg->no_patch) {
        /* patch sites are at most 15 bytes long */
        for (uint64_t start = gpa >= 14 ? gpa - 14 : 0; start <= gpa; start++) {
            const struct patch_site *p = intercept_find(m, start);
            if (p && gpa < p->site.addr + p->site.len)
                return p->orig[gpa - p->site.addr];
        }
    }
    return m->vm.mem[gpa];
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
        if (!translate(kt, addr + done, &gpa))
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
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)buf)[off + i] = original_byte(kt, gpa + i);
}

static void write_chunk(struct kvm_target *kt, uint64_t gpa, size_t off, size_t n, void *buf)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t b = ((const uint8_t *)buf)[off + i];
        bool under_bp = false;
        for (size_t j = 0; j < kt->n_sw; j++)
            if (kt->sw[j].gpa == gpa + i) {
                kt->sw[j].orig = b; /* the hlt stays planted */
                under_bp = true;
            }
        if (!under_bp) {
            kt->m->vm.mem[gpa + i] = b;
            vm_mark_dirty(&kt->m->vm, gpa + i, 1);
        }
    }
}

long kvm_target_read_mem(struct ukvm_target *t, uint64_t addr, void *buf, size_t len)
{
    return for_each_chunk(kt_of(t), addr, len, read_chunk, buf);
}

static long kvm_target_write_mem(struct ukvm_target *t, uint64_t addr, const void *buf, size_t len)
{
    return for_each_chunk(kt_of(t), addr, len, write_chunk, (void *)buf);
}

static int kvm_target_read_regs(struct ukvm_target *t, struct ukvm_regs *regs)
{
    return kvm_regs_read(&kt_of(t)->m->vm, regs);
}

static int kvm_target_write_regs(struct ukvm_target *t, const struct ukvm_regs *regs)
{
    return kvm_regs_write(&kt_of(t)->m->vm, regs);
}

static int insert_sw(struct kvm_target *kt, uint64_t addr)
{
    if (sw_find(kt, addr))
        return 0;
    uint64_t gpa;
    if (!translate(kt, addr, &gpa))
        return -1;
    if (kt->n_sw == kt->cap_sw) {
        size_t cap = kt->cap_sw ? kt->cap_sw * 2 : 16;
        struct sw_bp *n = realloc(kt->sw, cap * sizeof(*n));
        if (!n)
            return -1;
        kt->sw = n;
        kt->cap_sw = cap;
    }
    /* Written through the monitor's view: text is write-protected for the
     * guest, not for us. */
    kt->sw[kt->n_sw++] = (struct sw_bp){ .addr = addr, .gpa = gpa, .orig = kt->m->vm.mem[gpa] };
    kt->m->vm.mem[gpa] = HLT;
    return 0;
}

static int remove_sw(struct kvm_target *kt, uint64_t addr)
{
    struct sw_bp *bp = sw_find(kt, addr);
    if (!bp)
        return 0;
    kt->m->vm.mem[bp->gpa] = bp->orig;
    *bp = kt->sw[--kt->n_sw];
    return 0;
}

static int add_watch(struct kvm_target *kt, enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    uint64_t gpa;
    if (len == 0 || addr + len < addr || !translate(kt, addr, &gpa) ||
        gpa + len > kt->m->vm.mem_size)
        return -1;
    if (kt->n_watch == kt->cap_watch) {
        size_t cap = kt->cap_watch ? kt->cap_watch * 2 : 8;
        struct watch *n = realloc(kt->watch, cap * sizeof(*n));
        if (!n)
            return -1;
        kt->watch = n;
        kt->cap_watch = cap;
    }
    kt->watch[kt->n_watch++] = (struct watch){ .type = type, .addr = addr, .len = len, .gpa = gpa };
    kt->layout_dirty = true;
    return 0;
}

static int remove_watch(struct kvm_target *kt, enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    for (size_t i = 0; i < kt->n_watch; i++) {
        struct watch *w = &kt->watch[i];
        if (w->type == type && w->addr == addr && w->len == len) {
            *w = kt->watch[--kt->n_watch];
            kt->layout_dirty = true;
            return 0;
        }
    }
    return 0;
}

static int kvm_target_insert_bp(struct ukvm_target *t, enum ukvm_bp_type type, uint64_t addr,
        uint64_t len)
{
    struct kvm_target *kt = kt_of(t);
    switch (type) {
    case UKVM_BP_SOFTWARE:
        return insert_sw(kt, addr);
    case UKVM_BP_HARDWARE:
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

static int kvm_target_remove_bp(struct ukvm_target *t, enum ukvm_bp_type type, uint64_t addr,
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
    while (kt->n_sw)
        remove_sw(kt, kt->sw[0].addr);
    memset(kt->hw_used, 0, sizeof(kt->hw_used));
    kt->n_watch = 0;
    kt->layout_dirty = true;
}

static void kvm_target_interrupt(struct ukvm_target *t)
{
    struct kvm_target *kt = kt_of(t);
    kt->interrupt_requested = 1;
    kt->m->vm.run->immediate_exit = 1;
    pthread_kill(kt->vcpu_thread, SIGUSR1);
}

/* Kill and detach need nothing here: kvm_serve.c acts on the way the
 * session ended (end the guest, let it run on, or wait for a client). */
static void kvm_target_kill(struct ukvm_target *t)
{
    (void)t;
}

static void kvm_target_detach(struct ukvm_target *t)
{
    (void)t;
}

static int kvm_target_resume(struct ukvm_target *t, enum ukvm_resume_kind kind,
        struct ukvm_stop *stop)
{
    struct kvm_target *kt = kt_of(t);
    switch (kind) {
    case UKVM_RESUME_STEP:
        return kvm_target_step(kt, stop);
    case UKVM_RESUME_CONTINUE:
        return kvm_target_continue(kt, stop);
    default:
        return -1;
    }
}

const struct ukvm_target_ops kvm_target_ops = {
    .read_regs = kvm_target_read_regs,
    .write_regs = kvm_target_write_regs,
    .read_mem = kvm_target_read_mem,
    .write_mem = kvm_target_write_mem,
    .insert_bp = kvm_target_insert_bp,
    .remove_bp = kvm_target_remove_bp,
    .resume = kvm_target_resume,
    .interrupt = kvm_target_interrupt,
    .kill = kvm_target_kill,
    .detach = kvm_target_detach,
};

static void on_sigusr1(int sig)
{
    (void)sig; /* only there to make KVM_RUN and ppoll return EINTR */
}

/* The monitor wrote guest memory (a hypercall's results): a write or access
 * watchpoint on it fires once the instruction is complete, as it would for
 * the guest's own store. */
static void monitor_wrote(struct monitor *m, uint64_t gpa, uint64_t len)
{
    struct kvm_target *kt = m->debugger;
    if (kt->pending_watch >= 0 || len == 0)
        return;
    for (size_t i = 0; i < kt->n_watch; i++) {
        const struct watch *w = &kt->watch[i];
        if ((w->type == UKVM_WP_WRITE || w->type == UKVM_WP_ACCESS) &&
            gpa < w->gpa + w->len && w->gpa < gpa + len) {
            kt->pending_watch = (int)i;
            m->stop_pending = true;
            return;
        }
    }
}

static bool hlt_is_breakpoint(struct monitor *m, uint64_t addr)
{
    return sw_find(m->debugger, addr) != NULL;
}

void kvm_target_init(struct kvm_target *kt, struct monitor *m, const uint8_t *kernel,
        size_t kernel_len, const char *kernel_name)
{
    memset(kt, 0, sizeof(*kt));
    kt->base.ops = &kvm_target_ops;
    kt->base.exec_file = kernel;
    kt->base.exec_file_len = kernel_len;
    kt->base.exec_file_name = kernel_name;
    kt->m = m;
    m->debugger = kt;
    m->is_breakpoint = hlt_is_breakpoint;
    m->guest_written = monitor_wrote;
    kt->pending_watch = -1;
    kt->vcpu_thread = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}

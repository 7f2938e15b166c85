/*
 * kvm-probe: measures the KVM behaviours that differ between the KVMs ukvm
 * meets (docs/kvms.md), each in a fresh minimal VM with one vCPU
 * running 64-bit CPL-0 code with identity paging, like an hvt guest.
 *
 *   kvm-probe                 one line per probe: "NAME: VALUE  (why)"
 *   kvm-probe --check NAME    that probe's line; exit 0 when the value is the
 *                             one ukvm relies on (any measured value for
 *                             probes ukvm adapts to), 1 when not, 2 when it
 *                             cannot be measured (no /dev/kvm, set-up failed)
 *
 * Every KVM_RUN is bounded by a timer (RUN_LIMIT_S): a run that does not
 * return in time reports "no-exit". A probe that cannot be set up reports
 * "unknown" and the others still run.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/kvm.h>

#define RUN_LIMIT_S 2

/* Guest physical layout, identity-mapped by one 2 MiB page. */
#define MEM_SIZE  0x10000ULL
#define PML4      0x1000ULL
#define PDPT      0x2000ULL
#define PD        0x3000ULL
#define GDT       0x4000ULL
#define IDT       0x4800ULL
#define STUBS     0x5000ULL /* 16 bytes of handler per exception vector */
#define CODE      0x8000ULL
#define DATA      0xa000ULL
#define STACK_TOP 0xf000ULL
#define RO_BASE   0x10000ULL /* the read-only slot, when a probe adds it */
#define RO_SIZE   0x1000ULL

#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define NVECTORS 32

/* Ports the guest code writes to. */
#define PORT_DONE 0x10 /* end of every probe's code: bounds a free run */
#define PORT_VEC  0x11 /* an exception reached the guest's IDT; eax = vector */
#define PORT_OUT  0x12 /* the out a probe looks at */

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_NE (1ULL << 5)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define CR4_OSFXSR (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define DR7_L0 (1ULL << 0)
#define DR7_GE (1ULL << 9)
#define DR7_RW0_WRITE (1ULL << 16)
#define DR7_LEN0_4 (3ULL << 18)

static int kvm_fd = -1;

/* ---- bounding KVM_RUN ---- */

static struct kvm_run *volatile alarm_run;
static volatile sig_atomic_t alarm_fired;

/* Sets immediate_exit too, so a signal landing just before KVM_RUN enters
 * the guest still makes it return. */
static void on_alarm(int sig)
{
    (void)sig;
    alarm_fired = 1;
    if (alarm_run)
        alarm_run->immediate_exit = 1;
}

static void install_alarm(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm; /* no SA_RESTART: KVM_RUN must return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
}

/* ---- a tiny x86-64 assembler for the probes' guest code ---- */

struct code {
    uint64_t base; /* guest address of b[0] */
    uint8_t b[128];
    size_t n;
};

/* Appends bytes; returns the guest address they start at. */
static uint64_t emit(struct code *c, const uint8_t *bytes, size_t n)
{
    uint64_t at = c->base + c->n;
    if (c->n + n > sizeof(c->b))
        abort(); /* a probe's code is a few dozen bytes: a bug here */
    memcpy(c->b + c->n, bytes, n);
    c->n += n;
    return at;
}
#define EMIT(c, ...) emit((c), (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

static uint64_t emit_u32(struct code *c, uint32_t v)
{
    uint8_t b[4] = { v, v >> 8, v >> 16, v >> 24 };
    return emit(c, b, 4);
}

static uint64_t mov_eax(struct code *c, uint32_t imm)
{
    uint64_t at = EMIT(c, 0xb8);
    emit_u32(c, imm);
    return at;
}

static uint64_t mov_edx(struct code *c, uint32_t imm)
{
    uint64_t at = EMIT(c, 0xba);
    emit_u32(c, imm);
    return at;
}

static uint64_t add_eax(struct code *c, int8_t imm) { return EMIT(c, 0x83, 0xc0, (uint8_t)imm); }
static uint64_t out_eax(struct code *c) { return EMIT(c, 0xef); } /* out dx, eax */
static uint64_t hlt(struct code *c) { return EMIT(c, 0xf4); }
static uint64_t int3(struct code *c) { return EMIT(c, 0xcc); }

/* mov [addr32], eax (SIB form: absolute, not rip-relative) */
static uint64_t store_eax(struct code *c, uint32_t addr)
{
    uint64_t at = EMIT(c, 0x89, 0x04, 0x25);
    emit_u32(c, addr);
    return at;
}

/* Every probe's code ends here, so a run that misses the expected stop
 * still exits (at PORT_DONE). Returns the address of the out. */
static uint64_t finish(struct code *c)
{
    mov_edx(c, PORT_DONE);
    uint64_t at = out_eax(c);
    hlt(c);
    return at;
}

static struct code code_at(uint64_t base)
{
    struct code c;
    memset(&c, 0, sizeof(c));
    c.base = base;
    return c;
}

/* ---- one fresh VM per probe ---- */

struct pvm {
    int fd, vcpu;
    struct kvm_run *run;
    size_t run_size;
    uint8_t *mem;
    uint8_t *ro; /* backing of the read-only slot, or NULL */
};

struct result {
    char value[32];
    char why[200];
};

static void set_result(struct result *r, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_result(struct result *r, const char *value, const char *fmt, ...)
{
    va_list ap;
    snprintf(r->value, sizeof(r->value), "%s", value);
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
}

#define UNKNOWN(r, ...) set_result((r), "unknown", __VA_ARGS__)

static void write_tables(uint8_t *mem)
{
    uint64_t *pml4 = (uint64_t *)(mem + PML4), *pdpt = (uint64_t *)(mem + PDPT);
    uint64_t *pd = (uint64_t *)(mem + PD), *gdt = (uint64_t *)(mem + GDT);
    uint64_t *idt = (uint64_t *)(mem + IDT);

    pml4[0] = PDPT | 0x3;     /* present, writable */
    pdpt[0] = PD | 0x3;
    pd[0] = 0 | 0x3 | 0x80;   /* 2 MiB page at 0 */
    gdt[0] = 0;
    gdt[1] = 0x00af9b000000ffffULL; /* 64-bit code, accessed */
    gdt[2] = 0x00cf93000000ffffULL; /* flat data */

    /* A guest IDT, as Solo5 kernels install one: an exception that reaches
     * the guest reports its vector on PORT_VEC instead of triple-faulting. */
    for (uint64_t v = 0; v < NVECTORS; v++) {
        struct code s = code_at(STUBS + 16 * v);
        mov_eax(&s, (uint32_t)v);
        mov_edx(&s, PORT_VEC);
        out_eax(&s);
        hlt(&s);
        memcpy(mem + s.base, s.b, s.n);
        uint64_t off = s.base;
        idt[2 * v] = (off & 0xffff) | ((uint64_t)SEL_CODE << 16) | (0x8eULL << 40) |
                     ((off >> 16) & 0xffff) << 48;
        idt[2 * v + 1] = off >> 32;
    }
}

static struct kvm_segment segment(uint16_t sel, uint8_t type, bool code)
{
    struct kvm_segment s = {
        .base = 0, .limit = 0xffffffff, .selector = sel, .type = type, .present = 1,
        .s = 1, .db = code ? 0 : 1, .l = code ? 1 : 0, .g = 1,
    };
    return s;
}

/* Long mode, CPL 0, SSE enabled: the state an hvt kernel runs in. */
static int setup_sregs(struct pvm *v)
{
    struct kvm_sregs s;
    if (ioctl(v->vcpu, KVM_GET_SREGS, &s) < 0)
        return -1;
    s.cr0 = CR0_PE | CR0_MP | CR0_NE | CR0_PG;
    s.cr3 = PML4;
    s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    s.efer = EFER_LME | EFER_LMA;
    s.cs = segment(SEL_CODE, 11, true);
    s.ss = s.ds = s.es = s.fs = s.gs = segment(SEL_DATA, 3, false);
    s.gdt.base = GDT;
    s.gdt.limit = 3 * 8 - 1;
    s.idt.base = IDT;
    s.idt.limit = NVECTORS * 16 - 1;
    memset(&s.tr, 0, sizeof(s.tr));
    s.tr.type = 11; /* busy 64-bit TSS: VMX insists on a usable TR */
    s.tr.present = 1;
    s.tr.limit = 0xffff;
    memset(&s.ldt, 0, sizeof(s.ldt));
    s.ldt.type = 2;
    s.ldt.unusable = 1;
    return ioctl(v->vcpu, KVM_SET_SREGS, &s);
}

/* Set by the cpuid probe: clear RDRAND from the table, as ukvm does. */
static bool cpuid_clear_rdrand;

/* KVM refuses EFER.LME unless CPUID says long mode: give the guest what
 * KVM supports, as ukvm does. */
static int setup_cpuid(struct pvm *v)
{
    uint32_t cap = 256;
    struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + cap * sizeof(c->entries[0]));
    if (!c)
        return -1;
    c->nent = cap;
    int r = ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
    for (uint32_t i = 0; r == 0 && cpuid_clear_rdrand && i < c->nent; i++)
        if (c->entries[i].function == 1)
            c->entries[i].ecx &= ~(1u << 30);
    if (r == 0)
        r = ioctl(v->vcpu, KVM_SET_CPUID2, c);
    free(c);
    return r;
}

static void vm_close(struct pvm *v)
{
    if (v->run)
        munmap(v->run, v->run_size);
    if (v->mem)
        munmap(v->mem, MEM_SIZE);
    if (v->ro)
        munmap(v->ro, RO_SIZE);
    if (v->vcpu >= 0)
        close(v->vcpu);
    if (v->fd >= 0)
        close(v->fd);
    memset(v, 0, sizeof(*v));
    v->fd = v->vcpu = -1;
}

static int set_slot(struct pvm *v, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size,
        void *host)
{
    struct kvm_userspace_memory_region m = {
        .slot = slot, .flags = flags, .guest_phys_addr = gpa, .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)host,
    };
    return ioctl(v->fd, KVM_SET_USER_MEMORY_REGION, &m);
}

/* Creates the VM with code c loaded and rip on its first byte. On failure
 * fills r with "unknown" and returns -1. */
static int vm_open(struct pvm *v, const struct code *c, struct result *r)
{
    memset(v, 0, sizeof(*v));
    v->fd = v->vcpu = -1;
    const char *step = "KVM_CREATE_VM";
    v->fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (v->fd < 0)
        goto fail;
    step = "guest memory";
    v->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (v->mem == MAP_FAILED) {
        v->mem = NULL;
        goto fail;
    }
    write_tables(v->mem);
    memcpy(v->mem + c->base, c->b, c->n);
    step = "KVM_SET_USER_MEMORY_REGION";
    if (set_slot(v, 0, 0, 0, MEM_SIZE, v->mem) < 0)
        goto fail;
    step = "KVM_CREATE_VCPU";
    v->vcpu = ioctl(v->fd, KVM_CREATE_VCPU, 0);
    if (v->vcpu < 0)
        goto fail;
    step = "KVM_GET_VCPU_MMAP_SIZE";
    int size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size <= 0)
        goto fail;
    step = "mapping kvm_run";
    v->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
    if (v->run == MAP_FAILED) {
        v->run = NULL;
        goto fail;
    }
    v->run_size = size;
    step = "CPUID";
    if (setup_cpuid(v) < 0)
        goto fail;
    step = "KVM_SET_SREGS";
    if (setup_sregs(v) < 0)
        goto fail;
    struct kvm_regs regs = { .rip = c->base, .rsp = STACK_TOP, .rflags = 0x2 };
    step = "KVM_SET_REGS";
    if (ioctl(v->vcpu, KVM_SET_REGS, &regs) < 0)
        goto fail;
    return 0;
fail:
    UNKNOWN(r, "%s: %s", step, strerror(errno));
    vm_close(v);
    return -1;
}

static int set_debug(struct pvm *v, uint32_t control, uint64_t dr0, uint64_t dr7)
{
    struct kvm_guest_debug d;
    memset(&d, 0, sizeof(d));
    d.control = control;
    d.arch.debugreg[0] = dr0;
    d.arch.debugreg[7] = dr7;
    return ioctl(v->vcpu, KVM_SET_GUEST_DEBUG, &d);
}

static uint64_t get_rip(struct pvm *v)
{
    struct kvm_regs regs;
    if (ioctl(v->vcpu, KVM_GET_REGS, &regs) < 0)
        return ~0ULL;
    return regs.rip;
}

static uint64_t get_rax(struct pvm *v)
{
    struct kvm_regs regs;
    if (ioctl(v->vcpu, KVM_GET_REGS, &regs) < 0)
        return ~0ULL;
    return regs.rax;
}

enum outcome { RUN_EXIT, RUN_TIMEOUT, RUN_EINTR, RUN_ERROR };

struct stop {
    enum outcome how;
    uint32_t reason; /* KVM_EXIT_*, when how == RUN_EXIT */
    int err;         /* errno, when how == RUN_ERROR */
    uint64_t rip;
};

/* One KVM_RUN, bounded by the timer; immediate sets immediate_exit. */
static struct stop run_once(struct pvm *v, bool immediate)
{
    struct stop s = { .how = RUN_EXIT };
    struct itimerval on = { .it_value = { .tv_sec = RUN_LIMIT_S } }, off;
    memset(&off, 0, sizeof(off));
    v->run->immediate_exit = immediate;
    alarm_fired = 0;
    alarm_run = v->run;
    setitimer(ITIMER_REAL, &on, NULL);
    int r = ioctl(v->vcpu, KVM_RUN, 0);
    int e = errno;
    setitimer(ITIMER_REAL, &off, NULL);
    alarm_run = NULL;
    v->run->immediate_exit = 0;
    if (r == 0)
        s.reason = v->run->exit_reason;
    else if (e == EINTR)
        s.how = alarm_fired ? RUN_TIMEOUT : RUN_EINTR;
    else {
        s.how = RUN_ERROR;
        s.err = e;
    }
    s.rip = get_rip(v);
    return s;
}

static bool is_exit(const struct stop *s, uint32_t reason)
{
    return s->how == RUN_EXIT && s->reason == reason;
}

static bool is_io(const struct pvm *v, const struct stop *s, uint16_t port)
{
    return is_exit(s, KVM_EXIT_IO) && v->run->io.port == port &&
           v->run->io.direction == KVM_EXIT_IO_OUT;
}

/* A short account of a stop, for the explanations. */
static const char *describe(struct pvm *v, const struct stop *s)
{
    static char buf[160];
    struct kvm_run *run = v->run;
    unsigned long long rip = s->rip;
    switch (s->how) {
    case RUN_TIMEOUT:
        snprintf(buf, sizeof(buf), "no exit within %d s, rip %#llx", RUN_LIMIT_S, rip);
        return buf;
    case RUN_EINTR:
        snprintf(buf, sizeof(buf), "KVM_RUN returned EINTR, rip %#llx", rip);
        return buf;
    case RUN_ERROR:
        snprintf(buf, sizeof(buf), "KVM_RUN failed: %s", strerror(s->err));
        return buf;
    case RUN_EXIT:
        break;
    }
    switch (s->reason) {
    case KVM_EXIT_IO:
        if (is_io(v, s, PORT_VEC))
            snprintf(buf, sizeof(buf), "exception %llu went to the guest's IDT",
                    (unsigned long long)(get_rax(v) & 0xff));
        else
            snprintf(buf, sizeof(buf), "KVM_EXIT_IO port %#x, rip %#llx", run->io.port, rip);
        break;
    case KVM_EXIT_DEBUG:
        snprintf(buf, sizeof(buf), "KVM_EXIT_DEBUG exception %u dr6 %#llx, rip %#llx",
                run->debug.arch.exception, (unsigned long long)run->debug.arch.dr6, rip);
        break;
    case KVM_EXIT_HLT:
        snprintf(buf, sizeof(buf), "KVM_EXIT_HLT, rip %#llx", rip);
        break;
    case KVM_EXIT_MMIO:
        snprintf(buf, sizeof(buf), "KVM_EXIT_MMIO %s %#llx len %u, rip %#llx",
                run->mmio.is_write ? "write" : "read",
                (unsigned long long)run->mmio.phys_addr, run->mmio.len, rip);
        break;
    case KVM_EXIT_INTERNAL_ERROR:
        snprintf(buf, sizeof(buf), "KVM_EXIT_INTERNAL_ERROR suberror %u, rip %#llx",
                run->internal.suberror, rip);
        break;
    case KVM_EXIT_SHUTDOWN:
        snprintf(buf, sizeof(buf), "KVM_EXIT_SHUTDOWN, rip %#llx", rip);
        break;
    case KVM_EXIT_FAIL_ENTRY:
        snprintf(buf, sizeof(buf), "KVM_EXIT_FAIL_ENTRY reason %#llx",
                (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        break;
    default:
        snprintf(buf, sizeof(buf), "exit reason %u, rip %#llx", s->reason, rip);
    }
    return buf;
}

/* For a stop no probe expected: no-exit on a timeout, else other. */
static void unexpected(struct result *r, struct pvm *v, const struct stop *s)
{
    set_result(r, s->how == RUN_TIMEOUT ? "no-exit" : "other", "%s", describe(v, s));
}

/* ---- the probes ---- */

/* 1. Where rip is at a KVM_EXIT_IO: ukvm must not skip the out twice. */
static void probe_out_rip(struct result *r)
{
    struct code c = code_at(CODE);
    mov_eax(&c, 0x1234);
    mov_edx(&c, PORT_OUT);
    uint64_t out = out_eax(&c);
    finish(&c);
    struct pvm v;
    if (vm_open(&v, &c, r) < 0)
        return;
    struct stop s = run_once(&v, false);
    if (!is_io(&v, &s, PORT_OUT))
        unexpected(r, &v, &s);
    else if (s.rip == out)
        set_result(r, "on-out", "rip %#llx is the out's; KVM skips it on the next KVM_RUN",
                (unsigned long long)s.rip);
    else if (s.rip == out + 1)
        set_result(r, "past-out", "rip %#llx is already past the out at %#llx",
                (unsigned long long)s.rip, (unsigned long long)out);
    else
        set_result(r, "other", "rip %#llx, out at %#llx", (unsigned long long)s.rip,
                (unsigned long long)out);
    vm_close(&v);
}

/* Three single-instruction steps' worth of code: i[0..3] are addresses. */
static struct code step_code(uint64_t i[4])
{
    struct code c = code_at(CODE);
    i[0] = mov_eax(&c, 1);
    i[1] = add_eax(&c, 2);
    i[2] = add_eax(&c, 4);
    i[3] = add_eax(&c, 8);
    finish(&c);
    return c;
}

/* 2. Two single-steps from the entry must stop after one instruction each. */
static void probe_singlestep(struct result *r)
{
    uint64_t i[4];
    struct code c = step_code(i);
    struct pvm v;
    if (vm_open(&v, &c, r) < 0)
        return;
    if (set_debug(&v, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP, 0, 0) < 0) {
        UNKNOWN(r, "KVM_SET_GUEST_DEBUG: %s", strerror(errno));
        vm_close(&v);
        return;
    }
    for (int k = 1; k <= 2; k++) {
        struct stop s = run_once(&v, false);
        if (is_exit(&s, KVM_EXIT_DEBUG) && s.rip == i[k])
            continue;
        if (is_exit(&s, KVM_EXIT_DEBUG))
            set_result(r, "late", "step %d stopped at %#llx, expected %#llx", k,
                    (unsigned long long)s.rip, (unsigned long long)i[k]);
        else if (is_io(&v, &s, PORT_DONE))
            set_result(r, "runs-free", "step %d ran to the end: %s", k, describe(&v, &s));
        else
            unexpected(r, &v, &s);
        vm_close(&v);
        return;
    }
    set_result(r, "works", "two KVM_RUNs stopped at %#llx and %#llx",
            (unsigned long long)i[1], (unsigned long long)i[2]);
    vm_close(&v);
}

/* 3. Linux sets TF only while rip is the one seen at KVM_SET_GUEST_DEBUG;
 * a debugger that moves rip afterwards may lose the step. */
static void probe_singlestep_after_setregs(struct result *r)
{
    uint64_t i[4];
    struct code c = step_code(i);
    struct pvm v;
    if (vm_open(&v, &c, r) < 0)
        return;
    struct kvm_regs regs;
    if (set_debug(&v, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP, 0, 0) < 0 ||
            ioctl(v.vcpu, KVM_GET_REGS, &regs) < 0) {
        UNKNOWN(r, "KVM_SET_GUEST_DEBUG/GET_REGS: %s", strerror(errno));
        vm_close(&v);
        return;
    }
    regs.rip = i[1];
    if (ioctl(v.vcpu, KVM_SET_REGS, &regs) < 0) {
        UNKNOWN(r, "KVM_SET_REGS: %s", strerror(errno));
        vm_close(&v);
        return;
    }
    struct stop s = run_once(&v, false);
    if (is_exit(&s, KVM_EXIT_DEBUG) && s.rip == i[2])
        set_result(r, "steps", "rip moved to %#llx, stopped one instruction later",
                (unsigned long long)i[1]);
    else if (is_io(&v, &s, PORT_DONE))
        set_result(r, "runs-free", "rip moved to %#llx after SET_GUEST_DEBUG: ran to the end",
                (unsigned long long)i[1]);
    else
        unexpected(r, &v, &s);
    vm_close(&v);
}

/* 4. The trap after an out that exits to user space is lost on some KVMs. */
static void probe_singlestep_after_out(struct result *r)
{
    struct code c = code_at(CODE);
    mov_edx(&c, PORT_OUT);
    uint64_t out = out_eax(&c);
    uint64_t next = mov_eax(&c, 1);
    uint64_t later = add_eax(&c, 2);
    add_eax(&c, 4);
    finish(&c);
    struct pvm v;
    if (vm_open(&v, &c, r) < 0)
        return;
    if (set_debug(&v, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP, 0, 0) < 0) {
        UNKNOWN(r, "KVM_SET_GUEST_DEBUG: %s", strerror(errno));
        vm_close(&v);
        return;
    }
    struct stop s = run_once(&v, false);
    if (!is_exit(&s, KVM_EXIT_DEBUG) || s.rip != out) {
        UNKNOWN(r, "the first step did not stop on the out: %s", describe(&v, &s));
        vm_close(&v);
        return;
    }
    s = run_once(&v, false);
    if (!is_io(&v, &s, PORT_OUT)) {
        UNKNOWN(r, "stepping the out gave no KVM_EXIT_IO: %s", describe(&v, &s));
        vm_close(&v);
        return;
    }
    s = run_once(&v, false);
    if (is_exit(&s, KVM_EXIT_DEBUG) && s.rip == next)
        set_result(r, "exact", "stopped at %#llx, right after the out", (unsigned long long)next);
    else if (is_exit(&s, KVM_EXIT_DEBUG))
        set_result(r, "late", "stopped at %#llx, not %#llx right after the out%s",
                (unsigned long long)s.rip, (unsigned long long)next,
                s.rip == later ? " (one instruction late)" : "");
    else if (is_io(&v, &s, PORT_DONE))
        set_result(r, "runs-free", "after the out the guest ran to the end");
    else
        unexpected(r, &v, &s);
    vm_close(&v);
}

/* 5. hlt under single-step, no in-kernel irqchip. */
static void probe_hlt_under_singlestep(struct result *r)
{
    struct code c = code_at(CODE);
    uint64_t h = hlt(&c);
    mov_eax(&c, 1);
    finish(&c);
    struct pvm v;
    if (vm_open(&v, &c, r) < 0)
        return;
    if (set_debug(&v, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP, 0, 0) < 0) {
        UNKNOWN(r, "KVM_SET_GUEST_DEBUG: %s", strerror(errno));
        vm_close(&v);
        return;
    }
    struct stop s = run_once(&v, false);
    const char *where = s.rip == h ? "on the hlt" : s.rip == h + 1 ? "past the hlt" : "elsewhere";
    if (is_exit(&s, KVM_EXIT_HLT))
        set_result(r, "hlt-exit", "KVM_EXIT_HLT, rip %#llx %s", (unsigned long long)s.rip, where);
    else if (is_exit(&s, KVM_EXIT_DEBUG))
        set_result(r, "debug-exit", "KVM_EXIT_DEBUG, rip %#llx %s", (unsigned long long)s.rip,
                where);
    else
        unexpected(r, &v, &s);
    vm_close(&v);
}

/* 6. DR0 execute breakpoint on the second instruction. */
static void probe_dr_exec(struct result *r)
{
    uint64_t i[4];
    struct code c = step_code(i);
    struct pvm v;
    if (vm_open(&v, &c, r) < 0)
        return;
    if (set_debug(&v, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, i[1], DR7_L0) < 0) {
        UNKNOWN(r, "KVM_SET_GUEST_DEBUG: %s", strerror(errno));
        vm_close(&v);
        return;
    }
    struct stop s = run_once(&v, false);
    if (is_exit(&s, KVM_EXIT_DEBUG) && s.rip == i[1])
        set_result(r, "fires", "KVM_EXIT_DEBUG at %#llx, dr6 %#llx", (unsigned long long)s.rip,
                (unsigned long long)v.run->debug.arch.dr6);
    else if (is_io(&v, &s, PORT_DONE))
        set_result(r, "never", "ran past %#llx to the end", (unsigned long long)i[1]);
    else
        unexpected(r, &v, &s);
    vm_close(&v);
}

/* 7. DR0 write watchpoint, 4 bytes. */
static void probe_dr_watch(struct result *r)
{
    struct code c = code_at(CODE);
    mov_eax(&c, 0x5a5a5a5a);
    store_eax(&c, DATA);
    uint64_t after = mov_eax(&c, 1);
    finish(&c);
    struct pvm v;
    if (vm_open(&v, &c, r) < 0)
        return;
    uint64_t dr7 = DR7_L0 | DR7_GE | DR7_RW0_WRITE | DR7_LEN0_4;
    if (set_debug(&v, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, DATA, dr7) < 0) {
        UNKNOWN(r, "KVM_SET_GUEST_DEBUG: %s", strerror(errno));
        vm_close(&v);
        return;
    }
    struct stop s = run_once(&v, false);
    if (is_exit(&s, KVM_EXIT_DEBUG))
        set_result(r, "fires", "KVM_EXIT_DEBUG at %#llx%s, dr6 %#llx", (unsigned long long)s.rip,
                s.rip == after ? " (after the store)" : "",
                (unsigned long long)v.run->debug.arch.dr6);
    else if (is_io(&v, &s, PORT_DONE))
        set_result(r, "never", "the store to %#llx did not stop the guest",
                (unsigned long long)DATA);
    else
        unexpected(r, &v, &s);
    vm_close(&v);
}

/* 8. int3 with KVM_GUESTDBG_USE_SW_BP. */
static void probe_sw_bp(struct result *r)
{
    struct code c = code_at(CODE);
    mov_eax(&c, 1);
    uint64_t bp = int3(&c);
    add_eax(&c, 2);
    finish(&c);
    struct pvm v;
    if (vm_open(&v, &c, r) < 0)
        return;
    if (set_debug(&v, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP, 0, 0) < 0) {
        UNKNOWN(r, "KVM_SET_GUEST_DEBUG: %s", strerror(errno));
        vm_close(&v);
        return;
    }
    struct stop s = run_once(&v, false);
    unsigned long long at = bp;
    if (is_exit(&s, KVM_EXIT_DEBUG))
        set_result(r, "debug-exit", "exception %u, rip %#llx, int3 at %#llx",
                v.run->debug.arch.exception, (unsigned long long)s.rip, at);
    else if (is_exit(&s, KVM_EXIT_INTERNAL_ERROR))
        set_result(r, "internal-error", "suberror %u, rip %#llx, int3 at %#llx",
                v.run->internal.suberror, (unsigned long long)s.rip, at);
    else if (is_io(&v, &s, PORT_VEC))
        set_result(r, "guest-handler", "%s: KVM did not intercept it", describe(&v, &s));
    else
        unexpected(r, &v, &s);
    vm_close(&v);
}

/* 9. MXCSR as KVM_GET_FPU and KVM_GET_XSAVE report it. */
static void probe_mxcsr(struct result *r)
{
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) <= 0) {
        UNKNOWN(r, "no KVM_CAP_XSAVE");
        return;
    }
    struct code c = code_at(CODE);
    EMIT(&c, 0xc7, 0x04, 0x25); /* mov dword [DATA], 0x1f80 */
    emit_u32(&c, DATA);
    emit_u32(&c, 0x1f80);
    EMIT(&c, 0x0f, 0xae, 0x14, 0x25); /* ldmxcsr [DATA] */
    emit_u32(&c, DATA);
    finish(&c);
    struct pvm v;
    if (vm_open(&v, &c, r) < 0)
        return;
    struct stop s = run_once(&v, false);
    struct kvm_fpu fpu;
    struct kvm_xsave xs;
    if (ioctl(v.vcpu, KVM_GET_FPU, &fpu) < 0 || ioctl(v.vcpu, KVM_GET_XSAVE, &xs) < 0) {
        UNKNOWN(r, "KVM_GET_FPU/GET_XSAVE: %s", strerror(errno));
        vm_close(&v);
        return;
    }
    uint32_t from_xsave = xs.region[6]; /* MXCSR: byte 24 of the legacy area */
    char note[180] = "";
    if (!is_io(&v, &s, PORT_DONE))
        snprintf(note, sizeof(note), "; the ldmxcsr did not complete: %s", describe(&v, &s));
    if (fpu.mxcsr == from_xsave)
        set_result(r, "agree", "both %#x%s", fpu.mxcsr, note);
    else if (fpu.mxcsr == 0)
        set_result(r, "fpu-reports-0", "KVM_GET_FPU 0, KVM_GET_XSAVE %#x%s", from_xsave, note);
    else
        set_result(r, "disagree", "KVM_GET_FPU %#x, KVM_GET_XSAVE %#x%s", fpu.mxcsr, from_xsave,
                note);
    vm_close(&v);
}

/* 10. SSE at CPL 0: native on hardware, emulated (and refused) on some. */
static void probe_cpl0_sse(struct result *r)
{
    struct code c = code_at(CODE);
    EMIT(&c, 0x66, 0x0f, 0xef, 0xc0); /* pxor xmm0, xmm0 */
    EMIT(&c, 0x0f, 0x58, 0xc0);       /* addps xmm0, xmm0 */
    finish(&c);
    struct pvm v;
    if (vm_open(&v, &c, r) < 0)
        return;
    struct stop s = run_once(&v, false);
    if (is_io(&v, &s, PORT_DONE))
        set_result(r, "runs", "pxor and addps completed");
    else if (is_exit(&s, KVM_EXIT_INTERNAL_ERROR) &&
            v.run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
        set_result(r, "emulation-error", "KVM_INTERNAL_ERROR_EMULATION at rip %#llx",
                (unsigned long long)s.rip);
    else
        unexpected(r, &v, &s);
    vm_close(&v);
}

/* The code of probes 11 and 12: a 4-byte store into the read-only slot. */
static int open_ro_store(struct pvm *v, uint64_t *store, uint64_t *next, struct result *r)
{
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0) {
        UNKNOWN(r, "no KVM_CAP_READONLY_MEM");
        return -1;
    }
    struct code c = code_at(CODE);
    mov_eax(&c, 0xdeadbeef);
    *store = store_eax(&c, RO_BASE);
    *next = mov_eax(&c, 1);
    finish(&c);
    if (vm_open(v, &c, r) < 0)
        return -1;
    v->ro = mmap(NULL, RO_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (v->ro == MAP_FAILED) {
        v->ro = NULL;
        UNKNOWN(r, "mmap: %s", strerror(errno));
        vm_close(v);
        return -1;
    }
    memset(v->ro, 0x11, RO_SIZE);
    if (set_slot(v, 1, KVM_MEM_READONLY, RO_BASE, RO_SIZE, v->ro) < 0) {
        UNKNOWN(r, "read-only KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
        vm_close(v);
        return -1;
    }
    return 0;
}

static bool mmio_is_the_store(const struct pvm *v)
{
    static const uint8_t want[4] = { 0xef, 0xbe, 0xad, 0xde };
    const struct kvm_run *run = v->run;
    return run->mmio.is_write && run->mmio.phys_addr == RO_BASE && run->mmio.len == 4 &&
           memcmp(run->mmio.data, want, 4) == 0;
}

/* 11. ukvm write-protects the kernel's text through a read-only slot. */
static void probe_ro_write(struct result *r)
{
    struct pvm v;
    uint64_t store, next;
    if (open_ro_store(&v, &store, &next, r) < 0)
        return;
    struct stop s = run_once(&v, false);
    if (is_exit(&s, KVM_EXIT_MMIO) && mmio_is_the_store(&v))
        set_result(r, "mmio-exit", "write of 0xdeadbeef to %#llx, rip %#llx at the exit",
                (unsigned long long)RO_BASE, (unsigned long long)s.rip);
    else if (is_exit(&s, KVM_EXIT_MMIO))
        set_result(r, "other", "an MMIO exit without the store's data: %s", describe(&v, &s));
    else if (is_io(&v, &s, PORT_DONE))
        set_result(r, v.ro[0] == 0x11 ? "dropped" : "written",
                "the store completed without an exit");
    else if (s.how == RUN_ERROR && s.err == EFAULT)
        set_result(r, "efault", "%s", describe(&v, &s));
    else if (is_exit(&s, KVM_EXIT_INTERNAL_ERROR))
        set_result(r, "internal-error", "%s", describe(&v, &s));
    else
        unexpected(r, &v, &s);
    vm_close(&v);
}

/* 12. ukvm completes an MMIO exit with immediate_exit set, to stop there
 * with the guest state consistent. */
/* Does a bit cleared from the CPUID table stay hidden from the guest? ukvm
 * clears RDRAND/RDSEED (they are patched anyway); one KVM shows them still. */
static void probe_cpuid_rdrand(struct result *r)
{
    struct code c = code_at(CODE);
    mov_eax(&c, 1);
    EMIT(&c, 0x31, 0xc9);       /* xor ecx, ecx */
    EMIT(&c, 0x0f, 0xa2);       /* cpuid */
    EMIT(&c, 0x89, 0xc8);       /* mov eax, ecx */
    mov_edx(&c, PORT_OUT);
    out_eax(&c);
    finish(&c);
    struct pvm v;
    cpuid_clear_rdrand = true;
    int opened = vm_open(&v, &c, r);
    cpuid_clear_rdrand = false;
    if (opened < 0)
        return;
    struct stop s = run_once(&v, false);
    if (!is_io(&v, &s, PORT_OUT))
        unexpected(r, &v, &s);
    else if (get_rax(&v) & (1u << 30))
        set_result(r, "shown", "CPUID 1 ECX bit 30 is set although the table cleared it");
    else
        set_result(r, "hidden", "CPUID 1 ECX bit 30 is clear, as the table says");
    vm_close(&v);
}

static void probe_immediate_exit_mmio(struct result *r)
{
    struct pvm v;
    uint64_t store, next;
    if (open_ro_store(&v, &store, &next, r) < 0)
        return;
    struct stop s = run_once(&v, false);
    if (!is_exit(&s, KVM_EXIT_MMIO)) {
        UNKNOWN(r, "no MMIO exit: %s", describe(&v, &s));
        vm_close(&v);
        return;
    }
    unsigned long long at_exit = s.rip;
    s = run_once(&v, true);
    if (s.how == RUN_EINTR && s.rip == next)
        set_result(r, "completes", "EINTR, rip %#llx past the store (%#llx at the exit)",
                (unsigned long long)s.rip, at_exit);
    else if (s.how == RUN_EINTR && s.rip == store)
        set_result(r, "not-completed", "EINTR, rip still on the store at %#llx",
                (unsigned long long)s.rip);
    else
        set_result(r, s.how == RUN_TIMEOUT ? "no-exit" : "other", "%s", describe(&v, &s));
    vm_close(&v);
}

/* ---- driver ---- */

struct probe {
    const char *name;
    void (*run)(struct result *);
    const char *relied; /* the value ukvm relies on; NULL: it adapts */
};

static const struct probe probes[] = {
    { "out-rip", probe_out_rip, NULL },
    { "singlestep", probe_singlestep, "works" },
    { "singlestep-after-setregs", probe_singlestep_after_setregs, NULL },
    { "singlestep-after-out", probe_singlestep_after_out, NULL },
    { "hlt-under-singlestep", probe_hlt_under_singlestep, NULL },
    { "dr-exec-breakpoint", probe_dr_exec, "fires" },
    { "dr-data-watchpoint", probe_dr_watch, "fires" },
    { "sw-bp-int3", probe_sw_bp, "debug-exit" },
    { "mxcsr-get-fpu", probe_mxcsr, NULL },
    { "cpl0-sse", probe_cpl0_sse, NULL },
    { "readonly-slot-write", probe_ro_write, "mmio-exit" },
    { "immediate-exit-completes-mmio", probe_immediate_exit_mmio, NULL },
    { "cpuid-hides-rdrand", probe_cpuid_rdrand, NULL }, /* rdrand is patched anyway */
};
#define NPROBES (sizeof(probes) / sizeof(probes[0]))

/* Runs one probe, prints its line, returns the --check status. */
static int run_probe(const struct probe *p)
{
    struct result r;
    UNKNOWN(&r, "the probe set no result");
    p->run(&r);
    printf("%s: %s  (%s)\n", p->name, r.value, r.why);
    fflush(stdout);
    if (strcmp(r.value, "unknown") == 0)
        return 2;
    if (p->relied && strcmp(r.value, p->relied) != 0)
        return 1;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: kvm-probe [--check NAME]\nprobes:");
    for (size_t i = 0; i < NPROBES; i++)
        fprintf(f, " %s", probes[i].name);
    fputc('\n', f);
}

static int open_kvm(void)
{
    kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm_fd < 0) {
        fprintf(stderr, "kvm-probe: cannot open /dev/kvm: %s\n", strerror(errno));
        return -1;
    }
    int api = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) {
        fprintf(stderr, "kvm-probe: unsupported KVM API version %d\n", api);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const struct probe *only = NULL;
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "--check")) {
        for (size_t i = 0; i < NPROBES; i++)
            if (!strcmp(argv[2], probes[i].name))
                only = &probes[i];
        if (!only) {
            fprintf(stderr, "kvm-probe: no probe named '%s'\n", argv[2]);
            usage(stderr);
            return 2;
        }
    } else if (argc != 1) {
        usage(stderr);
        return 2;
    }
    if (open_kvm() < 0)
        return 2;
    install_alarm();
    if (only)
        return run_probe(only);
    for (size_t i = 0; i < NPROBES; i++)
        run_probe(&probes[i]);
    return 0;
}

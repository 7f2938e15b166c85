/*
 * Creating the KVM virtual machine: guest memory, the one vCPU and the
 * x86_64 long-mode state an hvt kernel expects at entry (docs/hvt-abi.md). The
 * CPUID table, MSR filter and PMU are set up in cpuid_msr.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "monitor/cpuid_msr.h"
#include "monitor/monitor.h"
#include "monitor/signals.h"
#include "monitor/startup_report.h"

#define X86_CR0_PE   (1ULL << 0)
#define X86_CR0_NE   (1ULL << 5)
#define X86_CR0_WP   (1ULL << 16)
#define X86_CR0_PG   (1ULL << 31)
#define X86_CR4_PAE  (1ULL << 5)
#define X86_CR4_OSFXSR (1ULL << 9)
#define X86_CR4_OSXMMEXCPT (1ULL << 10)
#define X86_EFER_LME (1ULL << 8)
#define X86_EFER_LMA (1ULL << 10)

#define PTE_P  0x1ULL
#define PTE_W  0x2ULL
#define PTE_PS 0x80ULL

static int fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, strerror(errno));
    return -1;
}

int vm_create(struct vm *vm, uint64_t mem_size, char *err, size_t errlen)
{
    memset(vm, 0, sizeof(*vm));
    vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = vm->mem_fd = -1;
    vm->mem_size = mem_size;
    vm->io_rip_advanced = true;

    vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0)
        return fail(err, errlen, "cannot open /dev/kvm");
    int api = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) {
        snprintf(err, errlen, "unsupported KVM API version %d", api);
        return -1;
    }
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0)
        return fail(err, errlen, "KVM_CREATE_VM");
    /* Before the vCPU exists: no virtual PMU, rdpmc faults (cpuid_msr.c). */
    vm_disable_pmu(vm);
    startup_mark(STARTUP_KVM_OPEN);

    /* One memfd, mapped twice: KVM's view can be write-protected where the
     * kernel's segments say so, while the monitor keeps a writable view for
     * loading, patching and debugger writes. */
    vm->mem_fd = memfd_create("ukvm-guest-memory", MFD_CLOEXEC);
    if (vm->mem_fd < 0)
        return fail(err, errlen, "memfd_create");
    if (ftruncate(vm->mem_fd, (off_t)mem_size) < 0)
        return fail(err, errlen, "cannot size guest memory");
    vm->guest_view = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
            MAP_SHARED | MAP_NORESERVE, vm->mem_fd, 0);
    if (vm->guest_view == MAP_FAILED) {
        vm->guest_view = NULL;
        return fail(err, errlen, "cannot map guest memory");
    }
    vm->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
            MAP_SHARED | MAP_NORESERVE, vm->mem_fd, 0);
    if (vm->mem == MAP_FAILED) {
        vm->mem = NULL;
        return fail(err, errlen, "cannot map guest memory");
    }

    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .guest_phys_addr = 0,
        .memory_size = mem_size,
        .userspace_addr = (uint64_t)(uintptr_t)vm->guest_view,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return fail(err, errlen, "KVM_SET_USER_MEMORY_REGION");
    vm->n_slots = 1;
    startup_mark(STARTUP_MEMORY);

    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0)
        return fail(err, errlen, "KVM_CREATE_VCPU");
    int run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < (int)sizeof(struct kvm_run))
        return fail(err, errlen, "KVM_GET_VCPU_MMAP_SIZE");
    vm->run_size = (size_t)run_size;
    vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
            vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED) {
        vm->run = NULL;
        return fail(err, errlen, "cannot map the vCPU run structure");
    }

    int sync = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
    vm->sync_regs = sync > 0 && (sync & KVM_SYNC_X86_REGS);

    int khz = ioctl(vm->vcpu_fd, KVM_GET_TSC_KHZ, 0);
    if (khz <= 0)
        return fail(err, errlen, "KVM_GET_TSC_KHZ");
    vm->tsc_hz = (uint64_t)khz * 1000;
    startup_mark(STARTUP_VCPU_CREATE);
    return 0;
}

static void write_page_tables(struct vm *vm)
{
    uint64_t *pml4 = (uint64_t *)(vm->mem + HVT_PML4_BASE);
    uint64_t *pdpt = (uint64_t *)(vm->mem + HVT_PDPT_BASE);
    uint64_t *pd = (uint64_t *)(vm->mem + HVT_PD_BASE);
    uint64_t *pt = (uint64_t *)(vm->mem + HVT_PT_BASE);

    memset(vm->mem + HVT_PML4_BASE, 0, 0x7000); /* 0x2000 .. 0x8fff */
    pml4[0] = HVT_PDPT_BASE | PTE_P | PTE_W;
    for (int i = 0; i < 4; i++)
        pdpt[i] = (HVT_PD_BASE + 0x1000ULL * i) | PTE_P | PTE_W;
    /* 2 MiB pages for all of guest memory, except the first 2 MiB. */
    for (uint64_t a = 0x200000; a < vm->mem_size; a += 0x200000)
        pd[a >> 21] = a | PTE_P | PTE_W | PTE_PS;
    pd[0] = HVT_PT_BASE | PTE_P | PTE_W;
    for (uint64_t a = HVT_BOOT_INFO_BASE; a < 0x200000; a += 0x1000)
        pt[a >> 12] = a | PTE_P | (a >= HVT_GUEST_MIN_BASE ? PTE_W : 0);
}

static void write_gdt(struct vm *vm)
{
    uint64_t *gdt = (uint64_t *)(vm->mem + HVT_GDT_BASE);
    /* limit 0xfffff, base 0; access byte P|DPL0|S|type; flags G|L or G|D */
    gdt[0] = 0;
    gdt[1] = 0x00af99000000ffffULL; /* code: type 9, S, P; G, L */
    gdt[2] = 0x00cf93000000ffffULL; /* data: type 3, S, P; G, D/B */
}

static struct kvm_segment flat_segment(uint16_t selector, uint8_t type, bool code)
{
    struct kvm_segment s = {
        .base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
        .present = 1, .dpl = 0, .db = code ? 0 : 1, .s = 1, .l = code ? 1 : 0,
        .g = 1,
    };
    return s;
}

int vm_setup_cpu(struct vm *vm, uint64_t entry, char *err, size_t errlen)
{
    write_page_tables(vm);
    write_gdt(vm);
    startup_mark(STARTUP_BOOT_INFO);

    struct kvm_sregs sregs;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
        return fail(err, errlen, "KVM_GET_SREGS");
    sregs.cr0 = X86_CR0_PE | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
    sregs.cr3 = HVT_PML4_BASE;
    sregs.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
    sregs.efer = X86_EFER_LME | X86_EFER_LMA;
    sregs.cs = flat_segment(HVT_GDT_SEL_CODE, 9, true);
    struct kvm_segment data = flat_segment(HVT_GDT_SEL_DATA, 3, false);
    sregs.ss = sregs.ds = sregs.es = sregs.fs = sregs.gs = data;
    sregs.gdt.base = HVT_GDT_BASE;
    sregs.gdt.limit = 3 * 8 - 1;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;
    memset(&sregs.tr, 0, sizeof(sregs.tr));
    sregs.tr.type = 11; /* 64-bit busy TSS */
    sregs.tr.present = 1;
    sregs.tr.limit = 0xffff;
    memset(&sregs.ldt, 0, sizeof(sregs.ldt));
    sregs.ldt.type = 2;
    sregs.ldt.unusable = 1;
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
        return fail(err, errlen, "KVM_SET_SREGS");

    struct kvm_fpu fpu;
    memset(&fpu, 0, sizeof(fpu));
    fpu.fcw = 0x37f;
    fpu.mxcsr = 0x1f80;
    if (ioctl(vm->vcpu_fd, KVM_SET_FPU, &fpu) < 0)
        return fail(err, errlen, "KVM_SET_FPU");

    /* XCR0: x87 and SSE state enabled, as after a reset with OSXSAVE off. */
    if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0) {
        struct kvm_xcrs xcrs;
        memset(&xcrs, 0, sizeof(xcrs));
        xcrs.nr_xcrs = 1;
        xcrs.xcrs[0].xcr = 0;
        xcrs.xcrs[0].value = 0x3;
        ioctl(vm->vcpu_fd, KVM_SET_XCRS, &xcrs);
    }

    struct kvm_regs regs;
    memset(&regs, 0, sizeof(regs));
    regs.rip = entry;
    regs.rflags = 0x2;
    regs.rsp = vm->mem_size - 8;
    regs.rdi = HVT_BOOT_INFO_BASE;
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
        return fail(err, errlen, "KVM_SET_REGS");
    if (vm->sync_regs)
        vm->run->s.regs.regs = regs; /* valid before the first KVM_RUN too */
    vm->regs_cached = false;
    startup_mark(STARTUP_VCPU_STATE);
    return 0;
}

int vm_protect(struct vm *vm, uint64_t gpa, uint64_t len, char *err, size_t errlen)
{
    uint64_t start = gpa & ~0xfffULL;
    uint64_t end = (gpa + len + 0xfff) & ~0xfffULL;
    if (end > vm->mem_size || start >= end)
        return 0;
    if (mprotect(vm->guest_view + start, end - start, PROT_READ) < 0)
        return fail(err, errlen, "mprotect");
    return 0;
}

struct kvm_regs *vm_regs(struct vm *vm)
{
    if (vm->sync_regs)
        return &vm->run->s.regs.regs;
    if (!vm->regs_cached) {
        if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &vm->regs_cache) < 0)
            ukvm_die("KVM_GET_REGS: %s", strerror(errno));
        vm->regs_cached = true;
    }
    return &vm->regs_cache;
}

void vm_regs_changed(struct vm *vm)
{
    vm->regs_dirty = true;
}

int vm_regs_flush(struct vm *vm)
{
    if (!vm->regs_dirty)
        return 0;
    struct kvm_regs *r = vm->sync_regs ? &vm->run->s.regs.regs : &vm->regs_cache;
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, r) < 0)
        return -1;
    vm->regs_dirty = false;
    return 0;
}

int vm_run(struct vm *vm)
{
    if (vm->sync_regs) {
        vm->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
        vm->run->kvm_dirty_regs = vm->regs_dirty ? KVM_SYNC_X86_REGS : 0;
    } else if (vm->regs_dirty) {
        if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &vm->regs_cache) < 0)
            ukvm_die("KVM_SET_REGS: %s", strerror(errno));
    }
    vm->regs_dirty = false;
    vm->regs_cached = false;
    int r = ioctl(vm->vcpu_fd, KVM_RUN, 0);
    startup_after_run();
    return r;
}

void vm_destroy(struct vm *vm)
{
    signals_forget_vm(vm);
    if (vm->run)
        munmap(vm->run, vm->run_size);
    if (vm->mem)
        munmap(vm->mem, vm->mem_size);
    if (vm->guest_view)
        munmap(vm->guest_view, vm->mem_size);
    if (vm->vcpu_fd >= 0)
        close(vm->vcpu_fd);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    if (vm->mem_fd >= 0)
        close(vm->mem_fd);
    free(vm->cpuid);
    free(vm->dirty_bits);
    free(vm->slots);
    memset(vm, 0, sizeof(*vm));
}

/* Offsets in the FXSAVE (legacy) area at the start of an XSAVE image. */
#define FX_FCW 0
#define FX_FSW 2
#define FX_FTW 4
#define FX_FOP 6
#define FX_FIP 8
#define FX_FDP 16
#define FX_MXCSR 24
#define FX_ST 32
#define FX_XMM 160

static bool have_xsave(struct vm *vm)
{
    static int cached = -1;
    if (cached < 0)
        cached = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0;
    return cached;
}

/* The FXSAVE image is the one representation; vm_fpstate is its fields. */
static void fx_decode(const uint8_t fx[512], struct vm_fpstate *f)
{
    memset(f, 0, sizeof(*f));
    memcpy(&f->fcw, fx + FX_FCW, 2);
    memcpy(&f->fsw, fx + FX_FSW, 2);
    f->ftw = fx[FX_FTW];
    memcpy(&f->fop, fx + FX_FOP, 2);
    memcpy(&f->fip, fx + FX_FIP, 8);
    memcpy(&f->fdp, fx + FX_FDP, 8);
    memcpy(&f->mxcsr, fx + FX_MXCSR, 4);
    for (int i = 0; i < 8; i++)
        memcpy(f->st[i], fx + FX_ST + 16 * i, 10);
    memcpy(f->xmm, fx + FX_XMM, sizeof(f->xmm));
}

/* Write f's fields into fx, leaving its other bytes alone. */
static void fx_encode(const struct vm_fpstate *f, uint8_t fx[512])
{
    memcpy(fx + FX_FCW, &f->fcw, 2);
    memcpy(fx + FX_FSW, &f->fsw, 2);
    fx[FX_FTW] = f->ftw;
    memcpy(fx + FX_FOP, &f->fop, 2);
    memcpy(fx + FX_FIP, &f->fip, 8);
    memcpy(fx + FX_FDP, &f->fdp, 8);
    memcpy(fx + FX_MXCSR, &f->mxcsr, 4);
    for (int i = 0; i < 8; i++)
        memcpy(fx + FX_ST + 16 * i, f->st[i], 10);
    memcpy(fx + FX_XMM, f->xmm, sizeof(f->xmm));
}

int vm_fx_read(struct vm *vm, struct vm_fx_copy *c, uint8_t fx[512])
{
    c->xsave = have_xsave(vm);
    if (c->xsave) {
        if (ioctl(vm->vcpu_fd, KVM_GET_XSAVE, &c->xs) < 0)
            return -1;
        memcpy(fx, c->xs.region, 512);
    } else {
        struct kvm_fpu fpu;
        if (ioctl(vm->vcpu_fd, KVM_GET_FPU, &fpu) < 0)
            return -1;
        struct vm_fpstate f = {
            .fcw = fpu.fcw, .fsw = fpu.fsw, .fop = fpu.last_opcode, .ftw = fpu.ftwx,
            .fip = fpu.last_ip, .fdp = fpu.last_dp, .mxcsr = fpu.mxcsr,
        };
        for (int i = 0; i < 8; i++)
            memcpy(f.st[i], fpu.fpr[i], 10);
        memcpy(f.xmm, fpu.xmm, sizeof(f.xmm));
        memset(fx, 0, 512);
        fx_encode(&f, fx);
        uint32_t mask = 0xffff; /* MXCSR_MASK: the bits FXRSTOR accepts */
        memcpy(fx + 28, &mask, 4);
    }
    memcpy(c->read, fx, 512);
    return 0;
}

/* Write fx over the state c was read from. */
static int fx_write(struct vm *vm, struct vm_fx_copy *c, const uint8_t fx[512])
{
    if (c->xsave) {
        memcpy(c->xs.region, fx, 512);
        ((uint8_t *)c->xs.region)[512] |= 0x3; /* XSTATE_BV: x87 and SSE in use */
        return ioctl(vm->vcpu_fd, KVM_SET_XSAVE, &c->xs) < 0 ? -1 : 0;
    }
    struct vm_fpstate f;
    fx_decode(fx, &f);
    struct kvm_fpu fpu;
    memset(&fpu, 0, sizeof(fpu));
    fpu.fcw = f.fcw;
    fpu.fsw = f.fsw;
    fpu.ftwx = f.ftw;
    fpu.last_opcode = f.fop;
    fpu.last_ip = f.fip;
    fpu.last_dp = f.fdp;
    fpu.mxcsr = f.mxcsr;
    for (int i = 0; i < 8; i++)
        memcpy(fpu.fpr[i], f.st[i], 10);
    memcpy(fpu.xmm, f.xmm, sizeof(f.xmm));
    return ioctl(vm->vcpu_fd, KVM_SET_FPU, &fpu) < 0 ? -1 : 0;
}

int vm_fx_write_changed(struct vm *vm, struct vm_fx_copy *c, const uint8_t fx[512])
{
    return memcmp(fx, c->read, 512) ? fx_write(vm, c, fx) : 0;
}

int vm_get_fxarea(struct vm *vm, uint8_t fx[512])
{
    static struct vm_fx_copy c; /* 4 KiB and more: off the stack */
    return vm_fx_read(vm, &c, fx);
}

int vm_get_fpstate(struct vm *vm, struct vm_fpstate *f)
{
    _Alignas(16) uint8_t fx[512];
    if (vm_get_fxarea(vm, fx) < 0)
        return -1;
    fx_decode(fx, f);
    return 0;
}

int vm_set_fpstate(struct vm *vm, const struct vm_fpstate *f)
{
    static struct vm_fx_copy c; /* 4 KiB and more: off the stack */
    _Alignas(16) uint8_t fx[512];
    if (vm_fx_read(vm, &c, fx) < 0) /* the bytes f has no field for */
        return -1;
    fx_encode(f, fx);
    return fx_write(vm, &c, fx);
}

/*
 * Completing, for KVM, an x87/MMX/SSE instruction that its emulator could
 * not handle (fpu_exec.c does the work): the guest's state and memory come
 * from KVM and the monitor's view of guest memory; the result goes back,
 * or the fault the guest's CPU would have raised is injected.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "monitor/fpu_complete.h"
#include "monitor/monitor.h"

struct kvm_ctx {
    struct monitor *m;
    const struct kvm_sregs *sregs;
};

#define CR4_LA57 (1ULL << 12)

/* Through the guest's page tables: KVM_TRANSLATE says nothing of write
 * permission. */
static bool kvm_translate(void *ctx, uint64_t gva, uint64_t *gpa, bool *writable)
{
    struct kvm_ctx *c = ctx;
    return fpu_walk_page_tables(c->m->vm.mem, c->m->vm.mem_size, c->sregs->cr3,
            c->sregs->cr4 & CR4_LA57, gva, gpa, writable);
}

static uint8_t *kvm_host(void *ctx, uint64_t gpa, size_t len)
{
    struct monitor *m = ((struct kvm_ctx *)ctx)->m;
    return vm_range_ok(&m->vm, gpa, len) ? m->vm.mem + gpa : NULL;
}

static bool kvm_protected_page(void *ctx, uint64_t gpa)
{
    struct monitor *m = ((struct kvm_ctx *)ctx)->m;
    return kernel_page_protected(&m->kernel, gpa);
}

/* As for every store the monitor makes for the guest: dirty tracking for
 * checkpoints, and the debugger's write watchpoints. */
static void kvm_written(void *ctx, uint64_t gpa, size_t len)
{
    struct monitor *m = ((struct kvm_ctx *)ctx)->m;
    vm_mark_dirty(&m->vm, gpa, len);
    if (m->guest_written)
        m->guest_written(m, gpa, len);
}

/* A load made for the guest: the debugger's read and access watchpoints
 * fire on it as on the guest's own (its own would have exited to the
 * monitor as MMIO; this one never reached KVM's emulator). */
static void kvm_read(void *ctx, uint64_t gpa, size_t len)
{
    struct monitor *m = ((struct kvm_ctx *)ctx)->m;
    if (m->guest_read)
        m->guest_read(m, gpa, len);
}

static void guest_cpuid1(const struct vm *vm, uint32_t *ecx, uint32_t *edx)
{
    *ecx = *edx = 0;
    for (uint32_t i = 0; vm->cpuid && i < vm->cpuid->nent; i++) {
        const struct kvm_cpuid_entry2 *e = &vm->cpuid->entries[i];
        if (e->function == 1 && e->index == 0) {
            *ecx = e->ecx;
            *edx = e->edx;
        }
    }
}

static const char *vector_name(uint8_t v)
{
    switch (v) {
    case 6: return "#UD";
    case 7: return "#NM";
    case 12: return "#SS";
    case 13: return "#GP";
    case 14: return "#PF";
    default: return "an exception";
    }
}

/* Raise the fault in the guest as its CPU would have. A guest without an
 * IDT entry for it (the bundled test guests have no IDT) would only triple
 * fault: say what the fault was instead. 0, or 1 when the guest stops. */
static int inject(struct monitor *m, const struct fpu_guest *g, const struct fpu_outcome *out)
{
    struct vm *vm = &m->vm;
    unsigned long long rip = (unsigned long long)g->regs.rip;
    if ((uint32_t)g->sregs.idt.limit < (uint32_t)out->vector * 16 + 15) {
        ukvm_err("guest fault at rip 0x%llx: %s; the guest has no handler for %s", rip, out->why,
                vector_name(out->vector));
        return 1;
    }
    if (out->vector == 14) {
        struct kvm_sregs s = g->sregs;
        s.cr2 = out->cr2;
        if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0) {
            ukvm_err("KVM_SET_SREGS: %s (rip 0x%llx)", strerror(errno), rip);
            return 1;
        }
    }
    struct kvm_vcpu_events ev;
    if (ioctl(vm->vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) < 0) {
        ukvm_err("KVM_GET_VCPU_EVENTS: %s (rip 0x%llx)", strerror(errno), rip);
        return 1;
    }
    ev.exception.injected = 1;
    ev.exception.pending = 0;
    ev.exception.nr = out->vector;
    ev.exception.has_error_code = out->has_error_code;
    ev.exception.error_code = out->error_code;
    if (ioctl(vm->vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0) {
        ukvm_err("KVM_SET_VCPU_EVENTS: %s (rip 0x%llx)", strerror(errno), rip);
        return 1;
    }
    return 0;
}

int fpu_complete(struct monitor *m)
{
    struct vm *vm = &m->vm;
    static struct fpu_guest g; /* large: off the stack */
    static struct vm_fx_copy fx;
    memset(&g, 0, sizeof(g));
    struct kvm_ctx ctx = { .m = m, .sregs = &g.sregs };
    const struct fpu_mem mem = {
        .translate = kvm_translate, .host = kvm_host, .protected_page = kvm_protected_page,
        .written = kvm_written, .read = kvm_read, .ctx = &ctx,
    };
    g.mem = &mem;
    g.regs = *vm_regs(vm);
    if (vm_regs_flush(vm) < 0 || ioctl(vm->vcpu_fd, KVM_GET_SREGS, &g.sregs) < 0 ||
        vm_fx_read(vm, &fx, g.fx) < 0)
        return -1;
    guest_cpuid1(vm, &g.cpuid1_ecx, &g.cpuid1_edx);
    struct fpu_outcome out;
    switch (fpu_complete_insn(&g, &out)) {
    case FPU_DONE:
        break;
    case FPU_FAULT:
        return inject(m, &g, &out);
    case FPU_STOP:
        ukvm_err("%s", out.why);
        return 1;
    case FPU_REFUSED:
    default:
        return -1;
    }
    /* a store or a compare leaves it as it was: no KVM_SET_XSAVE then */
    if (vm_fx_write_changed(vm, &fx, g.fx) < 0)
        return -1;
    *vm_regs(vm) = g.regs;
    vm_regs_changed(vm);
    return 0;
}

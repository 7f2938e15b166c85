/*
 * Completing, for KVM, an x87/MMX/SSE instruction that its emulator could
 * not handle (fpu_exec.c does the work): the guest's state and memory come
 * from KVM and the monitor's view of guest memory; the result goes back.
 */
#include <string.h>
#include <sys/ioctl.h>

#include "monitor/fpu_complete.h"
#include "monitor/monitor.h"

static bool kvm_translate(void *ctx, uint64_t gva, uint64_t *gpa, bool *writable)
{
    struct monitor *m = ctx;
    struct kvm_translation tr = { .linear_address = gva };
    if (ioctl(m->vm.vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
        return false;
    *gpa = tr.physical_address;
    *writable = tr.writeable;
    return true;
}

static uint8_t *kvm_host(void *ctx, uint64_t gpa, size_t len)
{
    struct monitor *m = ctx;
    return vm_range_ok(&m->vm, gpa, len) ? m->vm.mem + gpa : NULL;
}

static bool kvm_protected_page(void *ctx, uint64_t gpa)
{
    (void)ctx;
    (void)gpa;
    return false;
}

static void kvm_written(void *ctx, uint64_t gpa, size_t len)
{
    struct monitor *m = ctx;
    vm_mark_dirty(&m->vm, gpa, len);
}

int fpu_complete(struct monitor *m)
{
    struct vm *vm = &m->vm;
    const struct fpu_mem mem = {
        .translate = kvm_translate, .host = kvm_host, .protected_page = kvm_protected_page,
        .written = kvm_written, .ctx = m,
    };
    static struct fpu_guest g; /* large: off the stack */
    memset(&g, 0, sizeof(g));
    g.mem = &mem;
    g.regs = *vm_regs(vm);
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &g.sregs) < 0 || vm_get_fxarea(vm, g.fx) < 0)
        return -1;
    struct fpu_outcome out;
    if (fpu_complete_insn(&g, &out) != FPU_DONE)
        return -1;
    if (vm_set_fxarea(vm, g.fx) < 0)
        return -1;
    *vm_regs(vm) = g.regs;
    vm_regs_changed(vm);
    return 0;
}

/*
 * The full amd64 register set for gdb, gathered from KVM_GET_REGS, SREGS
 * and FPU. x87 tags: KVM gives the abridged FXSAVE tag byte; gdb wants the
 * full tag word, so empty registers become 11b and the rest are classified
 * from their contents.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vcpu/kvm_regs.h"

/* Classify an 80-bit x87 value for the full tag word: 0 valid, 1 zero, 2 special. */
static unsigned x87_tag(const uint8_t v[10])
{
    uint16_t exp = (uint16_t)((v[9] & 0x7f) << 8 | v[8]);
    uint64_t mant;
    memcpy(&mant, v, 8);
    if (exp == 0x7fff)
        return 2;
    if (exp == 0)
        return mant == 0 ? 1 : 2;
    return (mant >> 63) ? 0 : 2;
}

int kvm_regs_read(struct vm *vm, struct ukvm_regs *out)
{
    struct kvm_regs r;
    struct kvm_sregs s;
    struct vm_fpstate f;
    memset(out, 0, sizeof(*out));
    if (vm->sync_regs)
        r = *vm_regs(vm);
    else if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0)
        return -1;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0 || vm_get_fpstate(vm, &f) < 0)
        return -1;
    const uint64_t gpr[16] = { r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp,
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15 };
    memcpy(out->gpr, gpr, sizeof(gpr));
    out->rip = r.rip;
    out->eflags = (uint32_t)r.rflags;
    out->cs = s.cs.selector;
    out->ss = s.ss.selector;
    out->ds = s.ds.selector;
    out->es = s.es.selector;
    out->fs = s.fs.selector;
    out->gs = s.gs.selector;
    out->fs_base = s.fs.base;
    out->gs_base = s.gs.base;
    for (int i = 0; i < 8; i++)
        memcpy(out->st[i], f.st[i], 10);
    out->fctrl = f.fcw;
    out->fstat = f.fsw;
    /* fpr[] is in stack order (st0 first); tags are by physical register. */
    unsigned top = (f.fsw >> 11) & 7, tag = 0;
    for (unsigned phys = 0; phys < 8; phys++) {
        unsigned t = 3;
        if (f.ftw & (1u << phys))
            t = x87_tag(f.st[(phys - top) & 7]);
        tag |= t << (2 * phys);
    }
    out->ftag = tag;
    out->fioff = (uint32_t)f.fip;
    out->fiseg = (uint32_t)(f.fip >> 32);
    out->fooff = (uint32_t)f.fdp;
    out->foseg = (uint32_t)(f.fdp >> 32);
    out->fop = f.fop;
    memcpy(out->xmm, f.xmm, sizeof(out->xmm));
    out->mxcsr = f.mxcsr;
    out->cr0 = s.cr0;
    out->cr2 = s.cr2;
    out->cr3 = s.cr3;
    out->cr4 = s.cr4;
    out->cr8 = s.cr8;
    out->efer = s.efer;
    return 0;
}

int kvm_regs_write(struct vm *vm, const struct ukvm_regs *in)
{
    struct kvm_regs *r = vm_regs(vm);
    __u64 *gpr[16] = { &r->rax, &r->rbx, &r->rcx, &r->rdx, &r->rsi, &r->rdi, &r->rbp, &r->rsp,
        &r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15 };
    for (int i = 0; i < 16; i++)
        *gpr[i] = in->gpr[i];
    r->rip = in->rip;
    r->rflags = in->eflags | 0x2;
    vm_regs_changed(vm);
    if (vm_regs_flush(vm) < 0)
        return -1;

    struct kvm_sregs s;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
        return -1;
    if (s.fs.base != in->fs_base || s.gs.base != in->gs_base || s.cr0 != in->cr0 ||
        s.cr2 != in->cr2 || s.cr3 != in->cr3 || s.cr4 != in->cr4 || s.cr8 != in->cr8 ||
        s.efer != in->efer) {
        s.fs.base = in->fs_base;
        s.gs.base = in->gs_base;
        s.cr0 = in->cr0;
        s.cr2 = in->cr2;
        s.cr3 = in->cr3;
        s.cr4 = in->cr4;
        s.cr8 = in->cr8;
        s.efer = in->efer;
        if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0)
            return -1;
    }

    struct vm_fpstate f;
    if (vm_get_fpstate(vm, &f) < 0)
        return -1;
    for (int i = 0; i < 8; i++)
        memcpy(f.st[i], in->st[i], 10);
    f.fcw = (uint16_t)in->fctrl;
    f.fsw = (uint16_t)in->fstat;
    unsigned abridged = 0;
    for (unsigned phys = 0; phys < 8; phys++)
        if (((in->ftag >> (2 * phys)) & 3) != 3)
            abridged |= 1u << phys;
    f.ftw = (uint8_t)abridged;
    f.fop = (uint16_t)in->fop;
    f.fip = (uint64_t)in->fiseg << 32 | in->fioff;
    f.fdp = (uint64_t)in->foseg << 32 | in->fooff;
    memcpy(f.xmm, in->xmm, sizeof(f.xmm));
    f.mxcsr = in->mxcsr;
    if (vm_set_fpstate(vm, &f) < 0)
        return -1;
    return 0;
}

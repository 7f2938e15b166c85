/*
 * The vCPU loop: run the guest and dispatch each exit to the hypercall
 * code, the instruction interception, or back to the caller (debug exits,
 * errors, the guest's halt).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "monitor/monitor.h"

#define MSR_IA32_TSC 0x10

static enum vcpu_stop monitor_error(struct monitor *m)
{
    monitor_guest_fault(m);
    return VCPU_ERROR;
}

/* For messages: asks KVM, since sync regs are not filled when KVM_RUN fails. */
static unsigned long long rip_of(struct monitor *m)
{
    struct kvm_regs r;
    if (ioctl(m->vm.vcpu_fd, KVM_GET_REGS, &r) < 0)
        return 0;
    return (unsigned long long)r.rip;
}

/*
 * The address of the `out dx, eax` (0xEF) that made this exit. KVMs differ:
 * most leave rip on the instruction until the next KVM_RUN completes it,
 * this machine's reports rip already past it. Learn which from the first
 * exit where only one reading fits, and keep it.
 */
static uint64_t out_instruction_rip(struct monitor *m)
{
    uint64_t r = vm_regs(&m->vm)->rip;
    bool at = r < m->vm.mem_size && m->vm.mem[r] == 0xef;
    bool after = r > 0 && r - 1 < m->vm.mem_size && m->vm.mem[r - 1] == 0xef;
    if (at != after)
        m->vm.io_rip_advanced = after;
    return m->vm.io_rip_advanced ? r - 1 : r;
}

int monitor_port_io(struct monitor *m, bool is_out, unsigned size, unsigned port,
        uint32_t value, uint64_t rip)
{
    if (!is_out || size != 4 ||
        port <= HVT_HYPERCALL_PIO_BASE || port >= HVT_HYPERCALL_PIO_BASE + HVT_HYPERCALL_MAX) {
        ukvm_err("guest error: %s of %u byte(s) on I/O port 0x%x is not a hypercall (rip 0x%llx)",
                is_out ? "write" : "read", size, port, (unsigned long long)rip);
        monitor_guest_fault(m);
        return -1;
    }
    return hypercall_service(m, port, value, rip);
}

static enum vcpu_stop handle_io(struct monitor *m)
{
    struct kvm_run *run = m->vm.run;
    uint64_t rip = out_instruction_rip(m);
    uint32_t value = 0;
    if (run->io.count != 1) {
        ukvm_err("guest error: string I/O on port 0x%x is not a hypercall (rip 0x%llx)",
                run->io.port, (unsigned long long)rip);
        return monitor_error(m);
    }
    if (run->io.size == 4)
        memcpy(&value, (uint8_t *)run + run->io.data_offset, sizeof(value));
    int r = monitor_port_io(m, run->io.direction == KVM_EXIT_IO_OUT, run->io.size,
            run->io.port, value, rip);
    if (r < 0)
        return VCPU_ERROR;
    return r > 0 ? VCPU_HALTED : (enum vcpu_stop)-1;
}

static enum vcpu_stop handle_rdmsr(struct monitor *m)
{
    struct kvm_run *run = m->vm.run;
    if (run->msr.index != MSR_IA32_TSC) {
        /* #GP: an MSR the filter denies (kvmclock & co, cpuid_msr.c) */
        run->msr.error = 1;
        return (enum vcpu_stop)-1;
    }
    struct ukvm_io io;
    memset(&io, 0, sizeof(io));
    io.ev.kind = UKVM_EV_RDMSR_TSC;
    io.ev.rip = vm_regs(&m->vm)->rip;
    if (m->src->ops->service(m->src, &io, &m->exit_status) < 0)
        return VCPU_ERROR;
    run->msr.data = io.ev.a[0];
    run->msr.error = 0;
    return (enum vcpu_stop)-1;
}

/* KVM could not handle an exit itself. An emulation failure carries the
 * instruction bytes; a KVM that emulates CPL-0 code (this machine's) lacks
 * many SSE instructions, so say which instruction it was. */
static void report_internal_error(struct monitor *m)
{
    struct kvm_run *run = m->vm.run;
    char bytes[64] = "";
    if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION && run->internal.ndata >= 2) {
        /* data[0]: flags, data[1] low byte: instruction length, then bytes */
        const uint8_t *p = (const uint8_t *)&run->internal.data[1];
        unsigned n = p[0];
        size_t avail = (run->internal.ndata - 1) * 8 - 1;
        if (n > 15)
            n = 15;
        if (n > avail)
            n = (unsigned)avail;
        size_t used = 0;
        for (unsigned i = 0; i < n && used + 4 < sizeof(bytes); i++)
            used += (size_t)snprintf(bytes + used, sizeof(bytes) - used, "%s%02x", i ? " " : "",
                    p[1 + i]);
    }
    if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
        ukvm_err("KVM could not emulate the guest instruction at rip 0x%llx%s%s%s", rip_of(m),
                bytes[0] ? " (bytes " : "", bytes, bytes[0] ? ")" : "");
    else
        ukvm_err("KVM internal error %u (rip 0x%llx)", run->internal.suberror, rip_of(m));
}

/* One exit. Returns the stop for the caller, or -1 to keep running. */
static enum vcpu_stop handle_exit(struct monitor *m)
{
    struct kvm_run *run = m->vm.run;
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        return handle_io(m);
    case KVM_EXIT_HLT: {
        uint64_t at = vm_regs(&m->vm)->rip - 1;
        if (m->is_breakpoint && m->is_breakpoint(m, at))
            return VCPU_HLT;
        const struct patch_site *p = intercept_find(m, at);
        if (p && !m->cfg->no_patch)
            return intercept_service(m, p) < 0 ? VCPU_ERROR : (enum vcpu_stop)-1;
        return VCPU_HLT;
    }
    case KVM_EXIT_X86_RDMSR:
        return handle_rdmsr(m);
    case KVM_EXIT_X86_WRMSR:
        run->msr.error = 1; /* #GP: a write the MSR filter denies (cpuid_msr.c) */
        return (enum vcpu_stop)-1;
    case KVM_EXIT_DEBUG:
        return VCPU_DEBUG;
    case KVM_EXIT_SHUTDOWN:
        ukvm_err("guest triple fault (rip 0x%llx)", rip_of(m));
        return monitor_error(m);
    case KVM_EXIT_MMIO:
        if (m->mmio_to_caller && run->mmio.phys_addr < m->vm.mem_size)
            return VCPU_MMIO;
        /* Some KVMs (this machine's among them) report a store into the
         * write-protected host view as an MMIO exit rather than EFAULT. */
        if (run->mmio.phys_addr < m->vm.mem_size)
            ukvm_err("host/guest translation fault: guest %s protected memory at 0x%llx (rip 0x%llx)",
                    run->mmio.is_write ? "wrote to" : "read from",
                    (unsigned long long)run->mmio.phys_addr, rip_of(m));
        else
            ukvm_err("guest %s guest-physical address 0x%llx outside guest memory (rip 0x%llx)",
                    run->mmio.is_write ? "wrote to" : "read from",
                    (unsigned long long)run->mmio.phys_addr, rip_of(m));
        return monitor_error(m);
    case KVM_EXIT_FAIL_ENTRY:
        ukvm_err("KVM could not enter the guest (hardware reason 0x%llx, rip 0x%llx)",
                (unsigned long long)run->fail_entry.hardware_entry_failure_reason, rip_of(m));
        return monitor_error(m);
    case KVM_EXIT_INTERNAL_ERROR:
        if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
            int r = fpu_complete(m);
            if (r == 0)
                return m->single_stepping ? VCPU_DEBUG : (enum vcpu_stop)-1;
            if (r > 0)
                return monitor_error(m);
        }
        report_internal_error(m);
        return monitor_error(m);
    default:
        ukvm_err("unhandled KVM exit %u (rip 0x%llx)", run->exit_reason, rip_of(m));
        return monitor_error(m);
    }
}

enum vcpu_stop vcpu_loop(struct monitor *m)
{
    for (;;) {
        if (vm_run(&m->vm) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                return VCPU_INTERRUPTED;
            if (errno == EFAULT) {
                ukvm_err("host/guest translation fault: the guest wrote to read-only memory "
                        "or touched memory the host cannot map (rip 0x%llx)", rip_of(m));
                return monitor_error(m);
            }
            ukvm_err("KVM_RUN failed: %s (rip 0x%llx)", strerror(errno), rip_of(m));
            return monitor_error(m);
        }
        enum vcpu_stop s = handle_exit(m);
        if ((int)s != -1)
            return s;
        if (m->stop_pending)
            return VCPU_STOP_PENDING;
    }
}

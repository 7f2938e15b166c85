/*
 * Forward execution under the debugger: exact single-step and continue.
 *
 * Instructions that make events (a hypercall's `out`, a patched rdtsc) are
 * never single-stepped by KVM: they are serviced here and rip is advanced,
 * because on some KVMs (this machine's) the trap after an exiting `out` is
 * lost and `hlt` does not exit under single-step. A planted breakpoint is
 * taken out while its instruction is stepped; a hardware breakpoint at rip
 * is left out of the debug registers for that step, since resuming on one
 * triggers it again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "gdb/kvm_target.h"
#include "monitor/signals.h"

#define DR6_BS (1u << 14)

static int set_guest_debug(struct kvm_target *kt, bool single_step, uint64_t skip_hw_at)
{
    struct kvm_guest_debug dbg;
    memset(&dbg, 0, sizeof(dbg));
    dbg.control = KVM_GUESTDBG_ENABLE;
    if (single_step)
        dbg.control |= KVM_GUESTDBG_SINGLESTEP;
    uint64_t dr7 = 0;
    for (int i = 0; i < 4; i++) {
        if (!kt->hw_used[i] || kt->hw_addr[i] == skip_hw_at)
            continue;
        dbg.arch.debugreg[i] = kt->hw_addr[i];
        dr7 |= 1ULL << (2 * i); /* local enable; R/W 00 = execute, LEN 00 */
    }
    if (dr7) {
        dbg.control |= KVM_GUESTDBG_USE_HW_BP;
        dbg.arch.debugreg[7] = dr7 | 0x400;
    }
    if (!single_step && !dr7)
        dbg.control = 0;
    /* KVM arms a single-step for the rip it holds when this ioctl runs (it
     * sets TF only while rip is still that one). Registers changed since
     * (rip moved back onto a breakpoint, a checkpoint restored) must reach
     * KVM first, or the step silently becomes a free run. Emulating KVMs
     * that single-step by other means do not show this; kvm_amd does. */
    if (vm_regs_flush(&kt->m->vm) < 0)
        return -1;
    return ioctl(kt->m->vm.vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg);
}

static int page_cmp(const void *a, const void *b)
{
    const struct page_special *x = a, *y = b;
    return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Carve the watched pages out of the memory slots. */
static int apply_layout(struct kvm_target *kt)
{
    if (!kt->layout_dirty)
        return 0;
    size_t n = 0, cap = 0;
    struct page_special *pages = NULL;
    for (size_t i = 0; i < kt->n_watch; i++) {
        const struct watch *w = &kt->watch[i];
        enum page_prot prot = w->type == UKVM_WP_WRITE ? PAGE_READONLY : PAGE_UNMAPPED;
        for (uint64_t p = w->gpa & ~0xfffULL; p < w->gpa + w->len; p += 0x1000) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                struct page_special *np = realloc(pages, cap * sizeof(*np));
                if (!np) {
                    free(pages);
                    return -1;
                }
                pages = np;
            }
            pages[n++] = (struct page_special){ .gpa = p, .prot = prot };
        }
    }
    qsort(pages, n, sizeof(*pages), page_cmp);
    size_t u = 0; /* merge duplicates, keeping the stronger protection */
    for (size_t i = 0; i < n; i++) {
        if (u && pages[u - 1].gpa == pages[i].gpa) {
            if (pages[i].prot > pages[u - 1].prot)
                pages[u - 1].prot = pages[i].prot;
        } else {
            pages[u++] = pages[i];
        }
    }
    char err[256];
    int r = memslots_apply(&kt->m->vm, pages, u, err, sizeof(err));
    free(pages);
    if (r < 0) {
        ukvm_err("%s", err);
        return -1;
    }
    kt->m->mmio_to_caller = u > 0;
    kt->layout_dirty = false;
    return 0;
}

/* Complete an access to a watched page for KVM, and say which watchpoint
 * (if any) it hit: its index, or -1. */
static int handle_watched_access(struct kvm_target *kt)
{
    struct kvm_run *run = kt->m->vm.run;
    uint64_t gpa = run->mmio.phys_addr;
    uint32_t len = run->mmio.len;
    if (len > sizeof(run->mmio.data))
        len = sizeof(run->mmio.data);
    if (gpa + len > kt->m->vm.mem_size)
        len = (uint32_t)(kt->m->vm.mem_size - gpa);
    bool write = run->mmio.is_write;
    if (write) {
        memcpy(kt->m->vm.mem + gpa, run->mmio.data, len);
        vm_mark_dirty(&kt->m->vm, gpa, len);
    }
    else
        memcpy(run->mmio.data, kt->m->vm.mem + gpa, len);
    for (size_t i = 0; i < kt->n_watch; i++) {
        const struct watch *w = &kt->watch[i];
        bool kind_ok = w->type == UKVM_WP_ACCESS ||
            (write ? w->type == UKVM_WP_WRITE : w->type == UKVM_WP_READ);
        if (kind_ok && gpa < w->gpa + w->len && w->gpa < gpa + len)
            return (int)i;
    }
    return -1;
}

/*
 * Let KVM finish the instruction whose access to a watched page exited,
 * without executing anything after it: KVM_RUN with immediate_exit completes
 * pending MMIO before it returns (further accesses of the same instruction
 * come back as MMIO exits first). A single-step trap is not used for this:
 * some KVMs (this machine's) lose the trap after an MMIO exit and stop one
 * instruction late. Returns 0, or -1 on an unexpected exit.
 */
static int finish_instruction(struct kvm_target *kt, int *hit)
{
    struct vm *vm = &kt->m->vm;
    for (int guard = 0; guard < 100000; guard++) {
        vm->run->immediate_exit = 1;
        int r = vm_run(vm);
        vm->run->immediate_exit = 0;
        if (r < 0)
            return errno == EINTR || errno == EAGAIN ? 0 : -1;
        if (vm->run->exit_reason == KVM_EXIT_DEBUG)
            return 0; /* the completed instruction's single-step trap */
        if (vm->run->exit_reason == KVM_EXIT_MMIO && vm->run->mmio.phys_addr < vm->mem_size) {
            int h = handle_watched_access(kt);
            if (h >= 0 && *hit < 0)
                *hit = h;
            continue;
        }
        return -1;
    }
    return -1;
}

void kvm_target_settle(struct kvm_target *kt)
{
    int unused = -1;
    finish_instruction(kt, &unused);
}

static void stop_with(struct ukvm_stop *stop, enum ukvm_stop_reason reason)
{
    memset(stop, 0, sizeof(*stop));
    stop->reason = reason;
}

/* A watchpoint that a monitor write hit: report it (true) and clear it. */
static bool take_pending_watch(struct kvm_target *kt, struct ukvm_stop *stop)
{
    kt->m->stop_pending = false;
    int h = kt->pending_watch;
    kt->pending_watch = -1;
    if (h < 0 || (size_t)h >= kt->n_watch)
        return false;
    stop_with(stop, UKVM_STOP_WATCH);
    stop->watch_type = kt->watch[h].type;
    stop->watch_addr = kt->watch[h].addr;
    return true;
}

/* The guest is done (exited, or the monitor stopped it). */
static int finish(struct kvm_target *kt, enum vcpu_stop s, struct ukvm_stop *stop)
{
    if (s == VCPU_HALTED) {
        stop_with(stop, UKVM_STOP_EXITED);
        stop->exit_status = kt->m->exit_status;
    } else if (kt->at_trace_end && kt->at_trace_end(kt)) {
        stop_with(stop, UKVM_STOP_REPLAY_END);
        return 0; /* not dead: reverse execution may go on from here */
    } else {
        stop_with(stop, UKVM_STOP_FAULT);
    }
    kt->dead = true;
    kt->dead_stop = *stop;
    return 0;
}

static int kvm_target_continue_untimed(struct kvm_target *kt, struct ukvm_stop *stop);

static uint64_t rip_now(struct kvm_target *kt)
{
    return vm_regs(&kt->m->vm)->rip;
}

static void set_rip(struct kvm_target *kt, uint64_t rip)
{
    vm_regs(&kt->m->vm)->rip = rip;
    vm_regs_changed(&kt->m->vm);
}

static bool hw_bp_at(struct kvm_target *kt, uint64_t addr)
{
    for (int i = 0; i < 4; i++)
        if (kt->hw_used[i] && kt->hw_addr[i] == addr)
            return true;
    return false;
}

static struct sw_bp *sw_bp_at(struct kvm_target *kt, uint64_t addr)
{
    for (size_t i = 0; i < kt->n_sw; i++)
        if (kt->sw[i].addr == addr)
            return &kt->sw[i];
    return NULL;
}

bool kvm_target_bp_stop(struct kvm_target *kt, struct ukvm_stop *stop)
{
    uint64_t rip = rip_now(kt);
    if (sw_bp_at(kt, rip))
        stop_with(stop, UKVM_STOP_SWBREAK);
    else if (hw_bp_at(kt, rip))
        stop_with(stop, UKVM_STOP_HWBREAK);
    else
        return false;
    return true;
}

/* Service the port-I/O instruction at rip ourselves (see the top comment). */
static int step_port_io(struct kvm_target *kt, const uint8_t *insn, size_t len,
        struct ukvm_stop *stop)
{
    struct kvm_regs *r = vm_regs(&kt->m->vm);
    uint64_t rip = r->rip;
    size_t p = 0;
    bool opsize16 = false;
    while (p < len && (insn[p] == 0x66 || insn[p] == 0xf2 || insn[p] == 0xf3)) {
        opsize16 |= insn[p] == 0x66;
        p++;
    }
    uint8_t op = p < len ? insn[p] : 0;
    bool is_out = op == 0xe6 || op == 0xe7 || op == 0xee || op == 0xef || op == 0x6e || op == 0x6f;
    unsigned size = (op & 1) ? (opsize16 ? 2 : 4) : 1;
    unsigned port = (op == 0xe4 || op == 0xe5 || op == 0xe6 || op == 0xe7) && p + 1 < len
        ? insn[p + 1] : (unsigned)(r->rdx & 0xffff);
    if (op == 0x6c || op == 0x6d || op == 0x6e || op == 0x6f) {
        ukvm_err("guest error: string I/O on port 0x%x is not a hypercall (rip 0x%llx)", port,
                (unsigned long long)rip);
        kt->m->exit_status = UKVM_EXIT_MONITOR_ERROR;
        return finish(kt, VCPU_ERROR, stop);
    }
    int res = monitor_port_io(kt->m, is_out, size, port, (uint32_t)r->rax, rip);
    if (res < 0)
        return finish(kt, VCPU_ERROR, stop);
    set_rip(kt, rip + len);
    if (res > 0)
        return finish(kt, VCPU_HALTED, stop);
    if (!take_pending_watch(kt, stop))
        stop_with(stop, UKVM_STOP_STEP);
    return 0;
}

int kvm_target_step(struct kvm_target *kt, struct ukvm_stop *stop)
{
    if (kt->dead) {
        *stop = kt->dead_stop;
        return 0;
    }
    kt->interrupt_requested = 0;
    kt->m->vm.run->immediate_exit = 0;
    uint64_t rip = rip_now(kt);
    uint8_t insn[16];
    long got = kvm_target_read_mem(&kt->base, rip, insn, 15);
    if (got <= 0) {
        ukvm_err("cannot read the instruction at rip 0x%llx", (unsigned long long)rip);
        kt->m->exit_status = UKVM_EXIT_MONITOR_ERROR;
        return finish(kt, VCPU_ERROR, stop);
    }
    const struct patch_site *site = kt->m->cfg->no_patch ? NULL : intercept_find(kt->m, rip);
    if (site) {
        if (intercept_service(kt->m, site) < 0)
            return finish(kt, VCPU_ERROR, stop);
        stop_with(stop, UKVM_STOP_STEP);
        return 0;
    }
    size_t len = 0;
    if (ukvm_scan_is_hypercall_out(insn, (size_t)got, &len) && len > 0)
        return step_port_io(kt, insn, len, stop);
    if (insn[0] == 0xf4) {
        ukvm_err("guest executed hlt with nothing to wake it (rip 0x%llx)",
                (unsigned long long)rip);
        kt->m->exit_status = UKVM_EXIT_MONITOR_ERROR;
        return finish(kt, VCPU_ERROR, stop);
    }

    struct sw_bp *bp = sw_bp_at(kt, rip);
    if (bp)
        kt->m->vm.mem[bp->gpa] = bp->orig;
    int hit = -1;
    int rc = 0;
    if (apply_layout(kt) < 0 || set_guest_debug(kt, true, rip) < 0) {
        ukvm_err("cannot set up single-step: %s", strerror(errno));
        kt->m->exit_status = UKVM_EXIT_MONITOR_ERROR;
        rc = finish(kt, VCPU_ERROR, stop);
        goto out;
    }
    kt->m->single_stepping = true;
    for (;;) {
        enum vcpu_stop s = vcpu_loop(kt->m);
        if (s == VCPU_MMIO) {
            int h = handle_watched_access(kt);
            if (h >= 0 && hit < 0)
                hit = h;
            if (finish_instruction(kt, &hit) < 0) {
                ukvm_err("could not complete a watched access (rip 0x%llx)",
                        (unsigned long long)rip_now(kt));
                kt->m->exit_status = UKVM_EXIT_MONITOR_ERROR;
                rc = finish(kt, VCPU_ERROR, stop);
                goto out;
            }
            stop_with(stop, UKVM_STOP_STEP);
            break;
        }
        if (s == VCPU_INTERRUPTED) {
            kt->m->vm.run->immediate_exit = 0;
            continue; /* a step is short: finish it */
        }
        if (s == VCPU_DEBUG) {
            stop_with(stop, UKVM_STOP_STEP);
            break;
        }
        if (s == VCPU_STOP_PENDING) {
            if (!take_pending_watch(kt, stop))
                stop_with(stop, UKVM_STOP_STEP);
            break;
        }
        if (s == VCPU_HLT) { /* stepped onto a planted breakpoint's hlt? */
            set_rip(kt, rip_now(kt) - 1);
            stop_with(stop, UKVM_STOP_STEP);
            break;
        }
        rc = finish(kt, s, stop);
        goto out;
    }
    if (hit >= 0) {
        stop_with(stop, UKVM_STOP_WATCH);
        stop->watch_type = kt->watch[hit].type;
        stop->watch_addr = kt->watch[hit].addr;
    }
out:
    kt->m->single_stepping = false;
    if (bp && sw_bp_at(kt, rip) == bp)
        kt->m->vm.mem[bp->gpa] = 0xf4;
    return rc;
}

static volatile sig_atomic_t tick_due;
static struct kvm_run *volatile tick_run;

static void on_tick(int sig)
{
    (void)sig;
    tick_due = 1;
    if (tick_run)
        tick_run->immediate_exit = 1;
}

/* Arm (or disarm, interval 0) the periodic tick of a continue. The timer
 * signals the vCPU thread itself (SIGEV_THREAD_ID): a signal that landed on
 * the gdb server's watcher thread would not make KVM_RUN return. */
static void tick_timer(struct kvm_target *kt, uint64_t interval_us)
{
    static bool created;
    static timer_t timer;
    if (!created) {
        if (!interval_us)
            return;
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_tick;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
        struct sigevent sev;
        memset(&sev, 0, sizeof(sev));
        sev.sigev_notify = SIGEV_THREAD_ID;
        sev.sigev_signo = SIGALRM;
        sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
        if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0)
            return; /* no periodic checkpoints: reverse steps just take longer */
        created = true;
    }
    tick_run = kt->m->vm.run;
    struct itimerspec its = {
        .it_interval = { 0, 0 },
        .it_value = { (time_t)(interval_us / 1000000), (long)(interval_us % 1000000) * 1000 },
    };
    timer_settime(timer, 0, &its, NULL);
}

int kvm_target_continue(struct kvm_target *kt, struct ukvm_stop *stop)
{
    kt->ticked = false;
    tick_due = 0;
    int rc = kvm_target_continue_untimed(kt, stop);
    if (kt->tick_interval_us)
        tick_timer(kt, 0);
    return rc;
}

static int kvm_target_continue_untimed(struct kvm_target *kt, struct ukvm_stop *stop)
{
    if (kt->dead) {
        *stop = kt->dead_stop;
        return 0;
    }
    /* Leave a breakpoint we are sitting on with one exact step. */
    uint64_t rip = rip_now(kt);
    if (sw_bp_at(kt, rip) || hw_bp_at(kt, rip)) {
        if (kvm_target_step(kt, stop) < 0)
            return -1;
        if (stop->reason != UKVM_STOP_STEP)
            return 0;
        if (kvm_target_bp_stop(kt, stop))
            return 0;
    }
    kt->m->vm.run->immediate_exit = 0;
    if (apply_layout(kt) < 0 || set_guest_debug(kt, false, ~0ULL) < 0) {
        ukvm_err("cannot set up the debug registers: %s", strerror(errno));
        kt->m->exit_status = UKVM_EXIT_MONITOR_ERROR;
        return finish(kt, VCPU_ERROR, stop);
    }
    if (kt->tick_interval_us)
        tick_timer(kt, kt->tick_interval_us);
    for (;;) {
        if (kt->interrupt_requested) {
            kt->interrupt_requested = 0;
            kt->m->vm.run->immediate_exit = 0;
            stop_with(stop, UKVM_STOP_INTERRUPT);
            return 0;
        }
        enum vcpu_stop s = vcpu_loop(kt->m);
        switch (s) {
        case VCPU_HALTED:
        case VCPU_ERROR:
            return finish(kt, s, stop);
        case VCPU_HLT: {
            uint64_t at = rip_now(kt) - 1;
            if (sw_bp_at(kt, at)) {
                set_rip(kt, at);
                stop_with(stop, UKVM_STOP_SWBREAK);
                return 0;
            }
            ukvm_err("guest executed hlt with nothing to wake it (rip 0x%llx)",
                    (unsigned long long)at);
            kt->m->exit_status = UKVM_EXIT_MONITOR_ERROR;
            return finish(kt, VCPU_ERROR, stop);
        }
        case VCPU_DEBUG: {
            struct kvm_debug_exit_arch *d = &kt->m->vm.run->debug.arch;
            if (d->dr6 & 0xf) {
                stop_with(stop, UKVM_STOP_HWBREAK);
                return 0;
            }
            continue; /* a stale single-step trap */
        }
        case VCPU_MMIO: {
            int h = handle_watched_access(kt);
            if (h < 0)
                continue; /* not ours: the next KVM_RUN completes it */
            if (finish_instruction(kt, &h) < 0) {
                ukvm_err("could not complete a watched access (rip 0x%llx)",
                        (unsigned long long)rip_now(kt));
                kt->m->exit_status = UKVM_EXIT_MONITOR_ERROR;
                return finish(kt, VCPU_ERROR, stop);
            }
            stop_with(stop, UKVM_STOP_WATCH);
            stop->watch_type = kt->watch[h].type;
            stop->watch_addr = kt->watch[h].addr;
            return 0;
        }
        case VCPU_STOP_PENDING: {
            /* complete the hypercall's `out` (KVM may still owe it) */
            int unused = -1;
            if (finish_instruction(kt, &unused) < 0) {
                ukvm_err("could not complete the instruction before a watch stop (rip 0x%llx)",
                        (unsigned long long)rip_now(kt));
                kt->m->exit_status = UKVM_EXIT_MONITOR_ERROR;
                return finish(kt, VCPU_ERROR, stop);
            }
            if (take_pending_watch(kt, stop))
                return 0;
            continue;
        }
        case VCPU_INTERRUPTED:
            kt->m->vm.run->immediate_exit = 0;
            if (ukvm_stop_signal)
                kt->interrupt_requested = 1;
            if (tick_due && !kt->interrupt_requested) {
                /* KVM_RUN completed any pending I/O before returning: this
                 * is a clean place to stop */
                tick_due = 0;
                kt->ticked = true;
                stop_with(stop, UKVM_STOP_INTERRUPT);
                return 0;
            }
            continue;
        }
    }
}

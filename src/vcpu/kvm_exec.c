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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "vcpu/bp_cond.h"
#include "vcpu/kvm_exec.h"
#include "vcpu/step_guard.h"
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

/* Carve the watched ranges out of the memory slots (watches removed but
 * kept as ghosts, see remove_watch in kvm_points.c, are dropped here when
 * the layout fits without them). */
static int apply_layout(struct kvm_target *kt)
{
    if (!kt->layout_dirty)
        return 0;
    kvm_target_drop_ghosts(kt);
    struct prot_run *runs;
    long n = watch_set_runs(&kt->watches, NULL, -1, true, &runs);
    if (n < 0)
        return -1;
    char err[256];
    int r = memslots_apply(&kt->m->vm, runs, (size_t)n, err, sizeof(err));
    free(runs);
    if (r < 0) {
        ukvm_err("%s", err);
        return -1;
    }
    kt->m->mmio_to_caller = n > 0;
    kt->layout_dirty = false;
    return 0;
}

/* A store into the kernel's text is a host/guest translation fault, as
 * without a debugger: a watchpoint must not let it through. */
static bool store_into_text(struct kvm_target *kt)
{
    struct kvm_run *run = kt->m->vm.run;
    if (!run->mmio.is_write || !kvm_target_host_protected(kt, run->mmio.phys_addr))
        return false;
    ukvm_err("host/guest translation fault: guest wrote to protected memory at 0x%llx "
            "(rip 0x%llx)", (unsigned long long)run->mmio.phys_addr,
            (unsigned long long)vm_regs(&kt->m->vm)->rip);
    kt->m->exit_status = UKVM_EXIT_MONITOR_ERROR;
    return true;
}

/* The first watchpoint an instruction hit, and its watched accesses. */
struct watch_hit {
    bool hit;
    enum ukvm_bp_type type;
    uint64_t addr;
    struct access_list access;
};

/* A watch stop: report the hit, and keep its accesses for the replay's
 * anchor counting (kvm_target_stop_hits_watch). */
static void report_watch(struct kvm_target *kt, const struct watch_hit *h, struct ukvm_stop *stop)
{
    memset(stop, 0, sizeof(*stop));
    stop->reason = UKVM_STOP_WATCH;
    stop->watch_type = h->type;
    stop->watch_addr = h->addr;
    kt->last_access = h->access;
}

/* Complete an access to a watched page for KVM; a watchpoint it hits goes
 * into *hit unless one is there already. -1: a store into text (the
 * guest's end, reported), else 0. */
static int handle_watched_access(struct kvm_target *kt, struct watch_hit *hit)
{
    if (store_into_text(kt))
        return -1;
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
    const struct watch *w = watch_set_hit(&kt->watches, gpa, len, write);
    if (w && !hit->hit) {
        hit->hit = true;
        hit->type = w->type;
        hit->addr = w->addr;
    }
    if (w)
        access_list_add(&hit->access, gpa, len, write);
    return 0;
}

/*
 * Let KVM finish the instruction whose access to a watched page exited,
 * without executing anything after it: KVM_RUN with immediate_exit completes
 * pending MMIO before it returns (further accesses of the same instruction
 * come back as MMIO exits first). A single-step trap is not used for this:
 * some KVMs (this machine's) lose the trap after an MMIO exit and stop one
 * instruction late. Returns 0, -1 on an unexpected exit, or -2 for a store
 * into text (reported).
 */
static int finish_instruction(struct kvm_target *kt, struct watch_hit *hit)
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
            if (handle_watched_access(kt, hit) < 0)
                return -2;
            continue;
        }
        return -1;
    }
    return -1;
}

void kvm_target_settle(struct kvm_target *kt)
{
    struct watch_hit unused = { .hit = false };
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
    if (!kt->pending_hit)
        return false;
    kt->pending_hit = false;
    kt->last_access = kt->pending_access; /* the monitor's accesses, as an instruction's */
    kt->pending_access.n = 0;
    stop_with(stop, UKVM_STOP_WATCH);
    stop->watch_type = kt->pending.type;
    stop->watch_addr = kt->pending.addr;
    return true;
}

/* The guest is done (exited, or the monitor stopped it). */
static int finish(struct kvm_target *kt, enum vcpu_stop s, struct ukvm_stop *stop)
{
    if (s == VCPU_HALTED) {
        stop_with(stop, UKVM_STOP_EXITED);
        stop->exit_status = kt->m->exit_status;
    } else { /* a replay's caller tells the end of its events from a failure */
        stop_with(stop, UKVM_STOP_FAULT);
    }
    kt->dead = true;
    kt->dead_stop = *stop;
    return 0;
}

/* The monitor cannot go on: one line saying why, and the guest ends as a
 * monitor error. */
static int monitor_failure(struct kvm_target *kt, struct ukvm_stop *stop, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int monitor_failure(struct kvm_target *kt, struct ukvm_stop *stop, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ukvm_err("%s", line);
    kt->m->exit_status = UKVM_EXIT_MONITOR_ERROR;
    return finish(kt, VCPU_ERROR, stop);
}

struct run_state;
static int run_untimed(struct kvm_target *kt, struct run_state *rs, struct ukvm_stop *stop);

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

bool kvm_target_bp_stop(struct kvm_target *kt, struct ukvm_stop *stop)
{
    uint64_t rip = rip_now(kt);
    if (kvm_target_sw_at(kt, rip))
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
        return monitor_failure(kt, stop,
                "guest error: string I/O on port 0x%x is not a hypercall (rip 0x%llx)", port,
                (unsigned long long)rip);
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

static int step_once(struct kvm_target *kt, struct ukvm_stop *stop);
static int finish_rep_string(struct kvm_target *kt, uint64_t rip, struct ukvm_stop *stop);

/*
 * One step is one whole instruction, a rep string instruction included.
 * KVMs disagree on how many of its iterations one single-step trap covers
 * (the hardware traps after each; an emulating KVM after a batch), and a
 * watched page splits it into one exit per access: a step count that
 * depended on either would name different moments on different KVMs, or
 * with and without a watchpoint armed. A watch hit inside it is reported
 * once, after the instruction, as for any other instruction.
 */
int kvm_target_step(struct kvm_target *kt, struct ukvm_stop *stop)
{
    uint64_t rip = rip_now(kt);
    int rc = step_once(kt, stop);
    if (rc != 0)
        return rc;
    return finish_rep_string(kt, rip, stop);
}

/* What KVM's single-step does once (or the monitor for an event's
 * instruction); inside a rep string instruction, part of it. */
static int step_once(struct kvm_target *kt, struct ukvm_stop *stop)
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
        return monitor_failure(kt, stop, "cannot read the instruction at rip 0x%llx",
                (unsigned long long)rip);
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
        return monitor_failure(kt, stop, "guest executed hlt with nothing to wake it (rip 0x%llx)",
                (unsigned long long)rip);
    }

    struct sw_bp *bp = kvm_target_sw_at(kt, rip);
    uint64_t bp_gpa = bp ? bp->gpa : 0;
    if (bp)
        kt->m->vm.mem[bp->gpa] = bp->orig;
    struct watch_hit hit = { .hit = false };
    int rc = 0;
    struct step_guard guard;
    guard.n = 0;
    if (apply_layout(kt) < 0 || set_guest_debug(kt, true, rip) < 0) {
        rc = monitor_failure(kt, stop, "cannot set up single-step: %s", strerror(errno));
        goto out;
    }
    kt->m->single_stepping = true;
    step_guard_arm(kt, &guard, insn, (size_t)got);
    for (;;) {
        enum vcpu_stop s = vcpu_loop(kt->m);
        if (s == VCPU_MMIO) {
            int fr = handle_watched_access(kt, &hit) < 0 ? -2 : finish_instruction(kt, &hit);
            if (fr == -2) {
                rc = finish(kt, VCPU_ERROR, stop);
                goto out;
            }
            if (fr < 0) {
                rc = monitor_failure(kt, stop, "could not complete a watched access (rip 0x%llx)",
                        (unsigned long long)rip_now(kt));
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
            if (!step_guard_caught(kt, &guard, false))
                step_guard_after(kt, &guard);
            /* an instruction the monitor completed for KVM (SSE) accessed a
             * watched range: the step's stop is that watch, here, not at
             * some later stop */
            if (!kt->m->stop_pending || !take_pending_watch(kt, stop))
                stop_with(stop, UKVM_STOP_STEP);
            break;
        }
        if (s == VCPU_STOP_PENDING) {
            if (!take_pending_watch(kt, stop))
                stop_with(stop, UKVM_STOP_STEP);
            break;
        }
        if (s == VCPU_HLT) { /* an exception's delivery, or a planted breakpoint */
            if (step_guard_caught(kt, &guard, true)) {
                stop_with(stop, UKVM_STOP_STEP);
                break;
            }
            set_rip(kt, rip_now(kt) - 1);
            stop_with(stop, UKVM_STOP_STEP);
            break;
        }
        rc = finish(kt, s, stop);
        goto out;
    }
    if (hit.hit)
        report_watch(kt, &hit, stop);
out:
    step_guard_disarm(kt, &guard);
    kt->m->single_stepping = false;
    if (bp && kvm_target_planted(kt, bp_gpa))
        kt->m->vm.mem[bp_gpa] = 0xf4;
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

/* One continue: its stops, and how far it got. */
struct run_state {
    const struct ukvm_run_opts *o;
    bool timer_armed;
    bool ticked;
};

int kvm_target_run(struct kvm_target *kt, const struct ukvm_run_opts *o, struct ukvm_stop *stop,
        bool *ticked)
{
    struct run_state rs = { .o = o };
    tick_due = 0;
    int rc = run_untimed(kt, &rs, stop);
    if (o->tick_us)
        tick_timer(kt, 0);
    if (ticked)
        *ticked = rs.ticked;
    return rc;
}

int kvm_target_continue(struct kvm_target *kt, struct ukvm_stop *stop)
{
    static const struct ukvm_run_opts live = { .tick_us = 0, .cond_filter = true };
    return kvm_target_run(kt, &live, stop, NULL);
}

/* Is the breakpoint stop at rip one? Not when gdb gave it a condition
 * that is false now (bp_cond.h): the continue then goes on, no round trip. */
static bool bp_stop_wanted(struct kvm_target *kt, const struct run_state *rs)
{
    return !rs->o->cond_filter || bp_condition_holds(kt, rip_now(kt));
}

bool kvm_target_on_rep_string(struct kvm_target *kt)
{
    uint8_t insn[15];
    long got = kvm_target_read_mem(&kt->base, rip_now(kt), insn, sizeof(insn));
    return got > 0 && ukvm_scan_is_rep_string(insn, (size_t)got);
}

bool kvm_target_on_event_insn(struct kvm_target *kt)
{
    uint64_t rip = rip_now(kt);
    if (!kt->m->cfg->no_patch && intercept_find(kt->m, rip))
        return true;
    uint8_t insn[15];
    size_t len = 0;
    long got = kvm_target_read_mem(&kt->base, rip, insn, sizeof(insn));
    return got > 0 && ukvm_scan_is_hypercall_out(insn, (size_t)got, &len) && len > 0;
}

/* After a step or a watch hit that left rip on the rep string instruction
 * at rip, between two of its iterations: run the rest of it, so that the
 * stop comes after the whole instruction (see kvm_target_step). The stop
 * stays a watch stop if it was one, or becomes the first that the rest
 * hits; a stop of another kind (a fault) ends it. */
static int finish_rep_string(struct kvm_target *kt, uint64_t rip, struct ukvm_stop *stop)
{
    if (kt->dead || rip_now(kt) != rip ||
            (stop->reason != UKVM_STOP_STEP && stop->reason != UKVM_STOP_WATCH) ||
            !kvm_target_on_rep_string(kt))
        return 0;
    struct ukvm_stop first = *stop;
    struct access_list access = first.reason == UKVM_STOP_WATCH
        ? kt->last_access : (struct access_list){ .n = 0 };
    while (rip_now(kt) == rip) {
        int rc = step_once(kt, stop);
        if (rc != 0 || kt->dead ||
                (stop->reason != UKVM_STOP_STEP && stop->reason != UKVM_STOP_WATCH))
            return rc;
        if (stop->reason != UKVM_STOP_WATCH)
            continue;
        if (first.reason != UKVM_STOP_WATCH)
            first = *stop;
        for (size_t i = 0; i < kt->last_access.n; i++) /* every watch it hit */
            access_list_add(&access, kt->last_access.a[i].gpa, kt->last_access.a[i].len,
                    kt->last_access.a[i].write);
    }
    *stop = first;
    kt->last_access = access;
    return 0;
}

/* run_once's "run again": a breakpoint hit whose stop is not wanted (its
 * condition is false). */
#define RUN_AGAIN 1

/* One run of a continue: leave the breakpoint we sit on, run to a stop. */
static int run_once(struct kvm_target *kt, struct run_state *rs, struct ukvm_stop *stop)
{
    /* Leave a breakpoint we are sitting on with one exact step. */
    uint64_t rip = rip_now(kt);
    if (kvm_target_sw_at(kt, rip) || hw_bp_at(kt, rip)) {
        sig_atomic_t asked = kt->interrupt_requested; /* the step forgets it */
        if (kvm_target_step(kt, stop) < 0)
            return -1;
        if (asked)
            kt->interrupt_requested = 1;
        if (stop->reason != UKVM_STOP_STEP)
            return 0;
        if (kvm_target_bp_stop(kt, stop))
            return bp_stop_wanted(kt, rs) ? 0 : RUN_AGAIN;
        if (rs->timer_armed && tick_due) { /* a periodic stop fell during the step */
            tick_due = 0;
            rs->ticked = true;
            stop_with(stop, UKVM_STOP_INTERRUPT);
            return 0;
        }
    }
    kt->m->vm.run->immediate_exit = 0;
    if (apply_layout(kt) < 0 || set_guest_debug(kt, false, ~0ULL) < 0)
        return monitor_failure(kt, stop, "cannot set up the debug registers: %s",
                strerror(errno));
    if (rs->o->tick_us && !rs->timer_armed) {
        tick_timer(kt, rs->o->tick_us);
        rs->timer_armed = true;
    }
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
            if (kvm_target_sw_at(kt, at)) {
                set_rip(kt, at);
                if (!bp_stop_wanted(kt, rs))
                    return RUN_AGAIN;
                stop_with(stop, UKVM_STOP_SWBREAK);
                return 0;
            }
            return monitor_failure(kt, stop,
                    "guest executed hlt with nothing to wake it (rip 0x%llx)",
                    (unsigned long long)at);
        }
        case VCPU_DEBUG: {
            struct kvm_debug_exit_arch *d = &kt->m->vm.run->debug.arch;
            if (d->dr6 & 0xf) {
                if (!bp_stop_wanted(kt, rs))
                    return RUN_AGAIN;
                stop_with(stop, UKVM_STOP_HWBREAK);
                return 0;
            }
            continue; /* a stale single-step trap */
        }
        case VCPU_MMIO: {
            struct watch_hit h = { .hit = false };
            if (handle_watched_access(kt, &h) < 0)
                return finish(kt, VCPU_ERROR, stop);
            if (!h.hit)
                continue; /* not ours: the next KVM_RUN completes it */
            int fr = finish_instruction(kt, &h);
            if (fr == -2)
                return finish(kt, VCPU_ERROR, stop);
            if (fr < 0) {
                return monitor_failure(kt, stop, "could not complete a watched access (rip 0x%llx)",
                        (unsigned long long)rip_now(kt));
            }
            report_watch(kt, &h, stop);
            return finish_rep_string(kt, rip_now(kt), stop);
        }
        case VCPU_STOP_PENDING: {
            /* complete the hypercall's `out` (KVM may still owe it) */
            struct watch_hit unused = { .hit = false };
            int fr = finish_instruction(kt, &unused);
            if (fr == -2)
                return finish(kt, VCPU_ERROR, stop);
            if (fr < 0) {
                return monitor_failure(kt, stop,
                        "could not complete the instruction before a watch stop (rip 0x%llx)",
                        (unsigned long long)rip_now(kt));
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
                rs->ticked = true;
                stop_with(stop, UKVM_STOP_INTERRUPT);
                return 0;
            }
            continue;
        }
    }
}

static int run_untimed(struct kvm_target *kt, struct run_state *rs, struct ukvm_stop *stop)
{
    if (kt->dead) {
        *stop = kt->dead_stop;
        return 0;
    }
    int r;
    while ((r = run_once(kt, rs, stop)) == RUN_AGAIN)
        ;
    return r;
}

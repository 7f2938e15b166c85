/*
 * struct ukvm_target over a KVM guest (kvm_target.h): its operations, put
 * together from the state (kvm_points.c), execution (kvm_exec.c) and
 * breakpoint conditions (bp_cond.c), and its set-up over a monitor.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "vcpu/bp_cond.h"
#include "vcpu/gdb_monitor_cmd.h"
#include "vcpu/kvm_exec.h"
#include "vcpu/kvm_target.h"

static struct kvm_target *kt_of(struct ukvm_target *t)
{
    return (struct kvm_target *)t;
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
    .monitor = monitor_cmd_live,
    .set_bp_conditions = kvm_target_set_bp_conditions,
};

static void on_sigusr1(int sig)
{
    (void)sig; /* only there to make KVM_RUN and ppoll return EINTR */
}

/* The monitor accessed guest memory for the guest (a hypercall's results,
 * an instruction it completed): a watchpoint on it fires once the
 * instruction is complete, as it would for the guest's own access. */
static void monitor_accessed(struct monitor *m, uint64_t gpa, uint64_t len, bool write)
{
    struct kvm_target *kt = m->debugger;
    const struct watch *w = watch_set_hit(&kt->watches, gpa, len, write);
    if (!w)
        return;
    /* the stop names the first watch hit; every watch any of these
     * accesses hit stays known (kvm_target_stop_hits_watch) */
    access_list_add(&kt->pending_access, gpa, len, write);
    if (kt->pending_hit)
        return;
    kt->pending = *w;
    kt->pending_hit = true;
    m->stop_pending = true;
}

static void monitor_wrote(struct monitor *m, uint64_t gpa, uint64_t len)
{
    monitor_accessed(m, gpa, len, true);
}

static void monitor_read(struct monitor *m, uint64_t gpa, uint64_t len)
{
    monitor_accessed(m, gpa, len, false);
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
    m->is_breakpoint = kvm_target_hlt_is_breakpoint;
    m->guest_written = monitor_wrote;
    m->guest_read = monitor_read;
    kt->vcpu_thread = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}

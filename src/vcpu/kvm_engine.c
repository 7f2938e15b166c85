/*
 * The engine over a KVM vCPU (kvm_engine.h): the timeline's operations
 * (engine.h) mapped onto the KVM target's execution, points and state,
 * and the monitor's checkpoints with the planted breakpoint bytes taken out.
 */
#include "record/checkpoint.h"
#include "vcpu/bp_cond.h"
#include "vcpu/kvm_engine.h"

static struct kvm_target *kt_of(struct ukvm_engine *e)
{
    return ((struct kvm_engine *)e)->kt;
}

static int step(struct ukvm_engine *e, struct ukvm_stop *stop)
{
    return kvm_target_step(kt_of(e), stop);
}

static int run(struct ukvm_engine *e, const struct ukvm_run_opts *o, struct ukvm_stop *stop,
        bool *ticked)
{
    return kvm_target_run(kt_of(e), o, stop, ticked);
}

static bool bp_stop(struct ukvm_engine *e, struct ukvm_stop *stop)
{
    return kvm_target_bp_stop(kt_of(e), stop);
}

static void settle(struct ukvm_engine *e)
{
    kvm_target_settle(kt_of(e));
}

static bool on_rep_string(struct ukvm_engine *e)
{
    return kvm_target_on_rep_string(kt_of(e));
}

static bool on_event_insn(struct ukvm_engine *e)
{
    return kvm_target_on_event_insn(kt_of(e));
}

static int arm(struct ukvm_engine *e, enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    return kvm_target_insert_bp(&kt_of(e)->base, type, addr, len);
}

static int disarm(struct ukvm_engine *e, enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    return kvm_target_remove_bp(&kt_of(e)->base, type, addr, len);
}

static void disarm_all(struct ukvm_engine *e)
{
    kvm_target_clear_all(kt_of(e));
}

static bool stop_hits_watch(struct ukvm_engine *e, enum ukvm_bp_type type, uint64_t addr)
{
    return kvm_target_stop_hits_watch(kt_of(e), type, addr);
}

static bool condition_holds(struct ukvm_engine *e, uint64_t addr)
{
    return bp_condition_holds(kt_of(e), addr);
}

static uint64_t cond_skips(struct ukvm_engine *e, uint64_t addr)
{
    return bp_cond_skips(kt_of(e), addr);
}

static void reset_skips(struct ukvm_engine *e)
{
    bp_cond_reset_skips(kt_of(e));
}

static struct kvm_regs *regs(struct ukvm_engine *e)
{
    return vm_regs(&kt_of(e)->m->vm);
}

static void regs_changed(struct ukvm_engine *e)
{
    vm_regs_changed(&kt_of(e)->m->vm);
}

static uint64_t stack_digest(struct ukvm_engine *e, uint64_t rsp)
{
    return checkpoint_stack_digest(kt_of(e)->m, rsp);
}

static struct ukvm_event_source *swap_source(struct ukvm_engine *e,
        struct ukvm_event_source *src)
{
    struct monitor *m = kt_of(e)->m;
    struct ukvm_event_source *old = m->src;
    m->src = src;
    return old;
}

static bool finished(struct ukvm_engine *e, struct ukvm_stop *how)
{
    struct kvm_target *kt = kt_of(e);
    if (kt->dead && how)
        *how = kt->dead_stop;
    return kt->dead;
}

static void set_finished(struct ukvm_engine *e, const struct ukvm_stop *how)
{
    struct kvm_target *kt = kt_of(e);
    kt->dead = how != NULL;
    if (how)
        kt->dead_stop = *how;
}

static bool interrupt_asked(struct ukvm_engine *e)
{
    return kt_of(e)->interrupt_requested;
}

static void clear_interrupt(struct ukvm_engine *e)
{
    kt_of(e)->interrupt_requested = 0;
}

/* The bytes under planted breakpoints go into checkpoint page copies, not
 * the planted hlt (checkpoint_clean_fn; ctx: the kvm_target). */
static void clean_page(void *ctx, uint64_t pfn, uint8_t *page)
{
    struct kvm_target *kt = ctx;
    for (size_t i = 0; i < kt->n_sw; i++)
        if (kt->sw[i].gpa >> 12 == pfn)
            page[kt->sw[i].gpa & 0xfff] = kt->sw[i].orig;
}

static int cp_init(struct ukvm_engine *e, struct checkpoint_stack *st, uint64_t initial_end,
        char *err, size_t errlen)
{
    struct kvm_target *kt = kt_of(e);
    return checkpoint_init(st, kt->m, initial_end, clean_page, kt, err, errlen);
}

static int cp_push(struct ukvm_engine *e, struct checkpoint_stack *st, char *err, size_t errlen)
{
    struct kvm_target *kt = kt_of(e);
    return checkpoint_push(st, kt->m, clean_page, kt, err, errlen);
}

/* KVM completes an I/O exit (steps past the `out`) only at the next
 * KVM_RUN, and only if rip is still on that instruction: a checkpoint at
 * the same `out` (an earlier iteration of a loop) would have its own `out`
 * skipped, its event never served. So what the last exit still owes is
 * settled first, onto the state about to be replaced. */
static int cp_restore(struct ukvm_engine *e, struct checkpoint_stack *st, size_t i, char *err,
        size_t errlen)
{
    kvm_target_settle(kt_of(e));
    return checkpoint_restore(st, kt_of(e)->m, i, err, errlen);
}

static int cp_pop(struct ukvm_engine *e, struct checkpoint_stack *st)
{
    return checkpoint_pop(st, kt_of(e)->m);
}

static const struct ukvm_engine_ops kvm_engine_ops = {
    .step = step,
    .run = run,
    .bp_stop = bp_stop,
    .settle = settle,
    .on_rep_string = on_rep_string,
    .on_event_insn = on_event_insn,
    .arm = arm,
    .disarm = disarm,
    .disarm_all = disarm_all,
    .stop_hits_watch = stop_hits_watch,
    .condition_holds = condition_holds,
    .cond_skips = cond_skips,
    .reset_skips = reset_skips,
    .regs = regs,
    .regs_changed = regs_changed,
    .stack_digest = stack_digest,
    .swap_source = swap_source,
    .finished = finished,
    .set_finished = set_finished,
    .interrupt_asked = interrupt_asked,
    .clear_interrupt = clear_interrupt,
    .checkpoint_init = cp_init,
    .checkpoint_push = cp_push,
    .checkpoint_restore = cp_restore,
    .checkpoint_pop = cp_pop,
};

void kvm_engine_init(struct kvm_engine *ke, struct kvm_target *kt)
{
    ke->base.ops = &kvm_engine_ops;
    ke->base.target = &kt->base;
    ke->kt = kt;
}

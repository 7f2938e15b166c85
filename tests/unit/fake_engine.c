/*
 * The fake engine (fake_engine.h): the engine operations (vcpu/engine.h)
 * over a tiny deterministic machine, and the record and monitor functions
 * the replay timeline calls directly. Linked instead of libukvm
 * (tests/unit/module.mk), so that a function the timeline needs and this
 * file lacks is a link error, never the real one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_engine.h"
#include "record/checkpoint.h"
#include "record/replayer.h"
#include "replay/replay_target.h"
#include "vcpu/engine.h"
#include "monitor/signals.h"

#define MAX_POINTS 32

struct fake_watch {
    enum ukvm_bp_type type;
    uint64_t addr, len;
};

struct fake_cond {
    uint64_t addr;
    fake_cond_fn holds;
    uint64_t skipped;           /* false arrivals since the last reset */
};

/* A checkpoint: the timeline sees the struct checkpoint, the fake keeps
 * the whole machine state beside it. */
struct fake_checkpoint {
    struct checkpoint cp;
    struct fake_state state;
};

static struct {
    struct fake_program prog;
    struct fake_state s;
    struct ukvm_engine engine;
    struct ukvm_target target;
    struct ukvm_event_source src;
    struct replay_setup setup;
    bool dead;                      /* finished, with dead_stop to report */
    struct ukvm_stop dead_stop;
    volatile sig_atomic_t interrupt;
    /* the replayer */
    uint64_t stop_before;           /* replayer_watch's (UINT64_MAX: never) */
    bool reached_end;
    uint64_t end_rip;
    bool hold_halt, halt_released;  /* the final halt's stop (replayer.h) */
    /* armed points */
    uint64_t sw[MAX_POINTS];
    size_t n_sw;
    struct fake_watch w[MAX_POINTS];
    size_t n_w;
    struct fake_effect last;        /* the access of the last watch stop */
    struct fake_cond cond[MAX_POINTS];
    size_t n_cond;
    /* the clock, knobs */
    uint64_t executed;
    uint64_t irq_after;             /* instructions continued until the user's interrupt */
    unsigned errors;
} fake;

volatile sig_atomic_t ukvm_stop_signal;

static const struct ukvm_engine_ops fake_engine_ops;
static const struct ukvm_target_ops fake_target_ops;

static __u64 *reg(struct kvm_regs *r, int n)
{
    switch (n) {
    case R_AX: return &r->rax;
    case R_BX: return &r->rbx;
    case R_CX: return &r->rcx;
    case R_DX: return &r->rdx;
    case R_SI: return &r->rsi;
    default: return &r->rdi;
    }
}

struct fake_effect fake_exec(const struct fake_program *p, struct fake_state *s)
{
    struct fake_effect e = { .end = false };
    uint64_t i = (s->regs.rip - FAKE_BASE) / 4;
    if (s->regs.rip < FAKE_BASE || i >= (uint64_t)p->n) {
        e.end = true; /* off the program: treated as the end */
        return e;
    }
    const struct fake_insn *in = &p->insn[i];
    __u64 *r = reg(&s->regs, in->reg);
    uint64_t next = s->regs.rip + 4;
    switch (in->op) {
    case FOP_NOP:
        break;
    case FOP_MOVI:
        *r = in->imm;
        break;
    case FOP_ADDI:
        *r += in->imm;
        break;
    case FOP_STORE:
        memcpy(s->mem + in->addr, r, 8);
        e.wrote = true;
        e.addr = in->addr;
        e.len = 8;
        break;
    case FOP_LOAD:
        memcpy(r, s->mem + in->addr, 8);
        e.read = true;
        e.addr = in->addr;
        e.len = 8;
        break;
    case FOP_LOOP:
        if (--*r != 0)
            next = FAKE_BASE + 4 * (uint64_t)in->target;
        break;
    case FOP_EVENT:
        if (s->next_event >= p->n_events) {
            e.end = true;
            return e;
        }
        s->regs.rax += p->events[s->next_event++];
        break;
    case FOP_HALT:
        e.end = true;
        return e;
    }
    s->regs.rip = next;
    return e;
}

bool fake_state_equal(const struct fake_state *a, const struct fake_state *b)
{
    return memcmp(&a->regs, &b->regs, sizeof(a->regs)) == 0 &&
        memcmp(a->mem, b->mem, sizeof(a->mem)) == 0 && a->next_event == b->next_event;
}

void fake_reset(const struct fake_program *p)
{
    memset(&fake, 0, sizeof(fake));
    fake.prog = *p;
    fake.s.regs.rip = FAKE_BASE;
    fake.stop_before = UINT64_MAX;
    fake.engine.ops = &fake_engine_ops;
    fake.engine.target = &fake.target;
    fake.target.ops = &fake_target_ops;
    fake.target.exec_file_name = "fake";
    fake.setup.src = &fake.src;
    ukvm_stop_signal = 0;
}

struct ukvm_engine *fake_engine(void)
{
    return &fake.engine;
}

const struct replay_setup *fake_setup(void)
{
    return &fake.setup;
}

struct fake_state *fake_now(void)
{
    return &fake.s;
}

void fake_interrupt_after(uint64_t n)
{
    fake.irq_after = n;
}

unsigned fake_errors(void)
{
    return fake.errors;
}

/* ---- monitor ---- */

void ukvm_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ukvm: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fake.errors++;
}

/* One microsecond of guest run time per instruction executed. */
uint64_t ukvm_now_ns(void)
{
    return fake.executed * 1000;
}

/* ---- the replayer ---- */

uint64_t replayer_next_event(const struct ukvm_event_source *src)
{
    (void)src;
    return fake.s.next_event;
}

uint64_t replayer_end_rip(const struct ukvm_event_source *src)
{
    (void)src;
    return fake.end_rip;
}

bool replayer_reached_end(const struct ukvm_event_source *src)
{
    (void)src;
    return fake.reached_end;
}

void replayer_clear_end(struct ukvm_event_source *src)
{
    (void)src;
    fake.reached_end = false;
}

void replayer_hold_halt(struct ukvm_event_source *src)
{
    (void)src;
    fake.hold_halt = true;
}

void fake_release_halt(void)
{
    fake.halt_released = true;
}

void replayer_describe_debugger(struct ukvm_event_source *src,
        void (*fn)(void *ctx, char *buf, size_t len), void *ctx)
{
    (void)src;
    (void)fn;
    (void)ctx;
}

void replayer_watch(struct ukvm_event_source *src, uint64_t stop_before,
        void (*fn)(void *ctx, uint64_t number), void *ctx)
{
    (void)src;
    (void)fn;
    (void)ctx;
    fake.stop_before = stop_before;
}

/* ---- breakpoint conditions (as bp_cond.c keeps them) ---- */

static struct fake_cond *cond_at(uint64_t addr)
{
    for (size_t i = 0; i < fake.n_cond; i++)
        if (fake.cond[i].addr == addr)
            return &fake.cond[i];
    return NULL;
}

void fake_set_condition(uint64_t addr, fake_cond_fn holds)
{
    struct fake_cond *c = cond_at(addr);
    if (c && !holds) {
        *c = fake.cond[--fake.n_cond];
        return;
    }
    if (!holds)
        return;
    if (!c) {
        if (fake.n_cond == MAX_POINTS)
            return;
        c = &fake.cond[fake.n_cond++];
    }
    *c = (struct fake_cond){ .addr = addr, .holds = holds };
}

/* No condition, or one that holds now; a false one counts a skip. */
static bool cond_holds_now(uint64_t addr)
{
    struct fake_cond *c = cond_at(addr);
    if (!c || c->holds(&fake.s))
        return true;
    c->skipped++;
    return false;
}

static bool condition_holds(struct ukvm_engine *e, uint64_t addr)
{
    (void)e;
    return cond_holds_now(addr);
}

static uint64_t cond_skips(struct ukvm_engine *e, uint64_t addr)
{
    (void)e;
    struct fake_cond *c = cond_at(addr);
    return c ? c->skipped : 0;
}

static void reset_skips(struct ukvm_engine *e)
{
    (void)e;
    for (size_t i = 0; i < fake.n_cond; i++)
        fake.cond[i].skipped = 0;
}

/* ---- checkpoints: copies of the machine ---- */

static uint64_t digest(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t stack_digest(struct ukvm_engine *e, uint64_t rsp)
{
    (void)e;
    (void)rsp;
    return digest(fake.s.mem, sizeof(fake.s.mem));
}

static int cp_push(struct ukvm_engine *e, struct checkpoint_stack *st, char *err, size_t errlen)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 8;
        struct checkpoint **n = realloc(st->cp, cap * sizeof(*n));
        if (!n) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        st->cp = n;
        st->cap = cap;
    }
    struct fake_checkpoint *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    f->state = fake.s;
    f->cp.regs = fake.s.regs;
    f->cp.next_event = fake.s.next_event;
    f->cp.stack_digest = stack_digest(e, fake.s.regs.rsp);
    st->cp[st->n++] = &f->cp;
    st->bytes += FAKE_CP_COST;
    return 0;
}

static int cp_init(struct ukvm_engine *e, struct checkpoint_stack *st, uint64_t initial_end,
        char *err, size_t errlen)
{
    (void)initial_end;
    memset(st, 0, sizeof(*st));
    return cp_push(e, st, err, errlen);
}

static void forget(struct checkpoint_stack *st, size_t i)
{
    free((struct fake_checkpoint *)st->cp[i]);
    st->bytes -= FAKE_CP_COST;
}

static int cp_restore(struct ukvm_engine *e, struct checkpoint_stack *st, size_t index,
        char *err, size_t errlen)
{
    (void)e;
    if (index >= st->n) {
        snprintf(err, errlen, "no checkpoint %zu", index);
        return -1;
    }
    while (st->n > index + 1)
        forget(st, --st->n);
    fake.s = ((struct fake_checkpoint *)st->cp[index])->state;
    fake.reached_end = false;
    fake.halt_released = false; /* as the replayer's restore forgets it */
    return 0;
}

static int cp_pop(struct ukvm_engine *e, struct checkpoint_stack *st)
{
    (void)e;
    if (st->n < 2)
        return -1;
    forget(st, --st->n);
    return 0;
}

int checkpoint_drop(struct checkpoint_stack *st, size_t index, char *err, size_t errlen)
{
    if (index == 0 || index + 1 >= st->n) {
        snprintf(err, errlen, "cannot drop checkpoint %zu of %zu", index, st->n);
        return -1;
    }
    forget(st, index);
    memmove(&st->cp[index], &st->cp[index + 1], (st->n - index - 1) * sizeof(st->cp[0]));
    st->n--;
    return 0;
}

/* ---- points ---- */

static bool sw_at(uint64_t addr)
{
    for (size_t i = 0; i < fake.n_sw; i++)
        if (fake.sw[i] == addr)
            return true;
    return false;
}

static bool is_watch(enum ukvm_bp_type type)
{
    return type == UKVM_WP_WRITE || type == UKVM_WP_READ || type == UKVM_WP_ACCESS;
}

/* Does access e hit watch w? */
static bool hits(const struct fake_watch *w, const struct fake_effect *e)
{
    bool kind = w->type == UKVM_WP_WRITE ? e->wrote
        : w->type == UKVM_WP_READ ? e->read : (e->wrote || e->read);
    return kind && e->addr < w->addr + w->len && w->addr < e->addr + e->len;
}

static int fake_insert_bp(struct ukvm_target *t, enum ukvm_bp_type type, uint64_t addr,
        uint64_t len)
{
    (void)t;
    if (is_watch(type)) {
        for (size_t i = 0; i < fake.n_w; i++)
            if (fake.w[i].type == type && fake.w[i].addr == addr && fake.w[i].len == len)
                return 0;
        if (fake.n_w == MAX_POINTS)
            return -1;
        fake.w[fake.n_w++] = (struct fake_watch){ type, addr, len };
        return 0;
    }
    if (type != UKVM_BP_SOFTWARE)
        return -2; /* hardware breakpoints: not in the fake */
    if (sw_at(addr))
        return 0;
    if (fake.n_sw == MAX_POINTS)
        return -1;
    fake.sw[fake.n_sw++] = addr;
    return 0;
}

static int fake_remove_bp(struct ukvm_target *t, enum ukvm_bp_type type, uint64_t addr,
        uint64_t len)
{
    (void)t;
    if (is_watch(type)) {
        for (size_t i = 0; i < fake.n_w; i++)
            if (fake.w[i].type == type && fake.w[i].addr == addr && fake.w[i].len == len) {
                fake.w[i] = fake.w[--fake.n_w];
                return 0;
            }
        return 0;
    }
    for (size_t i = 0; i < fake.n_sw; i++)
        if (fake.sw[i] == addr) {
            fake.sw[i] = fake.sw[--fake.n_sw];
            break;
        }
    return 0;
}

static void fake_interrupt(struct ukvm_target *t)
{
    (void)t;
    fake.interrupt = 1;
}

static const struct ukvm_target_ops fake_target_ops = {
    .insert_bp = fake_insert_bp,
    .remove_bp = fake_remove_bp,
    .interrupt = fake_interrupt,
};

static int arm(struct ukvm_engine *e, enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    return fake_insert_bp(e->target, type, addr, len);
}

static int disarm(struct ukvm_engine *e, enum ukvm_bp_type type, uint64_t addr, uint64_t len)
{
    return fake_remove_bp(e->target, type, addr, len);
}

static void disarm_all(struct ukvm_engine *e)
{
    (void)e;
    fake.n_sw = 0;
    fake.n_w = 0;
}

static bool stop_hits_watch(struct ukvm_engine *e, enum ukvm_bp_type type, uint64_t addr)
{
    (void)e;
    for (size_t i = 0; i < fake.n_w; i++)
        if (fake.w[i].type == type && fake.w[i].addr == addr && hits(&fake.w[i], &fake.last))
            return true;
    return false;
}

/* ---- execution ---- */

static void stop_with(struct ukvm_stop *stop, enum ukvm_stop_reason reason)
{
    memset(stop, 0, sizeof(*stop));
    stop->reason = reason;
}

static bool on_event_insn(void)
{
    uint64_t i = (fake.s.regs.rip - FAKE_BASE) / 4;
    return fake.s.regs.rip >= FAKE_BASE && i < (uint64_t)fake.prog.n &&
        (fake.prog.insn[i].op == FOP_EVENT || fake.prog.insn[i].op == FOP_HALT);
}

static bool on_halt(void)
{
    uint64_t i = (fake.s.regs.rip - FAKE_BASE) / 4;
    return on_event_insn() && fake.prog.insn[i].op == FOP_HALT;
}

/* The monitor cannot go on: the engine is finished (engine.h); the
 * replayer says whether it reached the end of its events. */
static void finish(struct ukvm_stop *stop, uint64_t rip)
{
    fake.reached_end = true;
    fake.end_rip = rip;
    stop_with(stop, UKVM_STOP_FAULT);
    fake.dead = true;
    fake.dead_stop = *stop;
}

/* One instruction under the debugger. The replayer stops before the event
 * replayer_watch named, before one past the trace's end, and once before
 * a held final halt. false: the end (nothing ran, rip on the instruction
 * that wanted the event), or the guest's exit. */
static bool exec_one(struct ukvm_stop *stop)
{
    if (on_event_insn() && fake.s.next_event == fake.stop_before) {
        finish(stop, fake.s.regs.rip);
        return false;
    }
    uint64_t rip = fake.s.regs.rip;
    /* the final halt, when the trace has it: held once, then the exit */
    if (on_halt() && fake.s.next_event < fake.prog.n_events) {
        if (fake.hold_halt && !fake.halt_released) {
            fake.halt_released = true;
            finish(stop, rip);
            return false;
        }
        fake.s.next_event++;
        stop_with(stop, UKVM_STOP_EXITED);
        fake.dead = true;
        fake.dead_stop = *stop;
        return false;
    }
    struct fake_effect e = fake_exec(&fake.prog, &fake.s);
    if (e.end) {
        finish(stop, rip);
        return false;
    }
    fake.executed++;
    stop_with(stop, UKVM_STOP_STEP);
    for (size_t i = 0; i < fake.n_w; i++)
        if (hits(&fake.w[i], &e)) {
            stop->reason = UKVM_STOP_WATCH;
            stop->watch_type = fake.w[i].type;
            stop->watch_addr = fake.w[i].addr;
            fake.last = e;
            break;
        }
    return true;
}

static int step(struct ukvm_engine *e, struct ukvm_stop *stop)
{
    (void)e;
    if (fake.dead) {
        *stop = fake.dead_stop;
        return 0;
    }
    fake.interrupt = 0;
    exec_one(stop);
    return 0;
}

static bool bp_stop(struct ukvm_engine *e, struct ukvm_stop *stop)
{
    (void)e;
    if (!sw_at(fake.s.regs.rip))
        return false;
    stop_with(stop, UKVM_STOP_SWBREAK);
    return true;
}

/* A continue: leave a breakpoint we sit on with one step, then run to a
 * breakpoint (before its instruction), a watch hit (just after the
 * access), the end, a tick (every o->tick_us instructions run by this
 * continue: the fake's microseconds) or the user's interrupt. On the end
 * KVM stands just past the `out` (rip to be put back by the caller).
 * With o->cond_filter, an arrival at a breakpoint whose condition is false
 * is no stop: the run steps off it and goes on (a skip counted). */
static int run(struct ukvm_engine *e, const struct ukvm_run_opts *o, struct ukvm_stop *stop,
        bool *ticked)
{
    (void)e;
    if (ticked)
        *ticked = false;
    if (fake.dead) {
        *stop = fake.dead_stop;
        return 0;
    }
    uint64_t ran = 0;
    bool first = true;
    for (;;) {
        if (!first && fake.interrupt) {
            fake.interrupt = 0;
            stop_with(stop, UKVM_STOP_INTERRUPT);
            return 0;
        }
        if (!first && sw_at(fake.s.regs.rip)) {
            if (!o->cond_filter || cond_holds_now(fake.s.regs.rip)) {
                stop_with(stop, UKVM_STOP_SWBREAK);
                return 0;
            }
            first = true; /* leave it as a new run would */
            continue;
        }
        first = false;
        if (!exec_one(stop)) {
            if (stop->reason != UKVM_STOP_EXITED)
                fake.s.regs.rip += 4;
            return 0;
        }
        ran++;
        if (stop->reason == UKVM_STOP_WATCH)
            return 0;
        if (fake.irq_after && --fake.irq_after == 0)
            fake.interrupt = 1;
        if (o->tick_us && ran % o->tick_us == 0 && !fake.interrupt) {
            if (ticked)
                *ticked = true;
            stop_with(stop, UKVM_STOP_INTERRUPT);
            return 0;
        }
    }
}

static void settle(struct ukvm_engine *e)
{
    (void)e;
}

static bool on_rep_string(struct ukvm_engine *e)
{
    (void)e;
    return false;
}

static bool event_insn(struct ukvm_engine *e)
{
    (void)e;
    return on_event_insn();
}

/* ---- state ---- */

static struct kvm_regs *regs(struct ukvm_engine *e)
{
    (void)e;
    return &fake.s.regs;
}

static void regs_changed(struct ukvm_engine *e)
{
    (void)e;
}

static struct ukvm_event_source *swap_source(struct ukvm_engine *e,
        struct ukvm_event_source *src)
{
    (void)e;
    (void)src;
    return &fake.src; /* no diversions in the fake */
}

static bool finished(struct ukvm_engine *e, struct ukvm_stop *how)
{
    (void)e;
    if (fake.dead && how)
        *how = fake.dead_stop;
    return fake.dead;
}

static void set_finished(struct ukvm_engine *e, const struct ukvm_stop *how)
{
    (void)e;
    fake.dead = how != NULL;
    if (how)
        fake.dead_stop = *how;
}

static bool interrupt_asked(struct ukvm_engine *e)
{
    (void)e;
    return fake.interrupt;
}

static void clear_interrupt(struct ukvm_engine *e)
{
    (void)e;
    fake.interrupt = 0;
}

static const struct ukvm_engine_ops fake_engine_ops = {
    .step = step,
    .run = run,
    .bp_stop = bp_stop,
    .settle = settle,
    .on_rep_string = on_rep_string,
    .on_event_insn = event_insn,
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

void fake_free_checkpoints(struct checkpoint_stack *st)
{
    while (st->n > 0)
        forget(st, --st->n);
    free(st->cp);
    memset(st, 0, sizeof(*st));
}

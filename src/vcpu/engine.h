/*
 * The engine the replay timeline drives (src/replay): a machine that runs
 * the guest forward, stops where it is told, and can be put back where it
 * was. The timeline steps or runs it with given stops, arms and disarms
 * points, reads its state and takes and restores checkpoints; how the
 * machine does any of it is the engine's business. kvm_engine.c is the
 * engine over a KVM vCPU; the timeline's unit tests use a tiny
 * deterministic machine (tests/unit/fake_engine.c).
 *
 * The engine knows nothing of a trace's end: where the monitor cannot go
 * on (the recorded events ran out, or a real failure) a run stops with
 * UKVM_STOP_FAULT and the engine is finished, and the caller, which knows
 * what it replays, decides which it was (and may make the engine alive
 * again with set_finished(e, NULL)).
 */
#ifndef UKVM_VCPU_ENGINE_H
#define UKVM_VCPU_ENGINE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "ukvm/target.h"

struct ukvm_engine;
struct ukvm_event_source;
struct checkpoint_stack;

/* What stops a run besides the armed points, an interrupt and the end. */
struct ukvm_run_opts {
    uint64_t tick_us;       /* stop, as *ticked, after this much run time; 0: never */
    bool cond_filter;       /* go on from a breakpoint hit whose condition is false */
};

struct ukvm_engine_ops {
    /* One instruction (an event's instruction with its event served). */
    int (*step)(struct ukvm_engine *e, struct ukvm_stop *stop);
    /* Run to a stop. *ticked: the stop was only the tick (UKVM_STOP_INTERRUPT). */
    int (*run)(struct ukvm_engine *e, const struct ukvm_run_opts *o, struct ukvm_stop *stop,
               bool *ticked);
    /* After a run cut short before the instruction at rip ran: a planted
     * breakpoint there has not been reported; if there is one, make it
     * the stop (true). */
    bool (*bp_stop)(struct ukvm_engine *e, struct ukvm_stop *stop);
    /* Let the machine finish what it owes the last exit without running
     * further, before rip is changed by hand. */
    void (*settle)(struct ukvm_engine *e);
    /* The instruction at rip: a rep string (the vCPU may stand inside
     * one), or one that makes an event (reached at most once between two
     * events). */
    bool (*on_rep_string)(struct ukvm_engine *e);
    bool (*on_event_insn)(struct ukvm_engine *e);

    /* Points, as the debug target's insert_bp takes them. */
    int (*arm)(struct ukvm_engine *e, enum ukvm_bp_type type, uint64_t addr, uint64_t len);
    int (*disarm)(struct ukvm_engine *e, enum ukvm_bp_type type, uint64_t addr, uint64_t len);
    void (*disarm_all)(struct ukvm_engine *e);
    /* Did the access of the last watch stop hit this armed watch too? */
    bool (*stop_hits_watch)(struct ukvm_engine *e, enum ukvm_bp_type type, uint64_t addr);
    /* Breakpoint conditions gdb set (through the debug target): does the
     * one at addr hold now; how many false arrivals at addr has the
     * current run gone on from; count from zero again. */
    bool (*condition_holds)(struct ukvm_engine *e, uint64_t addr);
    uint64_t (*cond_skips)(struct ukvm_engine *e, uint64_t addr);
    void (*reset_skips)(struct ukvm_engine *e);

    /* State: the general registers (writable; say so after a change), a
     * digest of the guest stack at rsp (part of a moment's identity), the
     * event source the monitor serves events from (swapped: the old one). */
    struct kvm_regs *(*regs)(struct ukvm_engine *e);
    void (*regs_changed)(struct ukvm_engine *e);
    uint64_t (*stack_digest)(struct ukvm_engine *e, uint64_t rsp);
    struct ukvm_event_source *(*swap_source)(struct ukvm_engine *e,
                                             struct ukvm_event_source *src);

    /* Finished: the guest exited or cannot go on; *how is the stop to
     * report again. set_finished(e, NULL) makes it alive again. */
    bool (*finished)(struct ukvm_engine *e, struct ukvm_stop *how);
    void (*set_finished)(struct ukvm_engine *e, const struct ukvm_stop *how);
    /* The user's interrupt, asked through the debug target. */
    bool (*interrupt_asked)(struct ukvm_engine *e);
    void (*clear_interrupt)(struct ukvm_engine *e);

    /* Checkpoints of the whole machine (record/checkpoint.h), without the
     * engine's own traces in them (planted breakpoint bytes). A restore
     * first lets the machine finish what it owed its last exit, so that
     * nothing of it lands on the restored state. */
    int (*checkpoint_init)(struct ukvm_engine *e, struct checkpoint_stack *st,
                           uint64_t initial_end, char *err, size_t errlen);
    int (*checkpoint_push)(struct ukvm_engine *e, struct checkpoint_stack *st, char *err,
                           size_t errlen);
    int (*checkpoint_restore)(struct ukvm_engine *e, struct checkpoint_stack *st, size_t i,
                              char *err, size_t errlen);
    int (*checkpoint_pop)(struct ukvm_engine *e, struct checkpoint_stack *st);
};

struct ukvm_engine {
    const struct ukvm_engine_ops *ops;
    /* The debug target the engine runs: registers, memory and breakpoint
     * conditions as gdb sees them, and the user's interrupt. */
    struct ukvm_target *target;
};

#endif

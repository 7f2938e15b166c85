/*
 * A fake engine for the replay timeline's unit tests (test_timeline.c,
 * test_timeline_points.c, test_nav.c): a tiny deterministic machine (a
 * program counter, the general registers, a small memory, a trace of
 * events, breakpoint conditions) standing in for KVM, the checkpoints and
 * the replayer. fake_engine.c is an engine (vcpu/engine.h) and defines the
 * record and monitor functions the real src/replay/replay_timeline.c,
 * replay_reverse.c and replay_target.c call directly, with the semantics
 * those promise (engine.h, checkpoint.h, replayer.h): a forward
 * breakpoint stop comes before its instruction runs, a watch stop just
 * after the accessing instruction ran, the engine finished at the end of
 * the trace, with rip back on the instruction that wanted the missing event.
 * Held by the debugger (replayer_hold_halt), the final halt stops the replay
 * once before it, like that end; the next attempt exits the guest, unless
 * a checkpoint was restored in between.
 *
 * Instruction i lies at FAKE_BASE + 4 * i; memory addresses are offsets
 * into fake.mem (guest-virtual = guest-physical).
 */
#ifndef UKVM_TEST_FAKE_ENGINE_H
#define UKVM_TEST_FAKE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "replay/replay_target.h"

#define FAKE_BASE 0x1000
#define FAKE_MEM 64
#define FAKE_MAX_INSNS 64
#define FAKE_MAX_EVENTS 16
#define FAKE_CP_COST 4096               /* bytes one checkpoint costs */

enum fake_op {
    FOP_NOP,
    FOP_MOVI,           /* reg = imm */
    FOP_ADDI,           /* reg += imm */
    FOP_STORE,          /* mem[addr .. addr + 8) = reg (a write access) */
    FOP_LOAD,           /* reg = mem[addr .. addr + 8) (a read access) */
    FOP_LOOP,           /* if (--reg != 0) jump to instruction `target` */
    FOP_EVENT,          /* a hypercall: rax += the next event's value */
    FOP_HALT,           /* the guest's final halt: the trace's last event; the
                           oracle's machine (fake_exec) ends before it */
};

/* Registers by number: 0 rax, 1 rbx, 2 rcx, 3 rdx, 4 rsi, 5 rdi. */
enum { R_AX, R_BX, R_CX, R_DX, R_SI, R_DI, FAKE_NREGS };

struct fake_insn {
    enum fake_op op;
    int reg;
    uint64_t imm;       /* MOVI, ADDI */
    uint64_t addr;      /* STORE, LOAD */
    int target;         /* LOOP */
};

/* The machine state a checkpoint copies. */
struct fake_state {
    struct kvm_regs regs;
    uint8_t mem[FAKE_MEM];
    uint64_t next_event;
};

/* What one instruction does when run from a state. */
struct fake_effect {
    bool end;                   /* it wanted an event the trace does not have */
    bool wrote, read;
    uint64_t addr, len;         /* its access */
};

struct fake_program {
    const struct fake_insn *insn;
    int n;
    const uint64_t *events;     /* the trace: each event's value */
    uint64_t n_events;
};

/* Set the machine up at the program's start (registers and memory zero);
 * the engine and the setup for replay_target_init. */
void fake_reset(const struct fake_program *p);
struct ukvm_engine *fake_engine(void);
const struct replay_setup *fake_setup(void);
/* The live machine state. */
struct fake_state *fake_now(void);

/* The oracle's own machine: run one instruction from *s (no breakpoints,
 * no watchpoints, no checkpoints): what it did. s is unchanged at the end
 * of the trace. */
struct fake_effect fake_exec(const struct fake_program *p, struct fake_state *s);
bool fake_state_equal(const struct fake_state *a, const struct fake_state *b);

/* Free every checkpoint of st (at a test's end). */
void fake_free_checkpoints(struct checkpoint_stack *st);

/* A breakpoint condition, as gdb would set one at an address: a predicate
 * on the machine state at the arrival. */
typedef bool (*fake_cond_fn)(const struct fake_state *s);
/* Give the breakpoint at addr a condition (NULL: none), kept like the KVM
 * target's (bp_cond.h): by address, whether or not a breakpoint is set
 * there; evaluating it false counts a skip at addr; a run whose options ask
 * for cond_filter goes on from an arrival whose condition is false. */
void fake_set_condition(uint64_t addr, fake_cond_fn holds);

/* The replayer's release of the final halt (replayer_release_halt): the
 * next attempt to run the halt lets the guest exit. */
void fake_release_halt(void);

/* Knobs: ask for the user's interrupt (gdb's Ctrl-C) once continues have
 * run n more instructions (0: never); the errors ukvm_err said. */
void fake_interrupt_after(uint64_t n);
unsigned fake_errors(void);

#endif

/*
 * Keeps the debugger's single-step trap flag (TF) out of what the guest
 * sees (step_guard.c). KVM single-steps by setting TF in the guest's
 * RFLAGS, and the CPU stores RFLAGS where guest code can read it: pushf
 * pushes it, syscall copies it to r11, and every exception and software
 * interrupt pushes it in the handler's frame. Delivering an exception
 * also clears TF, so without help a step over a faulting instruction runs
 * the whole handler, which reads a frame with TF in it.
 *
 * Around each step the guard plants a catcher (`nop; hlt`) on the first
 * bytes of every handler in the guest's IDT: an exception delivered by
 * the stepped instruction ends the step there, at the handler's first
 * instruction (where a step into a handler belongs), and the guard takes
 * TF out of the frame before the guest runs on. After a step that completed, it
 * mends what pushf pushed and what syscall left in r11.
 */
#ifndef UKVM_STEP_GUARD_H
#define UKVM_STEP_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "vcpu/kvm_points.h"

#define STEP_GUARD_MAX 256      /* one per IDT vector at most */
#define STEP_GUARD_BYTES 2      /* a catcher's size: nop; hlt */

struct step_guard {
    uint64_t rip, rsp, rflags;  /* before the step */
    const uint8_t *insn;        /* the stepped instruction's bytes */
    size_t insn_len;            /* bytes read at rip (15 at most) */
    size_t n;
    struct {
        uint64_t gva;
        uint64_t gpa[STEP_GUARD_BYTES];
        uint8_t orig[STEP_GUARD_BYTES];
    } at[STEP_GUARD_MAX];
};

/* Before a step from rip (insn: the bytes there): plant the catchers. */
void step_guard_arm(struct kvm_target *kt, struct step_guard *g, const uint8_t *insn,
        size_t insn_len);
/* The step ended (on a hlt exit, or its trap): did an exception's
 * delivery reach a catcher? Then rip is put back on the handler's first
 * instruction, TF is taken out of the frame, and true. */
bool step_guard_caught(struct kvm_target *kt, struct step_guard *g, bool hlt_exit);
/* After a step that ended with its trap: mend pushf's and syscall's copy. */
void step_guard_after(struct kvm_target *kt, const struct step_guard *g);
/* Take the catchers out again (the guest's bytes back). */
void step_guard_disarm(struct kvm_target *kt, struct step_guard *g);

#endif

/*
 * Shared between the parts of instruction completion (fpu_exec.c,
 * fpu_checks.c): what the guest's CPU checks before it runs an x87/MMX/SSE
 * instruction, and the x87 pointers it leaves behind.
 */
#ifndef UKVM_FPU_INTERNAL_H
#define UKVM_FPU_INTERNAL_H

#include <Zydis/Zydis.h>
#include "monitor/fpu_complete.h"

#define FPU_VEC_SS 12

/* Fill `out` for a fault and return FPU_FAULT (the text goes to out->why). */
enum fpu_result fpu_fault(struct fpu_outcome *out, uint8_t vector, bool has_error_code,
        uint32_t error_code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The same for FPU_REFUSED and FPU_STOP. */
enum fpu_result fpu_say(struct fpu_outcome *out, enum fpu_result r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* #UD and #NM as the guest's CPU decides them: its CPUID features, CR0.EM,
 * CR0.TS, CR4.OSFXSR; then whether the host can run it (FPU_STOP when not).
 * FPU_DONE when the instruction may run. */
enum fpu_result fpu_check_cpu(const ZydisDecodedInstruction *ins,
        const ZydisDecodedOperand *ops, const struct fpu_guest *g, struct fpu_outcome *out);

/* The instruction's memory operand of `len` bytes must be 16-byte aligned
 * (legacy SSE, #GP(0) otherwise). */
bool fpu_needs_alignment(const ZydisDecodedInstruction *ins, size_t len);

/* Waits for pending x87 exceptions (#MF when FSW.ES is set). */
bool fpu_waits(const ZydisDecodedInstruction *ins, const ZydisDecodedOperand *ops);
/* Only loads or stores x87/SSE control state: unmasked exceptions do not
 * matter to it. */
bool fpu_control_only(const ZydisDecodedInstruction *ins);

/* Replace the x87 instruction and data pointers and opcode that the host
 * left in `after` by what the guest's CPU would hold: the guest's rip and
 * operand address for an x87 instruction that sets them, the guest's own
 * values (from `before`) otherwise. `bytes` are the guest's instruction. */
void fpu_fix_x87_pointers(const ZydisDecodedInstruction *ins, const uint8_t *bytes,
        const uint8_t before[512], uint8_t after[512], uint64_t rip, bool has_mem, uint64_t gva);

#endif

/*
 * What the guest's CPU checks before it runs an x87/MMX/SSE instruction
 * (CPUID features, CR0.EM/TS, CR4.OSFXSR, alignment) and the x87 pointers
 * it leaves behind: the parts of instruction completion that decide, not
 * run.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "monitor/fpu_internal.h"

#define CR0_EM (1ULL << 2)
#define CR0_TS (1ULL << 3)
#define CR4_OSFXSR (1ULL << 9)

enum fpu_result fpu_fault(struct fpu_outcome *out, uint8_t vector, bool has_error_code,
        uint32_t error_code, const char *fmt, ...)
{
    out->vector = vector;
    out->has_error_code = has_error_code;
    out->error_code = error_code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->why, sizeof(out->why), fmt, ap);
    va_end(ap);
    return FPU_FAULT;
}

enum fpu_result fpu_say(struct fpu_outcome *out, enum fpu_result r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->why, sizeof(out->why), fmt, ap);
    va_end(ap);
    return r;
}

/* CPUID leaf 1 bits */
enum { EDX_FPU = 0, EDX_CMOV = 15, EDX_MMX = 23, EDX_SSE = 25, EDX_SSE2 = 26 };
enum { ECX_SSE3 = 0, ECX_PCLMUL = 1, ECX_SSSE3 = 9, ECX_SSE41 = 19, ECX_SSE42 = 20,
       ECX_AES = 25 };

struct feature { const char *name; uint32_t ecx, edx; };

static struct feature needed(const ZydisDecodedInstruction *ins)
{
    switch (ins->meta.isa_ext) {
    case ZYDIS_ISA_EXT_X87:
        if (ins->meta.isa_set == ZYDIS_ISA_SET_FCMOV || ins->mnemonic == ZYDIS_MNEMONIC_FCOMI ||
            ins->mnemonic == ZYDIS_MNEMONIC_FCOMIP || ins->mnemonic == ZYDIS_MNEMONIC_FUCOMI ||
            ins->mnemonic == ZYDIS_MNEMONIC_FUCOMIP)
            return (struct feature){ "FPU and CMOV", 0, (1u << EDX_FPU) | (1u << EDX_CMOV) };
        return (struct feature){ "FPU", 0, 1u << EDX_FPU };
    case ZYDIS_ISA_EXT_MMX: return (struct feature){ "MMX", 0, 1u << EDX_MMX };
    case ZYDIS_ISA_EXT_SSE: return (struct feature){ "SSE", 0, 1u << EDX_SSE };
    case ZYDIS_ISA_EXT_SSE2: return (struct feature){ "SSE2", 0, 1u << EDX_SSE2 };
    case ZYDIS_ISA_EXT_SSE3: return (struct feature){ "SSE3", 1u << ECX_SSE3, 0 };
    case ZYDIS_ISA_EXT_SSSE3: return (struct feature){ "SSSE3", 1u << ECX_SSSE3, 0 };
    case ZYDIS_ISA_EXT_SSE4:
        if (ins->meta.isa_set == ZYDIS_ISA_SET_SSE42)
            return (struct feature){ "SSE4.2", 1u << ECX_SSE42, 0 };
        return (struct feature){ "SSE4.1", 1u << ECX_SSE41, 0 };
    case ZYDIS_ISA_EXT_AES: return (struct feature){ "AES", 1u << ECX_AES, 0 };
    case ZYDIS_ISA_EXT_PCLMULQDQ: return (struct feature){ "PCLMULQDQ", 1u << ECX_PCLMUL, 0 };
    default: return (struct feature){ "an unknown extension", ~0u, ~0u };
    }
}

static bool has_reg_class(const ZydisDecodedOperand *ops, uint8_t n, ZydisRegisterClass cls)
{
    for (uint8_t i = 0; i < n; i++)
        if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
            ZydisRegisterGetClass(ops[i].reg.value) == cls)
            return true;
    return false;
}

static bool uses_sse_state(const ZydisDecodedInstruction *ins, const ZydisDecodedOperand *ops)
{
    if (has_reg_class(ops, ins->operand_count, ZYDIS_REGCLASS_XMM))
        return true;
    for (uint8_t i = 0; i < ins->operand_count; i++)
        if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER && ops[i].reg.value == ZYDIS_REGISTER_MXCSR)
            return true;
    return false;
}

enum fpu_result fpu_check_cpu(const ZydisDecodedInstruction *ins,
        const ZydisDecodedOperand *ops, const struct fpu_guest *g, struct fpu_outcome *out)
{
    struct feature f = needed(ins);
    if ((g->cpuid1_ecx & f.ecx) != f.ecx || (g->cpuid1_edx & f.edx) != f.edx)
        return fpu_fault(out, FPU_VEC_UD, false, 0,
                "#UD: the guest's CPUID does not offer %s", f.name);
    bool x87 = ins->meta.isa_ext == ZYDIS_ISA_EXT_X87;
    uint64_t cr0 = g->sregs.cr0;
    if (x87 && (cr0 & (CR0_EM | CR0_TS)))
        return fpu_fault(out, FPU_VEC_NM, false, 0, "#NM: CR0.%s is set",
                (cr0 & CR0_EM) ? "EM" : "TS");
    if (!x87 && (cr0 & CR0_EM))
        return fpu_fault(out, FPU_VEC_UD, false, 0, "#UD: CR0.EM is set");
    if (uses_sse_state(ins, ops) && !(g->sregs.cr4 & CR4_OSFXSR))
        return fpu_fault(out, FPU_VEC_UD, false, 0, "#UD: CR4.OSFXSR is clear");
    if (cr0 & CR0_TS)
        return fpu_fault(out, FPU_VEC_NM, false, 0, "#NM: CR0.TS is set");
    uint32_t hecx, hedx;
    fpu_host_features(&hecx, &hedx);
    if ((hecx & f.ecx) != f.ecx || (hedx & f.edx) != f.edx)
        return fpu_say(out, FPU_STOP, "the guest uses %s, which this host's CPU lacks", f.name);
    return FPU_DONE;
}

bool fpu_needs_alignment(const ZydisDecodedInstruction *ins, size_t len)
{
    if (len != 16)
        return false;
    switch (ins->meta.isa_ext) {
    case ZYDIS_ISA_EXT_SSE:
    case ZYDIS_ISA_EXT_SSE2:
    case ZYDIS_ISA_EXT_SSE3:
    case ZYDIS_ISA_EXT_SSSE3:
    case ZYDIS_ISA_EXT_SSE4:
    case ZYDIS_ISA_EXT_AES:
    case ZYDIS_ISA_EXT_PCLMULQDQ:
        break;
    default:
        return false;
    }
    switch (ins->mnemonic) {
    case ZYDIS_MNEMONIC_MOVUPS:
    case ZYDIS_MNEMONIC_MOVUPD:
    case ZYDIS_MNEMONIC_MOVDQU:
    case ZYDIS_MNEMONIC_LDDQU:
    case ZYDIS_MNEMONIC_PCMPESTRI:
    case ZYDIS_MNEMONIC_PCMPESTRM:
    case ZYDIS_MNEMONIC_PCMPISTRI:
    case ZYDIS_MNEMONIC_PCMPISTRM:
        return false;
    default:
        return true;
    }
}

/* x87 control instructions: they leave FIP, FDP and FOP alone. */
static bool x87_control(ZydisMnemonic mn)
{
    switch (mn) {
    case ZYDIS_MNEMONIC_FNINIT:
    case ZYDIS_MNEMONIC_FNCLEX:
    case ZYDIS_MNEMONIC_FLDCW:
    case ZYDIS_MNEMONIC_FNSTCW:
    case ZYDIS_MNEMONIC_FNSTSW:
    case ZYDIS_MNEMONIC_FNSTENV:
    case ZYDIS_MNEMONIC_FLDENV:
    case ZYDIS_MNEMONIC_FNSAVE:
    case ZYDIS_MNEMONIC_FRSTOR:
    case ZYDIS_MNEMONIC_FWAIT:
        return true;
    default:
        return false;
    }
}

bool fpu_waits(const ZydisDecodedInstruction *ins, const ZydisDecodedOperand *ops)
{
    if (ins->meta.isa_ext == ZYDIS_ISA_EXT_X87) {
        switch (ins->mnemonic) {
        case ZYDIS_MNEMONIC_FNINIT:
        case ZYDIS_MNEMONIC_FNCLEX:
        case ZYDIS_MNEMONIC_FNSTCW:
        case ZYDIS_MNEMONIC_FNSTSW:
        case ZYDIS_MNEMONIC_FNSTENV:
        case ZYDIS_MNEMONIC_FNSAVE:
            return false;
        default:
            return true;
        }
    }
    return ins->meta.isa_ext == ZYDIS_ISA_EXT_MMX ||
        has_reg_class(ops, ins->operand_count, ZYDIS_REGCLASS_MMX);
}

bool fpu_control_only(const ZydisDecodedInstruction *ins)
{
    if (ins->mnemonic == ZYDIS_MNEMONIC_LDMXCSR || ins->mnemonic == ZYDIS_MNEMONIC_STMXCSR)
        return true;
    return ins->meta.isa_ext == ZYDIS_ISA_EXT_X87 && x87_control(ins->mnemonic) &&
        ins->mnemonic != ZYDIS_MNEMONIC_FWAIT;
}

void fpu_fix_x87_pointers(const ZydisDecodedInstruction *ins, const uint8_t *bytes,
        const uint8_t before[512], uint8_t after[512], uint64_t rip, bool has_mem, uint64_t gva)
{
    if (ins->meta.isa_ext == ZYDIS_ISA_EXT_X87 &&
        (ins->mnemonic == ZYDIS_MNEMONIC_FNINIT || ins->mnemonic == ZYDIS_MNEMONIC_FLDENV)) {
        /* cleared, or loaded from the guest's memory: the host's result is
         * the guest's, except where this CPU reports 0 instead */
        if (ins->mnemonic == ZYDIS_MNEMONIC_FNINIT)
            memset(after + FPU_FX_FOP, 0, 2 + 8 + 8);
        return;
    }
    /* the guest's own values, then what a non-control x87 instruction sets */
    memcpy(after + FPU_FX_FOP, before + FPU_FX_FOP, 2);
    memcpy(after + FPU_FX_FIP, before + FPU_FX_FIP, 8);
    memcpy(after + FPU_FX_FDP, before + FPU_FX_FDP, 8);
    if (ins->meta.isa_ext != ZYDIS_ISA_EXT_X87 || x87_control(ins->mnemonic))
        return;
    memcpy(after + FPU_FX_FIP, &rip, 8);
    if (has_mem)
        memcpy(after + FPU_FX_FDP, &gva, 8);
    /* FOP: the low 3 bits of the escape byte (D8..DF), then the ModRM byte */
    if (ins->attributes & ZYDIS_ATTRIB_HAS_MODRM) {
        uint8_t at = ins->raw.modrm.offset;
        uint16_t fop = (uint16_t)(((bytes[at - 1] & 7) << 8) | bytes[at]);
        memcpy(after + FPU_FX_FOP, &fop, 2);
    }
}

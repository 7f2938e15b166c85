/*
 * Completing x87, MMX and SSE instructions that KVM could not emulate.
 *
 * Some KVMs emulate all CPL-0 guest code in software, and KVM's instruction
 * emulator knows only a few SSE moves: `paddd`, `pxor`, `mulsd`,
 * `cvtsi2sd`... end in KVM_INTERNAL_ERROR_EMULATION (on every KVM, an access
 * to a page the debugger watches goes the same way). Unikernels from Solo5's
 * toolchain use SSE freely, so the monitor finishes such an instruction
 * itself: it decodes it with Zydis, re-encodes it with its memory operand
 * pointing at a host buffer and a general register operand moved to r11,
 * and runs it on the host CPU between loading and saving the guest's whole
 * x87/SSE state (FXRSTOR/FXSAVE). The result is what the guest's own CPU
 * would have computed (same instruction, same inputs).
 *
 * Supported: legacy-encoded x87, MMX, SSE..SSE4, AES and PCLMULQDQ
 * instructions with x87/MMX/XMM registers, at most one general register,
 * immediates and at most one memory operand (64 bytes at most), while every
 * x87 and SSE exception is masked.
 */
#include <stdio.h>
#include <string.h>
#include <Zydis/Zydis.h>

#include "monitor/fpu_complete.h"

static enum fpu_result refuse(struct fpu_outcome *out, const char *why)
{
    snprintf(out->why, sizeof(out->why), "%s", why);
    return FPU_REFUSED;
}

/* Guest-virtual memory access through the guest's page tables. */
static bool guest_copy(struct fpu_guest *g, uint64_t gva, void *buf, size_t len, bool write)
{
    const struct fpu_mem *m = g->mem;
    size_t done = 0;
    while (done < len) {
        uint64_t gpa;
        bool writable;
        if (!m->translate(m->ctx, gva + done, &gpa, &writable))
            return false;
        size_t chunk = 0x1000 - ((gva + done) & 0xfff);
        if (chunk > len - done)
            chunk = len - done;
        uint8_t *p = m->host(m->ctx, gpa, chunk);
        if (!p)
            return false;
        if (write) {
            memcpy(p, (uint8_t *)buf + done, chunk);
            m->written(m->ctx, gpa, chunk);
        } else {
            memcpy((uint8_t *)buf + done, p, chunk);
        }
        done += chunk;
    }
    return true;
}

/* Registers that live in the FXSAVE area (or are flags). */
static bool fx_register(ZydisRegister reg)
{
    ZydisRegisterClass cls = ZydisRegisterGetClass(reg);
    return cls == ZYDIS_REGCLASS_XMM || cls == ZYDIS_REGCLASS_X87 || cls == ZYDIS_REGCLASS_MMX ||
        cls == ZYDIS_REGCLASS_FLAGS || reg == ZYDIS_REGISTER_MXCSR ||
        reg == ZYDIS_REGISTER_X87CONTROL || reg == ZYDIS_REGISTER_X87STATUS ||
        reg == ZYDIS_REGISTER_X87TAG;
}

static bool isa_supported(ZydisISAExt ext)
{
    switch (ext) {
    case ZYDIS_ISA_EXT_X87:
    case ZYDIS_ISA_EXT_MMX:
    case ZYDIS_ISA_EXT_SSE:
    case ZYDIS_ISA_EXT_SSE2:
    case ZYDIS_ISA_EXT_SSE3:
    case ZYDIS_ISA_EXT_SSSE3:
    case ZYDIS_ISA_EXT_SSE4:
    case ZYDIS_ISA_EXT_AES:
    case ZYDIS_ISA_EXT_PCLMULQDQ:
        return true;
    default:
        return false;
    }
}

/* kvm_regs field for a 64-bit general register, by Zydis register id. */
static __u64 *gpr_slot(struct kvm_regs *r, ZydisRegister reg64)
{
    switch (reg64) {
    case ZYDIS_REGISTER_RAX: return &r->rax;
    case ZYDIS_REGISTER_RCX: return &r->rcx;
    case ZYDIS_REGISTER_RDX: return &r->rdx;
    case ZYDIS_REGISTER_RBX: return &r->rbx;
    case ZYDIS_REGISTER_RSP: return &r->rsp;
    case ZYDIS_REGISTER_RBP: return &r->rbp;
    case ZYDIS_REGISTER_RSI: return &r->rsi;
    case ZYDIS_REGISTER_RDI: return &r->rdi;
    case ZYDIS_REGISTER_R8: return &r->r8;
    case ZYDIS_REGISTER_R9: return &r->r9;
    case ZYDIS_REGISTER_R10: return &r->r10;
    case ZYDIS_REGISTER_R11: return &r->r11;
    case ZYDIS_REGISTER_R12: return &r->r12;
    case ZYDIS_REGISTER_R13: return &r->r13;
    case ZYDIS_REGISTER_R14: return &r->r14;
    case ZYDIS_REGISTER_R15: return &r->r15;
    default: return NULL;
    }
}

static void fill_context(ZydisRegisterContext *ctx, struct kvm_regs *r)
{
    memset(ctx, 0, sizeof(*ctx));
    for (ZydisRegister reg = ZYDIS_REGISTER_RAX; reg <= ZYDIS_REGISTER_R15; reg++) {
        __u64 *slot = gpr_slot(r, reg);
        if (!slot)
            continue;
        ctx->values[reg] = *slot;
        ZydisRegister r32 = ZydisRegisterEncode(ZYDIS_REGCLASS_GPR32, (ZyanU8)ZydisRegisterGetId(reg));
        ctx->values[r32] = (uint32_t)*slot;
    }
    ctx->values[ZYDIS_REGISTER_RIP] = r->rip;
}

enum fpu_result fpu_complete_insn(struct fpu_guest *g, struct fpu_outcome *out)
{
    memset(out, 0, sizeof(*out));
    struct kvm_regs *r = &g->regs;
    uint64_t rip = r->rip;
    uint8_t bytes[16];
    size_t avail = 15;
    while (avail > 0 && !guest_copy(g, rip, bytes, avail, false))
        avail--; /* the instruction may end just before an unmapped page */
    if (avail == 0)
        return refuse(out, "the instruction cannot be read");

    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    ZydisDecodedInstruction ins;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, bytes, avail, &ins, ops)))
        return refuse(out, "undecodable instruction");
    if (ins.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY || !isa_supported(ins.meta.isa_ext))
        return refuse(out, "not a legacy x87/MMX/SSE instruction");

    /* hidden operands: only x87/SSE state and flags may be touched behind
     * our back (all of it is loaded and saved around the instruction) */
    for (uint8_t i = ins.operand_count_visible; i < ins.operand_count; i++) {
        if (ops[i].type != ZYDIS_OPERAND_TYPE_REGISTER || !fx_register(ops[i].reg.value))
            return refuse(out, "hidden operands outside the x87/SSE state");
    }

    ZydisEncoderRequest req;
    if (!ZYAN_SUCCESS(ZydisEncoderDecodedInstructionToEncoderRequest(&ins, ops,
            ins.operand_count_visible, &req)))
        return refuse(out, "cannot re-encode");
    req.prefixes &= ~(ZydisInstructionAttributes)(ZYDIS_ATTRIB_HAS_SEGMENT_CS |
            ZYDIS_ATTRIB_HAS_SEGMENT_SS | ZYDIS_ATTRIB_HAS_SEGMENT_DS |
            ZYDIS_ATTRIB_HAS_SEGMENT_ES | ZYDIS_ATTRIB_HAS_SEGMENT_FS |
            ZYDIS_ATTRIB_HAS_SEGMENT_GS);
    req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_NONE;

    _Alignas(64) uint8_t membuf[64];
    memset(membuf, 0, sizeof(membuf));
    int mem_op = -1, gpr_op = -1;
    uint64_t mem_addr = 0;
    size_t mem_len = 0;
    __u64 *gpr = NULL;
    for (uint8_t i = 0; i < ins.operand_count_visible; i++) {
        const ZydisDecodedOperand *op = &ops[i];
        if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
            continue;
        if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
            ZydisRegisterClass cls = ZydisRegisterGetClass(op->reg.value);
            if (fx_register(op->reg.value))
                continue;
            if (cls != ZYDIS_REGCLASS_GPR64 && cls != ZYDIS_REGCLASS_GPR32 &&
                cls != ZYDIS_REGCLASS_GPR16 && cls != ZYDIS_REGCLASS_GPR8)
                return refuse(out, "unsupported register operand");
            if (gpr_op >= 0 || (op->reg.value >= ZYDIS_REGISTER_AH && op->reg.value <= ZYDIS_REGISTER_BH))
                return refuse(out, "unsupported general register operands");
            gpr = gpr_slot(r, ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64,
                    op->reg.value));
            if (!gpr)
                return refuse(out, "unsupported general register operand");
            gpr_op = i;
            req.operands[i].reg.value = ZydisRegisterEncode(cls, 11);
            continue;
        }
        if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.type != ZYDIS_MEMOP_TYPE_MEM ||
            mem_op >= 0)
            return refuse(out, "unsupported operand");
        mem_len = op->size / 8;
        if (mem_len == 0 || mem_len > sizeof(membuf))
            return refuse(out, "unsupported memory operand size");
        ZydisRegisterContext ctx;
        fill_context(&ctx, r);
        if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddressEx(&ins, op, rip, &ctx, &mem_addr)))
            return refuse(out, "cannot compute the operand's address");
        if (op->mem.segment == ZYDIS_REGISTER_FS)
            mem_addr += g->sregs.fs.base;
        else if (op->mem.segment == ZYDIS_REGISTER_GS)
            mem_addr += g->sregs.gs.base;
        if ((op->actions & ZYDIS_OPERAND_ACTION_MASK_READ) &&
            !guest_copy(g, mem_addr, membuf, mem_len, false))
            return refuse(out, "cannot read the memory operand");
        mem_op = i;
        req.operands[i].mem.base = ZYDIS_REGISTER_RDI;
        req.operands[i].mem.index = ZYDIS_REGISTER_NONE;
        req.operands[i].mem.scale = 0;
        req.operands[i].mem.displacement = 0;
    }

    uint8_t code[ZYDIS_MAX_INSTRUCTION_LENGTH];
    ZyanUSize code_len = sizeof(code);
    if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&req, code, &code_len)))
        return refuse(out, "cannot re-encode");

    struct fpu_run_state st;
    memset(&st, 0, sizeof(st));
    memcpy(st.guest_fx, g->fx, sizeof(st.guest_fx));
    /* An unmasked x87 or SSE exception would fault on the host, not in the
     * guest: leave those to the error report. */
    uint16_t fcw;
    uint32_t mxcsr;
    memcpy(&fcw, st.guest_fx + FPU_FX_FCW, 2);
    memcpy(&mxcsr, st.guest_fx + FPU_FX_MXCSR, 4);
    if ((fcw & 0x3f) != 0x3f || (mxcsr & 0x1f80) != 0x1f80)
        return refuse(out, "x87 or SSE exceptions unmasked");
    st.r11 = gpr ? *gpr : 0;
    if (fpu_host_run(&st, membuf, code, code_len) < 0)
        return refuse(out, "cannot prepare the code page");

    if (mem_op >= 0 && (ops[mem_op].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
        !guest_copy(g, mem_addr, membuf, mem_len, true))
        return refuse(out, "cannot write the memory operand");
    memcpy(g->fx, st.guest_fx, sizeof(g->fx));
    if (gpr && (ops[gpr_op].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
        *gpr = st.r11;
    if (ins.cpu_flags && (ins.cpu_flags->modified | ins.cpu_flags->set_0 | ins.cpu_flags->set_1)) {
        const uint64_t arith = 0x8d5; /* CF PF AF ZF SF OF */
        r->rflags = (r->rflags & ~arith) | (st.rflags & arith);
    }
    r->rip = rip + ins.length;
    return FPU_DONE;
}

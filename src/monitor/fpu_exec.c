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
 * x87 and SSE exception is masked, in 64-bit code.
 *
 * What the guest's CPU would check comes first, and ends as the fault it
 * would raise (FPU_FAULT, for the caller to inject): CPUID features,
 * CR0.EM/TS and CR4.OSFXSR (#UD, #NM), canonical and aligned operands
 * (#GP), the guest's page tables (#PF), MXCSR values against MXCSR_MASK
 * (#GP). A store reaches guest memory only once every page it touches was
 * checked, and goes through the caller's `written` hook (watchpoints).
 */
#include <stdio.h>
#include <string.h>
#include <Zydis/Zydis.h>

#include "monitor/fpu_internal.h"

static enum fpu_result refuse(struct fpu_outcome *out, const char *why)
{
    return fpu_say(out, FPU_REFUSED, "%s", why);
}

#define CR0_WP (1ULL << 16)
#define EFER_LMA (1ULL << 10)

/* Reads the instruction's bytes: no permission but presence matters. */
static bool fetch(struct fpu_guest *g, uint64_t gva, uint8_t *buf, size_t len)
{
    const struct fpu_mem *m = g->mem;
    for (size_t done = 0; done < len;) {
        uint64_t gpa;
        bool writable;
        size_t chunk = 0x1000 - ((gva + done) & 0xfff);
        if (chunk > len - done)
            chunk = len - done;
        const uint8_t *p;
        if (!m->translate(m->ctx, gva + done, &gpa, &writable) || !(p = m->host(m->ctx, gpa, chunk)))
            return false;
        memcpy(buf + done, p, chunk);
        done += chunk;
    }
    return true;
}

static bool canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* The guest's memory operand, checked page by page as the guest's CPU
 * would before the instruction changes anything: present (#PF), writable
 * when stored to (#PF with CR0.WP), inside guest memory and not
 * write-protected by the host (the monitor stops the guest then: a
 * translation fault, as for any other store into the kernel's text). */
struct operand {
    uint64_t gva;
    size_t len;
    bool read, write;
    size_t n;                       /* pieces: one per page touched */
    uint64_t gpa[2];
    size_t piece[2];
};

static enum fpu_result check_operand(struct fpu_guest *g, struct operand *o, uint64_t rip,
        struct fpu_outcome *out)
{
    const struct fpu_mem *m = g->mem;
    o->n = 0;
    for (size_t done = 0; done < o->len;) {
        uint64_t gva = o->gva + done, gpa;
        bool writable;
        size_t chunk = 0x1000 - (gva & 0xfff);
        if (chunk > o->len - done)
            chunk = o->len - done;
        if (!m->translate(m->ctx, gva, &gpa, &writable)) {
            out->cr2 = gva;
            return fpu_fault(out, FPU_VEC_PF, true, o->write ? 0x2 : 0,
                    "#PF: the guest %s unmapped address 0x%llx", o->write ? "wrote to" : "read from",
                    (unsigned long long)gva);
        }
        if (o->write && !writable && (g->sregs.cr0 & CR0_WP)) {
            out->cr2 = gva;
            return fpu_fault(out, FPU_VEC_PF, true, 0x3,
                    "#PF: the guest wrote to read-only address 0x%llx", (unsigned long long)gva);
        }
        if (!m->host(m->ctx, gpa, chunk))
            return fpu_say(out, FPU_STOP,
                    "guest %s guest-physical address 0x%llx outside guest memory (rip 0x%llx)",
                    o->write ? "wrote to" : "read from", (unsigned long long)gpa,
                    (unsigned long long)rip);
        if (o->write && m->protected_page(m->ctx, gpa))
            return fpu_say(out, FPU_STOP,
                    "host/guest translation fault: guest wrote to protected memory at 0x%llx (rip 0x%llx)",
                    (unsigned long long)gpa, (unsigned long long)rip);
        o->gpa[o->n] = gpa;
        o->piece[o->n++] = chunk;
        done += chunk;
    }
    return FPU_DONE;
}

static void copy_operand(struct fpu_guest *g, const struct operand *o, uint8_t *buf, bool write)
{
    const struct fpu_mem *m = g->mem;
    size_t done = 0;
    for (size_t i = 0; i < o->n; i++) {
        uint8_t *p = m->host(m->ctx, o->gpa[i], o->piece[i]);
        if (write) {
            memcpy(p, buf + done, o->piece[i]);
            m->written(m->ctx, o->gpa[i], o->piece[i]);
        } else {
            memcpy(buf + done, p, o->piece[i]);
            if (m->read)
                m->read(m->ctx, o->gpa[i], o->piece[i]);
        }
        done += o->piece[i];
    }
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
    /* Decoded as 64-bit code: anything else is not completed. */
    if (!(g->sregs.efer & EFER_LMA) || !g->sregs.cs.l)
        return refuse(out, "the guest is not running 64-bit code");
    uint8_t bytes[16];
    size_t avail = 15;
    while (avail > 0 && !fetch(g, rip, bytes, avail))
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

    int mem_op = -1, gpr_op = -1;
    struct operand mo = { 0 };
    bool stack_based = false;
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
        mo.len = op->size / 8;
        if (mo.len == 0 || mo.len > 64)
            return refuse(out, "unsupported memory operand size");
        ZydisRegisterContext ctx;
        fill_context(&ctx, r);
        if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddressEx(&ins, op, rip, &ctx, &mo.gva)))
            return refuse(out, "cannot compute the operand's address");
        if (op->mem.segment == ZYDIS_REGISTER_FS)
            mo.gva += g->sregs.fs.base;
        else if (op->mem.segment == ZYDIS_REGISTER_GS)
            mo.gva += g->sregs.gs.base;
        mo.read = op->actions & ZYDIS_OPERAND_ACTION_MASK_READ;
        mo.write = op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
        stack_based = op->mem.base == ZYDIS_REGISTER_RSP || op->mem.base == ZYDIS_REGISTER_RBP;
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

    /* What the guest's CPU checks first: #UD, #NM; then the operand: #GP
     * (non-canonical, misaligned), #PF. */
    enum fpu_result res = fpu_check_cpu(&ins, ops, g, out);
    if (res != FPU_DONE)
        return res;
    _Alignas(64) uint8_t membuf[64];
    memset(membuf, 0, sizeof(membuf));
    if (mem_op >= 0) {
        if (!canonical(mo.gva) || !canonical(mo.gva + mo.len - 1))
            return fpu_fault(out, stack_based ? FPU_VEC_SS : FPU_VEC_GP, true, 0,
                    "#%s(0): non-canonical address 0x%llx", stack_based ? "SS" : "GP",
                    (unsigned long long)mo.gva);
        if (fpu_needs_alignment(&ins, mo.len) && (mo.gva & 15))
            return fpu_fault(out, FPU_VEC_GP, true, 0,
                    "#GP(0): misaligned 16-byte operand at 0x%llx", (unsigned long long)mo.gva);
        res = check_operand(g, &mo, rip, out);
        if (res != FPU_DONE)
            return res;
        if (mo.read)
            copy_operand(g, &mo, membuf, false);
    }

    struct fpu_run_state st;
    memset(&st, 0, sizeof(st));
    memcpy(st.guest_fx, g->fx, sizeof(st.guest_fx));
    uint16_t fcw, fsw;
    uint32_t mxcsr, guest_mask;
    memcpy(&fcw, st.guest_fx + FPU_FX_FCW, 2);
    memcpy(&fsw, st.guest_fx + FPU_FX_FSW, 2);
    memcpy(&mxcsr, st.guest_fx + FPU_FX_MXCSR, 4);
    memcpy(&guest_mask, st.guest_fx + FPU_FX_MXCSR_MASK, 4);
    if (!guest_mask)
        guest_mask = 0xffbf; /* the architectural default */
    uint32_t host_mask = fpu_host_mxcsr_mask();
    /* FXRSTOR faults on MXCSR bits the host does not have. */
    if (mxcsr & ~host_mask)
        return refuse(out, "the guest's MXCSR holds bits this host does not support");
    /* An unmasked x87 or SSE exception would fault on the host, not in the
     * guest: leave those to the error report. */
    if (!fpu_control_only(&ins) && ((fcw & 0x3f) != 0x3f || (mxcsr & 0x1f80) != 0x1f80))
        return refuse(out, "x87 or SSE exceptions unmasked");
    if ((fsw & 0x80) && fpu_waits(&ins, ops))
        return refuse(out, "an x87 exception is pending");
    if (ins.mnemonic == ZYDIS_MNEMONIC_LDMXCSR) {
        uint32_t v;
        memcpy(&v, membuf, 4);
        if (v & ~guest_mask)
            return fpu_fault(out, FPU_VEC_GP, true, 0,
                    "#GP(0): ldmxcsr loads reserved MXCSR bits (0x%08x)", v);
        if (v & ~host_mask)
            return fpu_say(out, FPU_STOP,
                    "the guest sets MXCSR bits this host's CPU lacks (0x%08x, rip 0x%llx)", v,
                    (unsigned long long)rip);
    }

    st.r11 = gpr ? *gpr : 0;
    st.rflags = r->rflags; /* the hidden inputs of fcmovcc */
    if (fpu_host_run(&st, membuf, code, code_len) < 0)
        return fpu_say(out, FPU_STOP, "cannot prepare the page for completing instructions");

    if (mem_op >= 0 && mo.write)
        copy_operand(g, &mo, membuf, true);
    fpu_fix_x87_pointers(&ins, bytes, g->fx, st.guest_fx, rip, mem_op >= 0, mo.gva);
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

/*
 * Completing x87, MMX and SSE instructions that KVM could not emulate.
 *
 * Some KVMs emulate all CPL-0 guest code in software (this machine's nested
 * kvm_pvm does), and KVM's instruction emulator knows only a few SSE moves:
 * `paddd`, `pxor`, `mulsd`, `cvtsi2sd`... end in KVM_INTERNAL_ERROR_EMULATION.
 * Unikernels from Solo5's toolchain use SSE freely, so the monitor finishes
 * such an instruction itself: it decodes it with Zydis, re-encodes it with
 * its memory operand pointing at a host buffer and a general register
 * operand moved to r11, and runs it on the host CPU between loading and
 * saving the guest's whole x87/SSE state (FXRSTOR/FXSAVE). The result is exactly what
 * the guest's own CPU would have computed (same instruction, same inputs).
 *
 * Supported: legacy-encoded x87, MMX, SSE..SSE4, AES and PCLMULQDQ
 * instructions with x87/MMX/XMM registers, at most one general register,
 * immediates and at most one memory operand (64 bytes at most), while every
 * x87 and SSE exception is masked. Anything else is reported as before.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <Zydis/Zydis.h>

#include "monitor/monitor.h"

/* What the trampoline loads and saves: the guest's x87/SSE state in FXSAVE
 * layout, the host's own (restored afterwards), r11 and the flags. */
struct fx_state {
    uint8_t guest_fx[512];  /* 0 */
    uint8_t host_fx[512];   /* 512 */
    uint64_t r11;           /* 1024 */
    uint64_t rflags;        /* 1032 */
} __attribute__((aligned(64)));
_Static_assert(offsetof(struct fx_state, host_fx) == 512, "trampoline offsets");
_Static_assert(offsetof(struct fx_state, r11) == 1024, "trampoline offsets");
_Static_assert(offsetof(struct fx_state, rflags) == 1032, "trampoline offsets");

/* FXSAVE-layout offsets */
#define FX_FCW 0
#define FX_MXCSR 24

void ukvm_fx_exec(struct fx_state *st, void *mem, const void *code);

/* ukvm_fx_exec(st, mem, code): save the host's x87/SSE state, load the
 * guest's, call `code` (the instruction, then ret) with rdi = mem and r11
 * from st, save the guest's state, r11 and rflags back, restore the
 * host's. */
__asm__(
    ".text\n"
    ".globl ukvm_fx_exec\n"
    ".type ukvm_fx_exec, @function\n"
    "ukvm_fx_exec:\n"
    "    push %rbx\n"
    "    mov %rdi, %rbx\n"
    "    fxsave64 512(%rbx)\n"
    "    fxrstor64 0(%rbx)\n"
    "    mov 1024(%rbx), %r11\n"
    "    mov %rsi, %rdi\n"
    "    call *%rdx\n"
    "    pushfq\n"
    "    pop %rax\n"
    "    mov %rax, 1032(%rbx)\n"
    "    mov %r11, 1024(%rbx)\n"
    "    fxsave64 0(%rbx)\n"
    "    fxrstor64 512(%rbx)\n"
    "    pop %rbx\n"
    "    ret\n"
    ".size ukvm_fx_exec, .-ukvm_fx_exec\n"
    ".section .note.GNU-stack,\"\",@progbits\n"
    ".text\n");

/* One page holding the re-encoded instruction and a ret. */
static uint8_t *code_page;
static bool code_page_wx; /* mapped writable and executable at once */

static int code_page_write(const uint8_t *code, size_t len)
{
    if (!code_page) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        code_page_wx = p != MAP_FAILED;
        if (p == MAP_FAILED)
            p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return -1;
        code_page = p;
    }
    if (!code_page_wx && mprotect(code_page, 4096, PROT_READ | PROT_WRITE) < 0)
        return -1;
    memcpy(code_page, code, len);
    if (!code_page_wx && mprotect(code_page, 4096, PROT_READ | PROT_EXEC) < 0)
        return -1;
    return 0;
}

/* Guest-virtual memory access through the guest's page tables. */
static bool guest_copy(struct vm *vm, uint64_t gva, void *buf, size_t len, bool write)
{
    size_t done = 0;
    while (done < len) {
        struct kvm_translation tr = { .linear_address = gva + done };
        if (ioctl(vm->vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
            return false;
        size_t chunk = 0x1000 - ((gva + done) & 0xfff);
        if (chunk > len - done)
            chunk = len - done;
        if (!vm_range_ok(vm, tr.physical_address, chunk))
            return false;
        if (write) {
            memcpy(vm->mem + tr.physical_address, (uint8_t *)buf + done, chunk);
            vm_mark_dirty(vm, tr.physical_address, chunk);
        } else {
            memcpy((uint8_t *)buf + done, vm->mem + tr.physical_address, chunk);
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

int fpu_complete(struct monitor *m)
{
    struct vm *vm = &m->vm;
    struct kvm_regs *r = vm_regs(vm);
    uint64_t rip = r->rip;
    uint8_t bytes[16];
    size_t avail = 15;
    while (avail > 0 && !guest_copy(vm, rip, bytes, avail, false))
        avail--; /* the instruction may end just before an unmapped page */
    if (avail == 0)
        return -1;

    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    ZydisDecodedInstruction ins;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, bytes, avail, &ins, ops)))
        return -1;
    if (ins.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY || !isa_supported(ins.meta.isa_ext))
        return -1;

    /* hidden operands: only x87/SSE state and flags may be touched behind
     * our back (all of it is loaded and saved around the instruction) */
    for (uint8_t i = ins.operand_count_visible; i < ins.operand_count; i++) {
        if (ops[i].type != ZYDIS_OPERAND_TYPE_REGISTER)
            return -1;
        if (!fx_register(ops[i].reg.value))
            return -1;
    }

    ZydisEncoderRequest req;
    if (!ZYAN_SUCCESS(ZydisEncoderDecodedInstructionToEncoderRequest(&ins, ops,
            ins.operand_count_visible, &req)))
        return -1;
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
                return -1;
            if (gpr_op >= 0 || (op->reg.value >= ZYDIS_REGISTER_AH && op->reg.value <= ZYDIS_REGISTER_BH))
                return -1;
            gpr = gpr_slot(r, ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64,
                    op->reg.value));
            if (!gpr)
                return -1;
            gpr_op = i;
            req.operands[i].reg.value = ZydisRegisterEncode(cls, 11);
            continue;
        }
        if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.type != ZYDIS_MEMOP_TYPE_MEM ||
            mem_op >= 0)
            return -1;
        mem_len = op->size / 8;
        if (mem_len == 0 || mem_len > sizeof(membuf))
            return -1;
        ZydisRegisterContext ctx;
        fill_context(&ctx, r);
        if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddressEx(&ins, op, rip, &ctx, &mem_addr)))
            return -1;
        if (op->mem.segment == ZYDIS_REGISTER_FS || op->mem.segment == ZYDIS_REGISTER_GS) {
            struct kvm_sregs s;
            if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
                return -1;
            mem_addr += op->mem.segment == ZYDIS_REGISTER_FS ? s.fs.base : s.gs.base;
        }
        if ((op->actions & ZYDIS_OPERAND_ACTION_MASK_READ) &&
            !guest_copy(vm, mem_addr, membuf, mem_len, false))
            return -1;
        mem_op = i;
        req.operands[i].mem.base = ZYDIS_REGISTER_RDI;
        req.operands[i].mem.index = ZYDIS_REGISTER_NONE;
        req.operands[i].mem.scale = 0;
        req.operands[i].mem.displacement = 0;
    }

    uint8_t code[ZYDIS_MAX_INSTRUCTION_LENGTH + 1];
    ZyanUSize code_len = sizeof(code) - 1;
    if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&req, code, &code_len)))
        return -1;
    code[code_len++] = 0xc3; /* ret */

    struct fx_state st;
    memset(&st, 0, sizeof(st));
    if (vm_get_fxarea(vm, st.guest_fx) < 0)
        return -1;
    /* An unmasked x87 or SSE exception would fault on the host, not in the
     * guest: leave those to the error report. */
    uint16_t fcw;
    uint32_t mxcsr;
    memcpy(&fcw, st.guest_fx + FX_FCW, 2);
    memcpy(&mxcsr, st.guest_fx + FX_MXCSR, 4);
    if ((fcw & 0x3f) != 0x3f || (mxcsr & 0x1f80) != 0x1f80)
        return -1;
    st.r11 = gpr ? *gpr : 0;
    if (code_page_write(code, code_len) < 0)
        return -1;
    ukvm_fx_exec(&st, membuf, code_page);

    if (mem_op >= 0 && (ops[mem_op].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
        !guest_copy(vm, mem_addr, membuf, mem_len, true))
        return -1;
    if (vm_set_fxarea(vm, st.guest_fx) < 0)
        return -1;
    if (gpr && (ops[gpr_op].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
        *gpr = st.r11;
    if (ins.cpu_flags && (ins.cpu_flags->modified | ins.cpu_flags->set_0 | ins.cpu_flags->set_1)) {
        const uint64_t arith = 0x8d5; /* CF PF AF ZF SF OF */
        r->rflags = (r->rflags & ~arith) | (st.rflags & arith);
    }
    r->rip = rip + ins.length;
    vm_regs_changed(vm);
    return 0;
}

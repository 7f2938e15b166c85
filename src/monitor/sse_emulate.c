/*
 * Completing SSE instructions that KVM could not emulate.
 *
 * Some KVMs emulate all CPL-0 guest code in software (this machine's nested
 * kvm_pvm does), and KVM's instruction emulator knows only a few SSE moves:
 * `paddd`, `pxor`, `mulsd`, `cvtsi2sd`... end in KVM_INTERNAL_ERROR_EMULATION.
 * Unikernels from Solo5's toolchain use SSE freely, so the monitor finishes
 * such an instruction itself: it decodes it with Zydis, re-encodes it with
 * its memory operand pointing at a host buffer and a general register
 * operand moved to r11, and runs it on the host CPU between loading and
 * saving the guest's SSE registers and MXCSR. The result is exactly what
 * the guest's own CPU would have computed (same instruction, same inputs).
 *
 * Supported: legacy-encoded SSE..SSE4, AES and PCLMULQDQ instructions with
 * XMM, general register, immediate and at most one memory operand, and
 * MXCSR masking every exception. Anything else is reported as before.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <Zydis/Zydis.h>

#include "monitor/monitor.h"

/* The host-side state the trampoline loads and saves. */
struct sse_state {
    uint8_t xmm[16][16];    /* 0 */
    uint32_t mxcsr;         /* 256 */
    uint32_t pad;
    uint64_t r11;           /* 264 */
    uint64_t rflags;        /* 272 */
    uint32_t host_mxcsr;    /* 280 */
} __attribute__((aligned(16)));
_Static_assert(offsetof(struct sse_state, mxcsr) == 256, "trampoline offsets");
_Static_assert(offsetof(struct sse_state, r11) == 264, "trampoline offsets");
_Static_assert(offsetof(struct sse_state, rflags) == 272, "trampoline offsets");
_Static_assert(offsetof(struct sse_state, host_mxcsr) == 280, "trampoline offsets");

void ukvm_sse_exec(struct sse_state *st, void *mem, const void *code);

/* ukvm_sse_exec(st, mem, code): load the guest's XMM registers, MXCSR and
 * r11, call `code` (the instruction, then ret) with rdi = mem, save them
 * back with rflags. The host's MXCSR is preserved (it is callee-saved). */
__asm__(
    ".text\n"
    ".globl ukvm_sse_exec\n"
    ".type ukvm_sse_exec, @function\n"
    "ukvm_sse_exec:\n"
    "    push %rbx\n"
    "    mov %rdi, %rbx\n"
    "    stmxcsr 280(%rbx)\n"
    "    ldmxcsr 256(%rbx)\n"
    "    movdqu 0(%rbx), %xmm0\n    movdqu 16(%rbx), %xmm1\n"
    "    movdqu 32(%rbx), %xmm2\n   movdqu 48(%rbx), %xmm3\n"
    "    movdqu 64(%rbx), %xmm4\n   movdqu 80(%rbx), %xmm5\n"
    "    movdqu 96(%rbx), %xmm6\n   movdqu 112(%rbx), %xmm7\n"
    "    movdqu 128(%rbx), %xmm8\n  movdqu 144(%rbx), %xmm9\n"
    "    movdqu 160(%rbx), %xmm10\n movdqu 176(%rbx), %xmm11\n"
    "    movdqu 192(%rbx), %xmm12\n movdqu 208(%rbx), %xmm13\n"
    "    movdqu 224(%rbx), %xmm14\n movdqu 240(%rbx), %xmm15\n"
    "    mov 264(%rbx), %r11\n"
    "    mov %rsi, %rdi\n"
    "    call *%rdx\n"
    "    pushfq\n"
    "    pop %rax\n"
    "    mov %rax, 272(%rbx)\n"
    "    mov %r11, 264(%rbx)\n"
    "    movdqu %xmm0, 0(%rbx)\n    movdqu %xmm1, 16(%rbx)\n"
    "    movdqu %xmm2, 32(%rbx)\n   movdqu %xmm3, 48(%rbx)\n"
    "    movdqu %xmm4, 64(%rbx)\n   movdqu %xmm5, 80(%rbx)\n"
    "    movdqu %xmm6, 96(%rbx)\n   movdqu %xmm7, 112(%rbx)\n"
    "    movdqu %xmm8, 128(%rbx)\n  movdqu %xmm9, 144(%rbx)\n"
    "    movdqu %xmm10, 160(%rbx)\n movdqu %xmm11, 176(%rbx)\n"
    "    movdqu %xmm12, 192(%rbx)\n movdqu %xmm13, 208(%rbx)\n"
    "    movdqu %xmm14, 224(%rbx)\n movdqu %xmm15, 240(%rbx)\n"
    "    stmxcsr 256(%rbx)\n"
    "    ldmxcsr 280(%rbx)\n"
    "    pop %rbx\n"
    "    ret\n"
    ".size ukvm_sse_exec, .-ukvm_sse_exec\n"
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

static bool isa_supported(ZydisISAExt ext)
{
    switch (ext) {
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

int sse_emulate(struct monitor *m)
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

    /* hidden operands: only MXCSR and flags may be touched behind our back */
    for (uint8_t i = ins.operand_count_visible; i < ins.operand_count; i++) {
        if (ops[i].type != ZYDIS_OPERAND_TYPE_REGISTER)
            return -1;
        ZydisRegister reg = ops[i].reg.value;
        if (reg != ZYDIS_REGISTER_MXCSR && reg != ZYDIS_REGISTER_RFLAGS &&
            reg != ZYDIS_REGISTER_EFLAGS && reg != ZYDIS_REGISTER_FLAGS)
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
            if (cls == ZYDIS_REGCLASS_XMM)
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

    struct vm_fpstate fpu;
    if (vm_get_fpstate(vm, &fpu) < 0)
        return -1;
    /* An unmasked SSE exception would fault on the host, not in the guest. */
    if ((fpu.mxcsr & 0x1f80) != 0x1f80)
        return -1;
    struct sse_state st;
    memset(&st, 0, sizeof(st));
    memcpy(st.xmm, fpu.xmm, sizeof(st.xmm));
    st.mxcsr = fpu.mxcsr;
    st.r11 = gpr ? *gpr : 0;
    if (code_page_write(code, code_len) < 0)
        return -1;
    ukvm_sse_exec(&st, membuf, code_page);

    if (mem_op >= 0 && (ops[mem_op].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
        !guest_copy(vm, mem_addr, membuf, mem_len, true))
        return -1;
    memcpy(fpu.xmm, st.xmm, sizeof(fpu.xmm));
    fpu.mxcsr = st.mxcsr;
    if (vm_set_fpstate(vm, &fpu) < 0)
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

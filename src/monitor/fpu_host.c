/*
 * Running one guest x87/MMX/SSE instruction on the host CPU: a trampoline
 * that swaps the host's x87/SSE state for the guest's around a call to the
 * re-encoded instruction, and the page that holds that instruction.
 */
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include "monitor/fpu_complete.h"

_Static_assert(offsetof(struct fpu_run_state, host_fx) == 512, "trampoline offsets");
_Static_assert(offsetof(struct fpu_run_state, r11) == 1024, "trampoline offsets");
_Static_assert(offsetof(struct fpu_run_state, rflags) == 1032, "trampoline offsets");

void ukvm_fx_exec(struct fpu_run_state *st, void *mem, const void *code);

/* ukvm_fx_exec(st, mem, code): save the host's x87/SSE state, load the
 * guest's, call `code` (the instruction, then ret) with rdi = mem, r11 and
 * the guest's arithmetic flags (CF PF AF ZF SF OF: fcmovcc reads them) from
 * st, save the guest's state, r11 and rflags back, restore the host's. */
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
    "    pushfq\n"
    "    andq $~0x8d5, (%rsp)\n"
    "    mov 1032(%rbx), %rax\n"
    "    and $0x8d5, %eax\n"
    "    or %rax, (%rsp)\n"
    "    popfq\n"
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

/* One page holding the re-encoded instruction and a ret: writable while it
 * is written, executable while it runs, never both. A loop that keeps
 * missing KVM's emulator completes the same instruction again and again:
 * then the page is left as it is. */
static uint8_t *code_page;
static uint8_t code_now[16];
static size_t code_now_len;

static int code_page_write(const uint8_t *code, size_t len)
{
    if (code_page && len == code_now_len && memcmp(code, code_now, len) == 0)
        return 0;
    if (!code_page) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return -1;
        code_page = p;
    } else if (mprotect(code_page, 4096, PROT_READ | PROT_WRITE) < 0) {
        return -1;
    }
    code_now_len = 0;
    memcpy(code_page, code, len);
    code_page[len] = 0xc3; /* ret */
    if (mprotect(code_page, 4096, PROT_READ | PROT_EXEC) < 0)
        return -1;
    memcpy(code_now, code, len);
    code_now_len = len;
    return 0;
}

int fpu_host_run(struct fpu_run_state *st, void *mem, const uint8_t *code, size_t len)
{
    if (len > 15 || code_page_write(code, len) < 0)
        return -1;
    ukvm_fx_exec(st, mem, code_page);
    return 0;
}

const void *fpu_host_code_page(void)
{
    return code_page;
}

static bool features_hidden;
static uint32_t hidden_ecx, hidden_edx;

void fpu_host_hide_features(uint32_t ecx, uint32_t edx)
{
    features_hidden = ecx || edx;
    hidden_ecx = ecx;
    hidden_edx = edx;
}

void fpu_host_features(uint32_t *ecx, uint32_t *edx)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    *ecx = c & (features_hidden ? ~hidden_ecx : ~0u);
    *edx = d & (features_hidden ? ~hidden_edx : ~0u);
}

uint32_t fpu_host_mxcsr_mask(void)
{
    static uint32_t mask;
    if (!mask) {
        _Alignas(16) uint8_t fx[512];
        memset(fx, 0, sizeof(fx));
        __asm__ volatile("fxsave64 %0" : "=m"(fx));
        memcpy(&mask, fx + FPU_FX_MXCSR_MASK, 4);
        if (!mask)
            mask = 0xffbf; /* the architectural default */
    }
    return mask;
}

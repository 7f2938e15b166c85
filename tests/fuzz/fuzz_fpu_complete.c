/*
 * libFuzzer target: instruction completion (src/monitor/fpu_exec.c) on
 * random legacy-encoded instruction bytes and random guest state. Every
 * input must end in a refusal, a guest fault or a stop; a completed
 * instruction must give what the same instruction gives when run natively
 * (in a forked child, at the same addresses, with the same registers,
 * x87/SSE state and memory); and the monitor's process never takes a signal.
 *
 * Input (zero-padded; tests/fuzz/fpu_seeds.py writes the seed corpus):
 *   0      mode bits: 1 sane x87/SSE control state, 2 registers point into
 *          guest memory, 4 CR0.TS, 8 CR0.EM, 16 CR4.OSFXSR clear,
 *          32 not 64-bit code, 64 CPUID features removed
 *   1      arithmetic flags: CF PF AF ZF SF OF in bits 0..5
 *   2..7   per-page masks (16 pages): present, writable, host-protected
 *   8..15  CPUID leaf 1 ecx, edx bits to remove (mode 64)
 *   16..17 rip offset in the code page
 *   18..33 instruction bytes
 *   34..161 rax..r15
 *   162..163 which registers point into guest memory (mode 2)
 *   164..675 the FXSAVE image
 *   676..  guest memory contents, repeated
 */
#include <asm/prctl.h>
#include <signal.h>
#include <ucontext.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <Zydis/Zydis.h>

#include "monitor/fpu_complete.h"

#define BASE 0x40000000ULL       /* guest-virtual = host address in the child */
#define MEM_SIZE 0x10000
#define NPAGES (MEM_SIZE / 4096)
#define CODE_PAGE 1
#define HDR 676

struct fake {
    uint8_t *mem;                /* the completion's guest memory */
    uint16_t present, writable, protect;
};
static struct fake F;

static bool fake_translate(void *ctx, uint64_t gva, uint64_t *gpa, bool *writable)
{
    struct fake *f = ctx;
    if (gva < BASE || gva >= BASE + MEM_SIZE || !(f->present >> ((gva - BASE) >> 12) & 1))
        return false;
    *gpa = gva - BASE;
    *writable = f->writable >> ((gva - BASE) >> 12) & 1;
    return true;
}

static uint8_t *fake_host(void *ctx, uint64_t gpa, size_t len)
{
    struct fake *f = ctx;
    return gpa <= MEM_SIZE && len <= MEM_SIZE - gpa ? f->mem + gpa : NULL;
}

static bool fake_protected(void *ctx, uint64_t gpa)
{
    struct fake *f = ctx;
    return gpa < MEM_SIZE && (f->protect >> (gpa >> 12) & 1);
}

static void fake_written(void *ctx, uint64_t gpa, size_t len)
{
    (void)ctx;
    if (gpa > MEM_SIZE || len > MEM_SIZE - gpa)
        abort(); /* a store the completion never checked */
}

/* ---- the native run, in a child ---- */

/* What the child loads and what it saves after the instruction. */
struct native {
    uint64_t gpr[16];           /* rax rcx rdx rbx rsp rbp rsi rdi r8..r15 */
    uint64_t rflags;
    uint64_t target;            /* where the instruction is */
    uint64_t host_rsp;
    uint8_t pad[8];
    uint8_t fx[512] __attribute__((aligned(16)));
    uint8_t stack[4096] __attribute__((aligned(16)));
} __attribute__((aligned(64)));
struct native ukvm_fuzz_in, ukvm_fuzz_out;

/* The shared page the child reports through: its registers, flags, FXSAVE
 * image and memory. */
struct report {
    struct native out;
    int signo;                  /* the child's fault, for the message */
    uint64_t fault_rip, fault_addr;
    uint8_t mem[MEM_SIZE];
};
static struct report *shared;

void ukvm_fuzz_enter(void);
void ukvm_fuzz_exit(void);

__asm__(
    ".text\n"
    ".globl ukvm_fuzz_enter\n"
    "ukvm_fuzz_enter:\n"
    "    mov %rsp, ukvm_fuzz_in+144(%rip)\n"          /* host_rsp */
    "    fxrstor64 ukvm_fuzz_in+160(%rip)\n"          /* fx */
    "    pushq ukvm_fuzz_in+128(%rip)\n"              /* rflags */
    "    popfq\n"
    "    mov ukvm_fuzz_in+0(%rip), %rax\n"
    "    mov ukvm_fuzz_in+8(%rip), %rcx\n"
    "    mov ukvm_fuzz_in+16(%rip), %rdx\n"
    "    mov ukvm_fuzz_in+24(%rip), %rbx\n"
    "    mov ukvm_fuzz_in+40(%rip), %rbp\n"
    "    mov ukvm_fuzz_in+48(%rip), %rsi\n"
    "    mov ukvm_fuzz_in+56(%rip), %rdi\n"
    "    mov ukvm_fuzz_in+64(%rip), %r8\n"
    "    mov ukvm_fuzz_in+72(%rip), %r9\n"
    "    mov ukvm_fuzz_in+80(%rip), %r10\n"
    "    mov ukvm_fuzz_in+88(%rip), %r11\n"
    "    mov ukvm_fuzz_in+96(%rip), %r12\n"
    "    mov ukvm_fuzz_in+104(%rip), %r13\n"
    "    mov ukvm_fuzz_in+112(%rip), %r14\n"
    "    mov ukvm_fuzz_in+120(%rip), %r15\n"
    "    mov ukvm_fuzz_in+32(%rip), %rsp\n"
    "    jmp *ukvm_fuzz_in+136(%rip)\n"               /* target */
    ".globl ukvm_fuzz_exit\n"
    "ukvm_fuzz_exit:\n"
    "    mov %rax, ukvm_fuzz_out+0(%rip)\n"
    "    mov %rcx, ukvm_fuzz_out+8(%rip)\n"
    "    mov %rdx, ukvm_fuzz_out+16(%rip)\n"
    "    mov %rbx, ukvm_fuzz_out+24(%rip)\n"
    "    mov %rsp, ukvm_fuzz_out+32(%rip)\n"
    "    mov %rbp, ukvm_fuzz_out+40(%rip)\n"
    "    mov %rsi, ukvm_fuzz_out+48(%rip)\n"
    "    mov %rdi, ukvm_fuzz_out+56(%rip)\n"
    "    mov %r8, ukvm_fuzz_out+64(%rip)\n"
    "    mov %r9, ukvm_fuzz_out+72(%rip)\n"
    "    mov %r10, ukvm_fuzz_out+80(%rip)\n"
    "    mov %r11, ukvm_fuzz_out+88(%rip)\n"
    "    mov %r12, ukvm_fuzz_out+96(%rip)\n"
    "    mov %r13, ukvm_fuzz_out+104(%rip)\n"
    "    mov %r14, ukvm_fuzz_out+112(%rip)\n"
    "    mov %r15, ukvm_fuzz_out+120(%rip)\n"
    "    lea ukvm_fuzz_out+4768(%rip), %rsp\n"        /* the end of out.stack */
    "    pushfq\n"
    "    popq ukvm_fuzz_out+128(%rip)\n"
    "    fxsave64 ukvm_fuzz_out+160(%rip)\n"
    "    mov ukvm_fuzz_in+144(%rip), %rsp\n"
    "    and $-16, %rsp\n"
    "    call ukvm_fuzz_done\n"
    "    ud2\n"
    ".section .note.GNU-stack,\"\",@progbits\n"
    ".text\n");
_Static_assert(offsetof(struct native, rflags) == 128, "native offsets");
_Static_assert(offsetof(struct native, target) == 136, "native offsets");
_Static_assert(offsetof(struct native, host_rsp) == 144, "native offsets");
_Static_assert(offsetof(struct native, fx) == 160, "native offsets");
_Static_assert(offsetof(struct native, stack) + sizeof(((struct native *)0)->stack) == 4768,
        "native offsets");

__attribute__((noreturn, used)) void ukvm_fuzz_done(void);
void ukvm_fuzz_done(void)
{
    /* a fresh x87/SSE state for the C code that follows */
    uint32_t mxcsr = 0x1f80;
    __asm__ volatile("fninit; ldmxcsr %0" : : "m"(mxcsr));
    shared->out = ukvm_fuzz_out;
    for (int p = 0; p < NPAGES; p++)
        if (F.present >> p & 1)
            memcpy(shared->mem + p * 4096, (void *)(uintptr_t)(BASE + p * 4096), 4096);
    _exit(0);
}

static void on_fault(int signo, siginfo_t *si, void *uc_)
{
    ucontext_t *uc = uc_;
    shared->signo = signo;
    shared->fault_rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    shared->fault_addr = (uint64_t)(uintptr_t)si->si_addr;
    if (getenv("FPU_FUZZ_DEBUG"))
        fprintf(stderr, "child fault: rsp %llx eflags %llx err %llx trapno %llx\n",
                (unsigned long long)uc->uc_mcontext.gregs[REG_RSP],
                (unsigned long long)uc->uc_mcontext.gregs[REG_EFL],
                (unsigned long long)uc->uc_mcontext.gregs[REG_ERR],
                (unsigned long long)uc->uc_mcontext.gregs[REG_TRAPNO]);
    _exit(97);
}

/* Run the instruction at `target` natively: 0 with the results in
 * `shared`, -1 when the child could not map guest memory, 1 when the
 * instruction faulted (a signal). */
static int run_native(const uint8_t *mem0, const struct fpu_guest *g)
{
    memset(shared, 0, sizeof(*shared));
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        for (int s = 1; s < 32; s++)
            signal(s, SIG_DFL);
        static uint8_t altstack[65536];
        stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
        sigaltstack(&ss, NULL);
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        sigaction(SIGILL, &sa, NULL);
        sigaction(SIGFPE, &sa, NULL);
        alarm(5);
        void *p = mmap((void *)(uintptr_t)BASE, MEM_SIZE, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p != (void *)(uintptr_t)BASE)
            _exit(99);
        memcpy(p, mem0, MEM_SIZE);
        for (int pg = 0; pg < NPAGES; pg++) {
            int prot = PROT_NONE;
            if (F.present >> pg & 1)
                prot = PROT_READ | PROT_EXEC |
                    ((F.writable >> pg & 1) && !(F.protect >> pg & 1) ? PROT_WRITE : 0);
            if (mprotect((uint8_t *)p + pg * 4096, 4096, prot) < 0)
                _exit(99);
        }
        uint64_t regs[16] = { g->regs.rax, g->regs.rcx, g->regs.rdx, g->regs.rbx, g->regs.rsp,
            g->regs.rbp, g->regs.rsi, g->regs.rdi, g->regs.r8, g->regs.r9, g->regs.r10,
            g->regs.r11, g->regs.r12, g->regs.r13, g->regs.r14, g->regs.r15 };
        memcpy(ukvm_fuzz_in.gpr, regs, sizeof(regs));
        uint64_t host_flags;
        __asm__ volatile("pushfq; popq %0" : "=r"(host_flags));
        ukvm_fuzz_in.rflags = (host_flags & ~0x8d5ULL) | (g->regs.rflags & 0x8d5);
        ukvm_fuzz_in.target = g->regs.rip;
        memcpy(ukvm_fuzz_in.fx, g->fx, 512);
        ukvm_fuzz_enter();
        _exit(98);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    if (WIFSIGNALED(st))
        return 1;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 97) {
        fprintf(stderr, "fuzz_fpu_complete: the native run took signal %d at 0x%llx (address 0x%llx)\n",
                shared->signo, (unsigned long long)shared->fault_rip,
                (unsigned long long)shared->fault_addr);
        return 1;
    }
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void mismatch(const char *what, const uint8_t *ins)
{
    fprintf(stderr, "fuzz_fpu_complete: completed result differs from the native one (%s); "
            "instruction:", what);
    for (int i = 0; i < 15; i++)
        fprintf(stderr, " %02x", ins[i]);
    fprintf(stderr, "\n");
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        abort();
    F.mem = malloc(MEM_SIZE);
    if (!F.mem)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t in[HDR];
    memset(in, 0, sizeof(in));
    memcpy(in, data, size < HDR ? size : HDR);
    uint8_t mode = in[0];

    static struct fpu_guest g;
    memset(&g, 0, sizeof(g));
    static const struct fpu_mem mem = {
        .translate = fake_translate, .host = fake_host, .protected_page = fake_protected,
        .written = fake_written, .ctx = &F,
    };
    g.mem = &mem;

    /* guest memory: the contents, then the instruction and a jump to the
     * child's exit after it (the same bytes for both runs) */
    if (size > HDR)
        for (size_t i = 0; i < MEM_SIZE; i++)
            F.mem[i] = data[HDR + i % (size - HDR)];
    else
        memset(F.mem, 0, MEM_SIZE);
    memcpy(&F.present, in + 2, 2);
    memcpy(&F.writable, in + 4, 2);
    memcpy(&F.protect, in + 6, 2);
    F.present |= 1u << CODE_PAGE;
    F.writable &= (uint16_t)~(1u << CODE_PAGE); /* stores never reach the code */
    uint16_t off;
    memcpy(&off, in + 16, 2);
    uint64_t rip_off = CODE_PAGE * 4096 + off % (4096 - 32);
    memcpy(F.mem + rip_off, in + 18, 15);
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    ZydisDecodedInstruction ins;
    bool decoded = ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, NULL, in + 18, 15, &ins));
    if (decoded) {
        uint8_t *j = F.mem + rip_off + ins.length;
        j[0] = 0xff; /* jmp [rip+0] */
        j[1] = 0x25;
        memset(j + 2, 0, 4);
        uint64_t exit_addr = (uint64_t)(uintptr_t)ukvm_fuzz_exit;
        memcpy(j + 6, &exit_addr, 8);
    }
    static uint8_t mem0[MEM_SIZE];
    memcpy(mem0, F.mem, MEM_SIZE);

    /* registers and control state */
    g.regs.rip = BASE + rip_off;
    g.regs.rflags = 0x2;
    static const uint64_t flag_bits[6] = { 0x1, 0x4, 0x10, 0x40, 0x80, 0x800 };
    for (int i = 0; i < 6; i++)
        if (in[1] >> i & 1)
            g.regs.rflags |= flag_bits[i];
    __u64 *gpr[16] = { &g.regs.rax, &g.regs.rcx, &g.regs.rdx, &g.regs.rbx, &g.regs.rsp,
        &g.regs.rbp, &g.regs.rsi, &g.regs.rdi, &g.regs.r8, &g.regs.r9, &g.regs.r10,
        &g.regs.r11, &g.regs.r12, &g.regs.r13, &g.regs.r14, &g.regs.r15 };
    uint16_t ptrs;
    memcpy(&ptrs, in + 162, 2);
    for (int i = 0; i < 16; i++) {
        *gpr[i] = rd64(in + 34 + 8 * i);
        if ((mode & 2) && (ptrs >> i & 1))
            *gpr[i] = BASE + (*gpr[i] & (MEM_SIZE - 1));
    }
    /* with a non-canonical stack pointer the child takes a #GP right
     * after the instruction (seen on an AMD EPYC host): keep it canonical */
    g.regs.rsp = (uint64_t)((int64_t)(g.regs.rsp << 16) >> 16);
    g.sregs.cr0 = 0x80010033 | ((mode & 4) ? 0x8 : 0) | ((mode & 8) ? 0x4 : 0);
    g.sregs.cr4 = (mode & 16) ? 0x420 : 0x620;
    g.sregs.efer = 0x500;
    g.sregs.cs.l = !(mode & 32);
    g.sregs.cs.db = !!(mode & 32);
    syscall(SYS_arch_prctl, ARCH_GET_FS, &g.sregs.fs.base);
    syscall(SYS_arch_prctl, ARCH_GET_GS, &g.sregs.gs.base);
    fpu_host_features(&g.cpuid1_ecx, &g.cpuid1_edx);
    if (mode & 64) {
        uint32_t ecx_off, edx_off;
        memcpy(&ecx_off, in + 8, 4);
        memcpy(&edx_off, in + 12, 4);
        g.cpuid1_ecx &= ~ecx_off;
        g.cpuid1_edx &= ~edx_off;
    }
    memcpy(g.fx, in + 164, 512);
    if (mode & 1) {
        uint16_t fcw, fsw;
        uint32_t mxcsr;
        memcpy(&fcw, g.fx + FPU_FX_FCW, 2);
        memcpy(&fsw, g.fx + FPU_FX_FSW, 2);
        memcpy(&mxcsr, g.fx + FPU_FX_MXCSR, 4);
        fcw |= 0x3f;
        fsw &= (uint16_t)~0x80;
        mxcsr = (mxcsr & fpu_host_mxcsr_mask()) | 0x1f80;
        memcpy(g.fx + FPU_FX_FCW, &fcw, 2);
        memcpy(g.fx + FPU_FX_FSW, &fsw, 2);
        memcpy(g.fx + FPU_FX_MXCSR, &mxcsr, 4);
    }
    static struct fpu_guest before;
    before = g;

    struct fpu_outcome out;
    enum fpu_result r = fpu_complete_insn(&g, &out);
    if (r != FPU_DONE) {
        /* nothing may have changed */
        if (memcmp(&g.regs, &before.regs, sizeof(g.regs)) || memcmp(g.fx, before.fx, 512) ||
            memcmp(F.mem, mem0, MEM_SIZE))
            mismatch("a refused or faulting instruction changed the guest", in + 18);
        return 0;
    }
    if (!decoded)
        mismatch("completed an instruction Zydis cannot decode", in + 18);
    int n = run_native(mem0, &before);
    if (n < 0)
        return 0; /* the child could not set up: no comparison */
    if (n > 0)
        mismatch("the native run faulted", in + 18);
    const struct native *o = &shared->out;
    const __u64 *want[16] = { &g.regs.rax, &g.regs.rcx, &g.regs.rdx, &g.regs.rbx,
        &g.regs.rsp, &g.regs.rbp, &g.regs.rsi, &g.regs.rdi, &g.regs.r8, &g.regs.r9,
        &g.regs.r10, &g.regs.r11, &g.regs.r12, &g.regs.r13, &g.regs.r14, &g.regs.r15 };
    for (int i = 0; i < 16; i++)
        if (*want[i] != o->gpr[i])
            mismatch("general registers", in + 18);
    if ((g.regs.rflags & 0x8d5) != (o->rflags & 0x8d5))
        mismatch("flags", in + 18);
    if (g.regs.rip != BASE + rip_off + ins.length)
        mismatch("rip", in + 18);
    /* FOP, FIP and FDP are the guest's (the child's are this CPU's own
     * report); the rest of the image must match */
    for (size_t i = 0; i < 416; i++) { /* FXSAVE leaves 416..511 alone */
        if (i >= 6 && i < 24)
            continue;
        if (g.fx[i] != o->fx[i]) {
            fprintf(stderr, "fuzz_fpu_complete: FXSAVE byte %zu: completed 0x%02x, native 0x%02x\n",
                    i, g.fx[i], o->fx[i]);
            mismatch("x87/SSE state", in + 18);
        }
    }
    for (int p = 0; p < NPAGES; p++)
        if ((F.present >> p & 1) && memcmp(F.mem + p * 4096, shared->mem + p * 4096, 4096))
            mismatch("memory", in + 18);
    return 0;
}

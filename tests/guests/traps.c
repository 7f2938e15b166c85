/*
 * traps: the instructions that see RFLAGS, for checking that a debugger's
 * single-step trap flag (TF) never reaches the guest. It installs its own
 * IDT with handlers for #BP (int3), #UD (ud2), #PF and int $0x80, each of
 * which keeps the RFLAGS the CPU pushed in its frame and returns; then, in
 * a loop, it runs pushf, int3, int $0x80, ud2 and a load from the unmapped
 * zero page, and prints what each saw. Every flags value is the guest's
 * own: with TF (0x100) in any of them the guest says so and halts with
 * status 3.
 *
 *     traps [ROUNDS [INT]]   (default 3 rounds; INT 1: int3 and int $0x80 too)
 */
#include "rt.h"

RT_MANIFEST(0);

#define TF 0x100ull

/* what the handlers saw, written by the stubs below */
volatile uint64_t seen_bp, seen_ud, seen_pf, seen_int80;
volatile uint64_t pf_resume;    /* where the #PF handler goes back to */
volatile uint64_t traps_taken;

/* 16-byte interrupt gates; selector 0x08 is the monitor's code segment */
struct gate {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} __attribute__((packed));

static struct gate idt[256] __attribute__((aligned(16)));

/* Frames at handler entry, 64-bit mode: [rsp] = rip, +8 cs, +16 rflags
 * (+8 more with an error code, as #PF has). */
__asm__(
    ".text\n"
    "bp_stub:\n"
    "    pushq %rax\n"
    "    movq 24(%rsp), %rax\n"
    "    movq %rax, seen_bp(%rip)\n"
    "    incq traps_taken(%rip)\n"
    "    popq %rax\n"
    "    iretq\n"
    "int80_stub:\n"
    "    pushq %rax\n"
    "    movq 24(%rsp), %rax\n"
    "    movq %rax, seen_int80(%rip)\n"
    "    incq traps_taken(%rip)\n"
    "    popq %rax\n"
    "    iretq\n"
    "ud_stub:\n"
    "    pushq %rax\n"
    "    movq 24(%rsp), %rax\n"
    "    movq %rax, seen_ud(%rip)\n"
    "    addq $2, 8(%rsp)\n"          /* past the ud2 */
    "    incq traps_taken(%rip)\n"
    "    popq %rax\n"
    "    iretq\n"
    "pf_stub:\n"
    "    pushq %rax\n"
    "    movq 32(%rsp), %rax\n"
    "    movq %rax, seen_pf(%rip)\n"
    "    movq pf_resume(%rip), %rax\n"
    "    movq %rax, 16(%rsp)\n"
    "    incq traps_taken(%rip)\n"
    "    popq %rax\n"
    "    addq $8, %rsp\n"             /* the error code */
    "    iretq\n");

extern char bp_stub[], int80_stub[], ud_stub[], pf_stub[];

static void set_gate(unsigned int vec, void *handler)
{
    uint64_t a = (uint64_t)(uintptr_t)handler;
    idt[vec] = (struct gate){
        .off_lo = (uint16_t)a, .sel = 0x08, .ist = 0, .type = 0x8e,
        .off_mid = (uint16_t)(a >> 16), .off_hi = (uint32_t)(a >> 32), .zero = 0,
    };
}

/* The monitor's GDT lies in a page the guest cannot see, and exception
 * delivery reads the gate's code descriptor: bring our own (null, 64-bit
 * code 0x08, data 0x10), as Solo5's bindings do. */
static const uint64_t gdt[3] __attribute__((aligned(8))) = {
    0, 0x00af9a000000ffffull, 0x00cf92000000ffffull,
};

static void load_idt(void)
{
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) g = {
        sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt,
    };
    __asm__ __volatile__("lgdt %0" : : "m"(g));
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) d = {
        sizeof(idt) - 1, (uint64_t)(uintptr_t)idt,
    };
    __asm__ __volatile__("lidt %0" : : "m"(d));
}

NOINLINE uint64_t do_pushf(void)
{
    uint64_t f;
    __asm__ __volatile__("pushfq\n\tpopq %0" : "=r"(f) : : "memory");
    return f;
}

NOINLINE void do_int3(void)
{
    /* a nop first: gdb itself steps over a breakpoint set on an int3 by
     * moving pc, so a test breaks here and steps twice */
    __asm__ __volatile__("nop\n\tint3" : : : "memory");
}

NOINLINE void do_int80(void)
{
    __asm__ __volatile__("int $0x80" : : : "memory");
}

NOINLINE void do_ud2(void)
{
    __asm__ __volatile__("ud2" : : : "memory");
}

NOINLINE void do_page_fault(void)
{
    __asm__ __volatile__("leaq 1f(%%rip), %%rax\n\t"
                         "movq %%rax, pf_resume(%%rip)\n\t"
                         ".globl pf_insn\n"
                         "pf_insn:\n\t"
                         "movq 0x8, %%rax\n"   /* the zero page is not mapped */
                         "1:"
                         : : : "rax", "memory");
}

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    set_gate(3, bp_stub);
    set_gate(6, ud_stub);
    set_gate(14, pf_stub);
    set_gate(0x80, int80_stub);
    load_idt();
    uint64_t rounds = cmdline_u64(0, 3), leaks = 0;
    /* int3 and int N at CPL 0 are not emulated by some KVMs (the
     * development machines' kvm_pvm): a second argument of 1 runs them */
    int with_int = cmdline_u64(1, 0) != 0;
    for (uint64_t r = 0; r < rounds; r++) {
        uint64_t f = do_pushf();
        if (with_int) {
            do_int3();
            do_int80();
        }
        do_ud2();
        do_page_fault();
        printf("traps: round %lu pushf=0x%lx int3=0x%lx int80=0x%lx ud2=0x%lx pf=0x%lx\n",
               r, f, seen_bp, seen_int80, seen_ud, seen_pf);
        leaks += ((f | seen_bp | seen_int80 | seen_ud | seen_pf) & TF) != 0;
    }
    printf("traps: %lu traps taken, %s\n", traps_taken,
           leaks ? "FAIL: the trap flag was set in what the guest saw" : "no trap flag seen");
    return leaks ? 3 : 0;
}

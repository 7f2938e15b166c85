/*
 * exceptions: a guest with its own IDT, for "debugging leaves no trace" tests.
 * main() installs interrupt gates for #DB (1), #UD (6), #GP (13), #PF (14)
 * and vector 0x40, then, ROUNDS times:
 *     int $0x40                      only with the argument `int` (some
 *                                    KVMs cannot emulate it at CPL 0); the
 *                                    handler returns to the next insn
 *     ud2                            the handler skips it (rip += 2)
 *     a load from 0xc0000000         not mapped (above guest memory): #PF,
 *                                    the handler resumes at pf_resume
 *     a load from a non-canonical    #GP, resumed at gp_resume
 *     address
 * Every handler records the exception frame (vector, error code, rip and the
 * rflags the CPU pushed) in seen[]; main prints them all:
 *     traps: V vector 0x40 err 0x0 rip 0x... rflags 0x...
 * A #DB means the guest ran with the trap flag on (it never sets it): the
 * handler clears TF in the frame and counts it, and it shows in the output.
 * At the end a load from address 0 faults with `fatal` set: the #PF handler
 * prints that frame ("traps: fatal #PF ... rflags 0x...") and halts with
 * status 0. The output changes if a debugger's TF leaks into any frame.
 */
#include "rt.h"

RT_MANIFEST(0);

#define ROUNDS   3
#define MAX_SEEN 16

struct frame {
    uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
    uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

struct seen {
    uint64_t vector, error, rip, rflags, cr2;
};

struct gate {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} __attribute__((packed));

/* in .data, so that start.S's byte-wise clear of .bss stays short for
 * tests that single-step it */
struct gate idt[256] __attribute__((aligned(16), section(".data")));
/* The monitor's GDT (guest-physical 0x1000) is not mapped in its page tables
 * (Solo5 kernels load their own): delivering an exception reads the code
 * descriptor and iretq the data one, so keep a copy of the same three
 * descriptors in our own memory. */
uint64_t gdt[3] __attribute__((aligned(16))) = {
    0, 0x00af9b000000ffffull, 0x00cf93000000ffffull };
struct seen seen[MAX_SEEN];
unsigned int nseen;
volatile int fatal;

void trap(struct frame *f);

/* isr_N: push a zero error code where the CPU pushes none, the vector,
 * the caller-saved registers; trap(frame); pop; iretq. */
#define ISR(n, err) \
    "    .globl isr_" #n "\nisr_" #n ":\n" err "    pushq $" #n "\n    jmp isr_common\n"
__asm__(
    "    .text\n"
    ISR(1, "    pushq $0\n") ISR(6, "    pushq $0\n") ISR(13, "") ISR(14, "")
    ISR(64, "    pushq $0\n")
    "isr_common:\n"
    "    pushq %rax\n    pushq %rcx\n    pushq %rdx\n    pushq %rsi\n    pushq %rdi\n"
    "    pushq %r8\n    pushq %r9\n    pushq %r10\n    pushq %r11\n"
    "    movq %rsp, %rdi\n"
    "    call trap\n"
    "    popq %r11\n    popq %r10\n    popq %r9\n    popq %r8\n    popq %rdi\n"
    "    popq %rsi\n    popq %rdx\n    popq %rcx\n    popq %rax\n"
    "    addq $16, %rsp\n"
    "    iretq\n");

extern char isr_1[], isr_6[], isr_13[], isr_14[], isr_64[];
extern char pf_resume[], gp_resume[];

static void set_gate(unsigned int v, void *handler, uint16_t cs)
{
    uint64_t a = (uint64_t)(uintptr_t)handler;
    idt[v] = (struct gate){ .off_lo = (uint16_t)a, .sel = cs, .ist = 0, .type = 0x8e,
                            .off_mid = (uint16_t)(a >> 16), .off_hi = (uint32_t)(a >> 32) };
}

static uint64_t read_cr2(void)
{
    uint64_t v;
    __asm__ __volatile__("movq %%cr2, %0" : "=r"(v));
    return v;
}

void trap(struct frame *f)
{
    struct seen *s = &seen[nseen < MAX_SEEN ? nseen++ : MAX_SEEN - 1];
    *s = (struct seen){ .vector = f->vector, .error = f->error, .rip = f->rip,
                        .rflags = f->rflags, .cr2 = f->vector == 14 ? read_cr2() : 0 };
    switch (f->vector) {
    case 1:
        f->rflags &= ~0x100ull;
        break;
    case 6:
        f->rip += 2;
        break;
    case 13:
        f->rip = (uint64_t)(uintptr_t)gp_resume;
        break;
    case 14:
        if (fatal) {
            printf("traps: fatal #PF at rip 0x%lx cr2 0x%lx err 0x%lx rflags 0x%lx\n",
                   f->rip, s->cr2, f->error, f->rflags);
            hc_halt(0);
        }
        f->rip = (uint64_t)(uintptr_t)pf_resume;
        break;
    }
}

NOINLINE void soft_int(void)
{
    __asm__ __volatile__("    .globl int_site\nint_site:\n    int $0x40" : : : "memory");
}

NOINLINE void faults(void)
{
    __asm__ __volatile__(
        "    .globl ud_site\nud_site:\n"
        "    ud2\n"
        "    movl $0xc0000000, %%ecx\n"
        "    .globl pf_site\npf_site:\n"
        "    movb (%%rcx), %%al\n"
        "    .globl pf_resume\npf_resume:\n"
        "    movabsq $0x8000000000000000, %%rcx\n"
        "    .globl gp_site\ngp_site:\n"
        "    movb (%%rcx), %%al\n"
        "    .globl gp_resume\ngp_resume:\n"
        : : : "rax", "rcx", "memory");
}

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    uint16_t cs;
    __asm__ __volatile__("movw %%cs, %0" : "=r"(cs));
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdtr = {
        sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt };
    __asm__ __volatile__("lgdt %0" : : "m"(gdtr));
    set_gate(1, isr_1, cs);
    set_gate(6, isr_6, cs);
    set_gate(13, isr_13, cs);
    set_gate(14, isr_14, cs);
    set_gate(64, isr_64, cs);
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } idtr = {
        sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ __volatile__("lidt %0" : : "m"(idtr));

    char arg[8];
    int use_int = cmdline_arg(0, arg, sizeof(arg)) && !strcmp(arg, "int");
    for (int r = 0; r < ROUNDS; r++) {
        if (use_int)
            soft_int();
        faults();
    }
    for (unsigned int i = 0; i < nseen; i++)
        printf("traps: %u vector 0x%lx err 0x%lx rip 0x%lx rflags 0x%lx cr2 0x%lx\n", i,
               seen[i].vector, seen[i].error, seen[i].rip, seen[i].rflags, seen[i].cr2);
    fatal = 1;
    __asm__ __volatile__("movb 0, %%al" : : : "rax", "memory");
    printf("traps: FAIL: the load from address 0 went through\n");
    return 2;
}

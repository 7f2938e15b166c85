/*
 * dumpcore: aborts a few calls deep, for --dumpcore. It computes a token
 * into a global, prints it, then, by its first argument:
 *     (none)  abort()->give_up()->hc_halt(255): a plain solo5_abort
 *     trap    halts with 255 and a trap frame as cookie, as Solo5's trap
 *             handlers do; the frame names trap_site() and its own stack
 *     fault   stores into its own text: the monitor stops it (status 1)
 */
#include "rt.h"

RT_MANIFEST(0);

uint64_t dumpcore_token;

NOINLINE NORETURN void give_up(void)
{
    hc_halt(255);
}

NOINLINE int trap_site(int x)
{
    return x * 3 + 1;
}

NOINLINE NORETURN void trap_abort(void)
{
    static struct hvt_trap_regs frame;
    uint64_t sp;
    __asm__ __volatile__("movq %%rsp, %0" : "=r"(sp));
    frame = (struct hvt_trap_regs){ .cr2 = 0, .error_code = 0,
        .rip = (uint64_t)(uintptr_t)&trap_site, .cs = 0x8, .rflags = 0x2, .rsp = sp, .ss = 0x10 };
    struct hvt_hc_halt a = { .cookie = (uint64_t)(uintptr_t)&frame, .exit_status = 255 };
    hvt_hypercall(HVT_HYPERCALL_HALT, &a);
    for (;;)
        __asm__ __volatile__("pause");
}

NOINLINE void depth(int n, const char *how)
{
    if (n > 0) {
        depth(n - 1, how);
        __asm__ __volatile__("" ::: "memory");  /* not a tail call */
        return;
    }
    if (!strcmp(how, "trap"))
        trap_abort();
    if (!strcmp(how, "fault")) {
        *(volatile uint8_t *)(uintptr_t)&trap_site = 0xcc;
        return;
    }
    give_up();
}

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    char how[16] = "";
    cmdline_arg(0, how, sizeof(how));
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 1000; i++)
        h = (h ^ (uint64_t)i) * 0x100000001b3ull;
    dumpcore_token = h;
    printf("dumpcore: token=0x%lx\n", dumpcore_token);
    depth(2, how);
    return 2;
}

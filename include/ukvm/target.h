/*
 * The debug target interface: what the GDB server (src/rsp/) needs from
 * whatever it debugs. The live run and the replay each implement it; the
 * server knows nothing of KVM.
 *
 * All calls are made from the server's thread, except interrupt(), which may
 * be called from any thread while resume() is running.
 */
#ifndef UKVM_TARGET_H
#define UKVM_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFLAGS bits that debugging leaves behind without the guest's doing: TF
 * from single steps, RF from debug traps. Comparisons of guest states
 * ignore them. */
#define UKVM_RFLAGS_TF (1ULL << 8)
#define UKVM_RFLAGS_RF (1ULL << 16)
#define UKVM_RFLAGS_DEBUG_ARTEFACTS (UKVM_RFLAGS_TF | UKVM_RFLAGS_RF)

/* The full amd64 register set, in the order of the target description the
 * server sends (gdb's i386:x86-64 core, sse, segments and a system feature). */
struct ukvm_regs {
    uint64_t gpr[16];           /* rax rbx rcx rdx rsi rdi rbp rsp r8..r15 (gdb order) */
    uint64_t rip;
    uint32_t eflags;
    uint32_t cs, ss, ds, es, fs, gs;
    uint64_t fs_base, gs_base;
    uint8_t st[8][10];          /* x87 registers, 80-bit, in physical stack order st0..st7 */
    uint32_t fctrl, fstat, ftag, fiseg, fioff, foseg, fooff, fop;
    uint8_t xmm[16][16];
    uint32_t mxcsr;
    uint64_t cr0, cr2, cr3, cr4, cr8, efer;
};

/* gdb's register numbers for the fields above (the 'p'/'P' packets). */
enum ukvm_regno {
    UKVM_REG_RAX = 0, UKVM_REG_R15 = 15,
    UKVM_REG_RIP = 16, UKVM_REG_EFLAGS = 17,
    UKVM_REG_CS = 18, UKVM_REG_SS, UKVM_REG_DS, UKVM_REG_ES, UKVM_REG_FS, UKVM_REG_GS,
    UKVM_REG_ST0 = 24, UKVM_REG_ST7 = 31,
    UKVM_REG_FCTRL = 32, UKVM_REG_FSTAT, UKVM_REG_FTAG, UKVM_REG_FISEG,
    UKVM_REG_FIOFF, UKVM_REG_FOSEG, UKVM_REG_FOOFF, UKVM_REG_FOP,
    UKVM_REG_XMM0 = 40, UKVM_REG_XMM15 = 55,
    UKVM_REG_MXCSR = 56,
    UKVM_REG_FS_BASE = 57, UKVM_REG_GS_BASE = 58,
    UKVM_REG_CR0 = 59, UKVM_REG_CR2, UKVM_REG_CR3, UKVM_REG_CR4, UKVM_REG_CR8, UKVM_REG_EFER,
    UKVM_REG_COUNT = 65
};

/* Breakpoint and watchpoint kinds, numbered as in gdb's Z packets. */
enum ukvm_bp_type {
    UKVM_BP_SOFTWARE = 0,
    UKVM_BP_HARDWARE = 1,
    UKVM_WP_WRITE    = 2,
    UKVM_WP_READ     = 3,
    UKVM_WP_ACCESS   = 4,
};

enum ukvm_resume_kind {
    UKVM_RESUME_CONTINUE,
    UKVM_RESUME_STEP,
    UKVM_RESUME_REVERSE_CONTINUE,
    UKVM_RESUME_REVERSE_STEP,
};

enum ukvm_stop_reason {
    UKVM_STOP_STEP,         /* a single step completed: SIGTRAP */
    UKVM_STOP_INTERRUPT,    /* interrupt() was called: SIGINT */
    UKVM_STOP_SWBREAK,      /* a software breakpoint at rip: SIGTRAP, swbreak */
    UKVM_STOP_HWBREAK,      /* a hardware breakpoint at rip: SIGTRAP, hwbreak */
    UKVM_STOP_WATCH,        /* watchpoint: SIGTRAP, watch/rwatch/awatch + addr */
    UKVM_STOP_EXITED,       /* the guest halted: W<status> */
    UKVM_STOP_REPLAY_BEGIN, /* reverse execution reached the trace's start */
    UKVM_STOP_REPLAY_END,   /* forward execution reached the trace's end */
    UKVM_STOP_FAULT,        /* the guest cannot go on (triple fault...): SIGSEGV */
};

struct ukvm_stop {
    enum ukvm_stop_reason reason;
    enum ukvm_bp_type watch_type;   /* UKVM_STOP_WATCH: which kind fired */
    uint64_t watch_addr;            /* UKVM_STOP_WATCH: the address gdb asked for */
    int exit_status;                /* UKVM_STOP_EXITED */
};

/* A moment of a replay to start over at: gdb's `run [POSITION]` (vRun) and
 * `--goto`. The same places as `monitor goto` (src/vcpu/gdb_monitor_cmd.h). */
enum ukvm_where {
    UKVM_AT_START,
    UKVM_AT_END,            /* the stop before the final halt */
    UKVM_AT_EVENT,          /* just before event n */
    UKVM_AT_FORWARD,        /* n events on from the present */
    UKVM_AT_BACK,           /* n events back */
    UKVM_AT_BOOKMARK,       /* name */
};

#define UKVM_POSITION_NAME_MAX 32

struct ukvm_position {
    enum ukvm_where where;
    uint64_t n;
    char name[UKVM_POSITION_NAME_MAX + 1];
};

struct ukvm_target;
struct ukvm_outbuf;
struct ax_cond_list;            /* src/vcpu/agent_expr.h */

struct ukvm_target_ops {
    int (*read_regs)(struct ukvm_target *t, struct ukvm_regs *regs);
    int (*write_regs)(struct ukvm_target *t, const struct ukvm_regs *regs);
    /* Guest-virtual memory. Return the number of bytes done (less than len
     * when an unmapped page is reached), or -1 when not even one was. Reads
     * never show planted breakpoints; writes under one update its saved
     * bytes. */
    long (*read_mem)(struct ukvm_target *t, uint64_t addr, void *buf, size_t len);
    long (*write_mem)(struct ukvm_target *t, uint64_t addr, const void *buf, size_t len);
    /* 0 on success, -1 on failure (for example a fifth hardware breakpoint),
     * -2 when the kind is not supported at all (empty reply to gdb). */
    int (*insert_bp)(struct ukvm_target *t, enum ukvm_bp_type type, uint64_t addr, uint64_t len);
    int (*remove_bp)(struct ukvm_target *t, enum ukvm_bp_type type, uint64_t addr, uint64_t len);
    /* Run until something stops the guest. Returns 0 with *stop filled, or
     * -1 when the kind is not supported (reverse on a live run). */
    int (*resume)(struct ukvm_target *t, enum ukvm_resume_kind kind, struct ukvm_stop *stop);
    /* Ask a running resume() to stop soon with UKVM_STOP_INTERRUPT. The
     * server calls it from its watcher thread only while its call to
     * resume() is in progress: possibly just before resume() has started
     * its work, possibly just after resume() has decided to return, and
     * repeatedly (every few ms) until resume() returns. So a target should
     * forget any request left over at the start of each resume() (the
     * server repeats a request that is still wanted) and must not block in
     * interrupt(). */
    void (*interrupt)(struct ukvm_target *t);
    /* The debugger killed or detached: the target decides what that means. */
    void (*kill)(struct ukvm_target *t);
    void (*detach)(struct ukvm_target *t);
    /* ukvm's own commands (gdb's `monitor CMD`, src/vcpu/gdb_monitor_cmd.h):
     * the text for the user goes to *out. 0, or -1 when the command failed
     * (out then says why). NULL: the target has none. */
    int (*monitor)(struct ukvm_target *t, const char *cmd, struct ukvm_outbuf *out);
    /* Optional (NULL: ConditionalBreakpoints is not offered to gdb). The
     * breakpoint at addr stops only when one of conds (gdb's agent
     * expressions) is true; an empty list makes it unconditional again.
     * Replaces what was set before at addr (conditions are per address).
     * The target takes the list's contents over and leaves *conds empty.
     * 0, or -1 (out of memory: the breakpoint stays unconditional). */
    int (*set_bp_conditions)(struct ukvm_target *t, uint64_t addr, struct ax_cond_list *conds);
    /* Optional (NULL: the target cannot start over, so the server offers
     * no extended mode and refuses vRun). Start over at pos, with the
     * breakpoints gdb has inserted still armed. 0 with a line saying where
     * in *out, or -1 with why in *out (the guest stays where it was or at
     * a moment on the way). Progress of a long restart goes to out's live
     * callback. */
    int (*restart)(struct ukvm_target *t, const struct ukvm_position *pos,
                   struct ukvm_outbuf *out);
};

struct ukvm_target {
    const struct ukvm_target_ops *ops;
    bool can_reverse;                   /* offer ReverseStep+/ReverseContinue+ */
    const uint8_t *exec_file;           /* the kernel ELF, served to gdb */
    size_t exec_file_len;
    const char *exec_file_name;         /* a name for it (qXfer:exec-file:read) */
    /* Where a long resume says how far it is (the protocol sets it around
     * a resume; NULL: stderr). */
    struct ukvm_outbuf *progress;
};

#endif

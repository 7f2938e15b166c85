/*
 * gdb's agent expressions (the bytecode of "Agent Expressions" in the gdb
 * manual), as sent in the condition list of a Z0/Z1 packet:
 *
 *     Z0,addr,kind;X len,hexbytes[X len,hexbytes...]
 *
 * so that a breakpoint condition can be evaluated in the monitor instead of
 * costing a round trip to gdb on every hit. The evaluator is defensive: the
 * stack and the number of executed opcodes are bounded, every operand and
 * jump is checked, and it never crashes; any error (an unknown or floating
 * point opcode, a failing memory read, division by zero...) is reported to
 * the caller, which treats the condition as true (stop, let gdb decide).
 */
#ifndef UKVM_AGENT_EXPR_H
#define UKVM_AGENT_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits: a condition gdb compiles uses a few stack slots and no loops. */
#define AX_STACK_MAX 256
#define AX_STEPS_MAX 100000
#define AX_CODE_MAX 4096        /* bytes of one expression */
#define AX_CONDS_MAX 64         /* expressions in one condition list */

enum ax_status {
    AX_OK = 0,
    AX_ERR_EMPTY,       /* no bytecode, or `end` on an empty stack */
    AX_ERR_TRUNCATED,   /* an opcode's operand runs past the end, or no `end` */
    AX_ERR_OPCODE,      /* unknown or unsupported opcode */
    AX_ERR_UNDERFLOW,
    AX_ERR_OVERFLOW,
    AX_ERR_GOTO,        /* a jump outside the expression */
    AX_ERR_STEPS,       /* more than AX_STEPS_MAX opcodes executed */
    AX_ERR_DIV0,
    AX_ERR_MEM,         /* a memory read failed */
    AX_ERR_REG,         /* an unknown register */
};

/* Where an expression reads the guest's state. */
struct ax_env {
    /* gdb's register number n (for amd64: 0-15 rax..r15 in gdb order, 16
     * rip, 17 eflags, ...). 0, or -1 for a register it does not have. */
    int (*reg)(void *ctx, unsigned n, uint64_t *val);
    /* Reads len bytes at a guest-virtual address: 0, or -1. */
    int (*mem)(void *ctx, uint64_t addr, void *buf, size_t len);
    void *ctx;
};

/* Runs one expression; *result gets the top of the stack at `end`. */
enum ax_status ax_eval(const uint8_t *code, size_t len, const struct ax_env *env,
                       uint64_t *result);

/* A short name for a status ("stack overflow", ...). */
const char *ax_status_name(enum ax_status st);

struct ax_expr {
    uint8_t *code;
    size_t len;
};

/* The conditions of one breakpoint: it stops when any of them is true. */
struct ax_cond_list {
    size_t n;
    struct ax_expr *e;
};

/* Parses what follows "Z0,addr,kind" in a packet: "" (no conditions) or
 * ";X len,hex..." with one or more X entries (gdb writes them back to back;
 * a ';' between them is accepted too). Nothing else is accepted (target-side
 * commands are not offered). 0 with *out filled (free with ax_cond_list_free),
 * or -1 with *out empty. */
int ax_cond_list_parse(const char *s, struct ax_cond_list *out);
void ax_cond_list_free(struct ax_cond_list *l);

/* Does the breakpoint stop? True with no conditions, when any condition is
 * nonzero, and when any fails to evaluate (as gdbserver does: gdb then
 * evaluates it itself). */
bool ax_cond_list_holds(const struct ax_cond_list *l, const struct ax_env *env);

#endif

/*
 * The agent-expression evaluator and the parser of Z-packet condition lists
 * (see agent_expr.h). Opcode values and stack effects follow the "Bytecode
 * Descriptions" appendix of the gdb manual; operands are big-endian.
 */
#include <stdlib.h>
#include <string.h>

#include "ukvm/hex.h"
#include "vcpu/agent_expr.h"

enum {
    OP_FLOAT = 0x01, OP_ADD = 0x02, OP_SUB = 0x03, OP_MUL = 0x04,
    OP_DIV_SIGNED = 0x05, OP_DIV_UNSIGNED = 0x06, OP_REM_SIGNED = 0x07,
    OP_REM_UNSIGNED = 0x08, OP_LSH = 0x09, OP_RSH_SIGNED = 0x0a,
    OP_RSH_UNSIGNED = 0x0b, OP_TRACE = 0x0c, OP_TRACE_QUICK = 0x0d,
    OP_LOG_NOT = 0x0e, OP_BIT_AND = 0x0f, OP_BIT_OR = 0x10, OP_BIT_XOR = 0x11,
    OP_BIT_NOT = 0x12, OP_EQUAL = 0x13, OP_LESS_SIGNED = 0x14,
    OP_LESS_UNSIGNED = 0x15, OP_EXT = 0x16, OP_REF8 = 0x17, OP_REF16 = 0x18,
    OP_REF32 = 0x19, OP_REF64 = 0x1a, OP_IF_GOTO = 0x20, OP_GOTO = 0x21,
    OP_CONST8 = 0x22, OP_CONST16 = 0x23, OP_CONST32 = 0x24, OP_CONST64 = 0x25,
    OP_REG = 0x26, OP_END = 0x27, OP_DUP = 0x28, OP_POP = 0x29,
    OP_ZERO_EXT = 0x2a, OP_SWAP = 0x2b, OP_TRACEV = 0x2e, OP_TRACENZ = 0x2f,
    OP_TRACE16 = 0x30, OP_PICK = 0x32, OP_ROT = 0x33,
};

const char *ax_status_name(enum ax_status st)
{
    switch (st) {
    case AX_OK: return "ok";
    case AX_ERR_EMPTY: return "empty expression or stack";
    case AX_ERR_TRUNCATED: return "truncated bytecode";
    case AX_ERR_OPCODE: return "unsupported opcode";
    case AX_ERR_UNDERFLOW: return "stack underflow";
    case AX_ERR_OVERFLOW: return "stack overflow";
    case AX_ERR_GOTO: return "jump out of the expression";
    case AX_ERR_STEPS: return "step limit";
    case AX_ERR_DIV0: return "division by zero";
    case AX_ERR_MEM: return "memory read failed";
    case AX_ERR_REG: return "unknown register";
    }
    return "?";
}

/* Big-endian operand of n bytes at code[pc] (the caller checked the length). */
static uint64_t operand(const uint8_t *code, size_t pc, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | code[pc + i];
    return v;
}

/* Bytes of operand that follow each opcode. */
static size_t operand_len(uint8_t op)
{
    switch (op) {
    case OP_EXT: case OP_ZERO_EXT: case OP_CONST8: case OP_TRACE_QUICK: case OP_PICK:
        return 1;
    case OP_IF_GOTO: case OP_GOTO: case OP_CONST16: case OP_REG: case OP_TRACEV:
    case OP_TRACE16:
        return 2;
    case OP_CONST32:
        return 4;
    case OP_CONST64:
        return 8;
    default:
        return 0;
    }
}

/* Sign-extend v from its low n bits (n >= 64: unchanged). */
static uint64_t sign_extend(uint64_t v, unsigned n)
{
    if (n == 0)
        return 0;
    if (n >= 64)
        return v;
    uint64_t m = 1ULL << (n - 1);
    v &= (1ULL << n) - 1;
    return (v ^ m) - m;
}

static uint64_t zero_extend(uint64_t v, unsigned n)
{
    return n >= 64 ? v : v & ((1ULL << n) - 1);
}

/* Little-endian value of the n bytes read (amd64 is the only target). */
static uint64_t le_value(const uint8_t *b, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = v << 8 | b[i];
    return v;
}

#define NEED(k) do { if (sp < (k)) return AX_ERR_UNDERFLOW; } while (0)
#define PUSH(v) do { uint64_t v_ = (v); if (sp >= AX_STACK_MAX) return AX_ERR_OVERFLOW; \
                            st[sp] = v_; sp++; } while (0)

enum ax_status ax_eval(const uint8_t *code, size_t len, const struct ax_env *env,
                       uint64_t *result)
{
    uint64_t st[AX_STACK_MAX];
    size_t sp = 0, pc = 0;
    if (!code || len == 0)
        return AX_ERR_EMPTY;
    for (unsigned long steps = 0;; steps++) {
        if (steps >= AX_STEPS_MAX)
            return AX_ERR_STEPS;
        if (pc >= len)
            return AX_ERR_TRUNCATED; /* fell off the end without `end` */
        uint8_t op = code[pc++];
        size_t olen = operand_len(op);
        if (olen > len - pc)
            return AX_ERR_TRUNCATED;
        uint64_t arg = operand(code, pc, olen);
        pc += olen;
        uint64_t a, b;
        switch (op) {
        case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV_SIGNED: case OP_DIV_UNSIGNED:
        case OP_REM_SIGNED: case OP_REM_UNSIGNED: case OP_LSH: case OP_RSH_SIGNED:
        case OP_RSH_UNSIGNED: case OP_BIT_AND: case OP_BIT_OR: case OP_BIT_XOR:
        case OP_EQUAL: case OP_LESS_SIGNED: case OP_LESS_UNSIGNED: {
            NEED(2);
            b = st[--sp];       /* top */
            a = st[sp - 1];     /* next-to-top, replaced by the result */
            int64_t sa = (int64_t)a, sb = (int64_t)b;
            uint64_t r = 0;
            switch (op) {
            case OP_ADD: r = a + b; break;
            case OP_SUB: r = a - b; break;
            case OP_MUL: r = a * b; break;
            case OP_DIV_SIGNED:
            case OP_REM_SIGNED:
                if (b == 0)
                    return AX_ERR_DIV0;
                if (sa == INT64_MIN && sb == -1) /* overflows in C: wrap as the CPU would */
                    r = op == OP_DIV_SIGNED ? a : 0;
                else
                    r = op == OP_DIV_SIGNED ? (uint64_t)(sa / sb) : (uint64_t)(sa % sb);
                break;
            case OP_DIV_UNSIGNED:
            case OP_REM_UNSIGNED:
                if (b == 0)
                    return AX_ERR_DIV0;
                r = op == OP_DIV_UNSIGNED ? a / b : a % b;
                break;
            /* shifts of 64 or more: what the arithmetic would give, not C's UB */
            case OP_LSH: r = b >= 64 ? 0 : a << b; break;
            case OP_RSH_UNSIGNED: r = b >= 64 ? 0 : a >> b; break;
            case OP_RSH_SIGNED:
                r = b >= 64 ? (sa < 0 ? ~0ULL : 0) : (sa < 0 ? ~(~a >> b) : a >> b);
                break;
            case OP_BIT_AND: r = a & b; break;
            case OP_BIT_OR: r = a | b; break;
            case OP_BIT_XOR: r = a ^ b; break;
            case OP_EQUAL: r = a == b; break;
            case OP_LESS_SIGNED: r = sa < sb; break;
            case OP_LESS_UNSIGNED: r = a < b; break;
            }
            st[sp - 1] = r;
            break;
        }
        case OP_LOG_NOT:
            NEED(1);
            st[sp - 1] = st[sp - 1] == 0;
            break;
        case OP_BIT_NOT:
            NEED(1);
            st[sp - 1] = ~st[sp - 1];
            break;
        case OP_EXT:
            NEED(1);
            st[sp - 1] = sign_extend(st[sp - 1], (unsigned)arg);
            break;
        case OP_ZERO_EXT:
            NEED(1);
            st[sp - 1] = zero_extend(st[sp - 1], (unsigned)arg);
            break;
        case OP_REF8: case OP_REF16: case OP_REF32: case OP_REF64: {
            NEED(1);
            size_t n = (size_t)1 << (op - OP_REF8);
            uint8_t buf[8];
            if (!env || !env->mem || env->mem(env->ctx, st[sp - 1], buf, n) < 0)
                return AX_ERR_MEM;
            st[sp - 1] = le_value(buf, n);
            break;
        }
        case OP_IF_GOTO:
            NEED(1);
            if (st[--sp] == 0)
                break;
            /* fall through */
        case OP_GOTO:
            if (arg >= len)
                return AX_ERR_GOTO;
            pc = (size_t)arg;
            break;
        case OP_CONST8: case OP_CONST16: case OP_CONST32: case OP_CONST64:
            PUSH(arg);
            break;
        case OP_REG: {
            uint64_t v;
            if (!env || !env->reg || env->reg(env->ctx, (unsigned)arg, &v) < 0)
                return AX_ERR_REG;
            PUSH(v);
            break;
        }
        case OP_END:
            if (sp == 0)
                return AX_ERR_EMPTY;
            *result = st[sp - 1];
            return AX_OK;
        case OP_DUP:
            NEED(1);
            PUSH(st[sp - 1]);
            break;
        case OP_POP:
            NEED(1);
            sp--;
            break;
        case OP_SWAP:
            NEED(2);
            a = st[sp - 1];
            st[sp - 1] = st[sp - 2];
            st[sp - 2] = a;
            break;
        case OP_PICK:
            /* pick 0 is dup, pick 1 copies the item under the top... */
            if (arg >= sp)
                return AX_ERR_UNDERFLOW;
            PUSH(st[sp - 1 - arg]);
            break;
        case OP_ROT: {
            /* a b c (c on top) => c a b: the top goes third, a and b move up */
            NEED(3);
            uint64_t x = st[sp - 3], y = st[sp - 2], z = st[sp - 1];
            st[sp - 3] = z;
            st[sp - 2] = x;
            st[sp - 1] = y;
            break;
        }
        /* Tracing opcodes record data for tracepoints; in a condition they
         * only have their stack effects. */
        case OP_TRACE:
        case OP_TRACENZ:
            NEED(2);
            sp -= 2;
            break;
        case OP_TRACE_QUICK:
        case OP_TRACE16:
            NEED(1);
            break;
        case OP_TRACEV:
            break;
        default: /* float, ref_float..d_to_l, getv, setv, printf, unknown */
            return AX_ERR_OPCODE;
        }
    }
}

/* ---- condition lists ---- */

void ax_cond_list_free(struct ax_cond_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].code);
    free(l->e);
    l->e = NULL;
    l->n = 0;
}

/* One "X len,hex" at *s; advances *s. */
static int parse_one(const char **sp, struct ax_expr *e)
{
    const char *s = *sp;
    if (*s++ != 'X')
        return -1;
    size_t len = 0;
    int digits = 0;
    for (int d; (d = ukvm_hex_value((unsigned char)*s)) >= 0; s++) {
        if (++digits > 8)
            return -1;
        len = len << 4 | (size_t)d;
    }
    if (digits == 0 || *s++ != ',' || len == 0 || len > AX_CODE_MAX)
        return -1;
    uint8_t *code = malloc(len);
    if (!code)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int hi = ukvm_hex_value((unsigned char)s[0]), lo = hi < 0 ? -1 : ukvm_hex_value((unsigned char)s[1]);
        if (lo < 0) {
            free(code);
            return -1;
        }
        code[i] = (uint8_t)(hi << 4 | lo);
        s += 2;
    }
    e->code = code;
    e->len = len;
    *sp = s;
    return 0;
}

int ax_cond_list_parse(const char *s, struct ax_cond_list *out)
{
    out->n = 0;
    out->e = NULL;
    if (!s || !*s)
        return 0;
    if (*s != ';')
        return -1;
    while (*s) {
        if (*s == ';') {
            s++;
            continue;
        }
        if (out->n == AX_CONDS_MAX)
            goto bad;
        struct ax_expr *n = realloc(out->e, (out->n + 1) * sizeof(*n));
        if (!n)
            goto bad;
        out->e = n;
        if (parse_one(&s, &out->e[out->n]) < 0)
            goto bad;
        out->n++;
    }
    if (out->n == 0)
        goto bad; /* a ';' with nothing after it */
    return 0;
bad:
    ax_cond_list_free(out);
    return -1;
}

bool ax_cond_list_holds(const struct ax_cond_list *l, const struct ax_env *env)
{
    if (!l || l->n == 0)
        return true;
    for (size_t i = 0; i < l->n; i++) {
        uint64_t v = 0;
        if (ax_eval(l->e[i].code, l->e[i].len, env, &v) != AX_OK || v != 0)
            return true;
    }
    return false;
}

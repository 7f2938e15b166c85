/*
 * The agent-expression evaluator and condition-list parser
 * (src/vcpu/agent_expr.c): every opcode's result and stack effect, the
 * errors (truncated operands, bad jumps, underflow, overflow, step limit,
 * failing memory and register reads, unsupported opcodes), and the Z-packet
 * condition syntax with the "error means stop" rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vcpu/agent_expr.h"

/* A fake guest: 16 registers holding 0x100 + n, and 64 bytes of memory at
 * 0x1000 holding i * 3; everything else fails. */
static uint8_t mem[64];

static int fake_reg(void *ctx, unsigned n, uint64_t *val)
{
    (void)ctx;
    if (n >= 18)
        return -1;
    *val = 0x100 + n;
    return 0;
}

static int fake_mem(void *ctx, uint64_t addr, void *buf, size_t len)
{
    (void)ctx;
    if (addr < 0x1000 || addr + len > 0x1000 + sizeof(mem) || addr + len < addr)
        return -1;
    memcpy(buf, mem + (addr - 0x1000), len);
    return 0;
}

static const struct ax_env env = { fake_reg, fake_mem, NULL };

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(mem); i++)
        mem[i] = (uint8_t)(i * 3);
    return 0;
}

/* Evaluates bytes; returns the status, *out the result. */
static enum ax_status run(const uint8_t *code, size_t len, uint64_t *out)
{
    *out = 0xdeadbeef;
    return ax_eval(code, len, &env, out);
}

#define EVAL_OK(expected, ...) do { \
        const uint8_t c_[] = { __VA_ARGS__ }; uint64_t v_; \
        assert_int_equal(run(c_, sizeof(c_), &v_), AX_OK); \
        assert_int_equal(v_, (uint64_t)(expected)); \
    } while (0)
#define EVAL_ERR(err, ...) do { \
        const uint8_t c_[] = { __VA_ARGS__ }; uint64_t v_; \
        assert_int_equal(run(c_, sizeof(c_), &v_), (err)); \
    } while (0)

/* opcodes */
enum { ADD = 0x02, SUB, MUL, DIVS, DIVU, REMS, REMU, LSH, RSHS, RSHU, TRACE, TRACEQ,
       LNOT, BAND, BOR, BXOR, BNOT, EQ, LTS, LTU, EXT, REF8, REF16, REF32, REF64,
       IFGOTO = 0x20, GOTO, C8, C16, C32, C64, REG, END, DUP, POP, ZEXT, SWAP,
       GETV, SETV, TRACEV, TRACENZ, TRACE16, PICK = 0x32, ROT, PRINTF };

static void test_constants(void **state)
{
    (void)state;
    EVAL_OK(0x7f, C8, 0x7f, END);
    EVAL_OK(0xff, C8, 0xff, END); /* no sign extension */
    EVAL_OK(0x1234, C16, 0x12, 0x34, END);
    EVAL_OK(0x12345678, C32, 0x12, 0x34, 0x56, 0x78, END);
    EVAL_OK(0x0102030405060708ULL, C64, 1, 2, 3, 4, 5, 6, 7, 8, END);
}

static void test_arithmetic(void **state)
{
    (void)state;
    EVAL_OK(12, C8, 5, C8, 7, ADD, END);
    EVAL_OK(-2, C8, 5, C8, 7, SUB, END);      /* next-to-top minus top */
    EVAL_OK(35, C8, 5, C8, 7, MUL, END);
    EVAL_OK(3, C8, 22, C8, 7, DIVU, END);
    EVAL_OK(1, C8, 22, C8, 7, REMU, END);
    /* -22 / 7 and -22 % 7, signed: -3 and -1 */
    EVAL_OK(-3, C8, 0xea, EXT, 8, C8, 7, DIVS, END);
    EVAL_OK(-1, C8, 0xea, EXT, 8, C8, 7, REMS, END);
    /* INT64_MIN / -1 wraps instead of trapping */
    EVAL_OK(0x8000000000000000ULL, C64, 0x80, 0, 0, 0, 0, 0, 0, 0, C8, 0xff, EXT, 8, DIVS, END);
    EVAL_OK(0, C64, 0x80, 0, 0, 0, 0, 0, 0, 0, C8, 0xff, EXT, 8, REMS, END);
    EVAL_ERR(AX_ERR_DIV0, C8, 1, C8, 0, DIVS, END);
    EVAL_ERR(AX_ERR_DIV0, C8, 1, C8, 0, DIVU, END);
    EVAL_ERR(AX_ERR_DIV0, C8, 1, C8, 0, REMS, END);
    EVAL_ERR(AX_ERR_DIV0, C8, 1, C8, 0, REMU, END);
}

static void test_shifts(void **state)
{
    (void)state;
    EVAL_OK(0x50, C8, 5, C8, 4, LSH, END);
    EVAL_OK(0, C8, 5, C8, 64, LSH, END);
    EVAL_OK(0x5, C8, 0x50, C8, 4, RSHU, END);
    EVAL_OK(0x0fffffffffffffffULL, C8, 0xff, EXT, 8, C8, 4, RSHU, END);
    EVAL_OK(-1, C8, 0xf0, EXT, 8, C8, 4, RSHS, END);    /* -16 >> 4 */
    EVAL_OK(-1, C8, 0x80, EXT, 8, C8, 200, RSHS, END);
    EVAL_OK(0, C8, 0x70, C8, 200, RSHS, END);
    EVAL_OK(0, C8, 0x70, C8, 64, RSHU, END);
}

static void test_logic_and_compare(void **state)
{
    (void)state;
    EVAL_OK(1, C8, 0, LNOT, END);
    EVAL_OK(0, C8, 9, LNOT, END);
    EVAL_OK(0x0c & 0x0a, C8, 0x0c, C8, 0x0a, BAND, END);
    EVAL_OK(0x0c | 0x0a, C8, 0x0c, C8, 0x0a, BOR, END);
    EVAL_OK(0x0c ^ 0x0a, C8, 0x0c, C8, 0x0a, BXOR, END);
    EVAL_OK(~0ULL, C8, 0, BNOT, END);
    EVAL_OK(1, C8, 7, C8, 7, EQ, END);
    EVAL_OK(0, C8, 7, C8, 8, EQ, END);
    EVAL_OK(1, C8, 0xff, EXT, 8, C8, 1, LTS, END);   /* -1 < 1 signed */
    EVAL_OK(0, C8, 0xff, EXT, 8, C8, 1, LTU, END);   /* not unsigned */
    EVAL_OK(1, C8, 1, C8, 2, LTU, END);
    EVAL_OK(0, C8, 2, C8, 2, LTS, END);
}

static void test_extensions(void **state)
{
    (void)state;
    EVAL_OK(-1, C8, 0xff, EXT, 8, END);
    EVAL_OK(0x7f, C8, 0x7f, EXT, 8, END);
    EVAL_OK(-32768, C16, 0x80, 0x00, EXT, 16, END);
    EVAL_OK(0xffffffff80000000ULL, C32, 0x80, 0, 0, 0, EXT, 32, END);
    EVAL_OK(0x1234, C16, 0x12, 0x34, EXT, 64, END);  /* >= width: no effect */
    EVAL_OK(0x34, C16, 0x12, 0x34, ZEXT, 8, END);
    EVAL_OK(0xff, C8, 0xff, EXT, 8, ZEXT, 8, END);
    EVAL_OK(0xffffffffffffffffULL, C8, 0xff, EXT, 8, ZEXT, 64, END);
    EVAL_OK(0xffffffffULL, C8, 0xff, EXT, 8, ZEXT, 32, END);
}

static void test_memory(void **state)
{
    (void)state;
    EVAL_OK(3 * 5, C16, 0x10, 0x05, REF8, END);
    EVAL_OK((uint16_t)(15 | 18 << 8), C16, 0x10, 0x05, REF16, END);   /* little-endian */
    EVAL_OK(0x1b181512, C16, 0x10, 0x06, REF32, END);
    EVAL_OK(0x2d2a2724211e1b18ULL, C16, 0x10, 0x08, REF64, END);
    /* the last byte of memory, and one past it */
    EVAL_OK((uint8_t)(63 * 3), C16, 0x10, 0x3f, REF8, END);
    EVAL_ERR(AX_ERR_MEM, C16, 0x10, 0x3f, REF16, END);
    EVAL_ERR(AX_ERR_MEM, C8, 0, REF64, END);
    EVAL_ERR(AX_ERR_UNDERFLOW, REF32, END);
}

static void test_registers(void **state)
{
    (void)state;
    EVAL_OK(0x106, REG, 0, 6, END);
    EVAL_OK(0x110, REG, 0, 16, END);                 /* rip */
    EVAL_ERR(AX_ERR_REG, REG, 0x01, 0x00, END);
    /* shaped like gdb's `x == 9` for a local: (char)*(reg 6 + off) == 9,
     * with rbp (0x106) + 0xefd = 0x1003 holding 9 */
    EVAL_OK(1, REG, 0, 6, C16, 0x0e, 0xfd, ADD, REF8, EXT, 8, C8, 9, EQ, END);
    const uint8_t c[] = { REG, 0, 2, END };
    uint64_t v;
    const struct ax_env none = { NULL, NULL, NULL };
    assert_int_equal(ax_eval(c, sizeof(c), &none, &v), AX_ERR_REG);
    const uint8_t m[] = { C8, 1, REF8, END };
    assert_int_equal(ax_eval(m, sizeof(m), NULL, &v), AX_ERR_MEM);
}

static void test_stack_ops(void **state)
{
    (void)state;
    EVAL_OK(5, C8, 5, DUP, POP, END);
    EVAL_OK(10, C8, 5, DUP, ADD, END);
    EVAL_OK(4, C8, 9, C8, 4, SWAP, POP, END);        /* 9 4 -> 4 9 -> 4 */
    EVAL_OK(9, C8, 9, C8, 4, SWAP, END);
    EVAL_OK(3, C8, 1, C8, 2, C8, 3, PICK, 0, END);
    EVAL_OK(2, C8, 1, C8, 2, C8, 3, PICK, 1, END);
    EVAL_OK(1, C8, 1, C8, 2, C8, 3, PICK, 2, END);
    EVAL_ERR(AX_ERR_UNDERFLOW, C8, 1, C8, 2, C8, 3, PICK, 3, END);
    /* rot: a b c => c a b (1 2 3 -> 3 1 2): top 2, then 1, then 3 */
    EVAL_OK(2, C8, 1, C8, 2, C8, 3, ROT, END);
    EVAL_OK(1, C8, 1, C8, 2, C8, 3, ROT, POP, END);
    EVAL_OK(3, C8, 1, C8, 2, C8, 3, ROT, POP, POP, END);
    EVAL_ERR(AX_ERR_UNDERFLOW, C8, 1, C8, 2, ROT, END);
    EVAL_ERR(AX_ERR_UNDERFLOW, POP, C8, 1, END);
    EVAL_ERR(AX_ERR_UNDERFLOW, DUP, END);
    EVAL_ERR(AX_ERR_UNDERFLOW, C8, 1, SWAP, END);
    EVAL_ERR(AX_ERR_UNDERFLOW, C8, 1, ADD, END);
    EVAL_ERR(AX_ERR_UNDERFLOW, LNOT, END);
    EVAL_ERR(AX_ERR_UNDERFLOW, EXT, 8, END);
}

static void test_jumps(void **state)
{
    (void)state;
    /* 0: const8 0; 2: if_goto 8; 5: const8 1; 7: end; 8: const8 2; 10: end */
    EVAL_OK(1, C8, 0, IFGOTO, 0, 8, C8, 1, END, C8, 2, END);
    EVAL_OK(2, C8, 5, IFGOTO, 0, 8, C8, 1, END, C8, 2, END);
    /* goto over a bad opcode */
    EVAL_OK(7, C8, 7, GOTO, 0, 6, 0xff, END);
    EVAL_ERR(AX_ERR_GOTO, GOTO, 0, 3);               /* offset == len */
    EVAL_ERR(AX_ERR_GOTO, C8, 1, IFGOTO, 0xff, 0xff, END);
    EVAL_ERR(AX_ERR_UNDERFLOW, IFGOTO, 0, 0, END);
    /* a backwards loop that counts 10 down to 0:
     * 0: c8 10; 2: dup; 3: lnot; 4: if_goto 13; 7: c8 1; 9: sub; 10: goto 2; 13: end */
    EVAL_OK(0, C8, 10, DUP, LNOT, IFGOTO, 0, 13, C8, 1, SUB, GOTO, 0, 2, END);
}

static void test_step_limit(void **state)
{
    (void)state;
    EVAL_ERR(AX_ERR_STEPS, GOTO, 0, 0);              /* goto self forever */
    /* a loop that would push forever overflows first */
    EVAL_ERR(AX_ERR_OVERFLOW, C8, 1, GOTO, 0, 0);
}

static void test_overflow(void **state)
{
    (void)state;
    uint8_t code[2 * (AX_STACK_MAX + 1) + 1];
    size_t n = 0;
    for (int i = 0; i < AX_STACK_MAX; i++) {
        code[n++] = C8;
        code[n++] = (uint8_t)i;
    }
    code[n++] = END;
    uint64_t v;
    assert_int_equal(run(code, n, &v), AX_OK);
    assert_int_equal(v, (AX_STACK_MAX - 1) & 0xff);
    n--;
    code[n++] = DUP;
    code[n++] = END;
    assert_int_equal(run(code, n, &v), AX_ERR_OVERFLOW);
    EVAL_ERR(AX_ERR_OVERFLOW, C8, 1, DUP, GOTO, 0, 2);
}

static void test_malformed(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(ax_eval(NULL, 0, &env, &v), AX_ERR_EMPTY);
    EVAL_ERR(AX_ERR_EMPTY, END);
    EVAL_ERR(AX_ERR_TRUNCATED, C8, 1);               /* no end */
    EVAL_ERR(AX_ERR_TRUNCATED, C8);
    EVAL_ERR(AX_ERR_TRUNCATED, C16, 1);
    EVAL_ERR(AX_ERR_TRUNCATED, C32, 1, 2, 3);
    EVAL_ERR(AX_ERR_TRUNCATED, C64, 1, 2, 3, 4, 5, 6, 7);
    EVAL_ERR(AX_ERR_TRUNCATED, REG, 0);
    EVAL_ERR(AX_ERR_TRUNCATED, C8, 1, EXT);
    EVAL_ERR(AX_ERR_TRUNCATED, C8, 1, IFGOTO, 0);
    EVAL_ERR(AX_ERR_TRUNCATED, C8, 1, PICK);
    /* unsupported: float prefix, float refs and conversions, trace state
     * variables, printf, and undefined values */
    static const uint8_t bad[] = { 0x00, 0x01, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, GETV, SETV,
        PRINTF, 0x31, 0x35, 0x80, 0xff };
    for (size_t i = 0; i < sizeof(bad); i++) {
        uint8_t c[] = { C8, 1, C8, 1, bad[i], 0, 0, END };
        assert_int_equal(run(c, sizeof(c), &v), AX_ERR_OPCODE);
    }
    for (int s = AX_OK; s <= AX_ERR_REG; s++)
        assert_non_null(ax_status_name((enum ax_status)s));
}

static void test_trace_ops(void **state)
{
    (void)state;
    /* trace: addr size =>; trace_quick/trace16 keep the address; tracev none */
    EVAL_OK(9, C8, 9, C8, 1, C8, 2, TRACE, END);
    EVAL_OK(9, C8, 9, C8, 1, C8, 2, TRACENZ, END);
    EVAL_OK(5, C8, 5, TRACEQ, 4, END);
    EVAL_OK(5, C8, 5, TRACE16, 0, 4, END);
    EVAL_OK(5, C8, 5, TRACEV, 0, 1, END);
    EVAL_ERR(AX_ERR_UNDERFLOW, C8, 1, TRACE, END);
    EVAL_ERR(AX_ERR_UNDERFLOW, TRACEQ, 1, END);
}

/* ---- condition lists ---- */

static void test_parse_lists(void **state)
{
    (void)state;
    struct ax_cond_list l;
    assert_int_equal(ax_cond_list_parse("", &l), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(ax_cond_list_parse(NULL, &l), 0);
    assert_int_equal(ax_cond_list_parse(";X3,220127", &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.e[0].len, 3);
    assert_memory_equal(l.e[0].code, "\x22\x01\x27", 3);
    ax_cond_list_free(&l);
    /* back to back, as gdb writes them, and with ';' between */
    assert_int_equal(ax_cond_list_parse(";X3,220027X3,2201 27", &l), -1);
    assert_int_equal(ax_cond_list_parse(";X3,220027X3,220127", &l), 0);
    assert_int_equal(l.n, 2);
    assert_memory_equal(l.e[1].code, "\x22\x01\x27", 3);
    ax_cond_list_free(&l);
    assert_int_equal(ax_cond_list_parse(";X3,220027;X3,22Ff27", &l), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.e[1].code[1], 0xff);
    ax_cond_list_free(&l);
    assert_null(l.e);
    static const char *const bad[] = {
        "X3,220127",            /* no ';' */
        ";",                    /* nothing */
        ";;",
        ";X",
        ";X3",
        ";X3,",
        ";X3,2201",             /* shorter than len */
        ";X2,220127",           /* longer than len */
        ";X0,",                 /* empty */
        ";X,22",
        ";Xg,22",
        ";X3,2201zz",
        ";X123456789,00",       /* huge length */
        ";X2001,00",            /* over AX_CODE_MAX */
        ";cmds:0,X3,220127",    /* target-side commands: not offered */
        ";X3,220127;junk",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ax_cond_list_parse(bad[i], &l), -1);
        assert_int_equal(l.n, 0);
        assert_null(l.e);
    }
    /* too many conditions */
    char many[8 * (AX_CONDS_MAX + 1) + 2] = ";";
    for (int i = 0; i <= AX_CONDS_MAX; i++)
        strcat(many, "X2,2227");
    assert_int_equal(ax_cond_list_parse(many, &l), -1);
    many[1 + 7 * AX_CONDS_MAX] = 0;
    assert_int_equal(ax_cond_list_parse(many, &l), 0);
    assert_int_equal(l.n, AX_CONDS_MAX);
    ax_cond_list_free(&l);
}

static void test_holds(void **state)
{
    (void)state;
    struct ax_cond_list l;
    assert_true(ax_cond_list_holds(NULL, &env));
    assert_int_equal(ax_cond_list_parse(";X3,220027", &l), 0);      /* 0 */
    assert_false(ax_cond_list_holds(&l, &env));
    ax_cond_list_free(&l);
    assert_true(ax_cond_list_holds(&l, &env));                      /* none: stop */
    /* OR: false, then true */
    assert_int_equal(ax_cond_list_parse(";X3,220027X3,220227", &l), 0);
    assert_true(ax_cond_list_holds(&l, &env));
    ax_cond_list_free(&l);
    /* an error counts as true: div by zero, bad memory, bad opcode */
    assert_int_equal(ax_cond_list_parse(";X3,220027X6,220122000527", &l), 0);
    assert_true(ax_cond_list_holds(&l, &env));
    ax_cond_list_free(&l);
    assert_int_equal(ax_cond_list_parse(";X4,22001a27", &l), 0);
    assert_true(ax_cond_list_holds(&l, &env));
    ax_cond_list_free(&l);
    assert_int_equal(ax_cond_list_parse(";X2,0127", &l), 0);
    assert_true(ax_cond_list_holds(&l, &env));
    ax_cond_list_free(&l);
    /* *(char *)0x1002 == 7 */
    mem[2] = 7;
    assert_int_equal(ax_cond_list_parse(";X9,2310021722071327", &l), -1);
    assert_int_equal(ax_cond_list_parse(";X8,23100217220713 27", &l), -1);
    assert_int_equal(ax_cond_list_parse(";X8,2310021722071327", &l), 0);
    assert_true(ax_cond_list_holds(&l, &env));
    mem[2] = 8;
    assert_false(ax_cond_list_holds(&l, &env));
    ax_cond_list_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_constants, setup),
        cmocka_unit_test_setup(test_arithmetic, setup),
        cmocka_unit_test_setup(test_shifts, setup),
        cmocka_unit_test_setup(test_logic_and_compare, setup),
        cmocka_unit_test_setup(test_extensions, setup),
        cmocka_unit_test_setup(test_memory, setup),
        cmocka_unit_test_setup(test_registers, setup),
        cmocka_unit_test_setup(test_stack_ops, setup),
        cmocka_unit_test_setup(test_jumps, setup),
        cmocka_unit_test_setup(test_step_limit, setup),
        cmocka_unit_test_setup(test_overflow, setup),
        cmocka_unit_test_setup(test_malformed, setup),
        cmocka_unit_test_setup(test_trace_ops, setup),
        cmocka_unit_test_setup(test_parse_lists, setup),
        cmocka_unit_test_setup(test_holds, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * libFuzzer target for the agent-expression evaluator and the Z-packet
 * condition-list parser (src/vcpu/agent_expr.c). The input is used twice:
 *  1. as bytecode, evaluated against a fake guest whose registers and 256
 *     bytes of memory come from the input's first bytes;
 *  2. as text after "Z0,addr,kind", parsed as a condition list and, when it
 *     parses, evaluated by ax_cond_list_holds.
 * Neither may crash, read out of bounds or run without bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/vcpu/agent_expr.h"

static uint8_t fmem[256];

static int fz_reg(void *ctx, unsigned n, uint64_t *val)
{
    (void)ctx;
    if (n > 64)
        return -1;
    *val = 0x1000 + n * 8;
    return 0;
}

static int fz_mem(void *ctx, uint64_t addr, void *buf, size_t len)
{
    (void)ctx;
    if (addr < 0x1000 || addr - 0x1000 > sizeof(fmem) || len > sizeof(fmem) - (addr - 0x1000))
        return -1;
    memcpy(buf, fmem + (addr - 0x1000), len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ax_env env = { fz_reg, fz_mem, NULL };
    memset(fmem, 0, sizeof(fmem));
    memcpy(fmem, data, size < sizeof(fmem) ? size : sizeof(fmem));
    /* an exact-size copy, so that reading past the end is caught */
    uint8_t *code = malloc(size ? size : 1);
    if (!code)
        return 0;
    memcpy(code, data, size);
    uint64_t v;
    ax_eval(code, size, &env, &v);
    free(code);

    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    struct ax_cond_list l;
    if (ax_cond_list_parse(text, &l) == 0) {
        ax_cond_list_holds(&l, &env);
        ax_cond_list_free(&l);
    }
    free(text);
    return 0;
}

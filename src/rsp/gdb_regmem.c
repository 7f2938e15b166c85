/* The register and memory packets: g, G, p, P, m, M, X. */
#include "gdb_regmem.h"

#include <string.h>

#include "gdb_regs.h"

/* ---- registers ---- */

void gdb_handle_g(struct gdb_session *s)
{
    struct ukvm_regs regs;
    uint8_t block[GDB_REGS_BYTES];
    if (s->t->ops->read_regs(s->t, &regs) < 0) {
        gdb_reply_only(s, E_FAIL);
        return;
    }
    gdb_regs_pack(&regs, block);
    gdb_reply_reset(s);
    gdb_reply_hex(s, block, sizeof(block));
    gdb_reply_send(s);
}

void gdb_handle_G(struct gdb_session *s, const char *hex, size_t len)
{
    struct ukvm_regs regs;
    uint8_t block[GDB_REGS_BYTES];
    if (len % 2 || len / 2 > sizeof(block) || rsp_hex2bin(block, hex, len / 2) < 0) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    if (s->t->ops->read_regs(s->t, &regs) < 0) {
        gdb_reply_only(s, E_FAIL);
        return;
    }
    gdb_regs_unpack(&regs, block, len / 2);
    gdb_reply_only(s, s->t->ops->write_regs(s->t, &regs) < 0 ? E_FAIL : "OK");
}

void gdb_handle_p(struct gdb_session *s, const char *args)
{
    uint64_t n;
    struct ukvm_regs regs;
    uint8_t val[16];
    if (!gdb_parse_hex_sep(&args, &n, 0) || n > GDB_REG_ORIG_RAX) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    if (n == GDB_REG_ORIG_RAX) {
        gdb_reply_only(s, "ffffffffffffffff");
        return;
    }
    if (s->t->ops->read_regs(s->t, &regs) < 0) {
        gdb_reply_only(s, E_FAIL);
        return;
    }
    size_t size = gdb_reg_get(&regs, (unsigned)n, val);
    gdb_reply_reset(s);
    gdb_reply_hex(s, val, size);
    gdb_reply_send(s);
}

void gdb_handle_P(struct gdb_session *s, const char *args)
{
    uint64_t n;
    struct ukvm_regs regs;
    uint8_t val[16];
    if (!gdb_parse_hex_sep(&args, &n, '=') || n > GDB_REG_ORIG_RAX) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    if (n == GDB_REG_ORIG_RAX) { /* nothing to write it into: stays -1 */
        bool ok = strlen(args) == 16 && rsp_hex2bin(val, args, 8) == 0;
        gdb_reply_only(s, ok ? "OK" : E_INVAL);
        return;
    }
    size_t size = gdb_reg_size((unsigned)n);
    if (strlen(args) != 2 * size || rsp_hex2bin(val, args, size) < 0) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    if (s->t->ops->read_regs(s->t, &regs) < 0) {
        gdb_reply_only(s, E_FAIL);
        return;
    }
    gdb_reg_set(&regs, (unsigned)n, val);
    gdb_reply_only(s, s->t->ops->write_regs(s->t, &regs) < 0 ? E_FAIL : "OK");
}

/* ---- memory ---- */

void gdb_handle_m(struct gdb_session *s, const char *args)
{
    uint64_t addr, len;
    if (!gdb_parse_hex_sep(&args, &addr, ',') || !gdb_parse_hex_sep(&args, &len, 0) || len == 0) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    /* Clip to what one reply can carry. */
    if (len > sizeof(s->reply) / 2)
        len = sizeof(s->reply) / 2;
    long n = s->t->ops->read_mem(s->t, addr, s->scratch, (size_t)len);
    if (n <= 0) {
        gdb_reply_only(s, E_FAULT);
        return;
    }
    if ((uint64_t)n > len)
        n = (long)len;
    gdb_reply_reset(s);
    gdb_reply_hex(s, s->scratch, (size_t)n);
    gdb_reply_send(s);
}

static void write_mem_reply(struct gdb_session *s, uint64_t addr,
                            const uint8_t *data, size_t len)
{
    if (len == 0) {
        gdb_reply_only(s, "OK");
        return;
    }
    long n = s->t->ops->write_mem(s->t, addr, data, len);
    gdb_reply_only(s, n == (long)len ? "OK" : E_FAULT);
}

void gdb_handle_M(struct gdb_session *s, const char *args)
{
    uint64_t addr, len;
    if (!gdb_parse_hex_sep(&args, &addr, ',') || !gdb_parse_hex_sep(&args, &len, ':')) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    if (len > sizeof(s->scratch) || strlen(args) != 2 * len ||
        rsp_hex2bin(s->scratch, args, (size_t)len) < 0) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    write_mem_reply(s, addr, s->scratch, (size_t)len);
}

void gdb_handle_X(struct gdb_session *s, uint8_t *buf, size_t buflen)
{
    const char *args = (const char *)buf + 1;
    uint64_t addr, len;
    if (!gdb_parse_hex_sep(&args, &addr, ',') || !gdb_parse_hex_sep(&args, &len, ':')) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    uint8_t *data = (uint8_t *)args;
    long n = rsp_unescape(data, buflen - (size_t)(data - buf));
    if (n < 0 || (uint64_t)n != len) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    write_mem_reply(s, addr, data, (size_t)len);
}

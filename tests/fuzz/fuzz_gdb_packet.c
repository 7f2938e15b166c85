/*
 * libFuzzer target for the GDB server: the packet decoder and the command
 * dispatcher, over an in-memory transport, against a fake target.
 *
 * The input is used three ways:
 *  1. fed to a bare rsp_decoder in chunks whose sizes come from the input;
 *  2. fed as a byte stream to a session (checksums checked, as from gdb);
 *  3. split at '\n' into packet payloads handed to a session whose
 *     checksums are off, so every line reaches the dispatcher.
 * Every reply the session writes is checked to be a well-formed packet.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/rsp/gdb_session.h"
#include "../../src/rsp/rsp_packet.h"

#define MEM_BASE 0x1000u
#define MEM_SIZE 0x2000u

struct fz_target {
    struct ukvm_target t;
    struct ukvm_regs regs;
    uint8_t mem[MEM_SIZE];
    unsigned resumes;
};

static int fz_read_regs(struct ukvm_target *t, struct ukvm_regs *r)
{
    *r = ((struct fz_target *)t)->regs;
    return 0;
}

static int fz_write_regs(struct ukvm_target *t, const struct ukvm_regs *r)
{
    ((struct fz_target *)t)->regs = *r;
    return 0;
}

static long fz_mem(struct ukvm_target *t, uint64_t addr, void *buf, size_t len, int wr)
{
    struct fz_target *f = (struct fz_target *)t;
    if (addr < MEM_BASE || addr >= MEM_BASE + MEM_SIZE)
        return -1;
    size_t off = (size_t)(addr - MEM_BASE);
    size_t n = len < MEM_SIZE - off ? len : MEM_SIZE - off;
    if (wr)
        memcpy(f->mem + off, buf, n);
    else
        memcpy(buf, f->mem + off, n);
    return (long)n;
}

static long fz_read_mem(struct ukvm_target *t, uint64_t a, void *b, size_t l)
{
    return fz_mem(t, a, b, l, 0);
}

static long fz_write_mem(struct ukvm_target *t, uint64_t a, const void *b, size_t l)
{
    return fz_mem(t, a, (void *)b, l, 1);
}

static int fz_insert_bp(struct ukvm_target *t, enum ukvm_bp_type ty, uint64_t a, uint64_t l)
{
    (void)t;
    (void)l;
    return ty == UKVM_WP_ACCESS ? -2 : (a & 1) ? -1 : 0;
}

static int fz_remove_bp(struct ukvm_target *t, enum ukvm_bp_type ty, uint64_t a, uint64_t l)
{
    return fz_insert_bp(t, ty, a, l);
}

/* Cycles through every stop reason except EXITED, which ends the session
 * (it comes every 16th resume). */
static int fz_resume(struct ukvm_target *t, enum ukvm_resume_kind k, struct ukvm_stop *st)
{
    struct fz_target *f = (struct fz_target *)t;
    if ((k == UKVM_RESUME_REVERSE_CONTINUE || k == UKVM_RESUME_REVERSE_STEP) && !t->can_reverse)
        return -1;
    unsigned n = f->resumes++;
    memset(st, 0, sizeof(*st));
    st->reason = (enum ukvm_stop_reason)(n % 9);
    st->watch_type = (enum ukvm_bp_type)(2 + n % 3);
    st->watch_addr = MEM_BASE + n;
    st->exit_status = (int)n;
    if (st->reason == UKVM_STOP_EXITED && n % 16)
        st->reason = UKVM_STOP_STEP;
    f->regs.rip += 1;
    return 0;
}

static void fz_void(struct ukvm_target *t)
{
    (void)t;
}

/* Succeeds for event positions, fails for the rest. */
static int fz_restart(struct ukvm_target *t, const struct ukvm_position *pos,
        struct ukvm_outbuf *out)
{
    (void)t;
    (void)out;
    return pos->where == UKVM_AT_EVENT || pos->where == UKVM_AT_START ? 0 : -1;
}

static const struct ukvm_target_ops fz_ops = {
    .read_regs = fz_read_regs, .write_regs = fz_write_regs,
    .read_mem = fz_read_mem, .write_mem = fz_write_mem,
    .insert_bp = fz_insert_bp, .remove_bp = fz_remove_bp,
    .resume = fz_resume, .interrupt = fz_void, .kill = fz_void, .detach = fz_void,
};

/* A replay's: it can also start over (extended mode, vRun). */
static const struct ukvm_target_ops fz_replay_ops = {
    .read_regs = fz_read_regs, .write_regs = fz_write_regs,
    .read_mem = fz_read_mem, .write_mem = fz_write_mem,
    .insert_bp = fz_insert_bp, .remove_bp = fz_remove_bp,
    .resume = fz_resume, .interrupt = fz_void, .kill = fz_void, .detach = fz_void,
    .restart = fz_restart,
};

static const uint8_t kernel[] = "\x7f" "ELF#$}*kernel image for the fuzzer";

/* The transport: checks each write is '+', '-' or one framed packet. */
static int fz_write(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    const uint8_t *p = buf;
    if (len == 1 && (p[0] == '+' || p[0] == '-'))
        return 0;
    if (len < 4 || len > RSP_PACKET_SIZE + 4 || p[0] != '$' || p[len - 3] != '#')
        abort();
    char cs[3] = { (char)p[len - 2], (char)p[len - 1], 0 };
    if (strtoul(cs, NULL, 16) != rsp_checksum(p + 1, len - 4))
        abort();
    for (size_t i = 1; i < len - 3; i++) {
        if (p[i] == '$' || p[i] == '#')     /* must have been escaped */
            abort();
    }
    return 0;
}

static void fz_target_init(struct fz_target *f, int can_reverse)
{
    memset(f, 0, sizeof(*f));
    f->t.ops = can_reverse ? &fz_replay_ops : &fz_ops;
    f->t.can_reverse = can_reverse;
    f->t.exec_file = kernel;
    f->t.exec_file_len = sizeof(kernel);
    f->t.exec_file_name = "kernel";
    f->regs.rip = MEM_BASE;
    for (unsigned i = 0; i < MEM_SIZE; i++)
        f->mem[i] = (uint8_t)i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fz_target f;
    static uint8_t line[RSP_PACKET_SIZE + 1];
    struct gdb_session_io io = { .write = fz_write, .resume = NULL, .ctx = NULL };

    /* 1. The bare decoder, in input-chosen chunks. */
    struct rsp_decoder *d = malloc(sizeof(*d));
    rsp_decoder_init(d);
    size_t pos = 0, step = size ? (size_t)data[0] % 17 + 1 : 1;
    while (pos < size) {
        size_t n = size - pos < step ? size - pos : step;
        enum rsp_event_type ev;
        size_t used = rsp_decoder_feed(d, data + pos, n, &ev);
        if ((used == 0 && ev == RSP_EV_NONE) || used > n)
            abort();
        if (ev == RSP_EV_PACKET && (d->len > RSP_PACKET_SIZE || d->buf[d->len] != 0))
            abort();
        pos += used;
    }
    free(d);

    /* 2. A session fed the raw stream. */
    fz_target_init(&f, size && (data[0] & 0x80));
    struct gdb_session *s = gdb_session_new(&f.t, &io, NULL);
    if (!s)
        return 0;
    gdb_session_feed(s, data, size, NULL);
    gdb_session_free(s);

    /* 3. Every line dispatched as a packet payload. */
    fz_target_init(&f, size && (data[0] & 0x40));
    s = gdb_session_new(&f.t, &io, NULL);
    if (!s)
        return 0;
    s->gdb_swbreak = s->gdb_hwbreak = true;
    pos = 0;
    while (pos < size && s->end == GDB_END_NONE) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) : size - pos;
        size_t take = n < RSP_PACKET_SIZE ? n : RSP_PACKET_SIZE;
        memcpy(line, data + pos, take);
        line[take] = 0;
        gdb_session_dispatch(s, line, take);
        pos += n + 1;
    }
    gdb_session_free(s);
    return 0;
}

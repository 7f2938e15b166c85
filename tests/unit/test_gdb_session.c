/*
 * Session tests of the GDB server against a fake in-memory target, over a
 * socketpair (and one over TCP for the second-client refusal).
 *
 * The same binary also serves the fake target to a real gdb for the
 * integration test (tests/integration/gdb_protocol.sh):
 *     test_gdb_session --serve PORT [--exec ELF]
 * prints "listening on PORT" and serves clients until killed; with --exec
 * the ELF's loadable segments are copied into the fake memory, rip is set
 * to its entry, and the file is what gdb gets through vFile. Continuing
 * from EXIT_ADDR (0x10fff0) makes the guest exit with status rax & 0xff.
 */
#include <elf.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/vcpu/agent_expr.h"
#include "../../src/rsp/gdb_server.h"
#include "../../src/rsp/gdb_tdesc.h"
#include "../../src/rsp/rsp_packet.h"

/* ---------------------------------------------------------------------- */
/* The fake target                                                         */

#define MEM_BASE 0x100000ull
#define MEM_SIZE 0x10000
#define MAX_BPS 32
#define EXIT_ADDR (MEM_BASE + MEM_SIZE - 16)

struct fake_bp {
    bool used;
    enum ukvm_bp_type type;
    uint64_t addr, len;
};

struct fake {
    struct ukvm_target t;
    struct ukvm_regs regs;
    uint8_t mem[MEM_SIZE];
    struct fake_bp bps[MAX_BPS];
    atomic_int irq;             /* a pending interrupt request */
    atomic_int interrupts;      /* interrupt() calls */
    atomic_int in_resume;
    atomic_int bad_interrupts;  /* interrupt() calls outside resume() */
    int kills, detaches, resumes;
    int exit_next;              /* >= 0: the next continue exits with it */
    int hw_max;                 /* hardware breakpoints available */
    uint8_t *exec;
    size_t exec_len;
    int cond_calls;             /* set_bp_conditions() calls */
    uint64_t cond_addr;         /* and the last one's address, list length, */
    size_t cond_n;              /* first expression's length and first byte */
    size_t cond_len0;
    uint8_t cond_byte0;
};

static struct fake *F(struct ukvm_target *t)
{
    return (struct fake *)t;
}

static int fk_read_regs(struct ukvm_target *t, struct ukvm_regs *r)
{
    *r = F(t)->regs;
    return 0;
}

static int fk_write_regs(struct ukvm_target *t, const struct ukvm_regs *r)
{
    F(t)->regs = *r;
    return 0;
}

static long fk_mem(struct ukvm_target *t, uint64_t addr, void *buf, size_t len,
                   bool write)
{
    if (addr < MEM_BASE || addr >= MEM_BASE + MEM_SIZE)
        return -1;
    size_t off = (size_t)(addr - MEM_BASE);
    size_t n = len < MEM_SIZE - off ? len : MEM_SIZE - off;
    if (write)
        memcpy(F(t)->mem + off, buf, n);
    else
        memcpy(buf, F(t)->mem + off, n);
    return (long)n;
}

static long fk_read_mem(struct ukvm_target *t, uint64_t addr, void *buf, size_t len)
{
    return fk_mem(t, addr, buf, len, false);
}

static long fk_write_mem(struct ukvm_target *t, uint64_t addr, const void *buf, size_t len)
{
    return fk_mem(t, addr, (void *)buf, len, true);
}

static int fk_insert_bp(struct ukvm_target *t, enum ukvm_bp_type type, uint64_t addr,
                        uint64_t len)
{
    struct fake *f = F(t);
    int hw = 0;
    for (int i = 0; i < MAX_BPS; i++)
        hw += f->bps[i].used && f->bps[i].type == UKVM_BP_HARDWARE;
    if (type == UKVM_BP_HARDWARE && hw >= f->hw_max)
        return -1;
    for (int i = 0; i < MAX_BPS; i++) {
        if (!f->bps[i].used) {
            f->bps[i] = (struct fake_bp){ true, type, addr, len };
            return 0;
        }
    }
    return -1;
}

static int fk_remove_bp(struct ukvm_target *t, enum ukvm_bp_type type, uint64_t addr,
                        uint64_t len)
{
    (void)len;
    struct fake *f = F(t);
    for (int i = 0; i < MAX_BPS; i++) {
        if (f->bps[i].used && f->bps[i].type == type && f->bps[i].addr == addr) {
            f->bps[i].used = false;
            return 0;
        }
    }
    return -1;
}

/* Continue: stops at the nearest breakpoint after rip; else at a
 * watchpoint; else runs until interrupted (at most 20 s). */
static int fk_resume(struct ukvm_target *t, enum ukvm_resume_kind kind, struct ukvm_stop *st)
{
    struct fake *f = F(t);
    atomic_store(&f->irq, 0);       /* forget stale requests */
    atomic_store(&f->in_resume, 1);
    f->resumes++;
    int rc = 0;
    memset(st, 0, sizeof(*st));
    if (kind == UKVM_RESUME_STEP) {
        f->regs.rip++;
        st->reason = UKVM_STOP_STEP;
    } else if (kind != UKVM_RESUME_CONTINUE) {
        if (!t->can_reverse)
            rc = -1;
        else if (kind == UKVM_RESUME_REVERSE_STEP) {
            f->regs.rip--;
            st->reason = UKVM_STOP_STEP;
        } else {
            st->reason = UKVM_STOP_REPLAY_BEGIN;
        }
    } else if (f->exit_next >= 0 || f->regs.rip == EXIT_ADDR) {
        /* Continuing from EXIT_ADDR halts the guest with rax as status. */
        st->reason = UKVM_STOP_EXITED;
        st->exit_status = f->exit_next >= 0 ? f->exit_next : (int)(f->regs.gpr[0] & 0xff);
    } else {
        struct fake_bp *best = NULL, *watch = NULL;
        for (int i = 0; i < MAX_BPS; i++) {
            struct fake_bp *b = &f->bps[i];
            if (!b->used)
                continue;
            if (b->type >= UKVM_WP_WRITE) {
                watch = b;
            } else if (b->addr > f->regs.rip && (!best || b->addr < best->addr)) {
                best = b;
            }
        }
        if (best) {
            f->regs.rip = best->addr;
            st->reason = best->type == UKVM_BP_SOFTWARE ? UKVM_STOP_SWBREAK
                                                        : UKVM_STOP_HWBREAK;
        } else if (watch) {
            /* A write watchpoint fires on a write that changes the value. */
            if (watch->type == UKVM_WP_WRITE && watch->addr >= MEM_BASE &&
                watch->addr < MEM_BASE + MEM_SIZE)
                f->mem[watch->addr - MEM_BASE]++;
            st->reason = UKVM_STOP_WATCH;
            st->watch_type = watch->type;
            st->watch_addr = watch->addr;
        } else {
            for (int i = 0; i < 20000 && !atomic_load(&f->irq); i++)
                usleep(1000);
            st->reason = UKVM_STOP_INTERRUPT;
        }
    }
    atomic_store(&f->in_resume, 0);
    return rc;
}

static void fk_interrupt(struct ukvm_target *t)
{
    struct fake *f = F(t);
    if (!atomic_load(&f->in_resume))
        atomic_fetch_add(&f->bad_interrupts, 1);  /* tolerated just around it */
    atomic_fetch_add(&f->interrupts, 1);
    atomic_store(&f->irq, 1);
}

static void fk_kill(struct ukvm_target *t) { F(t)->kills++; }
static void fk_detach(struct ukvm_target *t) { F(t)->detaches++; }

static const struct ukvm_target_ops fake_ops = {
    .read_regs = fk_read_regs, .write_regs = fk_write_regs,
    .read_mem = fk_read_mem, .write_mem = fk_write_mem,
    .insert_bp = fk_insert_bp, .remove_bp = fk_remove_bp,
    .resume = fk_resume, .interrupt = fk_interrupt,
    .kill = fk_kill, .detach = fk_detach,
};

static int fk_set_bp_conditions(struct ukvm_target *t, uint64_t addr,
        struct ax_cond_list *conds)
{
    struct fake *f = F(t);
    f->cond_calls++;
    f->cond_addr = addr;
    f->cond_n = conds->n;
    f->cond_len0 = conds->n ? conds->e[0].len : 0;
    f->cond_byte0 = conds->n ? conds->e[0].code[0] : 0;
    ax_cond_list_free(conds);
    return 0;
}

/* The same target, offering conditional breakpoints. */
static const struct ukvm_target_ops fake_cond_ops = {
    .read_regs = fk_read_regs, .write_regs = fk_write_regs,
    .read_mem = fk_read_mem, .write_mem = fk_write_mem,
    .insert_bp = fk_insert_bp, .remove_bp = fk_remove_bp,
    .resume = fk_resume, .interrupt = fk_interrupt,
    .kill = fk_kill, .detach = fk_detach,
    .set_bp_conditions = fk_set_bp_conditions,
};

static const uint8_t fake_kernel[] = "\x7f" "ELF fake kernel bytes # $ } * end";

static void fake_init(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    f->t.ops = &fake_ops;
    f->t.exec_file = fake_kernel;
    f->t.exec_file_len = sizeof(fake_kernel);
    f->t.exec_file_name = "/kernels/hello.hvt";
    f->exit_next = -1;
    f->hw_max = 4;
    for (int i = 0; i < 16; i++)
        f->regs.gpr[i] = 0x1000 + (uint64_t)i;
    f->regs.rip = MEM_BASE;
    f->regs.eflags = 0x202;
    f->regs.cs = 0x8;
    f->regs.cr0 = 0x80050033;
    f->regs.cr3 = 0x2000;
    f->regs.efer = 0xd01;
    f->regs.mxcsr = 0x1f80;
    f->regs.fs_base = 0x7000;
    for (int i = 0; i < MEM_SIZE; i++)
        f->mem[i] = (uint8_t)(i * 7);
}

/* ---------------------------------------------------------------------- */
/* The client side                                                         */

struct client {
    int fd;
    uint8_t buf[RSP_PACKET_SIZE * 2 + 64];
    size_t len;
    bool no_ack;
};

struct server {
    pthread_t th;
    int fd;
    int listen_fd;
    struct fake *f;
    enum gdb_end end;
};

static void *server_main(void *arg)
{
    struct server *s = arg;
    if (s->fd >= 0)
        s->end = gdb_serve_fd(s->fd, -1, &s->f->t, NULL);
    else
        s->end = gdb_serve(s->listen_fd, &s->f->t, NULL);
    return NULL;
}

struct fixture {
    struct fake f;
    struct server srv;
    struct client c;
};

static void start(struct fixture *x)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    x->c.fd = sv[0];
    x->c.len = 0;
    x->c.no_ack = false;
    x->srv.fd = sv[1];
    x->srv.listen_fd = -1;
    x->srv.f = &x->f;
    x->srv.end = GDB_END_NONE;
    assert_int_equal(pthread_create(&x->srv.th, NULL, server_main, &x->srv), 0);
}

static enum gdb_end finish(struct fixture *x)
{
    pthread_join(x->srv.th, NULL);
    close(x->c.fd);
    close(x->srv.fd);
    return x->srv.end;
}

static int setup(void **state)
{
    struct fixture *x = calloc(1, sizeof(*x));
    fake_init(&x->f);
    start(x);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static void c_write(struct client *c, const void *buf, size_t len)
{
    assert_int_equal(write(c->fd, buf, len), (ssize_t)len);
}

static void c_send(struct client *c, const char *payload, size_t len)
{
    static uint8_t out[RSP_PACKET_SIZE * 2];
    size_t n = rsp_frame(out, sizeof(out), payload, len);
    assert_true(n > 0);
    c_write(c, out, n);
}

/* Reads more bytes (5 s timeout); false on EOF. */
static bool c_fill(struct client *c)
{
    struct pollfd p = { .fd = c->fd, .events = POLLIN };
    assert_int_equal(poll(&p, 1, 5000), 1);
    ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
    assert_true(n >= 0);
    c->len += (size_t)n;
    return n > 0;
}

static void c_consume(struct client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Expects one single-byte token ('+' or '-') next. */
static void c_expect_byte(struct client *c, char want)
{
    if (c->len == 0)
        assert_true(c_fill(c));
    assert_int_equal(c->buf[0], (uint8_t)want);
    c_consume(c, 1);
}

/* Reads one packet, checks its checksum, and returns its payload (static
 * buffer, NUL-terminated; *plen gets the length). Skips '+' acks. */
static char *c_recv_len(struct client *c, size_t *plen)
{
    static char payload[RSP_PACKET_SIZE * 2];
    for (;;) {
        while (c->len > 0 && c->buf[0] == '+')
            c_consume(c, 1);
        uint8_t *hash = c->len ? memchr(c->buf, '#', c->len) : NULL;
        if (hash && (size_t)(hash - c->buf) + 3 <= c->len) {
            assert_int_equal(c->buf[0], '$');
            size_t n = (size_t)(hash - c->buf) - 1;
            char cs[3] = { (char)hash[1], (char)hash[2], 0 };
            assert_int_equal(strtoul(cs, NULL, 16), rsp_checksum(c->buf + 1, n));
            memcpy(payload, c->buf + 1, n);
            payload[n] = 0;
            if (plen)
                *plen = n;
            c_consume(c, n + 4);
            return payload;
        }
        assert_true(c_fill(c));
    }
}

static char *c_recv(struct client *c)
{
    return c_recv_len(c, NULL);
}

/* Sends a command, expects the ack (in ack mode), returns the reply. */
static char *c_cmd(struct client *c, const char *cmd)
{
    c_send(c, cmd, strlen(cmd));
    if (!c->no_ack)
        c_expect_byte(c, '+');
    return c_recv(c);
}

static void c_expect(struct client *c, const char *cmd, const char *want)
{
    assert_string_equal(c_cmd(c, cmd), want);
}

static void c_detach(struct fixture *x)
{
    c_expect(&x->c, "D", "OK");
    assert_int_equal(finish(x), GDB_END_DETACHED);
    assert_int_equal(x->f.detaches, 1);
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */

static void test_qsupported_and_basics(void **state)
{
    struct fixture *x = *state;
    char *r = c_cmd(&x->c, "qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386");
    assert_non_null(strstr(r, "PacketSize=4000"));
    assert_non_null(strstr(r, "QStartNoAckMode+"));
    assert_non_null(strstr(r, "qXfer:features:read+"));
    assert_non_null(strstr(r, "qXfer:exec-file:read+"));
    assert_non_null(strstr(r, "swbreak+"));
    assert_non_null(strstr(r, "hwbreak+"));
    assert_non_null(strstr(r, "vContSupported+"));
    assert_null(strstr(r, "ReverseStep+"));
    c_expect(&x->c, "vMustReplyEmpty", "");
    c_expect(&x->c, "qAttached", "1");
    c_expect(&x->c, "qAttached:1", "1");
    c_expect(&x->c, "qC", "QC1");
    c_expect(&x->c, "qfThreadInfo", "m1");
    c_expect(&x->c, "qsThreadInfo", "l");
    c_expect(&x->c, "Hg0", "OK");
    c_expect(&x->c, "Hc-1", "OK");
    c_expect(&x->c, "T1", "OK");
    c_expect(&x->c, "qSymbol::", "OK");
    c_expect(&x->c, "qOffsets", "");
    c_expect(&x->c, "qTStatus", "");
    c_expect(&x->c, "!", "");
    c_expect(&x->c, "vWhatever", "");
    c_expect(&x->c, "bc", "");
    c_expect(&x->c, "bs", "");
    r = c_cmd(&x->c, "?");
    assert_true(!strncmp(r, "T05", 3));
    assert_non_null(strstr(r, "thread:1;"));
    assert_non_null(strstr(r, "10:0000100000000000;"));
    /* No-ack mode: the OK is still acked, then no more acks. */
    c_expect(&x->c, "QStartNoAckMode", "OK");
    x->c.no_ack = true;
    c_expect(&x->c, "qC", "QC1");
    c_expect(&x->c, "qAttached", "1");
    c_detach(x);
}

static void test_registers(void **state)
{
    struct fixture *x = *state;
    char *r = c_cmd(&x->c, "g");
    assert_int_equal(strlen(r), 1200);
    assert_true(!strncmp(r, "0010000000000000", 16));           /* rax */
    assert_true(!strncmp(r + 256, "0000100000000000", 16));     /* rip */
    assert_true(!strncmp(r + 272, "02020000", 8));              /* eflags */
    c_expect(&x->c, "p10", "0000100000000000");
    c_expect(&x->c, "p11", "02020000");
    c_expect(&x->c, "p3d", "0020000000000000");                 /* cr3 */
    c_expect(&x->c, "p40", "010d000000000000");                 /* efer */
    /* orig_rax, after the last register: -1, a write changes nothing */
    c_expect(&x->c, "p41", "ffffffffffffffff");
    c_expect(&x->c, "P41=0000000000000000", "OK");
    c_expect(&x->c, "p41", "ffffffffffffffff");
    c_expect(&x->c, "P41=00", "E16");
    c_expect(&x->c, "P41=zzzzzzzzzzzzzzzz", "E16");
    c_expect(&x->c, "p42", "E16");
    c_expect(&x->c, "pzz", "E16");
    c_expect(&x->c, "P10=0800100000000000", "OK");
    assert_true(x->f.regs.rip == 0x100008);
    c_expect(&x->c, "P28=00112233445566778899aabbccddeeff", "OK");   /* xmm0 */
    assert_int_equal(x->f.regs.xmm[0][15], 0xff);
    c_expect(&x->c, "P10=08", "E16");
    c_expect(&x->c, "P10", "E16");
    /* G with the block changed: rbx. */
    static char g[1300];
    g[0] = 'G';
    memcpy(g + 1, c_cmd(&x->c, "g"), 1200);
    g[1201] = 0;
    memcpy(g + 1 + 16, "efbeadde00000000", 16);
    c_expect(&x->c, g, "OK");
    assert_true(x->f.regs.gpr[1] == 0xdeadbeef);
    c_expect(&x->c, "G123", "E16");
    c_expect(&x->c, "Gzz", "E16");
    c_detach(x);
}

static void test_memory(void **state)
{
    struct fixture *x = *state;
    c_expect(&x->c, "m100000,4", "00070e15");
    c_expect(&x->c, "M100000,3:aabbcc", "OK");
    c_expect(&x->c, "m100000,4", "aabbcc15");
    /* X: binary with escapes (0x23 '#', 0x7d '}'). */
    const char xpkt[] = "X100010,3:\x01}\x03}\x5d";
    c_send(&x->c, xpkt, sizeof(xpkt) - 1);
    c_expect_byte(&x->c, '+');
    assert_string_equal(c_recv(&x->c), "OK");
    c_expect(&x->c, "m100010,3", "01237d");
    c_expect(&x->c, "X100010,0:", "OK");        /* gdb's binary probe */
    c_expect(&x->c, "X100010,2:\x01", "E16");   /* length mismatch */
    /* Faults and partial reads. */
    c_expect(&x->c, "m0,4", "E0e");
    c_expect(&x->c, "M0,1:00", "E0e");
    char *r = c_cmd(&x->c, "m10fffe,10");
    assert_int_equal(strlen(r), 4);             /* 2 bytes before the end */
    c_expect(&x->c, "m100000", "E16");
    c_expect(&x->c, "m100000,0", "E16");
    c_expect(&x->c, "M100000,2:aa", "E16");
    /* A large read is clipped to the packet size. */
    r = c_cmd(&x->c, "m100000,8000");
    assert_int_equal(strlen(r), RSP_PACKET_SIZE);
    c_detach(x);
}

static void test_breakpoints_and_continue(void **state)
{
    struct fixture *x = *state;
    c_cmd(&x->c, "qSupported:swbreak+;hwbreak+");
    c_expect(&x->c, "Z0,100020,1", "OK");
    c_expect(&x->c, "Z0,100040,1", "OK");
    char *r = c_cmd(&x->c, "c");
    assert_string_equal(r, "T05swbreak:;thread:1;10:2000100000000000;");
    r = c_cmd(&x->c, "vCont;c:1");
    assert_string_equal(r, "T05swbreak:;thread:1;10:4000100000000000;");
    c_expect(&x->c, "z0,100040,1", "OK");
    c_expect(&x->c, "z0,100040,1", "E01");      /* not there any more */
    c_expect(&x->c, "Z1,100050,1", "OK");
    r = c_cmd(&x->c, "c");
    assert_string_equal(r, "T05hwbreak:;thread:1;10:5000100000000000;");
    c_expect(&x->c, "z1,100050,1", "OK");
    /* Hardware breakpoints run out. */
    for (int i = 0; i < 4; i++)
        c_expect(&x->c, "Z1,100060,1", "OK");
    c_expect(&x->c, "Z1,100070,1", "E01");
    for (int i = 0; i < 4; i++)
        c_expect(&x->c, "z1,100060,1", "OK");
    c_expect(&x->c, "z0,100020,1", "OK");
    /* Watchpoints: the address comes back. */
    c_expect(&x->c, "Z2,100100,4", "OK");
    r = c_cmd(&x->c, "c");
    assert_non_null(strstr(r, "watch:100100;"));
    assert_true(!strncmp(r, "T05", 3));
    c_expect(&x->c, "z2,100100,4", "OK");
    c_expect(&x->c, "Z3,100200,8", "OK");
    assert_non_null(strstr(c_cmd(&x->c, "c"), "rwatch:100200;"));
    c_expect(&x->c, "z3,100200,8", "OK");
    c_expect(&x->c, "Z4,100300,2", "OK");
    assert_non_null(strstr(c_cmd(&x->c, "c"), "awatch:100300;"));
    c_expect(&x->c, "z4,100300,2", "OK");
    /* Malformed or unknown kinds. */
    c_expect(&x->c, "Z5,100300,2", "");
    c_expect(&x->c, "Z0,100300", "E16");
    c_expect(&x->c, "Z0,100300,1;X1,ab", "OK");  /* conditions ignored: not offered */
    c_expect(&x->c, "z0,100300,1", "OK");
    c_expect(&x->c, "Z0,100300,1;X2,ab", "E16"); /* unparseable: refused */
    c_detach(x);
}

/* Z0/Z1 condition lists reach a target that offers them: replaced by each
 * insert (an unconditional one clears them), cleared by the remove, and
 * refused with E16 when they do not parse; watchpoints take none. */
static void test_conditions(void **state)
{
    struct fixture *x = *state;
    assert_null(strstr(c_cmd(&x->c, "qSupported:swbreak+"), "ConditionalBreakpoints+"));
    x->f.t.ops = &fake_cond_ops;
    assert_non_null(strstr(c_cmd(&x->c, "qSupported:swbreak+"), "ConditionalBreakpoints+"));
    c_expect(&x->c, "Z0,100020,1;X3,220127X4,2200272a", "OK");
    assert_int_equal(x->f.cond_calls, 1);
    assert_int_equal(x->f.cond_addr, 0x100020);
    assert_int_equal(x->f.cond_n, 2);
    assert_int_equal(x->f.cond_len0, 3);
    assert_int_equal(x->f.cond_byte0, 0x22);
    /* re-inserted with one condition: replaced, still one breakpoint */
    c_expect(&x->c, "Z0,100020,1;X2,2627", "OK");
    assert_int_equal(x->f.cond_calls, 2);
    assert_int_equal(x->f.cond_n, 1);
    assert_int_equal(x->f.cond_byte0, 0x26);
    c_expect(&x->c, "Z0,100020,1", "OK");
    assert_int_equal(x->f.cond_calls, 3);
    assert_int_equal(x->f.cond_n, 0);
    c_expect(&x->c, "Z1,100030,1;X3,220127", "OK");
    assert_int_equal(x->f.cond_addr, 0x100030);
    assert_int_equal(x->f.cond_n, 1);
    c_expect(&x->c, "z1,100030,1", "OK");
    assert_int_equal(x->f.cond_n, 0);
    int calls = x->f.cond_calls;
    static const char *const bad[] = { "Z0,100040,1;", "Z0,100040,1;X3,2201", "Z0,100040,1;Y3,220127",
        "Z0,100040,1;X3,220127;cmds:0,X3,220127", "Z2,100100,4;X3,220127", "Z0,100040,1;X0," };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        c_expect(&x->c, bad[i], "E16");
    assert_int_equal(x->f.cond_calls, calls);   /* nothing reached the target */
    c_detach(x);
    assert_int_equal(x->f.cond_calls, calls + 1);
    assert_int_equal(x->f.cond_addr, 0x100020);
    assert_int_equal(x->f.cond_n, 0);           /* released with the point */
}

static int used_bps(const struct fake *f)
{
    int n = 0;
    for (int i = 0; i < MAX_BPS; i++)
        n += f->bps[i].used;
    return n;
}

/* A client inserts points, removes one, and goes in the way `end` says:
 * what it left must be taken out of the target before the next client. */
static void points_left_by_client(struct fixture *x, char end)
{
    c_expect(&x->c, "Z0,100020,1", "OK");
    c_expect(&x->c, "Z0,100020,1", "OK");      /* the same again: tracked once */
    c_expect(&x->c, "Z1,100030,1", "OK");
    c_expect(&x->c, "Z2,100100,4", "OK");
    c_expect(&x->c, "Z4,100200,8", "OK");
    c_expect(&x->c, "z4,100200,8", "OK");
    assert_true(used_bps(&x->f) >= 3);
    if (end == 'D') {
        c_detach(x);
    } else if (end == 'k') {
        c_send(&x->c, "k", 1);
        c_expect_byte(&x->c, '+');
        assert_int_equal(finish(x), GDB_END_KILLED);
    } else {
        shutdown(x->c.fd, SHUT_RDWR);
        assert_int_equal(finish(x), GDB_END_DISCONNECTED);
    }
    /* the duplicate Z0 the fake stored twice leaves one: gdb's single
     * remove is what the session replays */
    for (int i = 0; i < MAX_BPS; i++)
        assert_false(x->f.bps[i].used && x->f.bps[i].type != UKVM_BP_SOFTWARE);
    assert_true(used_bps(&x->f) <= 1);
}

static void test_points_released_on_detach(void **state)
{
    points_left_by_client(*state, 'D');
}

static void test_points_released_on_kill(void **state)
{
    points_left_by_client(*state, 'k');
}

static void test_points_released_on_disconnect(void **state)
{
    points_left_by_client(*state, 'x');
}

static void test_no_swbreak_without_gdb_support(void **state)
{
    struct fixture *x = *state;
    c_cmd(&x->c, "qSupported:multiprocess+");
    c_expect(&x->c, "Z0,100020,1", "OK");
    assert_string_equal(c_cmd(&x->c, "c"), "T05thread:1;10:2000100000000000;");
    c_detach(x);
}

static void test_step_and_addresses(void **state)
{
    struct fixture *x = *state;
    assert_string_equal(c_cmd(&x->c, "s"), "T05thread:1;10:0100100000000000;");
    assert_string_equal(c_cmd(&x->c, "s100200"), "T05thread:1;10:0102100000000000;");
    assert_string_equal(c_cmd(&x->c, "S05;100300"), "T05thread:1;10:0103100000000000;");
    assert_string_equal(c_cmd(&x->c, "S05"), "T05thread:1;10:0203100000000000;");
    c_expect(&x->c, "vCont?", "vCont;c;C;s;S");
    assert_string_equal(c_cmd(&x->c, "vCont;s:1;c"), "T05thread:1;10:0303100000000000;");
    assert_string_equal(c_cmd(&x->c, "vCont;S05:1"), "T05thread:1;10:0403100000000000;");
    c_expect(&x->c, "vCont;x", "E16");
    c_expect(&x->c, "vCont", "");          /* not a vCont action packet */
    c_expect(&x->c, "sxyz", "E16");
    /* c with an address: the breakpoint after it is hit. */
    c_expect(&x->c, "Z0,100500,1", "OK");
    c_expect(&x->c, "Z0,100100,1", "OK");
    assert_string_equal(c_cmd(&x->c, "c100400"), "T05thread:1;10:0005100000000000;");
    assert_string_equal(c_cmd(&x->c, "C0b;100000"), "T05thread:1;10:0001100000000000;");
    c_detach(x);
}

static void test_interrupt(void **state)
{
    struct fixture *x = *state;
    /* No breakpoints: the fake runs until interrupted. */
    c_send(&x->c, "c", 1);
    c_expect_byte(&x->c, '+');
    usleep(50 * 1000);
    c_write(&x->c, "\x03", 1);
    assert_string_equal(c_recv(&x->c), "T02thread:1;10:0000100000000000;");
    assert_true(atomic_load(&x->f.interrupts) >= 1);
    /* The 0x03 in the same write as the packet. */
    uint8_t out[16];
    size_t n = rsp_frame(out, sizeof(out), "vCont;c", 7);
    out[n++] = 0x03;
    c_write(&x->c, out, n);
    c_expect_byte(&x->c, '+');
    assert_true(!strncmp(c_recv(&x->c), "T02", 3));
    /* An interrupt while stopped is ignored; an ack during a run is kept. */
    c_write(&x->c, "\x03", 1);
    c_send(&x->c, "c", 1);
    c_expect_byte(&x->c, '+');
    usleep(20 * 1000);
    c_write(&x->c, "+", 1);
    usleep(20 * 1000);
    c_write(&x->c, "\x03", 1);
    assert_true(!strncmp(c_recv(&x->c), "T02", 3));
    c_expect(&x->c, "qC", "QC1");
    c_detach(x);
    assert_int_equal(x->f.resumes, 3);
}

static void test_disconnect_while_running(void **state)
{
    struct fixture *x = *state;
    c_send(&x->c, "c", 1);
    c_expect_byte(&x->c, '+');
    usleep(30 * 1000);
    shutdown(x->c.fd, SHUT_RDWR);
    assert_int_equal(finish(x), GDB_END_DISCONNECTED);
    assert_true(atomic_load(&x->f.interrupts) >= 1);
}

static void test_disconnect_idle(void **state)
{
    struct fixture *x = *state;
    c_expect(&x->c, "qC", "QC1");
    shutdown(x->c.fd, SHUT_RDWR);
    assert_int_equal(finish(x), GDB_END_DISCONNECTED);
    assert_int_equal(x->f.kills + x->f.detaches, 0);
}

static void test_kill(void **state)
{
    struct fixture *x = *state;
    c_send(&x->c, "k", 1);
    c_expect_byte(&x->c, '+');
    assert_int_equal(finish(x), GDB_END_KILLED);
    assert_int_equal(x->f.kills, 1);
}

static void test_vkill(void **state)
{
    struct fixture *x = *state;
    c_expect(&x->c, "vKill;1", "OK");
    assert_int_equal(finish(x), GDB_END_KILLED);
    assert_int_equal(x->f.kills, 1);
}

static void test_exit(void **state)
{
    struct fixture *x = *state;
    x->f.exit_next = 3;
    c_expect(&x->c, "c", "W03");
    assert_int_equal(finish(x), GDB_END_EXITED);
}

static void test_reverse(void **state)
{
    struct fixture *x = *state;
    /* This fixture's target could not reverse: restart with one that can. */
    c_detach(x);
    fake_init(&x->f);
    x->f.t.can_reverse = true;
    start(x);
    char *r = c_cmd(&x->c, "qSupported:swbreak+");
    assert_non_null(strstr(r, "ReverseStep+;ReverseContinue+"));
    assert_string_equal(c_cmd(&x->c, "bc"), "T05replaylog:begin;thread:1;10:0000100000000000;");
    assert_true(!strncmp(c_cmd(&x->c, "bs"), "T05thread:1;", 12));
    c_detach(x);
}

static void test_qxfer_features(void **state)
{
    struct fixture *x = *state;
    static char xml[64 * 1024];
    size_t got = 0;
    for (;;) {
        char cmd[96];
        snprintf(cmd, sizeof(cmd), "qXfer:features:read:target.xml:%zx,%x", got, 0x300);
        size_t n;
        c_send(&x->c, cmd, strlen(cmd));
        c_expect_byte(&x->c, '+');
        char *r = c_recv_len(&x->c, &n);
        assert_true(r[0] == 'm' || r[0] == 'l');
        long m = rsp_unescape((uint8_t *)r + 1, n - 1);
        assert_true(m >= 0 && (size_t)m <= 0x300);
        memcpy(xml + got, r + 1, (size_t)m);
        got += (size_t)m;
        if (r[0] == 'l')
            break;
        assert_true(m > 0);
    }
    assert_int_equal(got, gdb_target_xml_len);
    assert_memory_equal(xml, gdb_target_xml, got);
    c_expect(&x->c, "qXfer:features:read:other.xml:0,100", "E00");
    c_expect(&x->c, "qXfer:features:read:target.xml:0", "E16");
    c_expect(&x->c, "qXfer:features:read:target.xml:100000,100", "l");
    c_expect(&x->c, "qXfer:features:write:target.xml:0,100", "");
    c_expect(&x->c, "qXfer:libraries:read::0,100", "");
    c_expect(&x->c, "qXfer:exec-file:read::0,1000", "l/kernels/hello.hvt");
    c_expect(&x->c, "qXfer:exec-file:read:1:2,3", "mern");
    c_detach(x);
}

static void test_vfile(void **state)
{
    struct fixture *x = *state;
    char cmd[256], hexname[128];
    const char *name = "/kernels/hello.hvt";
    rsp_bin2hex(hexname, (const uint8_t *)name, strlen(name));
    hexname[2 * strlen(name)] = 0;
    c_expect(&x->c, "vFile:setfs:0", "F0");
    snprintf(cmd, sizeof(cmd), "vFile:open:%s,0,0", hexname);
    c_expect(&x->c, cmd, "F0");
    /* Writing is refused; a debug-info lookup is not the kernel. */
    snprintf(cmd, sizeof(cmd), "vFile:open:%s,1,1ff", hexname);
    c_expect(&x->c, cmd, "F-1,d");
    const char *dbg = "/usr/lib/debug/.build-id/ab/cdef.debug";
    char hexdbg[128];
    rsp_bin2hex(hexdbg, (const uint8_t *)dbg, strlen(dbg));
    hexdbg[2 * strlen(dbg)] = 0;
    snprintf(cmd, sizeof(cmd), "vFile:open:%s,0,0", hexdbg);
    c_expect(&x->c, cmd, "F-1,2");
    /* nor is a /proc file (gdb's gcore asks for /proc/PID/cmdline) */
    const char *proc = "/proc/42000/cmdline";
    rsp_bin2hex(hexdbg, (const uint8_t *)proc, strlen(proc));
    hexdbg[2 * strlen(proc)] = 0;
    snprintf(cmd, sizeof(cmd), "vFile:open:%s,0,0", hexdbg);
    c_expect(&x->c, cmd, "F-1,2");
    c_expect(&x->c, "vFile:open:6,0,0", "F-1,16");        /* odd hex */
    /* Read it all in small pieces (escaping included). */
    uint8_t file[256];
    size_t got = 0;
    for (;;) {
        snprintf(cmd, sizeof(cmd), "vFile:pread:0,7,%zx", got);
        size_t n;
        c_send(&x->c, cmd, strlen(cmd));
        c_expect_byte(&x->c, '+');
        char *r = c_recv_len(&x->c, &n);
        assert_int_equal(r[0], 'F');
        char *semi = memchr(r, ';', n);
        assert_non_null(semi);
        unsigned long cnt = strtoul(r + 1, NULL, 16);
        long m = rsp_unescape((uint8_t *)semi + 1, n - (size_t)(semi + 1 - r));
        assert_int_equal(m, (long)cnt);
        if (cnt == 0)
            break;
        memcpy(file + got, semi + 1, cnt);
        got += cnt;
    }
    assert_int_equal(got, sizeof(fake_kernel));
    assert_memory_equal(file, fake_kernel, got);
    /* fstat: 64 bytes, st_size at offset 28 (big-endian). */
    size_t n;
    c_send(&x->c, "vFile:fstat:0", 13);
    c_expect_byte(&x->c, '+');
    char *r = c_recv_len(&x->c, &n);
    assert_true(!strncmp(r, "F40;", 4));
    long m = rsp_unescape((uint8_t *)r + 4, n - 4);
    assert_int_equal(m, 64);
    assert_int_equal((uint8_t)r[4 + 35], sizeof(fake_kernel));
    c_expect(&x->c, "vFile:pwrite:0,0,00", "F-1,d");
    c_expect(&x->c, "vFile:close:0", "F0");
    c_expect(&x->c, "vFile:close:0", "F-1,9");
    c_expect(&x->c, "vFile:pread:0,10,0", "F-1,9");
    c_expect(&x->c, "vFile:fstat:5", "F-1,9");
    c_expect(&x->c, "vFile:readlink:2f", "F-1,16");
    c_expect(&x->c, "vFile:unlink:2f", "F-1,d");
    c_expect(&x->c, "vFile:frobnicate:2f", "");
    /* Any other name opens the kernel too (gdb may rewrite the name). */
    c_expect(&x->c, "vFile:open:6b65726e656c,0,0", "F0");
    c_expect(&x->c, "vFile:close:0", "F0");
    c_detach(x);
}

static void test_bad_checksum_and_nak(void **state)
{
    struct fixture *x = *state;
    c_write(&x->c, "$qC#00", 6);
    c_expect_byte(&x->c, '-');
    c_expect(&x->c, "qC", "QC1");
    /* A '-' from us makes the server send its last reply again. */
    c_write(&x->c, "-", 1);
    assert_string_equal(c_recv(&x->c), "QC1");
    /* Line noise before a packet is ignored. */
    c_write(&x->c, "garbage", 7);
    c_expect(&x->c, "qAttached", "1");
    /* A bad run-length encoding with a good checksum: error, still alive. */
    c_send(&x->c, "m*", 2);
    c_expect_byte(&x->c, '+');
    assert_string_equal(c_recv(&x->c), "E16");
    /* Run-length encoded input is expanded: m100000,4 as "m10*!,4". */
    c_expect(&x->c, "m10*!,4", "00070e15");
    c_detach(x);
}

static void test_oversized(void **state)
{
    struct fixture *x = *state;
    static char big[RSP_PACKET_SIZE + 100];
    memset(big, '0', sizeof(big));
    memcpy(big, "M100000,2100:", 13);
    c_send(&x->c, big, sizeof(big));
    c_expect_byte(&x->c, '+');
    assert_string_equal(c_recv(&x->c), "E07");
    c_expect(&x->c, "qC", "QC1");
    c_detach(x);
}

static void test_second_client_refused(void **state)
{
    struct fixture *x = *state;
    c_detach(x);        /* not using the socketpair here */
    char err[128];
    int lfd = gdb_listen(NULL, 0, err, sizeof(err));
    assert_true(lfd >= 0);
    int port = gdb_listen_port(lfd);
    assert_true(port > 0);
    fake_init(&x->f);
    x->srv.fd = -1;
    x->srv.listen_fd = lfd;
    x->srv.end = GDB_END_NONE;
    assert_int_equal(pthread_create(&x->srv.th, NULL, server_main, &x->srv), 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    int c1 = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c1, (struct sockaddr *)&sin, sizeof(sin)), 0);
    x->c.fd = c1;
    x->c.len = 0;
    c_expect(&x->c, "qC", "QC1");
    int c2 = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c2, (struct sockaddr *)&sin, sizeof(sin)), 0);
    struct pollfd p = { .fd = c2, .events = POLLIN };
    assert_int_equal(poll(&p, 1, 5000), 1);
    char b;
    assert_true(read(c2, &b, 1) <= 0);              /* hung up at once */
    close(c2);
    c_expect(&x->c, "qC", "QC1");                   /* the first one goes on */
    c_expect(&x->c, "D", "OK");
    pthread_join(x->srv.th, NULL);
    assert_int_equal(x->srv.end, GDB_END_DETACHED);
    close(c1);
    /* The listening socket is still usable; bad arguments are reported. */
    assert_int_equal(gdb_listen_port(lfd), port);
    close(lfd);
    assert_int_equal(gdb_listen("no.such", 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no.such"));
    assert_int_equal(gdb_listen(NULL, 70000, err, sizeof(err)), -1);
    assert_string_equal(gdb_end_name(GDB_END_KILLED), "killed");
    /* Keep teardown happy: nothing else to join. */
    x->srv.fd = -1;
}

/* ---------------------------------------------------------------------- */
/* --serve mode for the real-gdb integration test                          */

static int load_elf(struct fake *f, const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->exec = malloc((size_t)sz);
    if (!f->exec || fread(f->exec, 1, (size_t)sz, fp) != (size_t)sz) {
        fclose(fp);
        return -1;
    }
    fclose(fp);
    f->exec_len = (size_t)sz;
    f->t.exec_file = f->exec;
    f->t.exec_file_len = f->exec_len;
    f->t.exec_file_name = path;
    if ((size_t)sz < sizeof(Elf64_Ehdr))
        return -1;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f->exec;
    for (int i = 0; i < eh->e_phnum; i++) {
        size_t off = eh->e_phoff + (size_t)i * eh->e_phentsize;
        if (off + sizeof(Elf64_Phdr) > (size_t)sz)
            return -1;
        const Elf64_Phdr *ph = (const Elf64_Phdr *)(f->exec + off);
        if (ph->p_type != PT_LOAD || ph->p_vaddr < MEM_BASE ||
            ph->p_vaddr + ph->p_filesz > MEM_BASE + MEM_SIZE ||
            ph->p_offset + ph->p_filesz > (size_t)sz)
            continue;
        memcpy(f->mem + (ph->p_vaddr - MEM_BASE), f->exec + ph->p_offset, ph->p_filesz);
    }
    f->regs.rip = eh->e_entry;
    return 0;
}

static int serve_main(int port, const char *exec)
{
    static struct fake f;
    fake_init(&f);
    f.t.can_reverse = true;     /* reverse-stepi steps back one byte */
    if (exec && load_elf(&f, exec) < 0) {
        fprintf(stderr, "cannot load %s\n", exec);
        return 1;
    }
    char err[128];
    int lfd = gdb_listen(NULL, port, err, sizeof(err));
    if (lfd < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    printf("listening on %d\n", gdb_listen_port(lfd));
    fflush(stdout);
    struct gdb_serve_opts opts = { .log = getenv("GDB_LOG") ? stderr : NULL };
    for (;;) {
        enum gdb_end end = gdb_serve(lfd, &f.t, &opts);
        printf("session ended: %s\n", gdb_end_name(end));
        fflush(stdout);
        if (end == GDB_END_ERROR)
            return 1;
        f.exit_next = -1;
    }
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--serve"))
        return serve_main(atoi(argv[2]), argc >= 5 && !strcmp(argv[3], "--exec") ? argv[4] : NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_qsupported_and_basics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_breakpoints_and_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_points_released_on_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_points_released_on_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_points_released_on_disconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_swbreak_without_gdb_support, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_and_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vkill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reverse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qxfer_features, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vfile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_checksum_and_nak, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_client_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conditions, setup, teardown),
    };
    return cmocka_run_group_tests_name("gdb_session", tests, NULL, NULL);
}

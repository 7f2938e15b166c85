/*
 * Diversions: the event source that answers a diverted guest without the
 * trace (record/diversion_source.c), and the log that tells when gdb has
 * put back everything it wrote (gdb/diversion_log.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay/diversion_log.h"
#include "monitor/monitor.h"
#include "record/diversion_source.h"

/* What was written to a temporary file, as a string. */
static void slurp(FILE *f, char *buf, size_t len)
{
    fflush(f);
    rewind(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = 0;
}

static int serve(struct diversion_source *d, struct ukvm_io *io)
{
    int status = 99;
    int r = d->base.ops->service(&d->base, io, &status);
    if (r < 0)
        assert_int_equal(status, 0);
    return r;
}

static void console_marked(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    struct diversion_source d;
    diversion_source_init(&d, fileno(f), 0, 0, 0);
    const char *parts[] = { "one\ntw", "o\n", "\nthree" };
    for (int i = 0; i < 3; i++) {
        struct ukvm_io io = { .ev = { .kind = UKVM_EV_PUTS }, .buf = (uint8_t *)parts[i],
            .buf_len = strlen(parts[i]) };
        assert_int_equal(serve(&d, &io), 0);
    }
    char out[256];
    slurp(f, out, sizeof(out));
    assert_string_equal(out, "[diverted] one\n[diverted] two\n[diverted] \n[diverted] three");
    fclose(f);
}

static void clocks_move_on(void **state)
{
    (void)state;
    struct diversion_source d;
    diversion_source_init(&d, -1, 1000000000000ull, 5000, 2000000000ull);
    struct ukvm_io io = { .ev = { .kind = UKVM_EV_WALLTIME } };
    assert_int_equal(serve(&d, &io), 0);
    assert_int_equal(io.ev.a[0], 1000000000000ull); /* the recorded walltime */
    struct ukvm_io t1 = { .ev = { .kind = UKVM_EV_RDTSC } };
    struct ukvm_io t2 = { .ev = { .kind = UKVM_EV_RDTSCP } };
    serve(&d, &t1);
    serve(&d, &t2);
    assert_true(t1.ev.a[0] > 5000 && t2.ev.a[0] > t1.ev.a[0]); /* never equal */
    struct ukvm_io poll = { .ev = { .kind = UKVM_EV_POLL, .a = { 1000000 } } }; /* 1 ms */
    assert_int_equal(serve(&d, &poll), 0);
    assert_int_equal(poll.ev.a[1], 0);   /* nothing ready */
    assert_int_equal(poll.ev.a[2], 0);
    struct ukvm_io t3 = { .ev = { .kind = UKVM_EV_RDMSR_TSC } };
    serve(&d, &t3);
    assert_true(t3.ev.a[0] >= t2.ev.a[0] + 2000000); /* 1 ms at 2 GHz */
    io.ev.a[0] = 0;
    serve(&d, &io);
    assert_int_equal(io.ev.a[0], 1000000000000ull + 1000000);
}

static void devices_refused(void **state)
{
    (void)state;
    struct diversion_source d;
    diversion_source_init(&d, -1, 0, 0, 0);
    uint8_t buf[16];
    memset(buf, 0xab, sizeof(buf));
    struct ukvm_io br = { .ev = { .kind = UKVM_EV_BLOCK_READ, .a = { 0, 0, 16 } }, .buf = buf,
        .buf_len = 16 };
    assert_int_equal(serve(&d, &br), 0);
    assert_int_equal(br.ev.a[3], HVT_EUNSPEC);
    assert_int_equal(buf[0], 0xab); /* nothing read */
    struct ukvm_io bw = { .ev = { .kind = UKVM_EV_BLOCK_WRITE } };
    serve(&d, &bw);
    assert_int_equal(bw.ev.a[4], HVT_EUNSPEC);
    struct ukvm_io nr = { .ev = { .kind = UKVM_EV_NET_READ, .a = { 0, 16 } }, .buf = buf,
        .buf_len = 16 };
    serve(&d, &nr);
    assert_int_equal(nr.ev.a[2], HVT_EUNSPEC);
    assert_int_equal(nr.ev.a[3], 0);
    struct ukvm_io nw = { .ev = { .kind = UKVM_EV_NET_WRITE } };
    serve(&d, &nw);
    assert_int_equal(nw.ev.a[3], HVT_EUNSPEC);
    struct ukvm_io rr = { .ev = { .kind = UKVM_EV_RDRAND, .a = { 7, 64, 1 } } };
    serve(&d, &rr);
    assert_int_equal(rr.ev.a[2], 0);
}

static void halt_stops(void **state)
{
    (void)state;
    struct diversion_source d;
    diversion_source_init(&d, -1, 0, 0, 0);
    struct ukvm_io h = { .ev = { .kind = UKVM_EV_HALT, .rip = 0x1234, .a = { 3 } } };
    assert_int_equal(serve(&d, &h), -1);
    assert_true(d.halted);
    assert_int_equal(d.halt_rip, 0x1234);
    assert_int_equal(d.halt_status, 3);
}

/* ---- the log ---- */

static uint8_t mem[0x3000];
#define MEM_BASE 0x10000u

static long read_fake(void *ctx, uint64_t addr, void *buf, size_t len)
{
    (void)ctx;
    if (addr < MEM_BASE || addr + len > MEM_BASE + sizeof(mem))
        return -1;
    memcpy(buf, mem + (addr - MEM_BASE), len);
    return (long)len;
}

/* gdb writes: the log keeps what was there, then memory changes */
static void gdb_write(struct diversion_log *log, uint64_t addr, const void *p, size_t len)
{
    diversion_log_write(log, addr, mem + (addr - MEM_BASE), len);
    memcpy(mem + (addr - MEM_BASE), p, len);
}

static void start_regs(struct ukvm_regs *r)
{
    memset(r, 0, sizeof(*r));
    r->gpr[0] = 42;
    r->gpr[7] = MEM_BASE + 0x2000; /* rsp */
    r->rip = 0x100e20;
    r->eflags = 0x2;
    r->mxcsr = 0x1f80;
}

static void regs_compare(void **state)
{
    (void)state;
    struct ukvm_regs a, b;
    start_regs(&a);
    b = a;
    assert_true(diversion_regs_equal(&a, &b));
    b.eflags |= (1u << 8) | (1u << 16); /* TF, RF: debugger artefacts */
    assert_true(diversion_regs_equal(&a, &b));
    b.xmm[3][7] = 1;
    assert_false(diversion_regs_equal(&a, &b));
    b = a;
    b.fs_base = 1;
    assert_false(diversion_regs_equal(&a, &b));
    b = a;
    b.eflags |= 1; /* CF */
    assert_false(diversion_regs_equal(&a, &b));
}

static void writes_undone(void **state)
{
    (void)state;
    memset(mem, 0x11, sizeof(mem));
    struct diversion_log log = { 0 };
    struct ukvm_regs r, now;
    start_regs(&r);
    diversion_log_reset(&log, &r);
    now = r;
    assert_true(diversion_log_undone(&log, &now, read_fake, NULL));
    uint32_t v = 12345, back = 0x11111111;
    gdb_write(&log, MEM_BASE + 0x100, &v, 4);      /* a global */
    assert_false(diversion_log_undone(&log, &now, read_fake, NULL));
    gdb_write(&log, MEM_BASE + 0x102, &v, 4);      /* overlapping, again */
    gdb_write(&log, MEM_BASE + 0x100, &back, 4);
    assert_false(diversion_log_undone(&log, &now, read_fake, NULL)); /* 0x104, 0x105 */
    gdb_write(&log, MEM_BASE + 0x104, &back, 2);
    assert_true(diversion_log_undone(&log, &now, read_fake, NULL));
    now.gpr[0] = 7;
    assert_false(diversion_log_undone(&log, &now, read_fake, NULL));
    assert_int_equal(log.bytes, 14);
    diversion_log_free(&log);
}

static void dead_stack_ignored(void **state)
{
    (void)state;
    memset(mem, 0x22, sizeof(mem));
    struct diversion_log log = { 0 };
    struct ukvm_regs r;
    start_regs(&r);
    diversion_log_reset(&log, &r);
    uint64_t rsp = r.gpr[7], ret = 0x100000;
    /* below the red zone, but gdb has not moved rsp there: it counts */
    gdb_write(&log, rsp - DIVERSION_RED_ZONE - 16, &ret, 8);
    assert_false(diversion_log_undone(&log, &r, read_fake, NULL));
    /* an inferior call: rsp moved below the frame gdb built, then back */
    struct ukvm_regs call = r;
    call.gpr[7] = rsp - DIVERSION_RED_ZONE - 16;
    diversion_log_regs(&log, &call);
    diversion_log_regs(&log, &r);
    assert_true(diversion_log_undone(&log, &r, read_fake, NULL));
    assert_int_equal(log.reg_writes, 2);
    /* below the lowest rsp gdb wrote: not its frame */
    gdb_write(&log, rsp - DIVERSION_RED_ZONE - 64, &ret, 8);
    assert_false(diversion_log_undone(&log, &r, read_fake, NULL));
    diversion_log_free(&log);
    diversion_log_reset(&log, &r);
    diversion_log_regs(&log, &call);
    gdb_write(&log, rsp - DIVERSION_RED_ZONE - 16, &ret, 8);
    assert_true(diversion_log_undone(&log, &r, read_fake, NULL));
    /* the red zone is live (a leaf function keeps its locals there) */
    gdb_write(&log, rsp - 8, &ret, 8);
    assert_false(diversion_log_undone(&log, &r, read_fake, NULL));
    diversion_log_free(&log);
    /* at or above rsp: the live stack */
    diversion_log_reset(&log, &r);
    gdb_write(&log, rsp, &ret, 8);
    assert_false(diversion_log_undone(&log, &r, read_fake, NULL));
    diversion_log_free(&log);
}

static void unreadable_not_undone(void **state)
{
    (void)state;
    struct diversion_log log = { 0 };
    struct ukvm_regs r;
    start_regs(&r);
    diversion_log_reset(&log, &r);
    uint8_t b = 0;
    diversion_log_write(&log, 0x10, &b, 1); /* outside the fake memory */
    assert_false(diversion_log_undone(&log, &r, read_fake, NULL));
    diversion_log_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(console_marked),
        cmocka_unit_test(clocks_move_on),
        cmocka_unit_test(devices_refused),
        cmocka_unit_test(halt_stops),
        cmocka_unit_test(regs_compare),
        cmocka_unit_test(writes_undone),
        cmocka_unit_test(dead_stack_ignored),
        cmocka_unit_test(unreadable_not_undone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

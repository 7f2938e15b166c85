/*
 * The replayer, driven without KVM, on traces whose events give back outputs
 * that do not fit the guest's request (a frame length past the guest's
 * buffer, data of the wrong size, result codes outside the hvt set, values
 * wider than their register). Each must stop the replay with one line
 * naming the event and exit status 1, without touching the guest's buffer;
 * consistent events must go through and write exactly their data.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "record/replayer.h"
#include "ukvm/hvt_abi.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/ukvm-replay-outputs.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A trace whose event 0 is a harmless rdtsc and event 1 is `ev`. */
static struct ukvm_trace_reader *trace_with(const struct ukvm_event *ev)
{
    static const uint8_t kernel[16] = "\x7f" "ELF";
    static const struct ukvm_trace_device devs[2] = {
        { .name = "storage", .type = HVT_MFT_DEV_BLOCK_BASIC, .mft_index = 1,
          .capacity = 1 << 20, .block_size = 512 },
        { .name = "service0", .type = HVT_MFT_DEV_NET_BASIC, .mft_index = 2,
          .mac = { 2, 0, 0, 0, 0, 1 }, .mtu = 1500 },
    };
    struct ukvm_trace_header h = {
        .ukvm_version = "t", .kernel = kernel, .kernel_len = sizeof kernel, .cmdline = "",
        .mem_size = 2 << 20, .tsc_hz = 1000000, .n_devices = 2, .devices = devs,
    };
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/t.zst", dir);
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(path, true, &h, err, sizeof err);
    assert_non_null(w);
    struct ukvm_event first = { .kind = UKVM_EV_RDTSC, .rip = 0x100000, .a = { 1234 } };
    assert_int_equal(ukvm_trace_writer_event(w, &first, err, sizeof err), 0);
    assert_int_equal(ukvm_trace_writer_event(w, ev, err, sizeof err), 0);
    assert_int_equal(ukvm_trace_writer_close(w, 0, err, sizeof err), 0);
    struct ukvm_trace_reader *r = ukvm_trace_reader_open(path, err, sizeof err);
    assert_non_null(r);
    return r;
}

enum { BUF = 1514, GUARD = 64 };

struct outcome {
    int rc, status;
    char msg[512];              /* what went to stderr */
    uint8_t buf[BUF + GUARD];   /* the guest's buffer, then bytes past it */
    struct ukvm_event ev;       /* the outputs the guest was given */
};

/*
 * Replays the trace of `rec` with the guest asking `want` (kind, rip and
 * inputs; buffer of buf_len bytes); stderr is captured.
 */
static void replay(const struct ukvm_event *rec, const struct ukvm_event *want, size_t buf_len,
        struct outcome *o)
{
    struct ukvm_trace_reader *r = trace_with(rec);
    struct ukvm_event_source *src = replayer_create(r);
    memset(o, 0, sizeof *o);
    memset(o->buf, 0xcc, sizeof o->buf);

    struct ukvm_io io = { .ev = { .kind = UKVM_EV_RDTSC, .rip = 0x100000 } };
    o->status = -7;
    assert_int_equal(src->ops->service(src, &io, &o->status), 0);

    char path[128];
    snprintf(path, sizeof path, "%s/stderr", dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    memset(&io, 0, sizeof io);
    io.ev = *want;
    io.buf = o->buf;
    io.buf_len = buf_len;
    o->rc = src->ops->service(src, &io, &o->status);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, o->msg, sizeof o->msg - 1, 0);
    close(fd);
    o->msg[n > 0 ? n : 0] = 0;
    o->ev = io.ev;
    free(src);
    ukvm_trace_reader_close(r);
}

/* The guest's side of rec: its kind, rip and inputs. */
static struct ukvm_event request_of(const struct ukvm_event *rec)
{
    struct ukvm_event q = { .kind = rec->kind, .rip = rec->rip };
    unsigned mask = ukvm_event_input_mask(rec->kind);
    for (int i = 0; i < UKVM_EVENT_NARGS; i++)
        if (mask & (1u << i))
            q.a[i] = rec->a[i];
    return q;
}

static void expect_refused(const struct ukvm_event *rec, size_t buf_len, const char *want)
{
    struct ukvm_event q = request_of(rec);
    struct outcome o;
    replay(rec, &q, buf_len, &o);
    if (o.rc != -1 || o.status != 1)
        fail_msg("%s: rc %d, status %d, expected -1 and 1 (stderr: '%s')",
                ukvm_event_kind_name(rec->kind), o.rc, o.status, o.msg);
    char line[300];
    snprintf(line, sizeof line, "ukvm: trace event 1: %s\n", want);
    if (strcmp(o.msg, line) != 0)
        fail_msg("expected '%s', got '%s'", line, o.msg);
    for (size_t i = 0; i < sizeof o.buf; i++)
        assert_int_equal(o.buf[i], 0xcc);     /* nothing reached the guest */
}

static const uint8_t frame[100] = "a network frame";

static void net_read_length_past_the_buffer(void **state)
{
    (void)state;
    struct ukvm_event e = { .kind = UKVM_EV_NET_READ, .rip = 0x100040,
        .a = { 2, BUF, HVT_OK, 9000 }, .data = frame, .data_len = 60 };
    expect_refused(&e, BUF, "net_read length 9000 exceeds the guest's buffer of 1514 bytes");
    e.a[3] = UINT64_MAX;        /* the length that made the dirty marking wrap */
    expect_refused(&e, BUF, "net_read length 18446744073709551615 exceeds the guest's buffer "
            "of 1514 bytes");
    e.a[3] = 100;
    expect_refused(&e, BUF, "net_read length 100 differs from the 60 bytes of frame recorded");
    e.a[3] = 60;
    e.a[2] = 7;
    expect_refused(&e, BUF, "net_read returns 7, not an hvt result code");
    e.a[2] = HVT_AGAIN;
    expect_refused(&e, BUF, "net_read fails (1) but gives a frame of 60 bytes");
}

static void block_read_data_of_the_wrong_size(void **state)
{
    (void)state;
    static const uint8_t data[512] = "sector";
    struct ukvm_event e = { .kind = UKVM_EV_BLOCK_READ, .rip = 0x100080,
        .a = { 1, 512, 512, HVT_OK }, .data = data, .data_len = 11 };
    expect_refused(&e, 512, "block_read carries 11 bytes of data for the guest's read of 512 bytes");
    e.data_len = 512;
    e.a[3] = HVT_EUNSPEC;
    expect_refused(&e, 512, "block_read fails (3) but carries 512 bytes of data");
    e.a[3] = (uint64_t)-5;
    expect_refused(&e, 512, "block_read returns -5, not an hvt result code");
}

static void result_codes_and_register_values(void **state)
{
    (void)state;
    struct ukvm_event e = { .kind = UKVM_EV_BLOCK_WRITE, .rip = 0x1000c0,
        .a = { 1, 0, 512, 77, 9 } };
    expect_refused(&e, 512, "block_write returns 9, not an hvt result code");
    struct ukvm_event nw = { .kind = UKVM_EV_NET_WRITE, .rip = 0x1000c0, .a = { 2, 60, 77, HVT_AGAIN } };
    expect_refused(&nw, 60, "net_write returns 1, not an hvt result code");
    struct ukvm_event p = { .kind = UKVM_EV_POLL, .rip = 0x100100, .a = { 1000, 1u << 2, 3 } };
    expect_refused(&p, 0, "poll returns 3 for a ready set of 1 devices");
    p.a[1] = 1u << 1;           /* the block device */
    p.a[2] = 1;
    expect_refused(&p, 0, "poll's ready set 0x2 names a handle that is not a network device");
    struct ukvm_event t = { .kind = UKVM_EV_RDTSCP, .rip = 0x100140, .a = { 5, 1ull << 32 } };
    expect_refused(&t, 0, "rdtscp TSC_AUX 0x100000000 is wider than 32 bits");
    struct ukvm_event rr = { .kind = UKVM_EV_RDRAND, .rip = 0x100180, .a = { 1ull << 40, 32, 1 } };
    expect_refused(&rr, 0, "rdrand value 0x10000000000 is wider than its 32-bit operand");
    rr.kind = UKVM_EV_RDSEED;
    rr.a[0] = 5;
    rr.a[2] = 2;
    expect_refused(&rr, 0, "rdseed carry flag 2 is not 0 or 1");
    rr.a[2] = 0;
    expect_refused(&rr, 0, "rdseed fails (CF 0) but gives the value 0x5");
}

/* Consistent events pass, and only the recorded bytes reach the buffer. */
static void consistent_events_go_through(void **state)
{
    (void)state;
    struct ukvm_event e = { .kind = UKVM_EV_NET_READ, .rip = 0x100040,
        .a = { 2, BUF, HVT_OK, 60 }, .data = frame, .data_len = 60 };
    struct ukvm_event q = request_of(&e);
    struct outcome o;
    replay(&e, &q, BUF, &o);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.msg, "");
    assert_int_equal(o.ev.a[2], HVT_OK);
    assert_int_equal(o.ev.a[3], 60);
    assert_memory_equal(o.buf, frame, 60);
    for (size_t i = 60; i < sizeof o.buf; i++)
        assert_int_equal(o.buf[i], 0xcc);

    struct ukvm_event again = { .kind = UKVM_EV_NET_READ, .rip = 0x100040, .a = { 2, BUF, HVT_AGAIN, 0 } };
    q = request_of(&again);
    replay(&again, &q, BUF, &o);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.buf[0], 0xcc);

    struct ukvm_event p = { .kind = UKVM_EV_POLL, .rip = 0x100100, .a = { 1000, 1u << 2, 1 } };
    q = request_of(&p);
    replay(&p, &q, 0, &o);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.ev.a[1], 4);

    struct ukvm_event rr = { .kind = UKVM_EV_RDRAND, .rip = 0x100180, .a = { 0xfffe, 16, 1 } };
    q = request_of(&rr);
    replay(&rr, &q, 0, &o);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.ev.a[0], 0xfffe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(net_read_length_past_the_buffer),
        cmocka_unit_test(block_read_data_of_the_wrong_size),
        cmocka_unit_test(result_codes_and_register_values),
        cmocka_unit_test(consistent_events_go_through),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

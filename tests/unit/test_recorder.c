/* The recorder: a block_read it cannot record is refused before the world
 * (the block file) is touched; the longest one it accepts reads back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "record/recorder.h"

static char dir[64];
static char path[128];
static char err[256];
static uint8_t kernel[64];

/* A world that counts the events it is asked to service. */
struct fake_world {
    struct ukvm_event_source base;
    unsigned calls;
};

static int fake_service(struct ukvm_event_source *src, struct ukvm_io *io, int *exit_status)
{
    (void)exit_status;
    struct fake_world *w = (struct fake_world *)src;
    w->calls++;
    if (io->ev.kind == UKVM_EV_BLOCK_READ)
        io->ev.a[3] = HVT_OK; /* the data stays as it is: the test fills it */
    return 0;
}

static const struct ukvm_event_source_ops fake_ops = { .service = fake_service };

static struct ukvm_trace_writer *open_writer(void)
{
    struct ukvm_trace_header h = {
        .ukvm_version = "test", .kernel = kernel, .kernel_len = sizeof kernel,
        .cmdline = "", .mem_size = 512ull << 20, .tsc_hz = 1000000000ull,
    };
    snprintf(path, sizeof path, "%s/rec.zst", dir);
    unlink(path);
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(path, false, &h, err, sizeof err);
    assert_non_null(w);
    return w;
}

static struct ukvm_io block_read(uint8_t *buf, size_t len)
{
    struct ukvm_io io;
    memset(&io, 0, sizeof io);
    io.ev.kind = UKVM_EV_BLOCK_READ;
    io.ev.rip = 0x100200;
    io.ev.a[0] = 1;
    io.ev.a[2] = len;
    io.buf = buf;
    io.buf_len = len;
    return io;
}

/* Reads are refused before the world sees them: 4 GiB (whose length would
 * be 0 as a u32) and one byte over the limit. */
static void test_too_long_refused_before_io(void **state)
{
    (void)state;
    static const uint64_t lens[] = { 4ull << 30, (4ull << 30) + 512, RECORDER_MAX_READ + 1,
        64ull << 20 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        struct fake_world world = { .base = { .ops = &fake_ops } };
        struct ukvm_trace_writer *w = open_writer();
        struct ukvm_event_source *rec = recorder_create(&world.base, w);
        uint8_t never_touched;
        struct ukvm_io io = block_read(&never_touched, lens[i]);
        int status = 0;
        assert_int_equal(rec->ops->service(rec, &io, &status), -1);
        assert_int_equal(status, 1);
        assert_int_equal(world.calls, 0);
        assert_int_equal(ukvm_trace_writer_event_count(w), 0);
        assert_int_equal(ukvm_trace_writer_close(w, status, err, sizeof err), 0);
        free(rec);
    }
}

/* The longest read accepted is recorded whole and reads back. */
static void test_longest_read_round_trips(void **state)
{
    (void)state;
    struct fake_world world = { .base = { .ops = &fake_ops } };
    struct ukvm_trace_writer *w = open_writer();
    struct ukvm_event_source *rec = recorder_create(&world.base, w);
    size_t len = RECORDER_MAX_READ;
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    for (size_t i = 0; i < len; i += 4096)
        buf[i] = (uint8_t)(i >> 12);
    buf[len - 1] = 0xa5;
    struct ukvm_io io = block_read(buf, len);
    int status = 0;
    assert_int_equal(rec->ops->service(rec, &io, &status), 0);
    assert_int_equal(world.calls, 1);
    /* a small event after it, in the same or the next frame */
    io = block_read(buf, 512);
    assert_int_equal(rec->ops->service(rec, &io, &status), 0);
    assert_int_equal(ukvm_trace_writer_close(w, 0, err, sizeof err), 0);
    free(rec);

    struct ukvm_trace_reader *r = ukvm_trace_reader_open(path, err, sizeof err);
    assert_non_null(r);
    struct ukvm_event ev;
    assert_int_equal(ukvm_trace_reader_next(r, &ev, err, sizeof err), 1);
    assert_int_equal(ev.kind, UKVM_EV_BLOCK_READ);
    assert_int_equal(ev.data_len, len);
    assert_memory_equal(ev.data, buf, len);
    assert_int_equal(ukvm_trace_reader_next(r, &ev, err, sizeof err), 1);
    assert_int_equal(ev.data_len, 512);
    assert_int_equal(ukvm_trace_reader_next(r, &ev, err, sizeof err), 0);
    ukvm_trace_reader_close(r);
    free(buf);
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/ukvm-recorder-test.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_too_long_refused_before_io),
        cmocka_unit_test(test_longest_read_round_trips),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests for the ukvm command line (src/cli/cli.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"

static struct config cfg;
static char err[512];

static int parse(enum ukvm_mode mode, int argc, const char **argv)
{
    memset(&cfg, 0, sizeof(cfg));
    cfg.mode = mode;
    err[0] = 0;
    return cli_parse(&cfg, argc, (char **)argv, err, sizeof(err));
}

static void test_defaults(void **state)
{
    (void)state;
    const char *a[] = { "k.elf" };
    assert_int_equal(parse(MODE_RUN, 1, a), 0);
    assert_string_equal(cfg.kernel_path, "k.elf");
    assert_int_equal(cfg.mem_size, 512ULL << 20);
    assert_string_equal(cfg.cmdline, "");
    assert_false(cfg.gdb);
    assert_string_equal(cfg.gdb_addr, "127.0.0.1");
    assert_int_equal(cfg.gdb_port, 1234);
}

static void test_guest_args_joined(void **state)
{
    (void)state;
    const char *a[] = { "--mem=64", "k.elf", "a", "b c", "--mem=2" };
    assert_int_equal(parse(MODE_RUN, 5, a), 0);
    assert_int_equal(cfg.mem_size, 64ULL << 20);
    /* everything after the kernel belongs to the guest, options included */
    assert_string_equal(cfg.cmdline, "a b c --mem=2");
}

static void test_double_dash(void **state)
{
    (void)state;
    const char *a[] = { "--", "--weird-kernel-name", "x" };
    assert_int_equal(parse(MODE_RUN, 3, a), 0);
    assert_string_equal(cfg.kernel_path, "--weird-kernel-name");
    assert_string_equal(cfg.cmdline, "x");
}

static void test_mem_range(void **state)
{
    (void)state;
    const char *bad[] = { "--mem=0", "--mem=3", "--mem=8192", "--mem=abc", "--mem=", "--mem=-2",
        "--mem=4098" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *a[] = { bad[i], "k.elf" };
        assert_int_equal(parse(MODE_RUN, 2, a), -1);
        assert_non_null(strstr(err, "--mem"));
    }
    const char *ok[] = { "--mem=2", "k.elf" };
    assert_int_equal(parse(MODE_RUN, 2, ok), 0);
    const char *max[] = { "--mem=4096", "k.elf" };
    assert_int_equal(parse(MODE_RUN, 2, max), 0);
    assert_int_equal(cfg.mem_size, 4096ULL << 20);
}

static void test_devices(void **state)
{
    (void)state;
    const char *a[] = { "--block-sector-size:disk=4096", "--block:disk=/tmp/d.img",
        "--net:service=tap0", "--net-mac:service=02:00:00:aa:bb:cc", "k.elf" };
    assert_int_equal(parse(MODE_RUN, 5, a), 0);
    assert_int_equal(cfg.n_devices, 2);
    assert_string_equal(cfg.devices[0].name, "disk");
    assert_int_equal(cfg.devices[0].type, HVT_MFT_DEV_BLOCK_BASIC);
    assert_int_equal(cfg.devices[0].block_size, 4096);
    assert_string_equal(cfg.devices[0].path, "/tmp/d.img");
    assert_int_equal(cfg.devices[1].type, HVT_MFT_DEV_NET_BASIC);
    assert_true(cfg.devices[1].mac_given);
    assert_int_equal(cfg.devices[1].mac[5], 0xcc);
}

static void test_device_errors(void **state)
{
    (void)state;
    const char *twice[] = { "--block:d=a", "--block:d=b", "k.elf" };
    assert_int_equal(parse(MODE_RUN, 3, twice), -1);
    const char *noval[] = { "--block:d=", "k.elf" };
    assert_int_equal(parse(MODE_RUN, 2, noval), -1);
    const char *noname[] = { "--block:=f", "k.elf" };
    assert_int_equal(parse(MODE_RUN, 2, noname), -1);
    const char *size[] = { "--block-sector-size:d=1000", "--block:d=f", "k.elf" };
    assert_int_equal(parse(MODE_RUN, 3, size), -1);
    const char *orphan[] = { "--net-mac:n=02:00:00:00:00:01", "k.elf" };
    assert_int_equal(parse(MODE_RUN, 2, orphan), -1);
    assert_non_null(strstr(err, "not attached"));
    const char *mac[] = { "--net:n=t", "--net-mac:n=zz:00:00:00:00:01", "k.elf" };
    assert_int_equal(parse(MODE_RUN, 3, mac), -1);
    const char *kind[] = { "--net:n=t", "--block-sector-size:n=4096", "k.elf" };
    assert_int_equal(parse(MODE_RUN, 3, kind), -1);
    char longname[100];
    memset(longname, 'x', sizeof(longname));
    memcpy(longname, "--block:", 8);
    strcpy(longname + 90, "=f");
    const char *lng[] = { longname, "k.elf" };
    assert_int_equal(parse(MODE_RUN, 2, lng), -1);
}

static void test_cmdline_limit(void **state)
{
    (void)state;
    static char big[HVT_CMDLINE_SIZE + 1];
    memset(big, 'a', HVT_CMDLINE_SIZE - 1); /* 8191 bytes: fits with its NUL */
    big[HVT_CMDLINE_SIZE - 1] = 0;
    const char *ok[] = { "k.elf", big };
    assert_int_equal(parse(MODE_RUN, 2, ok), 0);
    big[HVT_CMDLINE_SIZE - 1] = 'a'; /* 8192 bytes: too long */
    big[HVT_CMDLINE_SIZE] = 0;
    const char *bad[] = { "k.elf", big };
    assert_int_equal(parse(MODE_RUN, 2, bad), -1);
    assert_non_null(strstr(err, "too long"));
}

static void test_record_options(void **state)
{
    (void)state;
    const char *a[] = { "-o", "t.zst", "--force", "k.elf" };
    assert_int_equal(parse(MODE_RECORD, 4, a), 0);
    assert_string_equal(cfg.trace_path, "t.zst");
    assert_true(cfg.force);
    const char *d[] = { "k.elf" };
    assert_int_equal(parse(MODE_RECORD, 1, d), 0);
    assert_string_equal(cfg.trace_path, "trace.zst");
    const char *noo[] = { "-o" };
    assert_int_equal(parse(MODE_RECORD, 1, noo), -1);
    const char *gdb[] = { "--gdb", "k.elf" };
    assert_int_equal(parse(MODE_RECORD, 2, gdb), -1);
    const char *force_run[] = { "--force", "k.elf" };
    assert_int_equal(parse(MODE_RUN, 2, force_run), -1);
}

static void test_replay_options(void **state)
{
    (void)state;
    const char *a[] = { "--gdb=4321", "--gdb-listen=0.0.0.0", "--checkpoint-mem=64", "t.zst" };
    assert_int_equal(parse(MODE_REPLAY, 4, a), 0);
    assert_true(cfg.gdb);
    assert_int_equal(cfg.gdb_port, 4321);
    assert_string_equal(cfg.gdb_addr, "0.0.0.0");
    assert_int_equal(cfg.checkpoint_mem, 64ULL << 20);
    assert_string_equal(cfg.trace_path, "t.zst");
    const char *mem[] = { "--mem=64", "t.zst" };
    assert_int_equal(parse(MODE_REPLAY, 2, mem), -1);
    const char *args[] = { "t.zst", "extra" };
    assert_int_equal(parse(MODE_REPLAY, 2, args), -1);
    const char *port[] = { "--gdb=70000", "t.zst" };
    assert_int_equal(parse(MODE_REPLAY, 2, port), -1);
    const char *none[] = { "--gdb" };
    assert_int_equal(parse(MODE_REPLAY, 1, none), -1);
    const char *pcap[] = { "--pcap=f.pcapng", "--force", "t.zst" };
    assert_int_equal(parse(MODE_REPLAY, 3, pcap), 0);
    assert_string_equal(cfg.pcap_path, "f.pcapng");
    assert_true(cfg.force);
    const char *pcap_gdb[] = { "--pcap=f.pcapng", "--gdb", "t.zst" };
    assert_int_equal(parse(MODE_REPLAY, 3, pcap_gdb), -1);
    assert_non_null(strstr(err, "--gdb"));
    const char *force_alone[] = { "--force", "t.zst" };
    assert_int_equal(parse(MODE_REPLAY, 2, force_alone), -1);
    assert_non_null(strstr(err, "needs --pcap"));
    const char *pcap_run[] = { "--pcap=f.pcapng", "k.elf" };
    assert_int_equal(parse(MODE_RUN, 2, pcap_run), -1);
}

/* every value option also takes its value as the next argument */
static void test_space_separated_values(void **state)
{
    (void)state;
    const char *run[] = { "--mem", "64", "--block:disk", "/tmp/d.img", "--block-sector-size:disk",
        "4096", "--net:svc", "tap0", "--net-mac:svc", "02:00:00:aa:bb:cc", "--gdb", "0",
        "--gdb-listen", "0.0.0.0", "k.elf", "x" };
    assert_int_equal(parse(MODE_RUN, 16, run), 0);
    assert_int_equal(cfg.mem_size, 64ULL << 20);
    assert_string_equal(cfg.devices[0].path, "/tmp/d.img");
    assert_int_equal(cfg.devices[0].block_size, 4096);
    assert_string_equal(cfg.devices[1].path, "tap0");
    assert_true(cfg.devices[1].mac_given);
    assert_true(cfg.gdb);
    assert_int_equal(cfg.gdb_port, 0);
    assert_string_equal(cfg.gdb_addr, "0.0.0.0");
    assert_string_equal(cfg.kernel_path, "k.elf");
    assert_string_equal(cfg.cmdline, "x");
    const char *replay[] = { "--gdb", "4321", "--checkpoint-mem", "64", "--goto", "end", "t.zst" };
    assert_int_equal(parse(MODE_REPLAY, 7, replay), 0);
    assert_int_equal(cfg.gdb_port, 4321);
    assert_int_equal(cfg.checkpoint_mem, 64ULL << 20);
    assert_string_equal(cfg.goto_target, "end");
    assert_string_equal(cfg.trace_path, "t.zst");
    const char *pcap[] = { "--pcap", "f.pcapng", "t.zst" };
    assert_int_equal(parse(MODE_REPLAY, 3, pcap), 0);
    assert_string_equal(cfg.pcap_path, "f.pcapng");
    assert_string_equal(cfg.trace_path, "t.zst");
    /* --gdb's value is optional: a last argument of digits is the trace */
    const char *gdb_trace[] = { "--gdb", "1234" };
    assert_int_equal(parse(MODE_REPLAY, 2, gdb_trace), 0);
    assert_int_equal(cfg.gdb_port, 1234);
    assert_string_equal(cfg.trace_path, "1234");
    const char *debug[] = { "--debugger", "gdb-multiarch", "--goto", "3", "t.zst", "-q" };
    assert_int_equal(parse(MODE_DEBUG, 6, debug), 0);
    assert_string_equal(cfg.debugger, "gdb-multiarch");
    assert_string_equal(cfg.goto_target, "3");
    assert_int_equal(cfg.debugger_argc, 1);
    const char *last[] = { "--mem" };
    assert_int_equal(parse(MODE_RUN, 1, last), -1);
    assert_non_null(strstr(err, "needs a value"));
    const char *bad[] = { "--mem", "3", "k.elf" };
    assert_int_equal(parse(MODE_RUN, 3, bad), -1);
    assert_non_null(strstr(err, "'3'"));
    const char *noname[] = { "--block:", "d.img", "k.elf" };
    assert_int_equal(parse(MODE_RUN, 3, noname), -1);
    assert_non_null(strstr(err, "device name"));
    const char *flag[] = { "--force=1", "k.elf" };
    assert_int_equal(parse(MODE_RECORD, 2, flag), -1);
    assert_non_null(strstr(err, "takes no value"));
}

/* ukvm debug --port: the replay's port (default 0: a free one) */
static void test_debug_port(void **state)
{
    (void)state;
    const char *none[] = { "t.zst" };
    assert_int_equal(parse(MODE_DEBUG, 1, none), 0);
    assert_int_equal(cfg.gdb_port, 0);
    const char *eq[] = { "--port=41234", "t.zst", "-q" };
    assert_int_equal(parse(MODE_DEBUG, 3, eq), 0);
    assert_int_equal(cfg.gdb_port, 41234);
    assert_int_equal(cfg.debugger_argc, 1);
    const char *space[] = { "--port", "5000", "--goto", "end", "t.zst" };
    assert_int_equal(parse(MODE_DEBUG, 5, space), 0);
    assert_int_equal(cfg.gdb_port, 5000);
    assert_string_equal(cfg.trace_path, "t.zst");
    const char *bad[] = { "--port=65536", "t.zst" };
    assert_int_equal(parse(MODE_DEBUG, 2, bad), -1);
    assert_non_null(strstr(err, "--port: '65536' is not a TCP port"));
    const char *word[] = { "--port", "http", "t.zst" };
    assert_int_equal(parse(MODE_DEBUG, 3, word), -1);
    assert_non_null(strstr(err, "is not a TCP port"));
    const char *novalue[] = { "--port", "t.zst" };
    assert_int_equal(parse(MODE_DEBUG, 2, novalue), -1);
    /* replay has --gdb=PORT for that */
    const char *replay[] = { "--gdb", "--port=5000", "t.zst" };
    assert_int_equal(parse(MODE_REPLAY, 3, replay), -1);
    assert_non_null(strstr(err, "unknown replay option '--port'"));
}

static void test_help_and_unknown(void **state)
{
    (void)state;
    const char *h[] = { "--help" };
    assert_int_equal(parse(MODE_RUN, 1, h), 1);
    const char *u[] = { "--frobnicate", "k.elf" };
    assert_int_equal(parse(MODE_RUN, 2, u), -1);
    assert_non_null(strstr(err, "--frobnicate"));
    assert_int_equal(parse(MODE_RUN, 0, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_guest_args_joined),
        cmocka_unit_test(test_double_dash),
        cmocka_unit_test(test_mem_range),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_device_errors),
        cmocka_unit_test(test_cmdline_limit),
        cmocka_unit_test(test_record_options),
        cmocka_unit_test(test_replay_options),
        cmocka_unit_test(test_space_separated_values),
        cmocka_unit_test(test_debug_port),
        cmocka_unit_test(test_help_and_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

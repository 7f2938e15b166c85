/* Unit tests for lldb's packets (src/rsp/gdb_lldb.c) through a session:
 * qHostInfo, qOffsets, the reply to lldb's `k` (and none to gdb's), and the
 * empty reply to lldb's packets ukvm does not serve. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "rsp/gdb_session.h"

#include "capture_write.h"
static int kills;


static void fk_kill(struct ukvm_target *t)
{
    (void)t;
    kills++;
}

static int restart_ok(struct ukvm_target *t, const struct ukvm_position *pos,
        struct ukvm_outbuf *out)
{
    (void)t;
    (void)pos;
    (void)out;
    return 0;
}

static const struct ukvm_target_ops ops = { .kill = fk_kill };
static struct ukvm_target target = { .ops = &ops };
static const struct gdb_session_io io = { .write = cap_write };

static void send(struct gdb_session *s, const char *pkt)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", pkt);
    cap_reset();
    gdb_session_dispatch(s, (uint8_t *)buf, strlen(buf));
}

/* The payload of the one reply sent (without $ and #checksum). */
static const char *reply(void)
{
    static char payload[sizeof(sent)];
    const char *hash = strrchr(sent, '#');
    assert_true(sent[0] == '$' && hash && hash[1] && hash[2] && !hash[3]);
    size_t n = (size_t)(hash - sent - 1);
    memcpy(payload, sent + 1, n);
    payload[n] = 0;
    return payload;
}

static void test_host_info(void **state)
{
    (void)state;
    struct gdb_session *s = gdb_session_new(&target, &io, NULL);
    assert_non_null(s);
    /* gdb's qOffsets: the empty reply, as before */
    send(s, "qOffsets");
    assert_string_equal(reply(), "");
    send(s, "qHostInfo");
    /* "x86_64" hex-encoded: the OS is left open */
    assert_string_equal(reply(), "triple:7838365f3634;endian:little;ptrsize:8;");
    send(s, "qOffsets");
    assert_string_equal(reply(), "Text=0;Data=0;Bss=0");
    /* near misses are not lldb's packets */
    send(s, "qHostInfoX");
    assert_string_equal(reply(), "");
    send(s, "qOffsets:");
    assert_string_equal(reply(), "");
    gdb_session_free(s);
}

static void test_unserved(void **state)
{
    (void)state;
    static const char *const pkts[] = {
        "qProcessInfo", "QThreadSuffixSupported", "QListThreadsInStopReply",
        "QEnableErrorStrings", "qVAttachOrWaitSupported", "qMemoryRegionInfo:100020",
        "jThreadsInfo", "jThreadExtendedInfo:", "qStructuredDataPlugins",
        "_M1000,rwx", "x0,0",
    };
    struct gdb_session *s = gdb_session_new(&target, &io, NULL);
    assert_non_null(s);
    for (size_t i = 0; i < sizeof(pkts) / sizeof(pkts[0]); i++) {
        send(s, pkts[i]);
        assert_string_equal(reply(), "");
    }
    assert_int_equal(s->end, GDB_END_NONE);
    gdb_session_free(s);
}

static void test_kill(void **state)
{
    (void)state;
    /* gdb's k: killed, no reply */
    kills = 0;
    struct gdb_session *s = gdb_session_new(&target, &io, NULL);
    send(s, "qSupported:multiprocess+;swbreak+");
    send(s, "k");
    assert_int_equal(sent_len, 0);
    assert_int_equal(kills, 1);
    assert_int_equal(s->end, GDB_END_KILLED);
    gdb_session_free(s);
    /* lldb's (it asked qHostInfo): X09, the reply it waits for */
    s = gdb_session_new(&target, &io, NULL);
    send(s, "qSupported:xmlRegisters=i386,arm,mips,arc;multiprocess+");
    send(s, "qHostInfo");
    send(s, "k");
    assert_string_equal(reply(), "X09");
    assert_int_equal(kills, 2);
    assert_int_equal(s->end, GDB_END_KILLED);
    /* the next client on the same session is gdb again until qHostInfo */
    s->end = GDB_END_NONE;
    send(s, "qSupported:multiprocess+");
    send(s, "k");
    assert_int_equal(sent_len, 0);
    assert_int_equal(kills, 3);
    gdb_session_free(s);
    /* an extended-mode replay keeps running after gdb's k: still no reply */
    struct ukvm_target_ops rops = ops;
    rops.restart = restart_ok;
    struct ukvm_target rt = { .ops = &rops, .can_reverse = true };
    s = gdb_session_new(&rt, &io, NULL);
    send(s, "!");
    send(s, "k");
    assert_int_equal(sent_len, 0);
    assert_int_equal(kills, 3);
    assert_int_equal(s->end, GDB_END_NONE);
    gdb_session_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_info),
        cmocka_unit_test(test_unserved),
        cmocka_unit_test(test_kill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

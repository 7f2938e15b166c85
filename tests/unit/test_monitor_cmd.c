/* Unit tests for ukvm's monitor commands: parsing and goto arithmetic
 * (src/gdb/gdb_monitor_cmd.c), and qRcmd through a session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gdb/gdb_monitor_cmd.h"
#include "gdb/gdb_session.h"
#include "cli/cli.h"

static struct monitor_cmd c;
static char err[256];

static int parse(const char *line)
{
    err[0] = 0;
    return monitor_cmd_parse(line, &c, err, sizeof(err));
}

static void test_verbs(void **state)
{
    (void)state;
    assert_int_equal(parse(""), 0);
    assert_int_equal(c.verb, MON_HELP);
    assert_int_equal(parse("help"), 0);
    assert_int_equal(c.verb, MON_HELP);
    assert_int_equal(parse("  when  "), 0);
    assert_int_equal(c.verb, MON_WHEN);
    assert_int_equal(parse("bookmarks"), 0);
    assert_int_equal(c.verb, MON_BOOKMARKS);
    assert_int_equal(parse("bookmark"), 0);
    assert_int_equal(c.verb, MON_BOOKMARK);
    assert_string_equal(c.name, "");
    assert_int_equal(parse("bookmark crash_1"), 0);
    assert_string_equal(c.name, "crash_1");
    assert_int_equal(parse("delete crash_1"), 0);
    assert_int_equal(c.verb, MON_DELETE);
    assert_string_equal(c.name, "crash_1");
    assert_int_equal(parse("diversion"), 0);
    assert_int_equal(c.verb, MON_DIVERSION);
    assert_int_equal(c.n, 0);
    assert_int_equal(parse("diversion end"), 0);
    assert_int_equal(c.verb, MON_DIVERSION);
    assert_int_equal(c.n, 1);
    assert_int_equal(parse("diversion stop"), -1);
    assert_non_null(strstr(err, "'stop' is not 'end'"));
    assert_int_equal(parse("diversion end now"), -1);
}

static void test_goto_places(void **state)
{
    (void)state;
    assert_int_equal(parse("goto 1234"), 0);
    assert_int_equal(c.verb, MON_GOTO);
    assert_int_equal(c.where, WHERE_EVENT);
    assert_int_equal(c.n, 1234);
    assert_int_equal(parse("goto start"), 0);
    assert_int_equal(c.where, WHERE_START);
    assert_int_equal(parse("goto end"), 0);
    assert_int_equal(c.where, WHERE_END);
    assert_int_equal(parse("goto +7"), 0);
    assert_int_equal(c.where, WHERE_FORWARD);
    assert_int_equal(c.n, 7);
    assert_int_equal(parse("goto -3"), 0);
    assert_int_equal(c.where, WHERE_BACK);
    assert_int_equal(c.n, 3);
    assert_int_equal(parse("goto here"), 0);
    assert_int_equal(c.where, WHERE_BOOKMARK);
    assert_string_equal(c.name, "here");
}

static void test_bad_commands(void **state)
{
    (void)state;
    assert_int_equal(parse("frob"), -1);
    assert_non_null(strstr(err, "unknown monitor command 'frob'"));
    assert_int_equal(parse("goto"), -1);
    assert_non_null(strstr(err, "goto needs an argument"));
    assert_int_equal(parse("goto 12x"), -1);
    assert_non_null(strstr(err, "not an event number"));
    assert_int_equal(parse("goto 99999999999999999999999"), -1);
    assert_int_equal(parse("goto +"), -1);
    assert_int_equal(parse("goto -x"), -1);
    assert_int_equal(parse("goto 1 2"), -1);
    assert_non_null(strstr(err, "too many arguments"));
    assert_int_equal(parse("when now"), -1);
    assert_int_equal(parse("goto %%"), -1);
    assert_int_equal(parse("bookmark end"), -1);
    assert_int_equal(parse("bookmark 1abc"), -1);
    assert_int_equal(parse("bookmark a/b"), -1);
    assert_int_equal(parse("bookmark abcdefghijabcdefghijabcdefghijabc"), -1); /* 33 */
    assert_int_equal(parse("bookmark abcdefghijabcdefghijabcdefghijab"), 0);  /* 32 */
    assert_int_equal(parse("delete"), -1);
    assert_int_equal(parse("events 0"), -1);
    assert_int_equal(parse("events 1001"), -1);
    assert_int_equal(parse("events five"), -1);
    assert_int_equal(parse("whenwhenwhenwhenwhenwhen"), -1);
}

static void test_events_counts(void **state)
{
    (void)state;
    assert_int_equal(parse("events"), 0);
    assert_int_equal(c.verb, MON_EVENTS);
    assert_int_equal(c.count, MON_EVENTS_DEFAULT);
    assert_int_equal(parse("events 12"), 0);
    assert_int_equal(c.count, 12);
    assert_int_equal(parse("events -4"), 0);
    assert_int_equal(c.count, -4);
    assert_int_equal(parse("events +2"), 0);
    assert_int_equal(c.count, 2);
}

static int where(const char *line, uint64_t next, uint64_t end, uint64_t *ev)
{
    assert_int_equal(parse(line), 0);
    return monitor_goto_event(&c, next, end, ev, err, sizeof(err));
}

static void test_goto_arithmetic(void **state)
{
    (void)state;
    uint64_t ev = 0;
    assert_int_equal(where("goto 5", 10, 37, &ev), 0);
    assert_int_equal(ev, 5);
    assert_int_equal(where("goto 37", 0, 37, &ev), 0);
    assert_int_equal(ev, 37);
    assert_int_equal(where("goto 38", 0, 37, &ev), -1);
    assert_non_null(strstr(err, "ends at event 37"));
    assert_int_equal(where("goto end", 3, 37, &ev), 0);
    assert_int_equal(ev, 37);
    assert_int_equal(where("goto start", 3, 37, &ev), 0);
    assert_int_equal(ev, 0);
    assert_int_equal(where("goto +2", 10, 37, &ev), 0);
    assert_int_equal(ev, 12);
    assert_int_equal(where("goto +27", 10, 37, &ev), 0);
    assert_int_equal(ev, 37);
    assert_int_equal(where("goto +28", 10, 37, &ev), -1);
    assert_non_null(strstr(err, "only 27 events to the end"));
    assert_int_equal(where("goto -10", 10, 37, &ev), 0);
    assert_int_equal(ev, 0);
    assert_int_equal(where("goto -11", 10, 37, &ev), -1);
    assert_non_null(strstr(err, "only 10 events since the start"));
    /* huge distances do not wrap around */
    assert_int_equal(where("goto +18446744073709551615", 10, 37, &ev), -1);
    assert_int_equal(where("goto -18446744073709551615", 10, 37, &ev), -1);
    /* past the end already (the guest exited): +N has nowhere to go */
    assert_int_equal(where("goto +1", 38, 37, &ev), -1);
    assert_int_equal(where("goto -1", 38, 37, &ev), 0);
    assert_int_equal(ev, 37);
}

static void test_live_target(void **state)
{
    (void)state;
    struct ukvm_outbuf out = { 0 };
    assert_int_equal(monitor_cmd_live(NULL, "help", &out), 0);
    assert_non_null(strstr(out.buf, "monitor goto EVENT"));
    assert_non_null(strstr(out.buf, "live run"));
    ukvm_outbuf_free(&out);
    assert_int_equal(monitor_cmd_live(NULL, "goto 5", &out), -1);
    assert_non_null(strstr(out.buf, "only in replay"));
    ukvm_outbuf_free(&out);
    assert_int_equal(monitor_cmd_live(NULL, "nonsense", &out), -1);
    assert_non_null(strstr(out.buf, "unknown monitor command"));
    ukvm_outbuf_free(&out);
}

/* qRcmd through a session over a target whose monitor op echoes. */
#include "capture_write.h"


static int echo_monitor(struct ukvm_target *t, const char *cmd, struct ukvm_outbuf *out)
{
    (void)t;
    ukvm_outbuf_printf(out, "%s!\n", cmd);
    return strcmp(cmd, "bad") ? 0 : -1;
}

static void rcmd(struct gdb_session *s, const char *hex)
{
    char buf[1200];
    snprintf(buf, sizeof(buf), "qRcmd,%s", hex);
    cap_reset();
    gdb_session_dispatch(s, (uint8_t *)buf, strlen(buf));
}

static void test_rcmd_packets(void **state)
{
    (void)state;
    struct ukvm_target_ops ops = { .monitor = echo_monitor };
    struct ukvm_target t = { .ops = &ops };
    struct gdb_session_io io = { .write = cap_write };
    struct gdb_session *s = gdb_session_new(&t, &io, NULL);
    assert_non_null(s);
    rcmd(s, "6869"); /* "hi" -> O "hi!\n" then OK */
    assert_non_null(strstr(sent, "$O6869210a#"));
    assert_non_null(strstr(sent, "$OK#"));
    /* a failure is told by its text alone: an E reply would make gdb add
     * "Protocol error with Rcmd" under it */
    rcmd(s, "626164"); /* "bad" -> output then OK */
    assert_non_null(strstr(sent, "$O626164210a#"));
    assert_non_null(strstr(sent, "$OK#"));
    assert_null(strstr(sent, "$E"));
    rcmd(s, "686"); /* odd length */
    assert_non_null(strstr(sent, "$O"));  /* the message, hex-encoded */
    assert_non_null(strstr(sent, "$OK#"));
    rcmd(s, "zz");
    assert_non_null(strstr(sent, "$OK#"));
    assert_null(strstr(sent, "$E"));
    rcmd(s, "00"); /* a NUL byte in the command */
    assert_non_null(strstr(sent, "$OK#"));
    assert_null(strstr(sent, "$E"));
    gdb_session_free(s);
    /* a target with no monitor op: empty reply */
    struct ukvm_target_ops none = { 0 };
    struct ukvm_target t2 = { .ops = &none };
    s = gdb_session_new(&t2, &io, NULL);
    rcmd(s, "6869");
    assert_non_null(strstr(sent, "$#00"));
    gdb_session_free(s);
}

static char last_cmd[64];

static int record_monitor(struct ukvm_target *t, const char *cmd, struct ukvm_outbuf *out)
{
    (void)t;
    (void)out;
    snprintf(last_cmd, sizeof(last_cmd), "%s", cmd);
    return 0;
}

static int no_regs(struct ukvm_target *t, struct ukvm_regs *r)
{
    (void)t;
    memset(r, 0, sizeof(*r));
    return 0;
}

static void send(struct gdb_session *s, const char *pkt)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", pkt);
    cap_reset();
    gdb_session_dispatch(s, (uint8_t *)buf, strlen(buf));
}

/* extended-remote on a replay: '!' OK, vKill keeps the session, vRun is
 * `goto start` plus a stop reply */
static void test_vrun(void **state)
{
    (void)state;
    struct ukvm_target_ops ops = { .monitor = record_monitor, .read_regs = no_regs };
    struct ukvm_target t = { .ops = &ops, .can_reverse = true };
    struct gdb_session_io io = { .write = cap_write };
    struct gdb_session *s = gdb_session_new(&t, &io, NULL);
    send(s, "!");
    assert_non_null(strstr(sent, "$OK#"));
    send(s, "vKill;a410");
    assert_non_null(strstr(sent, "$OK#"));
    assert_int_equal(s->end, GDB_END_NONE);
    send(s, "vRun;");
    assert_string_equal(last_cmd, "goto start");
    assert_non_null(strstr(sent, "$T05"));
    gdb_session_free(s);
    /* a live run: no extended mode, vRun refused */
    t.can_reverse = false;
    ops.monitor = monitor_cmd_live;
    s = gdb_session_new(&t, &io, NULL);
    send(s, "!");
    assert_non_null(strstr(sent, "$#00"));
    send(s, "vRun;");
    assert_non_null(strstr(sent, "$E01#"));
    gdb_session_free(s);
}

static void test_cli_goto(void **state)
{
    (void)state;
    struct config cfg;
    const char *ok[] = { "--gdb=0", "--goto=end", "t.zst" };
    memset(&cfg, 0, sizeof(cfg));
    cfg.mode = MODE_REPLAY;
    assert_int_equal(cli_parse(&cfg, 3, (char **)ok, err, sizeof(err)), 0);
    assert_string_equal(cfg.goto_target, "end");
    const char *bad[] = { "--gdb=0", "--goto=soon", "t.zst" };
    memset(&cfg, 0, sizeof(cfg));
    cfg.mode = MODE_REPLAY;
    assert_int_equal(cli_parse(&cfg, 3, (char **)bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not an event number"));
    const char *nogdb[] = { "--goto=5", "t.zst" };
    memset(&cfg, 0, sizeof(cfg));
    cfg.mode = MODE_REPLAY;
    assert_int_equal(cli_parse(&cfg, 2, (char **)nogdb, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "needs --gdb"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verbs),
        cmocka_unit_test(test_goto_places),
        cmocka_unit_test(test_bad_commands),
        cmocka_unit_test(test_events_counts),
        cmocka_unit_test(test_goto_arithmetic),
        cmocka_unit_test(test_live_target),
        cmocka_unit_test(test_rcmd_packets),
        cmocka_unit_test(test_vrun),
        cmocka_unit_test(test_cli_goto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

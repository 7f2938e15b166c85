/* Unit tests for ukvm's monitor commands: parsing and goto arithmetic
 * (src/vcpu/gdb_monitor_cmd.c), and qRcmd through a session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vcpu/gdb_monitor_cmd.h"
#include "rsp/gdb_session.h"
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

static struct ukvm_position last_pos;
static int restarts, restart_rc;

static int record_restart(struct ukvm_target *t, const struct ukvm_position *pos,
        struct ukvm_outbuf *out)
{
    (void)t;
    last_pos = *pos;
    restarts++;
    if (restart_rc < 0)
        ukvm_outbuf_printf(out, "ukvm: goto: no bookmark\n");
    return restart_rc;
}

/* vRun;FILE;HEX-ARG: the restart op gets the parsed position */
static void vrun_to(struct gdb_session *s, const char *pkt, enum ukvm_where where, uint64_t n,
        const char *name)
{
    int before = restarts;
    send(s, pkt);
    assert_int_equal(restarts, before + 1);
    assert_int_equal(last_pos.where, where);
    assert_int_equal(last_pos.n, n);
    assert_string_equal(last_pos.name, name);
    assert_non_null(strstr(sent, restart_rc < 0 ? "$E01#" : "$T05"));
}

static void vrun_refused(struct gdb_session *s, const char *pkt)
{
    int before = restarts;
    send(s, pkt);
    assert_int_equal(restarts, before);
    assert_non_null(strstr(sent, "$E01#"));
}

/* extended-remote on a target that can start over: '!' OK, vKill keeps the
 * session, vRun is the restart op with the position gdb's `run` named plus
 * a stop reply. Whether the target can reverse has nothing to do with it. */
static void test_vrun(void **state)
{
    (void)state;
    struct ukvm_target_ops ops = { .monitor = record_monitor, .read_regs = no_regs,
        .restart = record_restart };
    struct ukvm_target t = { .ops = &ops, .can_reverse = false };
    struct gdb_session_io io = { .write = cap_write };
    struct gdb_session *s = gdb_session_new(&t, &io, NULL);
    send(s, "!");
    assert_non_null(strstr(sent, "$OK#"));
    send(s, "vKill;a410");
    assert_non_null(strstr(sent, "$OK#"));
    assert_int_equal(s->end, GDB_END_NONE);
    last_cmd[0] = 0;
    vrun_to(s, "vRun;", UKVM_AT_START, 0, "");
    assert_string_equal(last_cmd, ""); /* no command text on the way */
    vrun_to(s, "vRun", UKVM_AT_START, 0, "");
    vrun_to(s, "vRun;;", UKVM_AT_START, 0, "");
    vrun_to(s, "vRun;;3230", UKVM_AT_EVENT, 20, "");
    vrun_to(s, "vRun;2f6b;656e64", UKVM_AT_END, 0, "");
    vrun_to(s, "vRun;;2d33", UKVM_AT_BACK, 3, "");
    vrun_to(s, "vRun;;2b31", UKVM_AT_FORWARD, 1, "");
    vrun_to(s, "vRun;;6d61726b31", UKVM_AT_BOOKMARK, 0, "mark1");
    vrun_refused(s, "vRun;;35;36");         /* two positions */
    vrun_refused(s, "vRun;;3578");          /* 5x */
    vrun_refused(s, "vRun;;323");           /* odd hex */
    vrun_refused(s, "vRun;;3209");          /* a control byte */
    restart_rc = -1;
    vrun_to(s, "vRun;;6e6f", UKVM_AT_BOOKMARK, 0, "no"); /* the target refuses: E01 */
    restart_rc = 0;
    /* the exit of a target that can start over keeps the session; until
     * the next vRun there is no process (gdb would take the target for
     * restarted, and show the dead guest) */
    send(s, "qfThreadInfo");
    assert_non_null(strstr(sent, "$m1#"));
    struct ukvm_stop exited = { .reason = UKVM_STOP_EXITED, .exit_status = 3 };
    s->last_stop = exited;
    cap_reset();
    gdb_send_stop_reply(s, &exited);
    assert_non_null(strstr(sent, "$W03#"));
    assert_int_equal(s->end, GDB_END_NONE);
    send(s, "qfThreadInfo");
    assert_non_null(strstr(sent, "$l#"));
    send(s, "?");
    assert_non_null(strstr(sent, "$W03#"));
    vrun_to(s, "vRun;", UKVM_AT_START, 0, "");
    send(s, "qfThreadInfo");
    assert_non_null(strstr(sent, "$m1#"));
    /* so is a killed one: no thread, and '?' says no process */
    send(s, "k");
    assert_int_equal(s->end, GDB_END_NONE);
    send(s, "qfThreadInfo");
    assert_non_null(strstr(sent, "$l#"));
    send(s, "?");
    assert_non_null(strstr(sent, "$W00#"));
    vrun_to(s, "vRun;;35", UKVM_AT_EVENT, 5, "");
    send(s, "?");
    assert_non_null(strstr(sent, "$T05"));
    send(s, "vKill;a410");
    send(s, "qfThreadInfo");
    assert_non_null(strstr(sent, "$l#"));
    gdb_session_free(s);
    /* a target that can reverse but not start over: no extended mode */
    ops.restart = NULL;
    t.can_reverse = true;
    s = gdb_session_new(&t, &io, NULL);
    send(s, "!");
    assert_non_null(strstr(sent, "$#00"));
    vrun_refused(s, "vRun;");
    gdb_session_free(s);
    /* a live run: no extended mode, vRun refused */
    t.can_reverse = false;
    ops.monitor = monitor_cmd_live;
    s = gdb_session_new(&t, &io, NULL);
    send(s, "!");
    assert_non_null(strstr(sent, "$#00"));
    vrun_refused(s, "vRun;");
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

/* The remote protocol command dispatcher: one session with one client. */
#include "gdb_session.h"

#include <stdlib.h>
#include <string.h>

#include "vcpu/agent_expr.h"
#include "gdb_hostio.h"
#include "gdb_lldb.h"
#include "gdb_rcmd.h"
#include "gdb_regmem.h"
#include "gdb_reply.h"
#include "gdb_tdesc.h"
#include "ukvm/outbuf.h"

struct gdb_session *gdb_session_new(struct ukvm_target *t,
                                    const struct gdb_session_io *io, FILE *log)
{
    struct gdb_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->t = t;
    s->io = *io;
    s->log = log;
    s->end = GDB_END_NONE;
    s->last_stop.reason = UKVM_STOP_STEP;
    rsp_decoder_init(&s->dec);
    return s;
}

void gdb_session_free(struct gdb_session *s)
{
    if (s)
        free(s->points);
    free(s);
}

/* ---- breakpoints ---- */

static long find_point(const struct gdb_session *s, uint64_t type, uint64_t addr, uint64_t kind)
{
    for (size_t i = 0; i < s->n_points; i++)
        if (s->points[i].type == type && s->points[i].addr == addr && s->points[i].kind == kind)
            return (long)i;
    return -1;
}

static bool track_point(struct gdb_session *s, uint64_t type, uint64_t addr, uint64_t kind)
{
    if (s->n_points == s->cap_points) {
        size_t cap = s->cap_points ? s->cap_points * 2 : 16;
        struct gdb_point *n = realloc(s->points, cap * sizeof(*n));
        if (!n)
            return false;
        s->points = n;
        s->cap_points = cap;
    }
    s->points[s->n_points++] = (struct gdb_point){ addr, kind, (enum ukvm_bp_type)type };
    return true;
}

/* The condition list of a breakpoint goes to the target with the insert
 * (and an empty one with an unconditional insert or a remove: a re-sent Z0
 * replaces the conditions). */
static void set_conditions(struct gdb_session *s, uint64_t type, uint64_t addr,
                           struct ax_cond_list *conds)
{
    if (s->t->ops->set_bp_conditions &&
        (type == UKVM_BP_SOFTWARE || type == UKVM_BP_HARDWARE))
        s->t->ops->set_bp_conditions(s->t, addr, conds);
    ax_cond_list_free(conds);
}

void gdb_session_release_points(struct gdb_session *s)
{
    for (size_t i = 0; i < s->n_points; i++) {
        struct ax_cond_list none = { 0, NULL };
        s->t->ops->remove_bp(s->t, s->points[i].type, s->points[i].addr, s->points[i].kind);
        set_conditions(s, s->points[i].type, s->points[i].addr, &none);
    }
    s->n_points = 0;
}

static void handle_Z(struct gdb_session *s, bool insert, const char *args)
{
    uint64_t type, addr, kind;
    if (!gdb_parse_hex_sep(&args, &type, ',') || !gdb_parse_hex_sep(&args, &addr, ',')) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    if (rsp_parse_hex(&args, &kind) < 0 || (*args && *args != ';')) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    if (type > UKVM_WP_ACCESS) {
        gdb_reply_only(s, "");
        return;
    }
    /* ";X len,bytecode..." on a breakpoint insert: its conditions */
    struct ax_cond_list conds = { 0, NULL };
    if (insert && *args) {
        if (type > UKVM_BP_HARDWARE || ax_cond_list_parse(args, &conds) < 0) {
            gdb_reply_only(s, E_INVAL);
            return;
        }
    }
    long known = find_point(s, type, addr, kind);
    if (insert && known < 0 && s->n_points >= GDB_POINTS_MAX) {
        gdb_reply_only(s, E_FAIL);
        return;
    }
    int rc = insert ? s->t->ops->insert_bp(s->t, (enum ukvm_bp_type)type, addr, kind)
                    : s->t->ops->remove_bp(s->t, (enum ukvm_bp_type)type, addr, kind);
    if (rc == 0 && insert && known < 0 && !track_point(s, type, addr, kind)) {
        s->t->ops->remove_bp(s->t, (enum ukvm_bp_type)type, addr, kind);
        rc = -1;
    }
    if (!insert && known >= 0)
        s->points[known] = s->points[--s->n_points];
    if (rc == 0 || !insert)
        set_conditions(s, type, addr, &conds);
    ax_cond_list_free(&conds);
    gdb_reply_only(s, rc == 0 ? "OK" : rc == -2 ? "" : E_FAIL);
}

/* ---- resuming ---- */

static void say_progress(void *ctx, const char *text, size_t len)
{
    struct gdb_session *s = ctx;
    if (s->end == GDB_END_NONE)
        gdb_send_console(s, text, len);
}

static void do_resume(struct gdb_session *s, enum ukvm_resume_kind kind,
                      bool has_addr, uint64_t addr)
{
    if (has_addr) {
        struct ukvm_regs regs;
        if (s->t->ops->read_regs(s->t, &regs) < 0) {
            gdb_reply_only(s, E_FAIL);
            return;
        }
        regs.rip = addr;
        if (s->t->ops->write_regs(s->t, &regs) < 0) {
            gdb_reply_only(s, E_FAIL);
            return;
        }
    }
    struct ukvm_stop stop;
    memset(&stop, 0, sizeof(stop));
    /* a long resume's progress (a reverse-continue's) goes where gdb waits */
    struct ukvm_outbuf progress = { .live = say_progress, .live_ctx = s };
    s->t->progress = &progress;
    int rc = s->io.resume ? s->io.resume(s->io.ctx, s->t, kind, &stop)
                          : s->t->ops->resume(s->t, kind, &stop);
    s->t->progress = NULL;
    if (s->end != GDB_END_NONE)
        return;             /* the client went away meanwhile */
    if (rc < 0) {
        gdb_reply_only(s, E_FAIL);
        return;
    }
    s->last_stop = stop;
    gdb_send_stop_reply(s, &stop);
}

/* c [addr], s [addr]: args is what follows the letter. */
static void handle_cs(struct gdb_session *s, enum ukvm_resume_kind kind,
                      const char *args)
{
    uint64_t addr = 0;
    bool has_addr = *args != 0;
    if (has_addr && !gdb_parse_hex_sep(&args, &addr, 0)) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    do_resume(s, kind, has_addr, addr);
}

/* C sig[;addr], S sig[;addr]: the signal is ignored (there are none). */
static void handle_CS(struct gdb_session *s, enum ukvm_resume_kind kind,
                      const char *args)
{
    uint64_t sig, addr = 0;
    bool has_addr = false;
    if (rsp_parse_hex(&args, &sig) < 0) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    if (*args == ';') {
        args++;
        if (!gdb_parse_hex_sep(&args, &addr, 0)) {
            gdb_reply_only(s, E_INVAL);
            return;
        }
        has_addr = true;
    } else if (*args) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    do_resume(s, kind, has_addr, addr);
}

/* vCont;action[:thread];... There is one thread: the first action applies. */
static void handle_vcont(struct gdb_session *s, const char *args)
{
    if (*args != ';') {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    args++;
    char a = *args++;
    uint64_t sig;
    if (a == 'C' || a == 'S') {
        if (rsp_parse_hex(&args, &sig) < 0) {
            gdb_reply_only(s, E_INVAL);
            return;
        }
    } else if (a != 'c' && a != 's') {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    if (*args && *args != ':' && *args != ';') {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    do_resume(s, (a == 'c' || a == 'C') ? UKVM_RESUME_CONTINUE : UKVM_RESUME_STEP,
              false, 0);
}

static void handle_reverse(struct gdb_session *s, enum ukvm_resume_kind kind)
{
    if (!s->t->can_reverse) {
        gdb_reply_only(s, "");
        return;
    }
    do_resume(s, kind, false, 0);
}

/* ---- queries ---- */

static void handle_qsupported(struct gdb_session *s, const char *args)
{
    /* gdb lists its features after ':' separated by ';'. */
    const char *p = args;
    while (p && *p) {
        if (*p == ':' || *p == ';')
            p++;
        size_t n = strcspn(p, ";");
        if (n == 8 && !strncmp(p, "swbreak+", 8))
            s->gdb_swbreak = true;
        if (n == 8 && !strncmp(p, "hwbreak+", 8))
            s->gdb_hwbreak = true;
        p += n;
    }
    gdb_reply_reset(s);
    gdb_reply_fmt(s, "PacketSize=%x;QStartNoAckMode+;qXfer:features:read+;"
                  "qXfer:exec-file:read+;swbreak+;hwbreak+;vContSupported+",
                  RSP_PACKET_SIZE);
    if (s->t->can_reverse)
        gdb_reply_str(s, ";ReverseStep+;ReverseContinue+");
    if (s->t->ops->set_bp_conditions)
        gdb_reply_str(s, ";ConditionalBreakpoints+");
    gdb_reply_send(s);
}

/* Sends the [offset, offset+len) part of an object as a qXfer reply. */
static void xfer_reply(struct gdb_session *s, const uint8_t *obj, size_t objlen,
                       uint64_t offset, uint64_t len)
{
    gdb_reply_reset(s);
    if (offset >= objlen) {
        gdb_reply_str(s, "l");
        gdb_reply_send(s);
        return;
    }
    size_t avail = objlen - (size_t)offset;
    size_t want = len < avail ? (size_t)len : avail;
    gdb_reply_str(s, "m");
    size_t sent = gdb_reply_bin(s, obj + offset, want);
    if (sent == avail)
        s->reply[0] = 'l';
    gdb_reply_send(s);
}

/* qXfer:object:read:annex:offset,length */
static void handle_qxfer(struct gdb_session *s, char *args)
{
    char *object = args;
    char *colon = strchr(object, ':');
    if (!colon) {
        gdb_reply_only(s, "");
        return;
    }
    *colon = 0;
    char *op = colon + 1;
    if (strncmp(op, "read:", 5)) {
        gdb_reply_only(s, "");
        return;
    }
    char *annex = op + 5;
    colon = strchr(annex, ':');
    if (!colon) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    *colon = 0;
    const char *p = colon + 1;
    uint64_t offset, len;
    if (!gdb_parse_hex_sep(&p, &offset, ',') || !gdb_parse_hex_sep(&p, &len, 0)) {
        gdb_reply_only(s, E_INVAL);
        return;
    }
    if (!strcmp(object, "features")) {
        if (strcmp(annex, "target.xml")) {
            gdb_reply_only(s, "E00");
            return;
        }
        xfer_reply(s, (const uint8_t *)gdb_target_xml, gdb_target_xml_len,
                   offset, len);
        return;
    }
    if (!strcmp(object, "exec-file")) {
        const char *name = s->t->exec_file_name;
        if (!name) {
            gdb_reply_only(s, "E00");
            return;
        }
        xfer_reply(s, (const uint8_t *)name, strlen(name), offset, len);
        return;
    }
    gdb_reply_only(s, "");
}

static bool starts(const char *str, const char *prefix)
{
    return !strncmp(str, prefix, strlen(prefix));
}

static void handle_q(struct gdb_session *s, char *cmd)
{
    if (starts(cmd, "qSupported")) {
        handle_qsupported(s, cmd + 10);
        return;
    }
    if (starts(cmd, "qXfer:")) {
        handle_qxfer(s, cmd + 6);
        return;
    }
    if (!strcmp(cmd, "qAttached") || starts(cmd, "qAttached:")) {
        gdb_reply_only(s, "1");
        return;
    }
    if (!strcmp(cmd, "qC")) {
        gdb_reply_only(s, "QC1");
        return;
    }
    if (!strcmp(cmd, "qfThreadInfo")) {
        gdb_reply_only(s, s->no_process ? "l" : "m1");
        return;
    }
    if (!strcmp(cmd, "qsThreadInfo")) {
        gdb_reply_only(s, "l");
        return;
    }
    if (starts(cmd, "qRcmd,")) {
        gdb_rcmd_handle(s, cmd + 6);
        return;
    }
    if (starts(cmd, "qSymbol")) {
        gdb_reply_only(s, "OK");
        return;
    }
    gdb_reply_only(s, "");
}

static void handle_v(struct gdb_session *s, char *cmd, size_t len)
{
    if (!strcmp(cmd, "vCont?")) {
        gdb_reply_only(s, "vCont;c;C;s;S");
        return;
    }
    if (starts(cmd, "vCont;")) {
        handle_vcont(s, cmd + 5);
        return;
    }
    if (starts(cmd, "vFile:")) {
        gdb_hostio_handle(s, cmd + 6, len - 6);
        return;
    }
    if (starts(cmd, "vRun")) {
        gdb_vrun_handle(s, cmd + 4);
        return;
    }
    if (!strcmp(cmd, "vKill") || starts(cmd, "vKill;")) {
        if (s->extended) { /* `run` next: keep the target */
            s->no_process = true;
            gdb_reply_only(s, "OK");
            return;
        }
        s->t->ops->kill(s->t);
        gdb_reply_only(s, "OK");
        gdb_session_set_end(s, GDB_END_KILLED);
        return;
    }
    /* vMustReplyEmpty and everything unknown. */
    gdb_reply_only(s, "");
}

void gdb_session_dispatch(struct gdb_session *s, uint8_t *buf, size_t len)
{
    char *cmd = (char *)buf;
    if (len == 0) {
        gdb_reply_only(s, "");
        return;
    }
    if (gdb_lldb_dispatch(s, cmd, len))
        return;
    switch (cmd[0]) {
    case '?':
        if (s->no_process && s->last_stop.reason != UKVM_STOP_EXITED)
            gdb_reply_only(s, "W00"); /* killed: no process, as gdbserver says */
        else
            gdb_send_stop_reply(s, &s->last_stop);
        return;
    case 'g':
        gdb_handle_g(s);
        return;
    case 'G':
        gdb_handle_G(s, cmd + 1, len - 1);
        return;
    case 'p':
        gdb_handle_p(s, cmd + 1);
        return;
    case 'P':
        gdb_handle_P(s, cmd + 1);
        return;
    case 'm':
        gdb_handle_m(s, cmd + 1);
        return;
    case 'M':
        gdb_handle_M(s, cmd + 1);
        return;
    case 'X':
        gdb_handle_X(s, buf, len);
        return;
    case 'Z':
    case 'z':
        handle_Z(s, cmd[0] == 'Z', cmd + 1);
        return;
    case 'c':
        handle_cs(s, UKVM_RESUME_CONTINUE, cmd + 1);
        return;
    case 's':
        handle_cs(s, UKVM_RESUME_STEP, cmd + 1);
        return;
    case 'C':
        handle_CS(s, UKVM_RESUME_CONTINUE, cmd + 1);
        return;
    case 'S':
        handle_CS(s, UKVM_RESUME_STEP, cmd + 1);
        return;
    case 'b':
        if (!strcmp(cmd, "bc")) {
            handle_reverse(s, UKVM_RESUME_REVERSE_CONTINUE);
            return;
        }
        if (!strcmp(cmd, "bs")) {
            handle_reverse(s, UKVM_RESUME_REVERSE_STEP);
            return;
        }
        gdb_reply_only(s, "");
        return;
    case 'H':
    case 'T':
        gdb_reply_only(s, "OK");
        return;
    case '!': /* extended mode: only a target that can start over */
        s->extended = s->t->ops->restart != NULL;
        gdb_reply_only(s, s->extended ? "OK" : "");
        return;
    case 'k':
        if (s->extended) { /* extended-remote: `run` restarts the target */
            s->no_process = true;
            return;
        }
        s->t->ops->kill(s->t);
        gdb_session_set_end(s, GDB_END_KILLED);
        return;
    case 'D':
        s->t->ops->detach(s->t);
        gdb_reply_only(s, "OK");
        gdb_session_set_end(s, GDB_END_DETACHED);
        return;
    case 'q':
        handle_q(s, cmd);
        return;
    case 'Q':
        if (!strcmp(cmd, "QStartNoAckMode")) {
            gdb_reply_only(s, "OK");     /* still acknowledged by gdb */
            s->no_ack = true;
            s->dec.check_sums = false;
            return;
        }
        gdb_reply_only(s, "");
        return;
    case 'v':
        handle_v(s, cmd, len);
        return;
    default:
        gdb_reply_only(s, "");
        return;
    }
}

enum gdb_end gdb_session_feed(struct gdb_session *s, const uint8_t *buf,
                              size_t len, size_t *consumed)
{
    size_t pos = 0;
    while (pos < len && s->end == GDB_END_NONE) {
        enum rsp_event_type ev;
        pos += rsp_decoder_feed(&s->dec, buf + pos, len - pos, &ev);
        s->unread = buf + pos;
        s->unread_len = len - pos;
        switch (ev) {
        case RSP_EV_NONE:
        case RSP_EV_ACK:
        case RSP_EV_INTERRUPT:  /* the target is not running: nothing to stop */
            break;
        case RSP_EV_NAK:
            /* In no-ack mode nothing is resent: gdb still sends '-' when its
             * reply timeout fires during a long command, and a resent last
             * reply would answer its next packet. */
            if (s->last_len && !s->no_ack)
                gdb_send_raw(s, s->last, s->last_len);
            break;
        case RSP_EV_BAD_CHECKSUM:
            gdb_log_packet(s, "<- (bad checksum)", s->dec.buf, s->dec.len);
            gdb_send_raw(s, "-", 1);
            break;
        case RSP_EV_MALFORMED:
        case RSP_EV_OVERSIZED:
            gdb_log_packet(s, ev == RSP_EV_OVERSIZED ? "<- (oversized)" : "<- (malformed)",
                       s->dec.buf, s->dec.len);
            if (!s->no_ack)
                gdb_send_raw(s, "+", 1);
            gdb_reply_only(s, ev == RSP_EV_OVERSIZED ? E_TOOBIG : E_INVAL);
            break;
        case RSP_EV_PACKET:
            gdb_log_packet(s, "<-", s->dec.buf, s->dec.len);
            if (!s->no_ack)
                gdb_send_raw(s, "+", 1);
            gdb_session_dispatch(s, s->dec.buf, s->dec.len);
            break;
        }
    }
    s->unread = NULL;
    s->unread_len = 0;
    if (consumed)
        *consumed = pos;
    return s->end;
}

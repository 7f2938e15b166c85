/* The remote protocol command dispatcher: one session with one client. */
#include "gdb_session.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "agent_expr.h"
#include "gdb_lldb.h"
#include "gdb_regs.h"
#include "gdb_tdesc.h"

/* Error replies (errno-style numbers, in hex as gdb expects). */
#define E_FAULT  "E0e"      /* memory not accessible */
#define E_INVAL  "E16"      /* malformed or out-of-range arguments */
#define E_TOOBIG "E07"      /* a packet longer than PacketSize */
#define E_FAIL   "E01"      /* the target refused */

/* gdb's signal numbers used in stop replies. */
enum { SIG_INT = 2, SIG_TRAP = 5, SIG_SEGV = 11 };

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

void gdb_session_set_end(struct gdb_session *s, enum gdb_end why)
{
    if (s->end == GDB_END_NONE)
        s->end = why;
}

/* ---- logging ---- */

static void log_packet(struct gdb_session *s, const char *dir,
                       const uint8_t *buf, size_t len)
{
    if (!s->log)
        return;
    char line[160];
    size_t n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
    for (size_t i = 0; i < n; i++)
        line[i] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? (char)buf[i] : '.';
    line[n] = 0;
    fprintf(s->log, "gdb: %s %s%s\n", dir, line, n < len ? "..." : "");
    fflush(s->log);
}

/* ---- output ---- */

static void send_raw(struct gdb_session *s, const void *buf, size_t len)
{
    if (s->end == GDB_END_DISCONNECTED)
        return;
    if (s->io.write(s->io.ctx, buf, len) < 0)
        gdb_session_set_end(s, GDB_END_DISCONNECTED);
}

void gdb_reply_reset(struct gdb_session *s)
{
    s->reply_len = 0;
    s->reply_full = false;
}

size_t gdb_reply_room(const struct gdb_session *s)
{
    return sizeof(s->reply) - s->reply_len;
}

void gdb_reply_raw(struct gdb_session *s, const void *buf, size_t len)
{
    if (len > gdb_reply_room(s)) {
        s->reply_full = true;
        len = gdb_reply_room(s);
    }
    memcpy(s->reply + s->reply_len, buf, len);
    s->reply_len += len;
}

void gdb_reply_str(struct gdb_session *s, const char *str)
{
    gdb_reply_raw(s, str, strlen(str));
}

void gdb_reply_fmt(struct gdb_session *s, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    gdb_reply_raw(s, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void gdb_reply_hex(struct gdb_session *s, const uint8_t *bytes, size_t len)
{
    size_t fit = gdb_reply_room(s) / 2;
    if (len > fit) {
        s->reply_full = true;
        len = fit;
    }
    rsp_bin2hex((char *)s->reply + s->reply_len, bytes, len);
    s->reply_len += 2 * len;
}

size_t gdb_reply_bin(struct gdb_session *s, const uint8_t *bytes, size_t len)
{
    size_t used;
    s->reply_len += rsp_escape(s->reply + s->reply_len, gdb_reply_room(s),
                               bytes, len, &used);
    return used;
}

void gdb_reply_send(struct gdb_session *s)
{
    log_packet(s, "->", s->reply, s->reply_len);
    s->last_len = rsp_frame(s->last, sizeof(s->last), s->reply, s->reply_len);
    send_raw(s, s->last, s->last_len);
}

static void reply_only(struct gdb_session *s, const char *str)
{
    gdb_reply_reset(s);
    gdb_reply_str(s, str);
    gdb_reply_send(s);
}

/* ---- argument parsing ---- */

/* Parses "hex" followed by the character sep (0 means end of string). */
static bool parse_hex_sep(const char **p, uint64_t *val, char sep)
{
    if (rsp_parse_hex(p, val) < 0 || **p != sep)
        return false;
    if (sep)
        (*p)++;
    return true;
}

/* ---- registers ---- */

static void handle_g(struct gdb_session *s)
{
    struct ukvm_regs regs;
    uint8_t block[GDB_REGS_BYTES];
    if (s->t->ops->read_regs(s->t, &regs) < 0) {
        reply_only(s, E_FAIL);
        return;
    }
    gdb_regs_pack(&regs, block);
    gdb_reply_reset(s);
    gdb_reply_hex(s, block, sizeof(block));
    gdb_reply_send(s);
}

static void handle_G(struct gdb_session *s, const char *hex, size_t len)
{
    struct ukvm_regs regs;
    uint8_t block[GDB_REGS_BYTES];
    if (len % 2 || len / 2 > sizeof(block) || rsp_hex2bin(block, hex, len / 2) < 0) {
        reply_only(s, E_INVAL);
        return;
    }
    if (s->t->ops->read_regs(s->t, &regs) < 0) {
        reply_only(s, E_FAIL);
        return;
    }
    gdb_regs_unpack(&regs, block, len / 2);
    reply_only(s, s->t->ops->write_regs(s->t, &regs) < 0 ? E_FAIL : "OK");
}

static void handle_p(struct gdb_session *s, const char *args)
{
    uint64_t n;
    struct ukvm_regs regs;
    uint8_t val[16];
    if (!parse_hex_sep(&args, &n, 0) || n >= UKVM_REG_COUNT) {
        reply_only(s, E_INVAL);
        return;
    }
    if (s->t->ops->read_regs(s->t, &regs) < 0) {
        reply_only(s, E_FAIL);
        return;
    }
    size_t size = gdb_reg_get(&regs, (unsigned)n, val);
    gdb_reply_reset(s);
    gdb_reply_hex(s, val, size);
    gdb_reply_send(s);
}

static void handle_P(struct gdb_session *s, const char *args)
{
    uint64_t n;
    struct ukvm_regs regs;
    uint8_t val[16];
    if (!parse_hex_sep(&args, &n, '=') || n >= UKVM_REG_COUNT) {
        reply_only(s, E_INVAL);
        return;
    }
    size_t size = gdb_reg_size((unsigned)n);
    if (strlen(args) != 2 * size || rsp_hex2bin(val, args, size) < 0) {
        reply_only(s, E_INVAL);
        return;
    }
    if (s->t->ops->read_regs(s->t, &regs) < 0) {
        reply_only(s, E_FAIL);
        return;
    }
    gdb_reg_set(&regs, (unsigned)n, val);
    reply_only(s, s->t->ops->write_regs(s->t, &regs) < 0 ? E_FAIL : "OK");
}

/* ---- memory ---- */

static void handle_m(struct gdb_session *s, const char *args)
{
    uint64_t addr, len;
    if (!parse_hex_sep(&args, &addr, ',') || !parse_hex_sep(&args, &len, 0) || len == 0) {
        reply_only(s, E_INVAL);
        return;
    }
    /* Clip to what one reply can carry. */
    if (len > sizeof(s->reply) / 2)
        len = sizeof(s->reply) / 2;
    long n = s->t->ops->read_mem(s->t, addr, s->scratch, (size_t)len);
    if (n <= 0) {
        reply_only(s, E_FAULT);
        return;
    }
    if ((uint64_t)n > len)
        n = (long)len;
    gdb_reply_reset(s);
    gdb_reply_hex(s, s->scratch, (size_t)n);
    gdb_reply_send(s);
}

static void write_mem_reply(struct gdb_session *s, uint64_t addr,
                            const uint8_t *data, size_t len)
{
    if (len == 0) {
        reply_only(s, "OK");
        return;
    }
    long n = s->t->ops->write_mem(s->t, addr, data, len);
    reply_only(s, n == (long)len ? "OK" : E_FAULT);
}

static void handle_M(struct gdb_session *s, const char *args)
{
    uint64_t addr, len;
    if (!parse_hex_sep(&args, &addr, ',') || !parse_hex_sep(&args, &len, ':')) {
        reply_only(s, E_INVAL);
        return;
    }
    if (len > sizeof(s->scratch) || strlen(args) != 2 * len ||
        rsp_hex2bin(s->scratch, args, (size_t)len) < 0) {
        reply_only(s, E_INVAL);
        return;
    }
    write_mem_reply(s, addr, s->scratch, (size_t)len);
}

static void handle_X(struct gdb_session *s, uint8_t *buf, size_t buflen)
{
    const char *args = (const char *)buf + 1;
    uint64_t addr, len;
    if (!parse_hex_sep(&args, &addr, ',') || !parse_hex_sep(&args, &len, ':')) {
        reply_only(s, E_INVAL);
        return;
    }
    uint8_t *data = (uint8_t *)args;
    long n = rsp_unescape(data, buflen - (size_t)(data - buf));
    if (n < 0 || (uint64_t)n != len) {
        reply_only(s, E_INVAL);
        return;
    }
    write_mem_reply(s, addr, data, (size_t)len);
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
    if (!parse_hex_sep(&args, &type, ',') || !parse_hex_sep(&args, &addr, ',')) {
        reply_only(s, E_INVAL);
        return;
    }
    if (rsp_parse_hex(&args, &kind) < 0 || (*args && *args != ';')) {
        reply_only(s, E_INVAL);
        return;
    }
    if (type > UKVM_WP_ACCESS) {
        reply_only(s, "");
        return;
    }
    /* ";X len,bytecode..." on a breakpoint insert: its conditions */
    struct ax_cond_list conds = { 0, NULL };
    if (insert && *args) {
        if (type > UKVM_BP_HARDWARE || ax_cond_list_parse(args, &conds) < 0) {
            reply_only(s, E_INVAL);
            return;
        }
    }
    long known = find_point(s, type, addr, kind);
    if (insert && known < 0 && s->n_points >= GDB_POINTS_MAX) {
        reply_only(s, E_FAIL);
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
    reply_only(s, rc == 0 ? "OK" : rc == -2 ? "" : E_FAIL);
}

/* ---- stops and resuming ---- */

void gdb_send_stop_reply(struct gdb_session *s, const struct ukvm_stop *stop)
{
    gdb_reply_reset(s);
    if (stop->reason == UKVM_STOP_EXITED) {
        gdb_reply_fmt(s, "W%02x", (unsigned)stop->exit_status & 0xff);
        gdb_reply_send(s);
        if (!(s->extended && s->t->can_reverse)) /* else `run` replays again */
            gdb_session_set_end(s, GDB_END_EXITED);
        return;
    }
    int sig = stop->reason == UKVM_STOP_INTERRUPT ? SIG_INT
            : stop->reason == UKVM_STOP_FAULT ? SIG_SEGV : SIG_TRAP;
    gdb_reply_fmt(s, "T%02x", sig);
    switch (stop->reason) {
    case UKVM_STOP_SWBREAK:
        if (s->gdb_swbreak)
            gdb_reply_str(s, "swbreak:;");
        break;
    case UKVM_STOP_HWBREAK:
        if (s->gdb_hwbreak)
            gdb_reply_str(s, "hwbreak:;");
        break;
    case UKVM_STOP_WATCH:
        gdb_reply_fmt(s, "%s:%llx;",
                      stop->watch_type == UKVM_WP_READ ? "rwatch"
                      : stop->watch_type == UKVM_WP_ACCESS ? "awatch" : "watch",
                      (unsigned long long)stop->watch_addr);
        break;
    case UKVM_STOP_REPLAY_BEGIN:
        gdb_reply_str(s, "replaylog:begin;");
        break;
    case UKVM_STOP_REPLAY_END:
        gdb_reply_str(s, "replaylog:end;");
        break;
    default:
        break;
    }
    gdb_reply_str(s, "thread:1;");
    struct ukvm_regs regs;
    if (s->t->ops->read_regs(s->t, &regs) == 0) {
        gdb_reply_fmt(s, "%02x:", UKVM_REG_RIP);
        gdb_reply_hex(s, (const uint8_t *)&regs.rip, sizeof(regs.rip));
        gdb_reply_str(s, ";");
    }
    gdb_reply_send(s);
}

static void do_resume(struct gdb_session *s, enum ukvm_resume_kind kind,
                      bool has_addr, uint64_t addr)
{
    if (has_addr) {
        struct ukvm_regs regs;
        if (s->t->ops->read_regs(s->t, &regs) < 0) {
            reply_only(s, E_FAIL);
            return;
        }
        regs.rip = addr;
        if (s->t->ops->write_regs(s->t, &regs) < 0) {
            reply_only(s, E_FAIL);
            return;
        }
    }
    struct ukvm_stop stop;
    memset(&stop, 0, sizeof(stop));
    int rc = s->io.resume ? s->io.resume(s->io.ctx, s->t, kind, &stop)
                          : s->t->ops->resume(s->t, kind, &stop);
    if (s->end != GDB_END_NONE)
        return;             /* the client went away meanwhile */
    if (rc < 0) {
        reply_only(s, E_FAIL);
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
    if (has_addr && !parse_hex_sep(&args, &addr, 0)) {
        reply_only(s, E_INVAL);
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
        reply_only(s, E_INVAL);
        return;
    }
    if (*args == ';') {
        args++;
        if (!parse_hex_sep(&args, &addr, 0)) {
            reply_only(s, E_INVAL);
            return;
        }
        has_addr = true;
    } else if (*args) {
        reply_only(s, E_INVAL);
        return;
    }
    do_resume(s, kind, has_addr, addr);
}

/* vCont;action[:thread];... There is one thread: the first action applies. */
static void handle_vcont(struct gdb_session *s, const char *args)
{
    if (*args != ';') {
        reply_only(s, E_INVAL);
        return;
    }
    args++;
    char a = *args++;
    uint64_t sig;
    if (a == 'C' || a == 'S') {
        if (rsp_parse_hex(&args, &sig) < 0) {
            reply_only(s, E_INVAL);
            return;
        }
    } else if (a != 'c' && a != 's') {
        reply_only(s, E_INVAL);
        return;
    }
    if (*args && *args != ':' && *args != ';') {
        reply_only(s, E_INVAL);
        return;
    }
    do_resume(s, (a == 'c' || a == 'C') ? UKVM_RESUME_CONTINUE : UKVM_RESUME_STEP,
              false, 0);
}

static void handle_reverse(struct gdb_session *s, enum ukvm_resume_kind kind)
{
    if (!s->t->can_reverse) {
        reply_only(s, "");
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
        reply_only(s, "");
        return;
    }
    *colon = 0;
    char *op = colon + 1;
    if (strncmp(op, "read:", 5)) {
        reply_only(s, "");
        return;
    }
    char *annex = op + 5;
    colon = strchr(annex, ':');
    if (!colon) {
        reply_only(s, E_INVAL);
        return;
    }
    *colon = 0;
    const char *p = colon + 1;
    uint64_t offset, len;
    if (!parse_hex_sep(&p, &offset, ',') || !parse_hex_sep(&p, &len, 0)) {
        reply_only(s, E_INVAL);
        return;
    }
    if (!strcmp(object, "features")) {
        if (strcmp(annex, "target.xml")) {
            reply_only(s, "E00");
            return;
        }
        xfer_reply(s, (const uint8_t *)gdb_target_xml, gdb_target_xml_len,
                   offset, len);
        return;
    }
    if (!strcmp(object, "exec-file")) {
        const char *name = s->t->exec_file_name;
        if (!name) {
            reply_only(s, "E00");
            return;
        }
        xfer_reply(s, (const uint8_t *)name, strlen(name), offset, len);
        return;
    }
    reply_only(s, "");
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
        reply_only(s, "1");
        return;
    }
    if (!strcmp(cmd, "qC")) {
        reply_only(s, "QC1");
        return;
    }
    if (!strcmp(cmd, "qfThreadInfo")) {
        reply_only(s, "m1");
        return;
    }
    if (!strcmp(cmd, "qsThreadInfo")) {
        reply_only(s, "l");
        return;
    }
    if (starts(cmd, "qRcmd,")) {
        gdb_rcmd_handle(s, cmd + 6);
        return;
    }
    if (starts(cmd, "qSymbol")) {
        reply_only(s, "OK");
        return;
    }
    reply_only(s, "");
}

static void handle_v(struct gdb_session *s, char *cmd, size_t len)
{
    if (!strcmp(cmd, "vCont?")) {
        reply_only(s, "vCont;c;C;s;S");
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
        if (s->extended && s->t->can_reverse) { /* `run` next: keep the replay */
            reply_only(s, "OK");
            return;
        }
        s->t->ops->kill(s->t);
        reply_only(s, "OK");
        gdb_session_set_end(s, GDB_END_KILLED);
        return;
    }
    /* vMustReplyEmpty and everything unknown. */
    reply_only(s, "");
}

void gdb_session_dispatch(struct gdb_session *s, uint8_t *buf, size_t len)
{
    char *cmd = (char *)buf;
    if (len == 0) {
        reply_only(s, "");
        return;
    }
    if (gdb_lldb_dispatch(s, cmd, len))
        return;
    switch (cmd[0]) {
    case '?':
        gdb_send_stop_reply(s, &s->last_stop);
        return;
    case 'g':
        handle_g(s);
        return;
    case 'G':
        handle_G(s, cmd + 1, len - 1);
        return;
    case 'p':
        handle_p(s, cmd + 1);
        return;
    case 'P':
        handle_P(s, cmd + 1);
        return;
    case 'm':
        handle_m(s, cmd + 1);
        return;
    case 'M':
        handle_M(s, cmd + 1);
        return;
    case 'X':
        handle_X(s, buf, len);
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
        reply_only(s, "");
        return;
    case 'H':
    case 'T':
        reply_only(s, "OK");
        return;
    case '!': /* extended mode: only a replay can be `run` again */
        s->extended = s->t->can_reverse;
        reply_only(s, s->extended ? "OK" : "");
        return;
    case 'k':
        if (s->extended && s->t->can_reverse)
            return; /* extended-remote: `run` restarts the replay */
        s->t->ops->kill(s->t);
        gdb_session_set_end(s, GDB_END_KILLED);
        return;
    case 'D':
        s->t->ops->detach(s->t);
        reply_only(s, "OK");
        gdb_session_set_end(s, GDB_END_DETACHED);
        return;
    case 'q':
        handle_q(s, cmd);
        return;
    case 'Q':
        if (!strcmp(cmd, "QStartNoAckMode")) {
            reply_only(s, "OK");     /* still acknowledged by gdb */
            s->no_ack = true;
            s->dec.check_sums = false;
            return;
        }
        reply_only(s, "");
        return;
    case 'v':
        handle_v(s, cmd, len);
        return;
    default:
        reply_only(s, "");
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
            if (s->last_len)
                send_raw(s, s->last, s->last_len);
            break;
        case RSP_EV_BAD_CHECKSUM:
            log_packet(s, "<- (bad checksum)", s->dec.buf, s->dec.len);
            send_raw(s, "-", 1);
            break;
        case RSP_EV_MALFORMED:
        case RSP_EV_OVERSIZED:
            log_packet(s, ev == RSP_EV_OVERSIZED ? "<- (oversized)" : "<- (malformed)",
                       s->dec.buf, s->dec.len);
            if (!s->no_ack)
                send_raw(s, "+", 1);
            reply_only(s, ev == RSP_EV_OVERSIZED ? E_TOOBIG : E_INVAL);
            break;
        case RSP_EV_PACKET:
            log_packet(s, "<-", s->dec.buf, s->dec.len);
            if (!s->no_ack)
                send_raw(s, "+", 1);
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

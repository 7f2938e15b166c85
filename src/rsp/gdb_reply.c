/* The session's output: building, framing and sending replies; stop replies. */
#include "gdb_reply.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* gdb's signal numbers used in stop replies. */
enum { SIG_INT = 2, SIG_TRAP = 5, SIG_SEGV = 11 };

void gdb_session_set_end(struct gdb_session *s, enum gdb_end why)
{
    if (s->end == GDB_END_NONE)
        s->end = why;
}

/* ---- logging ---- */

void gdb_log_packet(struct gdb_session *s, const char *dir,
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

void gdb_send_raw(struct gdb_session *s, const void *buf, size_t len)
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
    gdb_log_packet(s, "->", s->reply, s->reply_len);
    s->last_len = rsp_frame(s->last, sizeof(s->last), s->reply, s->reply_len);
    gdb_send_raw(s, s->last, s->last_len);
}

void gdb_send_console(struct gdb_session *s, const char *text, size_t len)
{
    /* each O packet carries what fits its hex encoding */
    size_t chunk = (RSP_PACKET_SIZE - 8) / 2;
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        gdb_reply_reset(s);
        gdb_reply_str(s, "O");
        gdb_reply_hex(s, (const uint8_t *)text + off, n);
        gdb_reply_send(s);
    }
}

void gdb_reply_only(struct gdb_session *s, const char *str)
{
    gdb_reply_reset(s);
    gdb_reply_str(s, str);
    gdb_reply_send(s);
}

/* ---- argument parsing ---- */

/* Parses "hex" followed by the character sep (0 means end of string). */
bool gdb_parse_hex_sep(const char **p, uint64_t *val, char sep)
{
    if (rsp_parse_hex(p, val) < 0 || **p != sep)
        return false;
    if (sep)
        (*p)++;
    return true;
}

/* ---- stops ---- */

void gdb_send_stop_reply(struct gdb_session *s, const struct ukvm_stop *stop)
{
    gdb_reply_reset(s);
    if (stop->reason == UKVM_STOP_EXITED) {
        gdb_reply_fmt(s, "W%02x", (unsigned)stop->exit_status & 0xff);
        gdb_reply_send(s);
        if (!s->extended)
            gdb_session_set_end(s, GDB_END_EXITED);
        else /* `run` starts over */
            s->no_process = true;
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

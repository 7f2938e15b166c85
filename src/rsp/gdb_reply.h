/*
 * One session's state and its output (gdb_reply.c), for the packet handlers
 * (gdb_session.c, gdb_regmem.c, gdb_rcmd.c, gdb_hostio.c): they build a
 * reply, then send it framed. Knows nothing of which packets there are.
 */
#ifndef UKVM_GDB_REPLY_H
#define UKVM_GDB_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gdb_end.h"
#include "rsp_packet.h"
#include "ukvm/outbuf.h"
#include "ukvm/target.h"

/* Error replies (errno-style numbers, in hex as gdb expects). */
#define E_FAULT  "E0e"      /* memory not accessible */
#define E_INVAL  "E16"      /* malformed or out-of-range arguments */
#define E_TOOBIG "E07"      /* a packet longer than PacketSize */
#define E_FAIL   "E01"      /* the target refused */

struct gdb_session;

struct gdb_session_io {
    /* Sends all len bytes; returns 0, or -1 when the client is gone. */
    int (*write)(void *ctx, const void *buf, size_t len);
    /* Runs t->ops->resume(t, kind, stop) and returns its result. NULL:
     * the session calls the target directly. */
    int (*resume)(void *ctx, struct ukvm_target *t, enum ukvm_resume_kind kind,
                  struct ukvm_stop *stop);
    /* Runs t->ops->monitor(t, cmd, out) and returns its result, watching
     * for interrupts as resume does. Sets *abandoned when the client sent
     * its next packet meanwhile: it gave up waiting (gdb 13 does after a
     * Ctrl-C and its remote timeout), so no reply must go out. NULL: the
     * session calls the target directly. */
    int (*monitor)(void *ctx, struct ukvm_target *t, const char *cmd,
                   struct ukvm_outbuf *out, bool *abandoned);
    void *ctx;
};

#define GDB_HOSTIO_FDS 8
/* Breakpoints and watchpoints one client may have inserted at once. */
#define GDB_POINTS_MAX 32768

/* A breakpoint or watchpoint the client inserted (Z) and has not removed. */
struct gdb_point {
    uint64_t addr, kind;
    enum ukvm_bp_type type;
};

struct gdb_session {
    struct ukvm_target *t;
    struct gdb_session_io io;
    FILE *log;
    enum gdb_end end;
    bool no_ack;
    bool gdb_swbreak, gdb_hwbreak;  /* gdb said it understands these */
    bool extended;                  /* '!' on a target that can restart: a kill keeps it */
    /* Extended mode: the guest exited or gdb killed it, and no vRun has
     * started it again. gdb is told there is no thread (as gdbserver does),
     * or it would take the target for restarted and show the dead guest. */
    bool no_process;
    /* The client asked qHostInfo, which only lldb does (first thing after
     * qSupported): gdb's packets keep their answers for gdb (gdb_lldb.c).
     * lldb's `k` waits for a reply, gdb's expects none. */
    bool lldb;
    struct ukvm_stop last_stop;     /* for '?' */
    bool hostio_open[GDB_HOSTIO_FDS];
    size_t n_points, cap_points;
    struct gdb_point *points;       /* taken out when the client goes */
    /* The input not yet looked at when a packet is dispatched (valid during
     * io.resume): lets the transport see a 0x03 sent right after 'c'. */
    const uint8_t *unread;
    size_t unread_len;
    struct rsp_decoder dec;
    size_t reply_len;
    bool reply_full;
    uint8_t reply[RSP_PACKET_SIZE];
    size_t last_len;                /* the last framed reply, resent on '-' */
    uint8_t last[RSP_PACKET_SIZE + 4];
    uint8_t scratch[RSP_PACKET_SIZE];
};

/* Ends the session from outside (the transport saw the client go away). */
void gdb_session_set_end(struct gdb_session *s, enum gdb_end why);

/* One line on the session's log (if any) per packet. */
void gdb_log_packet(struct gdb_session *s, const char *dir, const uint8_t *buf, size_t len);
/* Sends bytes as they are (acks, a resent packet). */
void gdb_send_raw(struct gdb_session *s, const void *buf, size_t len);

void gdb_reply_reset(struct gdb_session *s);
void gdb_reply_raw(struct gdb_session *s, const void *buf, size_t len);
void gdb_reply_str(struct gdb_session *s, const char *str);
void gdb_reply_fmt(struct gdb_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void gdb_reply_hex(struct gdb_session *s, const uint8_t *bytes, size_t len);
/* Appends binary bytes, escaped, as many as fit; returns how many did. */
size_t gdb_reply_bin(struct gdb_session *s, const uint8_t *bytes, size_t len);
size_t gdb_reply_room(const struct gdb_session *s);
/* Frames and sends the reply built so far (kept for a resend on '-'). */
void gdb_reply_send(struct gdb_session *s);
/* Text for gdb's console, as O packets (gdb prints them while it waits for
 * a stop, and before a monitor command's reply). */
void gdb_send_console(struct gdb_session *s, const char *text, size_t len);

/* Sends a stop reply for *stop ('?', after resuming, after vRun). */
void gdb_send_stop_reply(struct gdb_session *s, const struct ukvm_stop *stop);
/* A reply of this text alone, sent. */
void gdb_reply_only(struct gdb_session *s, const char *str);

/* Parses "hex" followed by the character sep (0 means end of string). */
bool gdb_parse_hex_sep(const char **p, uint64_t *val, char sep);

#endif

/*
 * One debugging session: the command dispatcher of the remote protocol,
 * independent of any transport. Bytes from the client are fed in; replies go
 * out through io.write; resuming the target goes through io.resume (so that
 * a socket transport can watch for interrupts meanwhile). Used by
 * gdb_server.c over a socket and by the fuzzer over memory.
 */
#ifndef UKVM_GDB_SESSION_H
#define UKVM_GDB_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gdb_server.h"
#include "rsp_packet.h"
#include "ukvm/target.h"

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
    bool extended;                  /* '!': a kill in replay keeps the server */
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

/* Allocates a session (NULL on memory exhaustion). log may be NULL. */
struct gdb_session *gdb_session_new(struct ukvm_target *t,
                                    const struct gdb_session_io *io, FILE *log);
void gdb_session_free(struct gdb_session *s);

/* Processes bytes from the client, replying as it goes. Stops early when
 * the session ends; *consumed (may be NULL) gets the bytes used. Returns
 * s->end: GDB_END_NONE while the session goes on. */
enum gdb_end gdb_session_feed(struct gdb_session *s, const uint8_t *buf,
                              size_t len, size_t *consumed);

/* Removes from the target every breakpoint and watchpoint the client
 * inserted and did not remove: a client that goes (detach, kill, or a
 * closed connection) leaves none armed for the next one. */
void gdb_session_release_points(struct gdb_session *s);

/* Ends the session from outside (the transport saw the client go away). */
void gdb_session_set_end(struct gdb_session *s, enum gdb_end why);

/* Handles one complete, checksum-verified packet payload (run-length
 * decoded, still escaped). buf must hold len + 1 bytes with buf[len] == 0
 * and may be modified. Exposed for the tests and the fuzzer. */
void gdb_session_dispatch(struct gdb_session *s, uint8_t *buf, size_t len);

/* ---- for the command handlers (gdb_session.c, gdb_hostio.c) ---- */
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

/* Sends a stop reply for *stop ('?', after resuming, after vRun). */
void gdb_send_stop_reply(struct gdb_session *s, const struct ukvm_stop *stop);

/* qRcmd,HEX and vRun (gdb_rcmd.c): args follow "qRcmd," / "vRun". */
void gdb_rcmd_handle(struct gdb_session *s, const char *hex);
void gdb_vrun_handle(struct gdb_session *s, const char *args);

/* vFile:... (gdb_hostio.c): args is what follows "vFile:". Builds the reply. */
void gdb_hostio_handle(struct gdb_session *s, char *args, size_t len);

#endif

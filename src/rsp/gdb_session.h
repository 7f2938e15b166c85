/*
 * One debugging session: the command dispatcher of the remote protocol,
 * independent of any transport. Bytes from the client are fed in; replies go
 * out through io.write; resuming the target goes through io.resume (so that
 * a socket transport can watch for interrupts meanwhile). Used by
 * gdb_server.c over a socket and by the fuzzer over memory. The session's
 * state and its output are in gdb_reply.h; the packets are handled here
 * and in gdb_regmem.c, gdb_rcmd.c and gdb_hostio.c.
 */
#ifndef UKVM_GDB_SESSION_H
#define UKVM_GDB_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gdb_end.h"
#include "gdb_reply.h"
#include "ukvm/target.h"

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

/* Handles one complete, checksum-verified packet payload (run-length
 * decoded, still escaped). buf must hold len + 1 bytes with buf[len] == 0
 * and may be modified. Exposed for the tests and the fuzzer. */
void gdb_session_dispatch(struct gdb_session *s, uint8_t *buf, size_t len);

#endif

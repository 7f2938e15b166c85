/*
 * The GDB remote serial protocol server. It debugs a struct ukvm_target
 * (ukvm/target.h) over one TCP connection at a time and knows nothing of KVM.
 *
 * Typical use from a monitor (the live run or the replay):
 *
 *     char err[128];
 *     int lfd = gdb_listen(NULL, 1234, err, sizeof err);   // 127.0.0.1:1234
 *     if (lfd < 0) die("gdb: %s", err);
 *     for (;;) {
 *         enum gdb_end why = gdb_serve(lfd, &target, NULL);
 *         if (why == GDB_END_DISCONNECTED && replaying) continue;   // next client
 *         break;     // live run: DISCONNECTED ends the guest with a message
 *     }
 *     close(lfd);
 *
 * Threads: gdb_serve() runs on the caller's thread and makes every target
 * call from it, resume() included, except interrupt(). While resume() runs,
 * a watcher thread owned by the server polls the socket; when gdb sends an
 * interrupt (0x03, Ctrl-C) or the client disconnects, the watcher calls
 * target->ops->interrupt() from its thread, and calls it again every 20 ms
 * until resume() returns (so a request that lands just before resume() has
 * started, and was forgotten by it, is made again). interrupt() is never
 * called once the server has seen resume() return: the calls are made under
 * a lock together with a "running" flag the server clears after resume().
 * An interrupt that arrived in the same read as the resuming packet is
 * delivered as soon as resume() is called. See the contract in
 * ukvm/target.h: forget stale requests at the start of resume(), and do not
 * block in interrupt(). A client that disconnects while the target runs
 * also gets resume() interrupted; the session then ends DISCONNECTED.
 *
 * While a client is attached, further connections to the listening socket
 * are accepted and closed at once (gdb reports the connection as closed).
 * SIGPIPE is never raised by the server (it writes with MSG_NOSIGNAL).
 */
#ifndef UKVM_GDB_SERVER_H
#define UKVM_GDB_SERVER_H

#include <stddef.h>
#include <stdio.h>

#include "gdb_end.h"
#include "ukvm/target.h"

/* A short name for an end reason ("detached", "killed", ...). */
const char *gdb_end_name(enum gdb_end why);

struct gdb_serve_opts {
    /* When not NULL, one line per packet received and sent, and one per
     * connection event, is written here ("gdb: <- ...", "gdb: -> ..."). */
    FILE *log;
};

/* Creates a listening TCP socket on addr:port (addr NULL means 127.0.0.1;
 * it must be a numeric IPv4 address), with SO_REUSEADDR and close-on-exec.
 * port 0 picks a free port (see gdb_listen_port). Returns the socket, or -1
 * with a message in err. */
int gdb_listen(const char *addr, int port, char *err, size_t errlen);

/* The local port of a listening socket, or -1. */
int gdb_listen_port(int listen_fd);

/* Waits for one client on listen_fd (a socket from gdb_listen), serves it
 * until the session ends, closes the client socket and returns why it ended.
 * The listening socket stays open. opts may be NULL. */
enum gdb_end gdb_serve(int listen_fd, struct ukvm_target *t,
                       const struct gdb_serve_opts *opts);

/* Serves an already connected stream socket fd (the caller keeps ownership
 * and closes it). listen_fd, when >= 0, is watched so that other clients are
 * turned away; pass -1 when there is none. */
enum gdb_end gdb_serve_fd(int fd, int listen_fd, struct ukvm_target *t,
                          const struct gdb_serve_opts *opts);

#endif

/*
 * The socket side of the GDB server: listening, accepting one client at a
 * time, the read loop, and the watcher thread that turns a 0x03 from gdb
 * (or a disconnect) into target->ops->interrupt() while resume() runs.
 */
#include "gdb_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gdb_session.h"

/* While an interrupt is wanted, the watcher repeats interrupt() this often
 * until resume() returns (see the contract in ukvm/target.h). */
#define REPEAT_MS 20
#define IN_CAP (2 * RSP_PACKET_SIZE)
#define PENDING_CAP 4096

struct conn {
    int fd;
    int listen_fd;
    FILE *log;
    char peer[INET_ADDRSTRLEN + 8];     /* the client's ADDR:PORT */
    struct ukvm_target *t;
    struct gdb_session *sess;
    int wake[2];                /* the main thread wakes the watcher */

    pthread_mutex_t mu;         /* guards running and the interrupt() call */
    bool running;

    /* Set up by the main thread before the watcher starts and read by it
     * after pthread_join: no lock needed. */
    bool initial_interrupt;
    struct rsp_scan scan;
    bool disconnected;
    bool in_monitor;            /* a monitor command runs, not resume() */
    bool abandoned;             /* ...and the client sent its next packet */
    size_t npending;
    uint8_t pending[PENDING_CAP];   /* bytes read while the target ran */
};

const char *gdb_end_name(enum gdb_end why)
{
    switch (why) {
    case GDB_END_NONE: return "running";
    case GDB_END_DETACHED: return "detached";
    case GDB_END_KILLED: return "killed";
    case GDB_END_DISCONNECTED: return "disconnected";
    case GDB_END_EXITED: return "guest exited";
    case GDB_END_ERROR: return "error";
    }
    return "?";
}

static void logf_(FILE *log, const char *msg, const char *detail)
{
    if (log) {
        fprintf(log, "gdb: %s%s%s\n", msg, detail ? ": " : "", detail ? detail : "");
        fflush(log);
    }
}

/* ---- listening ---- */

int gdb_listen(const char *addr, int port, char *err, size_t errlen)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    if (port < 0 || port > 65535) {
        snprintf(err, errlen, "bad port %d", port);
        return -1;
    }
    sin.sin_port = htons((uint16_t)port);
    if (!addr)
        addr = "127.0.0.1";
    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
        snprintf(err, errlen, "bad listen address '%s' (numeric IPv4 expected)", addr);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 4) < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int gdb_listen_port(int listen_fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    if (getsockname(listen_fd, (struct sockaddr *)&sin, &len) < 0 ||
        sin.sin_family != AF_INET)
        return -1;
    return ntohs(sin.sin_port);
}

/* ADDR:PORT of a socket's peer ("?" when it has none). */
static void peer_name(int fd, char *buf, size_t len)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    char ip[INET_ADDRSTRLEN];
    if (getpeername(fd, (struct sockaddr *)&a, &alen) < 0 || a.sin_family != AF_INET ||
        !inet_ntop(AF_INET, &a.sin_addr, ip, sizeof(ip)))
        snprintf(buf, len, "?");
    else
        snprintf(buf, len, "%s:%u", ip, ntohs(a.sin_port));
}

/* Reads what a new client sends until the end of its first packet ('#';
 * gdb may send a lone '+' before it): true when that came within a second. */
static bool first_packet_came(int fd)
{
    uint8_t buf[512];
    for (int waited = 0; waited < 1000; waited += 50) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return false;
        if (n > 0 && memchr(buf, '#', (size_t)n))
            return true;
    }
    return false;
}

/*
 * Another client while one is attached: it is told why in words, as the
 * error reply to its first packet (gdb prints "Remote failure reply: E.ukvm:
 * ..."), and hung up on; the server says so on stderr. Its first packet
 * comes as soon as it connects: it is waited for at most a second.
 */
static void refuse_client(struct conn *c)
{
    int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    char who[sizeof(c->peer)], text[200], pkt[260];
    peer_name(fd, who, sizeof(who));
    fprintf(stderr, "ukvm: refused a gdb client from %s: another one is connected (from %s)\n",
            who, c->peer);
    fflush(stderr);
    logf_(c->log, "refused a second client (one is already attached)", who);
    if (first_packet_came(fd)) {
        int n = snprintf(text, sizeof(text), "E.ukvm: another gdb client is connected "
                "(from %s); one client at a time", c->peer);
        int len = snprintf(pkt, sizeof(pkt), "+$%s#%02x", text, rsp_checksum(text, (size_t)n));
        (void)send(fd, pkt, (size_t)len, MSG_NOSIGNAL);  /* gone already: nothing to tell */
    }
    close(fd);
}

/* ---- I/O for the session ---- */

static int conn_write(void *ctx, const void *buf, size_t len)
{
    struct conn *c = ctx;
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(c->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
                poll(&pfd, 1, 1000);
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void send_interrupt(struct conn *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->running)
        c->t->ops->interrupt(c->t);
    pthread_mutex_unlock(&c->mu);
}

static void *watcher_main(void *arg)
{
    struct conn *c = arg;
    bool want_irq = c->initial_interrupt;
    bool sock_open = true;
    for (;;) {
        if (want_irq)
            send_interrupt(c);
        struct pollfd pfd[3];
        int n = 0, sock_i = -1, listen_i = -1;
        pfd[n++] = (struct pollfd){ .fd = c->wake[0], .events = POLLIN };
        if (sock_open && c->npending < PENDING_CAP) {
            sock_i = n;
            pfd[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
        }
        if (c->listen_fd >= 0) {
            listen_i = n;
            pfd[n++] = (struct pollfd){ .fd = c->listen_fd, .events = POLLIN };
        }
        int r = poll(pfd, (nfds_t)n, want_irq ? REPEAT_MS : -1);
        if (r < 0) {
            if (errno != EINTR)
                usleep(1000);
            continue;
        }
        if (pfd[0].revents)
            break;      /* resume() returned */
        if (listen_i >= 0 && pfd[listen_i].revents)
            refuse_client(c);
        if (sock_i >= 0 && pfd[sock_i].revents) {
            uint8_t buf[PENDING_CAP];
            ssize_t got = read(c->fd, buf, PENDING_CAP - c->npending);
            if (got < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (got <= 0) {
                logf_(c->log, "client went away while the target ran", NULL);
                c->disconnected = true;
                sock_open = false;
                want_irq = true;
                continue;
            }
            for (ssize_t i = 0; i < got; i++) {
                /* A packet while a monitor command runs: the client gave
                 * up waiting for its reply (gdb sends no 0x03 then). Stop
                 * the command; the packet is served next. */
                if (c->in_monitor && buf[i] == '$' && !c->abandoned) {
                    logf_(c->log, "<- a packet during a monitor command: interrupting it", NULL);
                    c->abandoned = true;
                    want_irq = true;
                }
                if (rsp_scan_byte(&c->scan, buf[i])) {
                    if (!want_irq)
                        logf_(c->log, "<- interrupt (0x03)", NULL);
                    want_irq = true;
                } else {
                    c->pending[c->npending++] = buf[i];
                }
            }
        }
    }
    return NULL;
}

/* The watcher thread looks at the socket while the server's thread runs
 * the target (resume() or a monitor command). */
static int watch_start(struct conn *c, pthread_t *th)
{
    /* An interrupt may already sit in the input after the resuming packet. */
    struct rsp_scan scan = { 0 };
    bool irq = false;
    for (size_t i = 0; i < c->sess->unread_len; i++)
        irq |= rsp_scan_byte(&scan, c->sess->unread[i]);
    c->scan = scan;
    c->initial_interrupt = irq;
    c->disconnected = false;
    c->abandoned = false;

    uint8_t drain[64];
    while (read(c->wake[0], drain, sizeof(drain)) > 0)
        ;
    pthread_mutex_lock(&c->mu);
    c->running = true;
    pthread_mutex_unlock(&c->mu);

    int perr = pthread_create(th, NULL, watcher_main, c);
    if (perr)
        logf_(c->log, "cannot start the interrupt watcher", strerror(perr));
    return perr;
}

static void watch_stop(struct conn *c, pthread_t th, int perr)
{
    pthread_mutex_lock(&c->mu);
    c->running = false;
    pthread_mutex_unlock(&c->mu);
    if (!perr) {
        while (write(c->wake[1], "x", 1) < 0 && errno == EINTR)
            ;
        pthread_join(th, NULL);
    }
    if (c->disconnected)
        gdb_session_set_end(c->sess, GDB_END_DISCONNECTED);
}

/* Runs resume() with the watcher thread looking at the socket. */
static int conn_resume(void *ctx, struct ukvm_target *t,
                       enum ukvm_resume_kind kind, struct ukvm_stop *stop)
{
    struct conn *c = ctx;
    pthread_t th;
    int perr = watch_start(c, &th);
    int rc = t->ops->resume(t, kind, stop);
    watch_stop(c, th, perr);
    return rc;
}

/* The same for a monitor command (a goto can run the guest for long). */
static int conn_monitor(void *ctx, struct ukvm_target *t, const char *cmd,
                        struct ukvm_outbuf *out, bool *abandoned)
{
    struct conn *c = ctx;
    pthread_t th;
    c->in_monitor = true;
    int perr = watch_start(c, &th);
    int rc = t->ops->monitor(t, cmd, out);
    watch_stop(c, th, perr);
    c->in_monitor = false;
    *abandoned = c->abandoned || c->disconnected;
    return rc;
}

/* ---- serving ---- */

enum gdb_end gdb_serve_fd(int fd, int listen_fd, struct ukvm_target *t,
                          const struct gdb_serve_opts *opts)
{
    struct conn *c = calloc(1, sizeof(*c));
    uint8_t *in = malloc(IN_CAP);
    enum gdb_end end = GDB_END_ERROR;
    if (!c || !in)
        goto out_free;
    c->fd = fd;
    c->listen_fd = listen_fd;
    c->log = opts ? opts->log : NULL;
    peer_name(fd, c->peer, sizeof(c->peer));
    c->t = t;
    if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) < 0)
        goto out_free;
    pthread_mutex_init(&c->mu, NULL);
    struct gdb_session_io io = { .write = conn_write, .resume = conn_resume,
                                 .monitor = conn_monitor, .ctx = c };
    c->sess = gdb_session_new(t, &io, c->log);
    if (!c->sess)
        goto out_pipe;

    end = GDB_END_NONE;
    while (end == GDB_END_NONE) {
        struct pollfd pfd[2] = {
            { .fd = fd, .events = POLLIN },
            { .fd = listen_fd, .events = POLLIN },
        };
        int r = poll(pfd, listen_fd >= 0 ? 2 : 1, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            end = GDB_END_ERROR;
            break;
        }
        if (listen_fd >= 0 && pfd[1].revents)
            refuse_client(c);
        if (!pfd[0].revents)
            continue;
        ssize_t n = read(fd, in, IN_CAP);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            end = GDB_END_DISCONNECTED;
            break;
        }
        end = gdb_session_feed(c->sess, in, (size_t)n, NULL);
        /* Bytes the watcher read while the target ran come next. */
        while (end == GDB_END_NONE && c->npending) {
            size_t len = c->npending;
            memcpy(in, c->pending, len);
            c->npending = 0;
            end = gdb_session_feed(c->sess, in, len, NULL);
        }
    }
    logf_(c->log, "session ended", gdb_end_name(end));
    gdb_session_release_points(c->sess);
    gdb_session_free(c->sess);
out_pipe:
    close(c->wake[0]);
    close(c->wake[1]);
    pthread_mutex_destroy(&c->mu);
out_free:
    free(in);
    free(c);
    return end;
}

enum gdb_end gdb_serve(int listen_fd, struct ukvm_target *t,
                       const struct gdb_serve_opts *opts)
{
    FILE *log = opts ? opts->log : NULL;
    for (;;) {
        struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return GDB_END_ERROR;
        }
        struct sockaddr_in peer;
        socklen_t plen = sizeof(peer);
        int fd = accept4(listen_fd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK ||
                errno == ECONNABORTED)
                continue;
            return GDB_END_ERROR;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (log) {
            char a[INET_ADDRSTRLEN] = "?";
            if (peer.sin_family == AF_INET)
                inet_ntop(AF_INET, &peer.sin_addr, a, sizeof(a));
            logf_(log, "client connected from", a);
        }
        enum gdb_end end = gdb_serve_fd(fd, listen_fd, t, opts);
        close(fd);
        return end;
    }
}

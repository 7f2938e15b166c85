/*
 * Host I/O (vFile:...) serving the kernel image to gdb, so that it finds the
 * symbols with no local copy. The only file is the target's exec_file: any
 * name opens it (gdb asks for the name it got from qXfer:exec-file:read,
 * possibly rewritten), except names that look like separate debug-info
 * lookups, which get ENOENT so gdb does not load the kernel twice, and
 * /proc files (a `gcore` reads /proc/PID/cmdline, stat and maps, which
 * have no kernel-file answer).
 * Replies: F<result>[,errno][;attachment]; numbers in hex.
 */
#include <string.h>

#include "gdb_hostio.h"
#include "gdb_reply.h"

/* File-I/O errno values of the remote protocol. */
enum { FIO_ENOENT = 2, FIO_EBADF = 9, FIO_EACCES = 13, FIO_EINVAL = 22 };

static void reply_errno(struct gdb_session *s, int err)
{
    gdb_reply_fmt(s, "F-1,%x", err);
}

static bool is_debug_lookup(const char *name)
{
    size_t n = strlen(name);
    return strstr(name, "/.build-id/") || strstr(name, "/.debug/") ||
           (n >= 6 && !strcmp(name + n - 6, ".debug"));
}

static bool is_proc_file(const char *name)
{
    return !strncmp(name, "/proc/", 6);
}

/* Decodes the hex-encoded file name at *p (up to ',' or the end). */
static bool parse_name(const char **p, char *name, size_t cap)
{
    size_t hexlen = strcspn(*p, ",");
    if (hexlen % 2 || hexlen / 2 >= cap ||
        rsp_hex2bin((uint8_t *)name, *p, hexlen / 2) < 0)
        return false;
    name[hexlen / 2] = 0;
    if (strlen(name) != hexlen / 2)     /* an embedded NUL */
        return false;
    *p += hexlen;
    return true;
}

static bool parse_num(const char **p, uint64_t *v, char sep)
{
    if (rsp_parse_hex(p, v) < 0 || **p != sep)
        return false;
    if (sep)
        (*p)++;
    return true;
}

/* The name can be served (a kernel exists and this is not a debug lookup). */
static bool name_ok(struct gdb_session *s, const char *name)
{
    if (!s->t->exec_file)
        return false;
    if (s->t->exec_file_name && !strcmp(name, s->t->exec_file_name))
        return true;
    return !is_debug_lookup(name) && !is_proc_file(name);
}

static struct ukvm_target *tgt(struct gdb_session *s)
{
    return s->t;
}

static int get_fd(struct gdb_session *s, const char **p, char sep)
{
    uint64_t fd;
    if (!parse_num(p, &fd, sep) || fd >= GDB_HOSTIO_FDS || !s->hostio_open[fd])
        return -1;
    return (int)fd;
}

/* The 64-byte struct stat of the File-I/O protocol, big-endian. */
static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void reply_stat(struct gdb_session *s)
{
    uint8_t st[64];
    memset(st, 0, sizeof(st));
    put_be(st + 8, 0100444, 4);                 /* st_mode: regular, r--r--r-- */
    put_be(st + 12, 1, 4);                      /* st_nlink */
    put_be(st + 28, tgt(s)->exec_file_len, 8);  /* st_size */
    put_be(st + 36, 4096, 8);                   /* st_blksize */
    put_be(st + 44, (tgt(s)->exec_file_len + 511) / 512, 8);   /* st_blocks */
    gdb_reply_fmt(s, "F%zx;", sizeof(st));
    gdb_reply_bin(s, st, sizeof(st));
}

static void do_open(struct gdb_session *s, const char *p)
{
    char name[512];
    uint64_t flags, mode;
    if (!parse_name(&p, name, sizeof(name)) || *p++ != ',' ||
        !parse_num(&p, &flags, ',') || !parse_num(&p, &mode, 0)) {
        reply_errno(s, FIO_EINVAL);
        return;
    }
    if (!name_ok(s, name)) {
        reply_errno(s, FIO_ENOENT);
        return;
    }
    if (flags & 3) {                            /* O_WRONLY or O_RDWR */
        reply_errno(s, FIO_EACCES);
        return;
    }
    for (int fd = 0; fd < GDB_HOSTIO_FDS; fd++) {
        if (!s->hostio_open[fd]) {
            s->hostio_open[fd] = true;
            gdb_reply_fmt(s, "F%x", fd);
            return;
        }
    }
    reply_errno(s, 24);                         /* EMFILE */
}

static void do_pread(struct gdb_session *s, const char *p)
{
    uint64_t count, offset;
    if (get_fd(s, &p, ',') < 0) {
        reply_errno(s, FIO_EBADF);
        return;
    }
    if (!parse_num(&p, &count, ',') || !parse_num(&p, &offset, 0)) {
        reply_errno(s, FIO_EINVAL);
        return;
    }
    size_t size = tgt(s)->exec_file_len;
    if (offset >= size || count == 0) {
        gdb_reply_str(s, "F0;");
        return;
    }
    if (count > size - offset)
        count = size - offset;
    /* Escape into the scratch buffer first: the count in front depends on
     * how many escaped bytes fit in one reply. */
    size_t room = gdb_reply_room(s) - 24;
    size_t used;
    size_t n = rsp_escape(s->scratch, room < sizeof(s->scratch) ? room : sizeof(s->scratch),
                          tgt(s)->exec_file + offset, (size_t)count, &used);
    gdb_reply_fmt(s, "F%zx;", used);
    gdb_reply_raw(s, s->scratch, n);
}

void gdb_hostio_handle(struct gdb_session *s, char *args, size_t len)
{
    (void)len;
    const char *p;
    gdb_reply_reset(s);
    if (!strncmp(args, "setfs:", 6)) {
        gdb_reply_str(s, "F0");
    } else if (!strncmp(args, "open:", 5)) {
        do_open(s, args + 5);
    } else if (!strncmp(args, "pread:", 6)) {
        do_pread(s, args + 6);
    } else if (!strncmp(args, "pwrite:", 7)) {
        reply_errno(s, FIO_EACCES);
    } else if (!strncmp(args, "close:", 6)) {
        p = args + 6;
        int fd = get_fd(s, &p, 0);
        if (fd < 0) {
            reply_errno(s, FIO_EBADF);
        } else {
            s->hostio_open[fd] = false;
            gdb_reply_str(s, "F0");
        }
    } else if (!strncmp(args, "fstat:", 6)) {
        p = args + 6;
        if (get_fd(s, &p, 0) < 0)
            reply_errno(s, FIO_EBADF);
        else
            reply_stat(s);
    } else if (!strncmp(args, "stat:", 5)) {
        char name[512];
        p = args + 5;
        if (!parse_name(&p, name, sizeof(name)) || *p)
            reply_errno(s, FIO_EINVAL);
        else if (!name_ok(s, name))
            reply_errno(s, FIO_ENOENT);
        else
            reply_stat(s);
    } else if (!strncmp(args, "unlink:", 7)) {
        reply_errno(s, FIO_EACCES);
    } else if (!strncmp(args, "readlink:", 9)) {
        reply_errno(s, FIO_EINVAL);
    }
    /* Anything else: the empty reply (not supported). */
    gdb_reply_send(s);
}

/*
 * gdb's `monitor CMD` (qRcmd,HEX) and `run` in extended-remote (vRun): the
 * protocol side of ukvm's own commands. The target does the work
 * (ukvm_target_ops.monitor); here the text goes back as console output
 * packets (O + hex), then OK, also when the command failed: an E reply
 * would make gdb add "Protocol error with Rcmd" under ukvm's own line. So a
 * failed command is no gdb error; its output ends with a line that begins
 * with "ukvm: ", which a successful command's output never ends with (a
 * script tells them apart with gdb.execute(..., to_string=True)).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vcpu/gdb_monitor_cmd.h"
#include "gdb_rcmd.h"
#include "gdb_reply.h"
#include "ukvm/outbuf.h"

/* The longest command line accepted. */
#define RCMD_MAX 1024

static void finish(struct gdb_session *s, struct ukvm_outbuf *out, int rc)
{
    (void)rc; /* a failure is told by its text (see above) */
    if (out->failed)
        ukvm_outbuf_printf(out, "\n(output cut short)\n");
    gdb_send_console(s, out->buf ? out->buf : "", out->len);
    gdb_reply_reset(s);
    gdb_reply_str(s, "OK");
    gdb_reply_send(s);
    ukvm_outbuf_free(out);
}

/*
 * A long vRun's progress (a goto of more than a second says where it is
 * once a second). gdb prints no text while it waits for a vRun's stop
 * reply, and gives up after its reply timeout, when the late stop reply
 * would answer its next packet. So the line goes to ukvm's stderr (the
 * terminal gdb shares under `ukvm debug`), and gdb gets a notification it
 * does not know, which the protocol says a recipient ignores after
 * restarting its reply timeout: a keepalive.
 *
 * A monitor command gets neither keepalives nor console packets for its
 * progress: gdb 13 answers a Ctrl-C there only when it stops waiting (its
 * timeouts; a keepalive would make it wait to the end), and after that a
 * progress packet would be taken for the reply to its next packet. Its
 * line goes to stderr; gdb prints "Ignoring packet error, continuing..."
 * every three timeouts and goes on waiting.
 */
static void send_keepalive(void *ctx, const char *text, size_t len)
{
    static const char note[] = "ukvm:progress";
    char framed[sizeof(note) + 4];
    fwrite(text, 1, len, stderr);
    int n = snprintf(framed, sizeof(framed), "%%%s#%02x", note,
            rsp_checksum(note, sizeof(note) - 1));
    gdb_send_raw(ctx, framed, (size_t)n);
}

void gdb_rcmd_handle(struct gdb_session *s, const char *hex)
{
    struct ukvm_outbuf out = { 0 };     /* progress on stderr (see above) */
    size_t hexlen = strlen(hex);
    if (!s->t->ops->monitor) {
        gdb_reply_reset(s);
        gdb_reply_send(s); /* empty: not supported */
        return;
    }
    char line[RCMD_MAX + 1];
    if (hexlen % 2 || hexlen / 2 > RCMD_MAX ||
        rsp_hex2bin((uint8_t *)line, hex, hexlen / 2) < 0) {
        ukvm_outbuf_printf(&out, "ukvm: monitor: %s\n", hexlen / 2 > RCMD_MAX
                ? "command too long" : "malformed qRcmd packet");
        finish(s, &out, -1);
        return;
    }
    line[hexlen / 2] = 0;
    if (strlen(line) != hexlen / 2) {
        ukvm_outbuf_printf(&out, "ukvm: monitor: the command holds a NUL byte\n");
        finish(s, &out, -1);
        return;
    }
    bool abandoned = false;
    int rc = s->io.monitor ? s->io.monitor(s->io.ctx, s->t, line, &out, &abandoned)
                           : s->t->ops->monitor(s->t, line, &out);
    if (abandoned) { /* a reply now would answer the client's next packet */
        if (s->log)
            fprintf(s->log, "gdb: monitor command abandoned by the client: no reply\n");
        ukvm_outbuf_free(&out);
        return;
    }
    finish(s, &out, rc);
}

/*
 * The position gdb's `run ARGS` names, as rr's `run N`: no arguments is
 * the trace's start; else one argument (hex after vRun;FILE;): an event
 * number, end, +N/-N or a bookmark. Its text goes to *word for messages.
 * 0, or -1 with *err set for a packet that is malformed (then *word is
 * empty) or a position that is not one.
 */
static int vrun_position(const char *args, struct ukvm_position *pos, char *word,
        size_t len, char *err, size_t errlen)
{
    const char *p = args;
    word[0] = '\0';
    memset(pos, 0, sizeof(*pos));
    if (*p == ';')              /* the program's name: there is only one */
        p = strchr(p + 1, ';');
    if (!p || !*p) {
        pos->where = UKVM_AT_START;
        snprintf(word, len, "start");
        return 0;
    }
    p++;
    const char *end = strchr(p, ';');
    size_t hexlen = end ? (size_t)(end - p) : strlen(p);
    bool bad = hexlen % 2 || hexlen / 2 >= len ||
        rsp_hex2bin((uint8_t *)word, p, hexlen / 2) < 0;
    for (size_t i = 0; !bad && i < hexlen / 2; i++)
        bad = (unsigned char)word[i] < 0x20 || word[i] == 0x7f;
    if (bad) {
        word[0] = '\0';
        snprintf(err, errlen, "malformed vRun packet");
        return -1;
    }
    word[hexlen / 2] = '\0';
    if (end) {
        snprintf(err, errlen, "one position at most (an event, start, end, +N, -N or a "
                "bookmark)");
        return -1;
    }
    if (!word[0]) {             /* `run ""` */
        pos->where = UKVM_AT_START;
        snprintf(word, len, "start");
        return 0;
    }
    return monitor_parse_place(word, pos, err, errlen);
}

/* vRun;FILE;ARGS... : `run` restarts the replay at its start, `run N` goes
 * to event N (or any other `goto` position). gdb re-reads registers and
 * memory after a run, so plain gdb sees the new place without the
 * extension's cache flush. */
void gdb_vrun_handle(struct gdb_session *s, const char *args)
{
    struct ukvm_outbuf out = { .live = send_keepalive, .live_ctx = s };
    struct ukvm_position pos;
    char word[RCMD_MAX], err[200];
    int rc = -1;
    if (!s->t->ops->restart) {
        fprintf(stderr, "ukvm: run: only a replay can start over\n");
    } else if (vrun_position(args, &pos, word, sizeof(word), err, sizeof(err)) < 0) {
        fprintf(stderr, "ukvm: run%s%s: %s\n", word[0] ? " " : "", word, err);
    } else {
        rc = s->t->ops->restart(s->t, &pos, &out);
        /* gdb cannot print text in a vRun reply: a refusal goes to stderr */
        if (rc < 0 && out.buf)
            fprintf(stderr, "ukvm: run %s: %.*s", word, (int)out.len, out.buf);
    }
    ukvm_outbuf_free(&out);
    if (rc < 0) {
        gdb_reply_reset(s);
        gdb_reply_str(s, "E01");
        gdb_reply_send(s);
        return;
    }
    memset(&s->last_stop, 0, sizeof(s->last_stop));
    s->last_stop.reason = UKVM_STOP_STEP;
    s->no_process = false;
    gdb_send_stop_reply(s, &s->last_stop);
}

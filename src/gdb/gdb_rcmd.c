/*
 * gdb's `monitor CMD` (qRcmd,HEX) and `run` in extended-remote (vRun): the
 * protocol side of ukvm's own commands. The target does the work
 * (ukvm_target_ops.monitor); here the text goes back as console output
 * packets (O + hex), then OK, or E01 when the command failed: gdb prints
 * the text either way, and makes a failure an error (a script stops).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gdb_rcmd.h"
#include "gdb_reply.h"
#include "ukvm/outbuf.h"

/* The longest command line accepted. */
#define RCMD_MAX 1024

static void send_output(struct gdb_session *s, const char *text, size_t len)
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

static void finish(struct gdb_session *s, struct ukvm_outbuf *out, int rc)
{
    if (out->failed)
        ukvm_outbuf_printf(out, "\n(output cut short)\n");
    send_output(s, out->buf ? out->buf : "", out->len);
    gdb_reply_reset(s);
    gdb_reply_str(s, rc < 0 ? "E01" : "OK");
    gdb_reply_send(s);
    ukvm_outbuf_free(out);
}

void gdb_rcmd_handle(struct gdb_session *s, const char *hex)
{
    struct ukvm_outbuf out = { 0 };
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

/* vRun;FILE;ARGS... : the replay has one program and no arguments to
 * choose, so whatever gdb names, `run` means: back to the trace's start. */
void gdb_vrun_handle(struct gdb_session *s, const char *args)
{
    (void)args;
    struct ukvm_outbuf out = { 0 };
    if (!s->t->ops->monitor || s->t->ops->monitor(s->t, "goto start", &out) < 0) {
        ukvm_outbuf_free(&out);
        gdb_reply_reset(s);
        gdb_reply_str(s, "E01");
        gdb_reply_send(s);
        return;
    }
    ukvm_outbuf_free(&out);
    memset(&s->last_stop, 0, sizeof(s->last_stop));
    s->last_stop.reason = UKVM_STOP_STEP;
    gdb_send_stop_reply(s, &s->last_stop);
}

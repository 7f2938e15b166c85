/* The answers lldb needs (see gdb_lldb.h). */
#include "gdb_lldb.h"

#include <string.h>

#include "gdb_session.h"

/* The architecture, hex-encoded in qHostInfo as lldb wants its triple. */
static const char ARCH[] = "x86_64";

/* The session whose client asked qHostInfo, which only lldb does (first
 * thing after qSupported): gdb's packets keep their answers for gdb. lldb's
 * `k` waits for a reply, gdb's expects none (and a replay in extended mode
 * keeps running after it). One client at a time; each begins with
 * qSupported. */
static const struct gdb_session *lldb_client;

static void reply(struct gdb_session *s, const char *str)
{
    gdb_reply_reset(s);
    gdb_reply_str(s, str);
    gdb_reply_send(s);
}

bool gdb_lldb_dispatch(struct gdb_session *s, const char *buf, size_t len)
{
    if (len >= 10 && !strncmp(buf, "qSupported", 10)) {
        if (lldb_client == s)
            lldb_client = NULL; /* a new client: gdb until it says otherwise */
        return false;
    }
    if (!strcmp(buf, "qHostInfo")) {
        lldb_client = s;
        gdb_reply_reset(s);
        gdb_reply_str(s, "triple:");
        gdb_reply_hex(s, (const uint8_t *)ARCH, strlen(ARCH));
        gdb_reply_str(s, ";endian:little;ptrsize:8;");
        gdb_reply_send(s);
        return true;
    }
    if (!strcmp(buf, "qOffsets") && lldb_client == s) {
        /* ukvm loads the kernel at its link addresses. gdb asks too, and
         * gets the empty reply as before: it needs no answer. */
        reply(s, "Text=0;Data=0;Bss=0");
        return true;
    }
    if (!strcmp(buf, "k") && lldb_client == s) {
        s->t->ops->kill(s->t);
        reply(s, "X09");        /* killed by SIGKILL, as lldb-server says */
        gdb_session_set_end(s, GDB_END_KILLED);
        return true;
    }
    return false;
}

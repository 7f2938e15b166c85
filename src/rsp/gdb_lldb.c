/* The answers lldb needs (see gdb_lldb.h). */
#include "gdb_lldb.h"

#include <string.h>

#include "gdb_reply.h"

/* The architecture, hex-encoded in qHostInfo as lldb wants its triple. */
static const char ARCH[] = "x86_64";

static void reply(struct gdb_session *s, const char *str)
{
    gdb_reply_reset(s);
    gdb_reply_str(s, str);
    gdb_reply_send(s);
}

bool gdb_lldb_dispatch(struct gdb_session *s, const char *buf, size_t len)
{
    if (len >= 10 && !strncmp(buf, "qSupported", 10)) {
        s->lldb = false;        /* a new client: gdb until it says otherwise */
        return false;
    }
    if (!strcmp(buf, "qHostInfo")) {
        s->lldb = true;
        gdb_reply_reset(s);
        gdb_reply_str(s, "triple:");
        gdb_reply_hex(s, (const uint8_t *)ARCH, strlen(ARCH));
        gdb_reply_str(s, ";endian:little;ptrsize:8;");
        gdb_reply_send(s);
        return true;
    }
    if (!strcmp(buf, "qOffsets") && s->lldb) {
        /* ukvm loads the kernel at its link addresses. gdb asks too, and
         * gets the empty reply as before: it needs no answer. */
        reply(s, "Text=0;Data=0;Bss=0");
        return true;
    }
    if (!strcmp(buf, "k") && s->lldb) {
        s->t->ops->kill(s->t);
        reply(s, "X09");        /* killed by SIGKILL, as lldb-server says */
        gdb_session_set_end(s, GDB_END_KILLED);
        return true;
    }
    return false;
}

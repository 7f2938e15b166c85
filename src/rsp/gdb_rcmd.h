/* gdb's `monitor CMD` and `run` (gdb_rcmd.c). */
#ifndef UKVM_GDB_RCMD_H
#define UKVM_GDB_RCMD_H

struct gdb_session;

/* qRcmd,HEX and vRun: args follow "qRcmd," / "vRun". */
void gdb_rcmd_handle(struct gdb_session *s, const char *hex);
void gdb_vrun_handle(struct gdb_session *s, const char *args);

#endif

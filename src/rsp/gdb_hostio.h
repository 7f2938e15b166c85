/* Host I/O: the kernel image served to gdb (gdb_hostio.c). */
#ifndef UKVM_GDB_HOSTIO_H
#define UKVM_GDB_HOSTIO_H

#include <stddef.h>

struct gdb_session;

/* vFile:... : args is what follows "vFile:". Builds the reply. */
void gdb_hostio_handle(struct gdb_session *s, char *args, size_t len);

#endif

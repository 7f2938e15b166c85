/* The register and memory packets (gdb_regmem.c): each handler gets what
 * follows the packet's letter (X: the whole packet) and sends the reply. */
#ifndef UKVM_GDB_REGMEM_H
#define UKVM_GDB_REGMEM_H

#include <stddef.h>
#include <stdint.h>

#include "gdb_reply.h"

void gdb_handle_g(struct gdb_session *s);
void gdb_handle_G(struct gdb_session *s, const char *hex, size_t len);
void gdb_handle_p(struct gdb_session *s, const char *args);
void gdb_handle_P(struct gdb_session *s, const char *args);
void gdb_handle_m(struct gdb_session *s, const char *args);
void gdb_handle_M(struct gdb_session *s, const char *args);
void gdb_handle_X(struct gdb_session *s, uint8_t *buf, size_t buflen);

#endif

/* The amd64 target description (XML) the server hands to gdb. */
#ifndef UKVM_GDB_TDESC_H
#define UKVM_GDB_TDESC_H

#include <stddef.h>

extern const char gdb_target_xml[];
extern const size_t gdb_target_xml_len;

#endif

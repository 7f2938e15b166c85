/* Where ukvm's gdb extension (tools/gdb/ukvm.py) is, and how to load it. */
#ifndef UKVM_GDB_EXTENSION_H
#define UKVM_GDB_EXTENSION_H

/* The extension's absolute path: $UKVM_GDB_EXTENSION when set, else next to
 * the ukvm binary in a source tree (tools/gdb/ukvm.py), else where `make
 * install` puts it (BINDIR/../share/ukvm/gdb/ukvm.py). NULL when none of
 * these exists. The string is static. */
const char *gdb_extension_path(void);

#endif

/*
 * The recorded kernel as a file of gdb's own, for `ukvm debug`. gdb could
 * read it from the replay (vFile), but before each `run` it checks with
 * stat() that its symbol file still exists, which a file only on the
 * target fails: every restart would print "`target:...' has disappeared;
 * keeping its symbols". So gdb gets a local copy, in a private directory
 * under $TMPDIR (or /tmp), removed when the session ends.
 */
#ifndef UKVM_KERNEL_FILE_H
#define UKVM_KERNEL_FILE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct kernel_file {
    char dir[PATH_MAX - 16];
    char path[PATH_MAX];        /* empty: none was written */
};

/* Writes the image to DIR/kernel.elf, read-only. 0, or -1 with a message
 * (kf then holds nothing to remove). */
int kernel_file_write(struct kernel_file *kf, const uint8_t *image, size_t len,
        char *err, size_t errlen);

/* Removes the file and its directory; nothing when none was written. */
void kernel_file_remove(struct kernel_file *kf);

#endif

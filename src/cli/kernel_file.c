/* The kernel's local copy for gdb (kernel_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/kernel_file.h"

/* gdb's `file` splits its argument at spaces and takes quotes and
 * backslashes as its own: a directory it would misread is not used. */
static bool plain_path(const char *p)
{
    return *p == '/' && strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789/._-+") == strlen(p);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int kernel_file_write(struct kernel_file *kf, const uint8_t *image, size_t len,
        char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !plain_path(tmp) || strlen(tmp) > sizeof(kf->dir) - 64)
        tmp = "/tmp";
    snprintf(kf->dir, sizeof(kf->dir), "%s/ukvm-debug.XXXXXX", tmp);
    kf->path[0] = 0;
    if (!mkdtemp(kf->dir)) {
        snprintf(err, errlen, "cannot make a directory in %s: %s", tmp, strerror(errno));
        kf->dir[0] = 0;
        return -1;
    }
    snprintf(kf->path, sizeof(kf->path), "%s/kernel.elf", kf->dir);
    int fd = open(kf->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
    int r = fd < 0 ? -1 : write_all(fd, image, len);
    if (fd >= 0 && close(fd) < 0)
        r = -1;
    if (r < 0) {
        snprintf(err, errlen, "cannot write %s: %s", kf->path, strerror(errno));
        kernel_file_remove(kf);
    }
    return r;
}

void kernel_file_remove(struct kernel_file *kf)
{
    if (!kf->dir[0])
        return;
    if (kf->path[0])
        unlink(kf->path);
    rmdir(kf->dir);
    kf->dir[0] = kf->path[0] = 0;
}

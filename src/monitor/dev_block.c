/* The block device back end: a regular file, accessed with pread/pwrite. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor/devices.h"

int block_open(struct device *d, char *err, size_t errlen)
{
    d->fd = open(d->path, O_RDWR | O_CLOEXEC);
    if (d->fd < 0) {
        snprintf(err, errlen, "block device '%s': cannot open %s: %s", d->name, d->path,
                strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(d->fd, &st) < 0) {
        snprintf(err, errlen, "block device '%s': %s: %s", d->name, d->path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        snprintf(err, errlen, "block device '%s': %s is not a regular file", d->name, d->path);
        return -1;
    }
    off_t size = S_ISREG(st.st_mode) ? st.st_size : lseek(d->fd, 0, SEEK_END);
    if (size < 0) {
        snprintf(err, errlen, "block device '%s': cannot size %s", d->name, d->path);
        return -1;
    }
    if (size == 0 || (uint64_t)size % d->block_size != 0) {
        snprintf(err, errlen,
                "block device '%s': size of %s (%lld bytes) is not a non-zero multiple of the block size %u",
                d->name, d->path, (long long)size, d->block_size);
        return -1;
    }
    d->capacity = (uint64_t)size;
    return 0;
}

int block_pread(struct device *d, uint64_t off, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(d->fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

int block_pwrite(struct device *d, uint64_t off, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(d->fd, (const char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

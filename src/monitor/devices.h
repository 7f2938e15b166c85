/* Block and network device back ends (the real world, not used in replay). */
#ifndef UKVM_DEVICES_H
#define UKVM_DEVICES_H

#include "monitor/monitor.h"

/* Open the block file and fill capacity; checks the size against the block
 * size. 0, or -1 with a message. */
int block_open(struct device *d, char *err, size_t errlen);
/* 0 on success, -1 on a host I/O error. */
int block_pread(struct device *d, uint64_t off, void *buf, size_t len);
int block_pwrite(struct device *d, uint64_t off, const void *buf, size_t len);

/* Open the tap interface d->path (non-blocking) and read its MTU into
 * d->mtu. 0, or -1 with a message. */
int net_open(struct device *d, char *err, size_t errlen);
/* Read one frame: bytes read, 0 when none is waiting, -1 on error. */
long net_read_frame(struct device *d, void *buf, size_t len);
/* Write one frame: 0 on success, -1 on error. */
int net_write_frame(struct device *d, const void *buf, size_t len);

#endif

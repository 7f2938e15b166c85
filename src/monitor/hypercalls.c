/*
 * The guest-facing side of the eight hvt hypercalls, written once for all
 * modes: check the guest's arguments, build a struct ukvm_io, let the event
 * source service it, and write the results back into the guest's struct.
 *
 * A wild pointer or length is a guest error that stops the guest (exit
 * status 1, like Solo5's tender); a bad handle, offset or length for a
 * device is the guest's own problem and gets HVT_EINVAL.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "monitor/monitor.h"

static const char *const hypercall_names[HVT_HYPERCALL_MAX] = {
    [HVT_HYPERCALL_WALLTIME] = "walltime",
    [HVT_HYPERCALL_PUTS] = "puts",
    [HVT_HYPERCALL_POLL] = "poll",
    [HVT_HYPERCALL_BLOCK_WRITE] = "block_write",
    [HVT_HYPERCALL_BLOCK_READ] = "block_read",
    [HVT_HYPERCALL_NET_WRITE] = "net_write",
    [HVT_HYPERCALL_NET_READ] = "net_read",
    [HVT_HYPERCALL_HALT] = "halt",
};

static const size_t hypercall_struct_size[HVT_HYPERCALL_MAX] = {
    [HVT_HYPERCALL_WALLTIME] = sizeof(struct hvt_hc_walltime),
    [HVT_HYPERCALL_PUTS] = sizeof(struct hvt_hc_puts),
    [HVT_HYPERCALL_POLL] = sizeof(struct hvt_hc_poll),
    [HVT_HYPERCALL_BLOCK_WRITE] = sizeof(struct hvt_hc_block_write),
    [HVT_HYPERCALL_BLOCK_READ] = sizeof(struct hvt_hc_block_read),
    [HVT_HYPERCALL_NET_WRITE] = sizeof(struct hvt_hc_net_write),
    [HVT_HYPERCALL_NET_READ] = sizeof(struct hvt_hc_net_read),
    [HVT_HYPERCALL_HALT] = sizeof(struct hvt_hc_halt),
};

/* block_read and block_write, net_read and net_write, share their layouts. */
_Static_assert(offsetof(struct hvt_hc_block_read, ret) == offsetof(struct hvt_hc_block_write, ret) &&
        offsetof(struct hvt_hc_block_read, data) == offsetof(struct hvt_hc_block_write, data),
        "block structs differ");
_Static_assert(offsetof(struct hvt_hc_net_read, ret) == offsetof(struct hvt_hc_net_write, ret) &&
        offsetof(struct hvt_hc_net_read, data) == offsetof(struct hvt_hc_net_write, data) &&
        offsetof(struct hvt_hc_net_read, len) == offsetof(struct hvt_hc_net_write, len),
        "net structs differ");

static int guest_error(struct monitor *m, uint64_t rip, const char *what, unsigned nr,
        uint64_t addr, uint64_t len)
{
    ukvm_err("guest error: %s: %s 0x%llx (length 0x%llx) lies outside guest memory (rip 0x%llx)",
            hypercall_names[nr], what, (unsigned long long)addr, (unsigned long long)len,
            (unsigned long long)rip);
    monitor_guest_fault(m);
    return -1;
}

static struct device *device_for(struct monitor *m, uint64_t handle, uint32_t type)
{
    if (handle >= HVT_MFT_MAX_ENTRIES)
        return NULL;
    struct device *d = m->by_handle[handle];
    return d && d->type == type ? d : NULL;
}

/* Offset and length within the device's capacity, without overflow. */
static bool block_range_ok(const struct device *d, uint64_t off, uint64_t len)
{
    return off <= d->capacity && len <= d->capacity - off;
}

/* Point io at the guest's data buffer, which must lie in guest memory. */
static int io_buffer(struct monitor *m, struct ukvm_io *io, unsigned nr, uint64_t rip,
        uint64_t data, uint64_t len)
{
    if (!vm_range_ok(&m->vm, data, len))
        return guest_error(m, rip, "data at", nr, data, len);
    io->buf = m->vm.mem + data;
    io->buf_len = len;
    return 0;
}

/* The monitor wrote guest memory: checkpoints and watchpoints must know. */
static void guest_written(struct monitor *m, uint64_t gpa, uint64_t len)
{
    vm_mark_dirty(&m->vm, gpa, len);
    if (m->guest_written)
        m->guest_written(m, gpa, len);
}

static int service(struct monitor *m, struct ukvm_io *io)
{
    /* Output data only: the buffer of a read is hashed for nothing (and a
     * long one is refused unread by the recorder, untouched). */
    if (io->buf && m->src->wants_digest) {
        switch (io->ev.kind) {
        case UKVM_EV_PUTS: io->ev.a[1] = ukvm_digest(io->buf, io->buf_len); break;
        case UKVM_EV_BLOCK_WRITE: io->ev.a[3] = ukvm_digest(io->buf, io->buf_len); break;
        case UKVM_EV_NET_WRITE: io->ev.a[2] = ukvm_digest(io->buf, io->buf_len); break;
        default: break;
        }
    }
    return m->src->ops->service(m->src, io, &m->exit_status);
}

int hypercall_service(struct monitor *m, unsigned port, uint64_t gpa, uint64_t rip)
{
    if (port <= HVT_HYPERCALL_PIO_BASE || port >= HVT_HYPERCALL_PIO_BASE + HVT_HYPERCALL_MAX) {
        ukvm_err("guest error: write to I/O port 0x%x is not a hypercall (rip 0x%llx)", port,
                (unsigned long long)rip);
        monitor_guest_fault(m);
        return -1;
    }
    unsigned nr = port - HVT_HYPERCALL_PIO_BASE;
    size_t size = hypercall_struct_size[nr];
    if (!vm_range_ok(&m->vm, gpa, size))
        return guest_error(m, rip, "argument struct at", nr, gpa, size);
    uint8_t *arg = m->vm.mem + gpa;

    struct ukvm_io io;
    memset(&io, 0, sizeof(io));
    io.ev.rip = rip;

    switch (nr) {
    case HVT_HYPERCALL_WALLTIME: {
        struct hvt_hc_walltime t;
        io.ev.kind = UKVM_EV_WALLTIME;
        if (service(m, &io) < 0)
            return -1;
        t.nsecs = io.ev.a[0];
        memcpy(arg, &t, sizeof(t));
        guest_written(m, gpa, sizeof(t));
        return 0;
    }
    case HVT_HYPERCALL_PUTS: {
        struct hvt_hc_puts t;
        memcpy(&t, arg, sizeof(t));
        if (io_buffer(m, &io, nr, rip, t.data, t.len) < 0)
            return -1;
        io.ev.kind = UKVM_EV_PUTS;
        io.ev.a[0] = t.len;
        return service(m, &io);
    }
    case HVT_HYPERCALL_POLL: {
        struct hvt_hc_poll t;
        memcpy(&t, arg, sizeof(t));
        io.ev.kind = UKVM_EV_POLL;
        io.ev.a[0] = t.timeout_nsecs;
        if (service(m, &io) < 0)
            return -1;
        t.ready_set = io.ev.a[1];
        t.ret = (int32_t)io.ev.a[2];
        memcpy(arg, &t, sizeof(t));
        guest_written(m, gpa, sizeof(t));
        return 0;
    }
    case HVT_HYPERCALL_BLOCK_WRITE:
    case HVT_HYPERCALL_BLOCK_READ: {
        struct hvt_hc_block_write t; /* same layout as block_read */
        memcpy(&t, arg, sizeof(t));
        struct device *d = device_for(m, t.handle, HVT_MFT_DEV_BLOCK_BASIC);
        bool write = nr == HVT_HYPERCALL_BLOCK_WRITE;
        if (!d || !block_range_ok(d, t.offset, t.len)) {
            t.ret = HVT_EINVAL;
        } else {
            if (io_buffer(m, &io, nr, rip, t.data, t.len) < 0)
                return -1;
            io.ev.kind = write ? UKVM_EV_BLOCK_WRITE : UKVM_EV_BLOCK_READ;
            io.ev.a[0] = t.handle;
            io.ev.a[1] = t.offset;
            io.ev.a[2] = t.len;
            if (service(m, &io) < 0)
                return -1;
            t.ret = (int32_t)(write ? io.ev.a[4] : io.ev.a[3]);
            if (!write && t.ret == HVT_OK)
                guest_written(m, t.data, t.len);
        }
        memcpy(arg, &t, sizeof(t));
        guest_written(m, gpa, sizeof(t));
        return 0;
    }
    case HVT_HYPERCALL_NET_WRITE:
    case HVT_HYPERCALL_NET_READ: {
        struct hvt_hc_net_read t; /* same layout as net_write */
        memcpy(&t, arg, sizeof(t));
        struct device *d = device_for(m, t.handle, HVT_MFT_DEV_NET_BASIC);
        bool write = nr == HVT_HYPERCALL_NET_WRITE;
        uint64_t max_frame = d ? (uint64_t)d->mtu + UKVM_ETH_HLEN : 0;
        if (!d) {
            t.ret = HVT_EINVAL;
        } else if (write && t.len > max_frame) {
            /* Refused before the world sees it (so replay refuses it alike,
             * with the recorded MTU): the guest gets EINVAL and runs on. */
            if (!d->oversize_told)
                ukvm_err("net_write of %llu bytes on '%s' refused (EINVAL): the frame limit "
                        "is %llu (MTU %u + 14)", (unsigned long long)t.len, d->name,
                        (unsigned long long)max_frame, d->mtu);
            d->oversize_told = true;
            t.ret = HVT_EINVAL;
        } else {
            /* A read gives at most one frame: the buffer beyond that is
             * not the world's to fill. */
            if (!write && t.len > max_frame)
                t.len = max_frame;
            if (io_buffer(m, &io, nr, rip, t.data, t.len) < 0)
                return -1;
            io.ev.kind = write ? UKVM_EV_NET_WRITE : UKVM_EV_NET_READ;
            io.ev.a[0] = t.handle;
            io.ev.a[1] = t.len;
            if (service(m, &io) < 0)
                return -1;
            t.ret = (int32_t)(write ? io.ev.a[3] : io.ev.a[2]);
            if (!write && t.ret == HVT_OK) {
                t.len = io.ev.a[3];
                guest_written(m, t.data, t.len);
            }
        }
        memcpy(arg, &t, sizeof(t));
        guest_written(m, gpa, sizeof(t));
        return 0;
    }
    case HVT_HYPERCALL_HALT: {
        struct hvt_hc_halt t;
        memcpy(&t, arg, sizeof(t));
        io.ev.kind = UKVM_EV_HALT;
        io.ev.a[0] = (uint32_t)t.exit_status;
        io.ev.a[1] = t.cookie;
        if (service(m, &io) < 0)
            return -1;
        m->halted = true;
        m->exit_status = t.exit_status & 0xff;
        m->halt_rip = rip;
        m->halt_cookie = t.cookie;
        return 1;
    }
    }
    return -1; /* not reached: the port check above covers every number */
}

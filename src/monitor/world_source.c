/*
 * The real world as an event source: the host's clocks, the block files and
 * the tap devices. Used by `ukvm run`, and under the recorder by `ukvm record`.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "monitor/devices.h"

#define MSR_IA32_TSC     0x10
#define MSR_IA32_TSC_AUX 0xc0000103

struct world_source {
    struct ukvm_event_source base;
    struct monitor *m;
};

/* The guest's own TSC (host TSC plus KVM's offset and scaling). */
static uint64_t guest_msr(struct monitor *m, uint32_t index)
{
    /* struct kvm_msrs ends in a flexible array: give it room for one entry */
    union {
        struct kvm_msrs hdr;
        uint8_t room[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
    } msrs;
    memset(&msrs, 0, sizeof(msrs));
    msrs.hdr.nmsrs = 1;
    msrs.hdr.entries[0].index = index;
    if (ioctl(m->vm.vcpu_fd, KVM_GET_MSRS, &msrs) != 1)
        return 0;
    return msrs.hdr.entries[0].data;
}

static uint64_t walltime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void do_poll(struct monitor *m, struct ukvm_io *io)
{
    struct pollfd fds[HVT_MFT_MAX_ENTRIES];
    uint32_t idx[HVT_MFT_MAX_ENTRIES];
    nfds_t n = 0;
    for (uint32_t h = 0; h < HVT_MFT_MAX_ENTRIES; h++) {
        struct device *d = m->by_handle[h];
        if (d && d->type == HVT_MFT_DEV_NET_BASIC && d->fd >= 0) {
            fds[n].fd = d->fd;
            fds[n].events = POLLIN;
            idx[n++] = h;
        }
    }
    uint64_t t = io->ev.a[0];
    struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ULL), .tv_nsec = (long)(t % 1000000000ULL) };
    int r = ppoll(n ? fds : NULL, n, &ts, NULL);
    uint64_t ready = 0;
    int count = 0;
    if (r > 0) {
        for (nfds_t i = 0; i < n; i++)
            if (fds[i].revents & POLLIN) {
                ready |= 1ULL << idx[i];
                count++;
            }
    }
    io->ev.a[1] = ready;
    io->ev.a[2] = (uint64_t)count;
}

static int world_service(struct ukvm_event_source *src, struct ukvm_io *io, int *exit_status)
{
    (void)exit_status;
    struct monitor *m = ((struct world_source *)src)->m;
    struct ukvm_event *ev = &io->ev;
    switch (ev->kind) {
    case UKVM_EV_WALLTIME:
        ev->a[0] = walltime_ns();
        break;
    case UKVM_EV_PUTS:
        ukvm_write_all(STDOUT_FILENO, io->buf, io->buf_len);
        break;
    case UKVM_EV_POLL:
        do_poll(m, io);
        break;
    case UKVM_EV_BLOCK_WRITE:
        ev->a[4] = block_pwrite(m->by_handle[ev->a[0]], ev->a[1], io->buf, io->buf_len) == 0
            ? HVT_OK : HVT_EUNSPEC;
        break;
    case UKVM_EV_BLOCK_READ:
        ev->a[3] = block_pread(m->by_handle[ev->a[0]], ev->a[1], io->buf, io->buf_len) == 0
            ? HVT_OK : HVT_EUNSPEC;
        break;
    case UKVM_EV_NET_WRITE:
        ev->a[3] = net_write_frame(m->by_handle[ev->a[0]], io->buf, io->buf_len) == 0
            ? HVT_OK : HVT_EUNSPEC;
        break;
    case UKVM_EV_NET_READ: {
        long n = net_read_frame(m->by_handle[ev->a[0]], io->buf, io->buf_len);
        ev->a[2] = n > 0 ? HVT_OK : n == 0 ? HVT_AGAIN : HVT_EUNSPEC;
        ev->a[3] = n > 0 ? (uint64_t)n : 0;
        break;
    }
    case UKVM_EV_HALT:
        break;
    case UKVM_EV_RDTSC:
    case UKVM_EV_RDMSR_TSC:
        ev->a[0] = guest_msr(m, MSR_IA32_TSC);
        break;
    case UKVM_EV_RDTSCP:
        ev->a[0] = guest_msr(m, MSR_IA32_TSC);
        ev->a[1] = (uint32_t)guest_msr(m, MSR_IA32_TSC_AUX);
        break;
    case UKVM_EV_RDRAND:
    case UKVM_EV_RDSEED: {
        uint64_t v = 0;
        bool ok = getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v);
        /* The value as wide as the operand (a1): what the guest receives,
         * and what replay accepts (record/event_outputs.c). */
        if (ev->a[1] < 64)
            v &= (1ULL << ev->a[1]) - 1;
        ev->a[0] = ok ? v : 0;
        ev->a[2] = ok;
        break;
    }
    }
    return 0;
}

static const struct ukvm_event_source_ops world_ops = { .service = world_service };

struct ukvm_event_source *world_source_create(struct monitor *m)
{
    struct world_source *w = calloc(1, sizeof(*w));
    if (!w)
        ukvm_die("out of memory");
    w->base.ops = &world_ops;
    w->base.wants_digest = false;
    w->m = m;
    return &w->base;
}

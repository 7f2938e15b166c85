/* The event source of a diversion (diversion_source.h). */
#include <string.h>

#include "monitor/monitor.h"
#include "record/diversion_source.h"

/* A TSC read moves the clock on by this many ticks at least. */
#define TSC_TICK 1

void diversion_mark_write(int fd, bool *mid_line, const uint8_t *p, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (!*mid_line) {
            ukvm_write_all(fd, p + start, i - start);
            ukvm_write_all(fd, DIVERSION_MARK, sizeof(DIVERSION_MARK) - 1);
            start = i;
            *mid_line = true;
        }
        if (p[i] == '\n')
            *mid_line = false;
    }
    ukvm_write_all(fd, p + start, n - start);
}

static uint64_t tsc_now(struct diversion_source *d)
{
    d->tsc_reads++;
    /* slept_ns * tsc_hz / 1e9 without overflow for any realistic sleep */
    uint64_t slept = d->tsc_hz ? (uint64_t)((unsigned __int128)d->slept_ns * d->tsc_hz /
            1000000000u) : d->slept_ns;
    return d->tsc + slept + d->tsc_reads * TSC_TICK;
}

static int diversion_service(struct ukvm_event_source *src, struct ukvm_io *io,
        int *exit_status)
{
    struct diversion_source *d = (struct diversion_source *)src;
    struct ukvm_event *ev = &io->ev;
    d->served++;
    switch (ev->kind) {
    case UKVM_EV_WALLTIME:
        ev->a[0] = d->wall_ns + d->slept_ns;
        break;
    case UKVM_EV_PUTS:
        diversion_mark_write(d->out_fd, &d->mid_line, io->buf, io->buf_len);
        break;
    case UKVM_EV_POLL:
        d->slept_ns += ev->a[0];
        ev->a[1] = 0;
        ev->a[2] = 0;
        break;
    case UKVM_EV_BLOCK_WRITE:
        ev->a[4] = HVT_EUNSPEC;
        break;
    case UKVM_EV_BLOCK_READ:
    case UKVM_EV_NET_WRITE:
        ev->a[3] = HVT_EUNSPEC;
        break;
    case UKVM_EV_NET_READ:
        ev->a[2] = HVT_EUNSPEC;
        ev->a[3] = 0;
        break;
    case UKVM_EV_RDTSC:
    case UKVM_EV_RDMSR_TSC:
        ev->a[0] = tsc_now(d);
        break;
    case UKVM_EV_RDTSCP:
        ev->a[0] = tsc_now(d);
        ev->a[1] = 0;
        break;
    case UKVM_EV_RDRAND:
    case UKVM_EV_RDSEED:
        ev->a[0] = 0;
        ev->a[2] = 0;
        break;
    case UKVM_EV_HALT:
    default:
        /* the diverted run ends here; the guest stays as it is */
        d->halted = true;
        d->halt_rip = ev->rip;
        d->halt_status = (int)(uint32_t)ev->a[0];
        *exit_status = 0;
        return -1;
    }
    return 0;
}

static const struct ukvm_event_source_ops diversion_ops = { .service = diversion_service };

void diversion_source_init(struct diversion_source *d, int out_fd, uint64_t wall_ns,
        uint64_t tsc, uint64_t tsc_hz)
{
    memset(d, 0, sizeof(*d));
    d->base.ops = &diversion_ops;
    d->base.wants_digest = false;
    d->out_fd = out_fd;
    d->wall_ns = wall_ns;
    d->tsc = tsc;
    d->tsc_hz = tsc_hz;
}

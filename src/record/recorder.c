/*
 * The recorder: an event source that asks the real world and appends every
 * result to the trace. Output data (puts, block and net writes) is logged as
 * a digest, and console text also whole; input data (block and net reads) is
 * logged whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "record/recorder.h"
#include "record/trace_codec.h"

/* An event lives in one frame, with its own record header and the frame's
 * (128 bytes at most) and the writer's padding room (trace_codec.h). */
_Static_assert(RECORDER_MAX_READ <= TRACE_MAX_FRAME_CONTENT - TRACE_PAD_ROOM - 128 &&
        RECORDER_MAX_READ + 4096 > TRACE_MAX_FRAME_CONTENT - TRACE_PAD_ROOM - 128,
        "RECORDER_MAX_READ follows the trace's largest event data");
_Static_assert(RECORDER_MAX_READ < UINT32_MAX, "event data length is a u32");

struct recorder {
    struct ukvm_event_source base;
    struct ukvm_event_source *world;
    struct ukvm_trace_writer *w;
    bool failed;                /* a write failed: already reported */
};

static int recorder_service(struct ukvm_event_source *src, struct ukvm_io *io, int *exit_status)
{
    struct recorder *r = (struct recorder *)src;
    /* Refuse what cannot be recorded before the world is touched: a read
     * the trace cannot hold must not happen unrecorded. The hvt ABI has no
     * such limit (`ukvm run` serves it), so the guest gets no error code
     * that a run would not give it: the recording stops here. */
    if (io->ev.kind == UKVM_EV_BLOCK_READ && io->buf_len > RECORDER_MAX_READ) {
        ukvm_err("recording stopped: block_read of %zu bytes at rip 0x%llx is longer than "
                "one trace event can hold (%llu bytes); nothing was read",
                io->buf_len, (unsigned long long)io->ev.rip,
                (unsigned long long)RECORDER_MAX_READ);
        *exit_status = UKVM_EXIT_MONITOR_ERROR;
        return -1;
    }
    if (r->world->ops->service(r->world, io, exit_status) < 0)
        return -1;
    struct ukvm_event ev = io->ev;
    ev.data = NULL;
    ev.data_len = 0;
    if (ev.kind == UKVM_EV_BLOCK_READ && ev.a[3] == HVT_OK) {
        ev.data = io->buf;
        ev.data_len = (uint32_t)io->buf_len; /* <= RECORDER_MAX_READ, checked above */
    } else if (ev.kind == UKVM_EV_NET_READ && ev.a[2] == HVT_OK) {
        ev.data = io->buf;
        ev.data_len = (uint32_t)ev.a[3];
    }
    /* Console text, for `ukvm-trace dump/grep` (long writes: digest only). */
    ev.text = NULL;
    ev.text_len = 0;
    if (ev.kind == UKVM_EV_PUTS && io->buf_len && io->buf_len <= UKVM_TRACE_MAX_TEXT &&
            io->buf_len == ev.a[0]) {
        ev.text = io->buf;
        ev.text_len = (uint32_t)io->buf_len;
    }
    char err[256];
    if (ukvm_trace_writer_event(r->w, &ev, err, sizeof(err)) < 0) {
        ukvm_err("recording stopped: %s", err);
        r->failed = true;
        *exit_status = UKVM_EXIT_MONITOR_ERROR;
        return -1;
    }
    return 0;
}

static const struct ukvm_event_source_ops recorder_ops = { .service = recorder_service };

struct ukvm_event_source *recorder_create(struct ukvm_event_source *world,
        struct ukvm_trace_writer *w)
{
    struct recorder *r = calloc(1, sizeof(*r));
    if (!r)
        ukvm_die("out of memory");
    r->base.ops = &recorder_ops;
    r->base.wants_digest = true;
    r->world = world;
    r->w = w;
    return &r->base;
}

bool recorder_failed(const struct ukvm_event_source *src)
{
    return ((const struct recorder *)src)->failed;
}

int recorder_header(const struct monitor *m, struct ukvm_trace_header *h,
        char *err, size_t errlen)
{
    memset(h, 0, sizeof(*h));
    h->format_version = UKVM_TRACE_FORMAT_VERSION;
    snprintf(h->ukvm_version, sizeof(h->ukvm_version), "%s", UKVM_VERSION);
    h->kernel = m->kernel.file;
    h->kernel_len = m->kernel.file_len;
    h->cmdline = m->cfg->cmdline;
    h->mem_size = m->vm.mem_size;
    h->tsc_hz = m->vm.tsc_hz;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h->start_walltime_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;

    struct ukvm_trace_device *devs = calloc(m->cfg->n_devices + 1, sizeof(*devs));
    struct ukvm_trace_cpuid *cpuid = calloc(m->vm.cpuid->nent + 1, sizeof(*cpuid));
    struct ukvm_trace_patch *patches = calloc(m->n_patches + 1, sizeof(*patches));
    if (!devs || !cpuid || !patches) {
        free(devs);
        free(cpuid);
        free(patches);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < m->cfg->n_devices; i++) {
        const struct device *d = &m->cfg->devices[i];
        snprintf(devs[i].name, sizeof(devs[i].name), "%s", d->name);
        devs[i].type = d->type;
        devs[i].mft_index = d->mft_index;
        devs[i].capacity = d->capacity;
        devs[i].block_size = d->block_size;
        memcpy(devs[i].mac, d->mac, 6);
        devs[i].mtu = d->mtu;
    }
    for (uint32_t i = 0; i < m->vm.cpuid->nent; i++) {
        const struct kvm_cpuid_entry2 *e = &m->vm.cpuid->entries[i];
        cpuid[i] = (struct ukvm_trace_cpuid){ e->function, e->index, e->flags,
            e->eax, e->ebx, e->ecx, e->edx };
    }
    for (size_t i = 0; i < m->n_patches; i++) {
        patches[i].addr = m->patches[i].site.addr;
        patches[i].len = m->patches[i].site.len;
        patches[i].kind = m->patches[i].site.kind;
        memcpy(patches[i].orig, m->patches[i].orig, m->patches[i].site.len);
    }
    h->n_devices = (uint32_t)m->cfg->n_devices;
    h->devices = devs;
    h->n_cpuid = m->vm.cpuid->nent;
    h->cpuid = cpuid;
    h->n_patches = (uint32_t)m->n_patches;
    h->patches = patches;
    return 0;
}

void recorder_header_free(struct ukvm_trace_header *h)
{
    free((void *)h->devices);
    free((void *)h->cpuid);
    free((void *)h->patches);
    h->devices = NULL;
    h->cpuid = NULL;
    h->patches = NULL;
}

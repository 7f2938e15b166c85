/*
 * The replayer: an event source fed by the trace. Every event the guest asks
 * for must match the next recorded one (kind, rip, inputs); otherwise the
 * replay stops with a divergence report.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record/console_lines.h"
#include "record/event_outputs.h"
#include "record/replayer.h"

struct replayer {
    struct ukvm_event_source base;
    struct ukvm_trace_reader *r;
    bool at_end;
    uint64_t end_rip;           /* rip of the event that found the end */
    bool hold_halt;             /* stop before the final halt (debugging) */
    bool halt_released;         /* ...once: the next attempt goes through */
    uint64_t printed;           /* events below this one have been shown */
    uint32_t last_kind;         /* kind of the last event read */
    bool mark_output, mid_line; /* --mark-output, and whether a line is open */
    uint64_t stop_before;       /* replayer_watch */
    void (*watch_fn)(void *ctx, uint64_t number);
    void *watch_ctx;
    void (*debugger_fn)(void *ctx, char *buf, size_t len);
    void *debugger_ctx;
    int (*event_fn)(void *ctx, uint64_t number, const struct ukvm_io *io);
    void *event_ctx;
};

static void describe(char *buf, size_t len, const struct ukvm_event *ev)
{
    int n = snprintf(buf, len, "%s at rip 0x%" PRIx64, ukvm_event_kind_name(ev->kind), ev->rip);
    unsigned mask = ukvm_event_input_mask(ev->kind);
    for (int i = 0; i < UKVM_EVENT_NARGS && n > 0 && (size_t)n < len; i++)
        if (mask & (1u << i))
            n += snprintf(buf + n, len - (size_t)n, " a%d=0x%" PRIx64, i, ev->a[i]);
}

static int diverged(const struct replayer *rp, uint64_t number, const struct ukvm_event *want,
        const struct ukvm_event *got, int *exit_status)
{
    char w[256], g[256], why[320] = "";
    describe(w, sizeof(w), want);
    describe(g, sizeof(g), got);
    /* The same call with other inputs: the guest computed something else
     * than when it was recorded, e.g. from an rdtsc ukvm could not patch.
     * Under a debugger the debugger itself is as likely a cause (a trap
     * flag or a breakpoint byte the guest saw): say what it was doing. */
    bool same_call = want->kind == got->kind && want->rip == got->rip;
    if (rp->debugger_fn) {
        char state[200];
        rp->debugger_fn(rp->debugger_ctx, state, sizeof(state));
        snprintf(why, sizeof(why), " (under the debugger, %s: the debugger may have changed "
                "what the guest saw, which would be a ukvm bug; please report it)", state);
    } else if (same_call) {
        snprintf(why, sizeof(why), " (the guest's data differs from the recording's: a "
                "non-deterministic instruction ukvm does not intercept? see README)");
    }
    ukvm_err("replay diverged at event %" PRIu64 ": expected %s, got %s%s", number, w, g, why);
    *exit_status = UKVM_EXIT_DIVERGENCE;
    return -1;
}

void replayer_describe_debugger(struct ukvm_event_source *src,
        void (*fn)(void *ctx, char *buf, size_t len), void *ctx)
{
    struct replayer *rp = (struct replayer *)src;
    rp->debugger_fn = fn;
    rp->debugger_ctx = ctx;
}

static int replayer_service(struct ukvm_event_source *src, struct ukvm_io *io, int *exit_status)
{
    struct replayer *rp = (struct replayer *)src;
    uint64_t number = ukvm_trace_reader_event_number(rp->r);
    if (rp->watch_fn)
        rp->watch_fn(rp->watch_ctx, number);
    if (number == rp->stop_before) { /* a goto's destination: as the end */
        rp->at_end = true;
        rp->end_rip = io->ev.rip;
        *exit_status = 0;
        return -1;
    }
    struct ukvm_trace_pos before;
    ukvm_trace_reader_tell(rp->r, &before);
    struct ukvm_event rec;
    char err[256];
    int r = ukvm_trace_reader_next(rp->r, &rec, err, sizeof(err));
    if (r < 0) {
        ukvm_err("replay stopped: corrupt trace: %s", err);
        *exit_status = UKVM_EXIT_MONITOR_ERROR;
        return -1;
    }
    if (r == 0) {
        struct ukvm_trace_end end;
        ukvm_trace_reader_end(rp->r, &end);
        char g[256];
        describe(g, sizeof(g), &io->ev);
        if (end.complete && rp->last_kind == UKVM_EV_HALT) {
            ukvm_err("replay diverged at event %" PRIu64 ": the trace has ended, got %s",
                    number, g);
            *exit_status = UKVM_EXIT_DIVERGENCE;
        } else if (end.complete) {
            /* The recorder stopped the guest here (a signal, a monitor error):
             * end the replay the same way. */
            ukvm_err("replay reached the end of the recording, which was stopped by the "
                    "monitor with status %d; next would be %s", end.exit_status, g);
            rp->at_end = true;
            rp->end_rip = io->ev.rip;
            *exit_status = end.exit_status;
        } else {
            ukvm_err("replay reached the end of the trace after event %" PRIu64
                    " (the recording was cut short at byte %" PRIu64 "); next would be %s",
                    end.events ? end.events - 1 : 0, end.valid_bytes, g);
            rp->at_end = true;
            rp->end_rip = io->ev.rip;
            *exit_status = 0;
        }
        return -1;
    }
    rp->last_kind = rec.kind;
    struct ukvm_event *ev = &io->ev;
    if (rec.kind == UKVM_EV_HALT && ev->kind == UKVM_EV_HALT && rp->hold_halt &&
        !rp->halt_released) {
        /* Under a debugger, the end of the trace is a place to stop and look
         * back from: give the event back and report the end. */
        ukvm_trace_reader_seek(rp->r, &before);
        fprintf(stderr, "ukvm: replay: the guest is about to halt (end of the trace); "
                "continue again to let it exit\n");
        rp->halt_released = true;
        rp->at_end = true;
        rp->end_rip = ev->rip;
        *exit_status = 0;
        return -1;
    }
    if (rec.kind != ev->kind || rec.rip != ev->rip)
        return diverged(rp, number, &rec, ev, exit_status);
    unsigned mask = ukvm_event_input_mask(ev->kind);
    for (int i = 0; i < UKVM_EVENT_NARGS; i++)
        if ((mask & (1u << i)) && rec.a[i] != ev->a[i])
            return diverged(rp, number, &rec, ev, exit_status);
    /* The trace is untrusted: its outputs must fit the guest's request
     * before any of them reaches the guest. */
    char why[200];
    if (!event_outputs_ok(&rec, io, ukvm_trace_reader_header(rp->r), why, sizeof(why))) {
        ukvm_err("trace event %" PRIu64 ": %s", number, why);
        *exit_status = UKVM_EXIT_MONITOR_ERROR;
        return -1;
    }
    for (int i = 0; i < UKVM_EVENT_NARGS; i++)
        if (!(mask & (1u << i)))
            ev->a[i] = rec.a[i];
    /* Checked above: data_len fits the buffer and is exactly what the
     * hypercall reports (and marks dirty) as read. */
    if (ukvm_event_has_output_data(ev->kind) && rec.data_len > 0)
        memcpy(io->buf, rec.data, rec.data_len);
    /* Console output is shown once: re-executions for reverse debugging
     * pass the same events again. */
    if (ev->kind == UKVM_EV_PUTS && number >= rp->printed) {
        if (rp->mark_output)
            console_mark_write(STDOUT_FILENO, &rp->mid_line, number, io->buf, io->buf_len);
        else
            ukvm_write_all(STDOUT_FILENO, io->buf, io->buf_len);
    }
    if (number >= rp->printed) {
        rp->printed = number + 1;
        if (rp->event_fn && rp->event_fn(rp->event_ctx, number, io) != 0) {
            *exit_status = UKVM_EXIT_MONITOR_ERROR;
            return -1;
        }
    }
    return 0;
}

static const struct ukvm_event_source_ops replayer_ops = { .service = replayer_service };

struct ukvm_event_source *replayer_create(struct ukvm_trace_reader *r)
{
    struct replayer *rp = calloc(1, sizeof(*rp));
    if (!rp)
        ukvm_die("out of memory");
    rp->base.ops = &replayer_ops;
    rp->base.wants_digest = true;
    rp->r = r;
    rp->stop_before = UINT64_MAX;
    return &rp->base;
}

void replayer_save(const struct ukvm_event_source *src, struct replayer_state *st)
{
    const struct replayer *rp = (const struct replayer *)src;
    ukvm_trace_reader_tell(rp->r, &st->pos);
    st->at_end = rp->at_end;
}

int replayer_restore(struct ukvm_event_source *src, const struct replayer_state *st)
{
    struct replayer *rp = (struct replayer *)src;
    rp->at_end = st->at_end;
    rp->halt_released = false;
    return ukvm_trace_reader_seek(rp->r, &st->pos);
}

uint64_t replayer_next_event(const struct ukvm_event_source *src)
{
    return ukvm_trace_reader_event_number(((const struct replayer *)src)->r);
}

uint64_t replayer_end_rip(const struct ukvm_event_source *src)
{
    return ((const struct replayer *)src)->end_rip;
}

void replayer_mark_output(struct ukvm_event_source *src)
{
    ((struct replayer *)src)->mark_output = true;
}

void replayer_hold_halt(struct ukvm_event_source *src)
{
    ((struct replayer *)src)->hold_halt = true;
}

void replayer_release_halt(struct ukvm_event_source *src)
{
    ((struct replayer *)src)->halt_released = true;
}

void replayer_watch(struct ukvm_event_source *src, uint64_t stop_before,
        void (*fn)(void *ctx, uint64_t number), void *ctx)
{
    struct replayer *rp = (struct replayer *)src;
    rp->stop_before = stop_before;
    rp->watch_fn = fn;
    rp->watch_ctx = ctx;
}

void replayer_on_event(struct ukvm_event_source *src,
        int (*fn)(void *ctx, uint64_t number, const struct ukvm_io *io), void *ctx)
{
    struct replayer *rp = (struct replayer *)src;
    rp->event_fn = fn;
    rp->event_ctx = ctx;
}

void replayer_clear_end(struct ukvm_event_source *src)
{
    ((struct replayer *)src)->at_end = false;
}

bool replayer_reached_end(const struct ukvm_event_source *src)
{
    return ((const struct replayer *)src)->at_end;
}

int replayer_config(struct config *cfg, const struct ukvm_trace_header *h,
        char *err, size_t errlen)
{
    if (h->mem_size < (2ULL << 20) || h->mem_size > (4096ULL << 20) || h->mem_size % (2ULL << 20)) {
        snprintf(err, errlen, "trace header: bad memory size %" PRIu64, h->mem_size);
        return -1;
    }
    cfg->mem_size = h->mem_size;
    if (strlen(h->cmdline) >= sizeof(cfg->cmdline)) {
        snprintf(err, errlen, "trace header: command line too long");
        return -1;
    }
    snprintf(cfg->cmdline, sizeof(cfg->cmdline), "%s", h->cmdline);
    if (h->n_devices > HVT_MFT_MAX_ENTRIES) {
        snprintf(err, errlen, "trace header: too many devices");
        return -1;
    }
    cfg->n_devices = h->n_devices;
    for (uint32_t i = 0; i < h->n_devices; i++) {
        const struct ukvm_trace_device *t = &h->devices[i];
        struct device *d = &cfg->devices[i];
        memset(d, 0, sizeof(*d));
        snprintf(d->name, sizeof(d->name), "%s", t->name);
        d->type = t->type;
        d->path = "(trace)";
        d->fd = -1;
        d->capacity = t->capacity;
        d->block_size = t->block_size;
        memcpy(d->mac, t->mac, 6);
        d->mac_given = true;
        d->mtu = t->mtu;
    }
    return 0;
}

int replayer_check_patches(const struct monitor *m, const struct ukvm_trace_header *h,
        char *err, size_t errlen)
{
    if (h->n_patches != m->n_patches) {
        snprintf(err, errlen, "the trace lists %u patched instructions, this ukvm finds %zu "
                "(trace made by another ukvm version?)", h->n_patches, m->n_patches);
        return -1;
    }
    for (size_t i = 0; i < m->n_patches; i++) {
        const struct ukvm_trace_patch *t = &h->patches[i];
        const struct patch_site *p = &m->patches[i];
        if (t->addr != p->site.addr || t->len != p->site.len || t->kind != p->site.kind ||
            memcmp(t->orig, p->orig, p->site.len) != 0) {
            snprintf(err, errlen, "patched instruction %zu differs from the trace's "
                    "(0x%" PRIx64 " in the trace, 0x%" PRIx64 " here)", i, t->addr, p->site.addr);
            return -1;
        }
    }
    return 0;
}

/*
 * Navigating a trace (trace_nav.h): any event by number through the
 * reader's frame index (trace_index.c, ukvm_trace_reader_goto), and the
 * guest's clock from samples of the read position and clock state every
 * SAMPLE_EVERY events, taken only as far as a question has needed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "record/trace_nav.h"

#define SAMPLE_EVERY 256

/* What the clock events before a sample's first event said. */
struct clock_state {
    bool have_wall, have_tsc, have_tsc_at_wall;
    uint64_t wall_ns, tsc_at_wall, tsc;
};

struct sample {
    struct ukvm_trace_pos pos;      /* before event i * SAMPLE_EVERY */
    struct clock_state clock;
};

struct trace_nav {
    struct ukvm_trace_reader *r;
    uint64_t count;
    bool ends_in_halt;
    /* Clock samples are taken lazily, as far as a clock question needs:
     * samples[i] is before event i * SAMPLE_EVERY; `scanned` is the event the
     * sampling pass has read up to, with `scan_clock` its clock there. */
    size_t n_samples, cap;
    struct sample *samples;
    uint64_t scanned;
    struct clock_state scan_clock;
};

static void clock_note(struct clock_state *c, const struct ukvm_event *ev)
{
    switch (ev->kind) {
    case UKVM_EV_WALLTIME:
        c->have_wall = true;
        c->wall_ns = ev->a[0];
        c->have_tsc_at_wall = c->have_tsc;
        c->tsc_at_wall = c->tsc;
        break;
    case UKVM_EV_RDTSC:
    case UKVM_EV_RDTSCP:
    case UKVM_EV_RDMSR_TSC:
        c->have_tsc = true;
        c->tsc = ev->a[0];
        break;
    default:
        break;
    }
}

/*
 * Opening costs no decoding: the event count comes from the frame index
 * (ukvm_trace_reader_summary), and only the last event is read, to know
 * whether the trace ends in the guest's halt.
 */
struct trace_nav *trace_nav_open(const char *path, char *err, size_t errlen)
{
    struct trace_nav *ti = calloc(1, sizeof(*ti));
    if (!ti) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ti->r = ukvm_trace_reader_open(path, err, errlen);
    if (!ti->r) {
        free(ti);
        return NULL;
    }
    struct ukvm_trace_summary sum;
    if (ukvm_trace_reader_summary(ti->r, &sum, err, errlen) < 0) {
        trace_nav_close(ti);
        return NULL;
    }
    ti->count = sum.end.events;
    if (ti->count > 0) {
        struct ukvm_event ev;
        if (trace_nav_read(ti, ti->count - 1, &ev, err, errlen) < 0) {
            trace_nav_close(ti);
            return NULL;
        }
        ti->ends_in_halt = ev.kind == UKVM_EV_HALT;
    }
    return ti;
}

void trace_nav_close(struct trace_nav *ti)
{
    if (!ti)
        return;
    if (ti->r)
        ukvm_trace_reader_close(ti->r);
    free(ti->samples);
    free(ti);
}

uint64_t trace_nav_count(const struct trace_nav *ti)
{
    return ti->count;
}

uint64_t trace_nav_end_event(const struct trace_nav *ti)
{
    return ti->ends_in_halt ? ti->count - 1 : ti->count;
}

const struct ukvm_trace_header *trace_nav_header(const struct trace_nav *ti)
{
    return ukvm_trace_reader_header(ti->r);
}

/* Reads the next event into the clock state; -1 with a message when the
 * trace is corrupt or ends before event `want`. */
static int read_noting(struct trace_nav *ti, struct clock_state *c, uint64_t want,
        char *err, size_t errlen)
{
    struct ukvm_event ev;
    int rc = ukvm_trace_reader_next(ti->r, &ev, err, errlen);
    if (rc <= 0) {
        if (rc == 0)
            snprintf(err, errlen, "trace index: the trace ends before event %llu",
                    (unsigned long long)want);
        return -1;
    }
    clock_note(c, &ev);
    return 0;
}

/* Extends the clock samples by reading on from the last one, up to event n. */
static int sample_up_to(struct trace_nav *ti, uint64_t n, char *err, size_t errlen)
{
    if (ti->n_samples > 0 && ti->scanned >= n)
        return 0;
    if (ti->n_samples == 0) {
        if (ukvm_trace_reader_goto(ti->r, 0, err, errlen) < 0)
            return -1;
    } else if (ukvm_trace_reader_event_number(ti->r) != ti->scanned &&
               ukvm_trace_reader_goto(ti->r, ti->scanned, err, errlen) < 0) {
        return -1;
    }
    while (ti->n_samples == 0 || ti->scanned < n) {
        if (ti->scanned % SAMPLE_EVERY == 0 &&
            ti->n_samples <= ti->scanned / SAMPLE_EVERY) {
            if (ti->n_samples == ti->cap) {
                size_t cap = ti->cap ? ti->cap * 2 : 64;
                struct sample *s = realloc(ti->samples, cap * sizeof(*s));
                if (!s) {
                    snprintf(err, errlen, "out of memory");
                    return -1;
                }
                ti->samples = s;
                ti->cap = cap;
            }
            struct sample *s = &ti->samples[ti->n_samples++];
            ukvm_trace_reader_tell(ti->r, &s->pos);
            s->clock = ti->scan_clock;
        }
        if (ti->scanned >= ti->count)
            break;
        if (read_noting(ti, &ti->scan_clock, n, err, errlen) < 0)
            return -1;
        ti->scanned++;
    }
    return 0;
}

/* The clock state before event n (n <= count). */
static int clock_before(struct trace_nav *ti, uint64_t n, struct clock_state *clock,
        char *err, size_t errlen)
{
    if (sample_up_to(ti, n, err, errlen) < 0)
        return -1;
    size_t i = (size_t)(n / SAMPLE_EVERY);
    if (i >= ti->n_samples)
        i = ti->n_samples - 1;
    const struct sample *s = &ti->samples[i];
    if (ukvm_trace_reader_seek(ti->r, &s->pos) < 0) {
        snprintf(err, errlen, "trace index: cannot seek to event %llu",
                (unsigned long long)n);
        return -1;
    }
    struct clock_state c = s->clock;
    while (ukvm_trace_reader_event_number(ti->r) < n) {
        if (read_noting(ti, &c, n, err, errlen) < 0)
            return -1;
    }
    *clock = c;
    return 0;
}

int trace_nav_read(struct trace_nav *ti, uint64_t n, struct ukvm_event *ev,
        char *err, size_t errlen)
{
    if (n >= ti->count) {
        snprintf(err, errlen, "no event %llu: the trace has %llu",
                (unsigned long long)n, (unsigned long long)ti->count);
        return -1;
    }
    if (ukvm_trace_reader_event_number(ti->r) != n &&
        ukvm_trace_reader_goto(ti->r, n, err, errlen) < 0)
        return -1;
    int rc = ukvm_trace_reader_next(ti->r, ev, err, errlen);
    if (rc == 0)
        snprintf(err, errlen, "trace index: event %llu is missing", (unsigned long long)n);
    return rc == 1 ? 0 : -1;
}

int trace_nav_clock(struct trace_nav *ti, uint64_t next, struct guest_clock *out,
        char *err, size_t errlen)
{
    struct clock_state c;
    if (next > ti->count)
        next = ti->count;
    if (clock_before(ti, next, &c, err, errlen) < 0)
        return -1;
    uint64_t hz = trace_nav_header(ti)->tsc_hz;
    out->have_wall = c.have_wall;
    out->wall_ns = c.wall_ns;
    /* TSC reads after the last walltime move the clock on */
    if (c.have_wall && c.have_tsc_at_wall && c.tsc > c.tsc_at_wall && hz > 0) {
        unsigned __int128 d = (unsigned __int128)(c.tsc - c.tsc_at_wall) * 1000000000u / hz;
        out->wall_ns += (uint64_t)d;
    }
    out->have_tsc = c.have_tsc;
    out->tsc = c.tsc;
    return 0;
}

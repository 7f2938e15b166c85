/*
 * The navigation index of a trace (trace_nav.h; not the frame index of trace_index.c): a read position and the
 * clock state every SAMPLE_EVERY events, so that any event or clock value
 * is at most that many events of reading away.
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
    size_t n_samples;
    struct sample *samples;
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
    struct clock_state clock = { 0 };
    size_t cap = 0;
    uint32_t last_kind = 0;
    for (;;) {
        uint64_t n = ukvm_trace_reader_event_number(ti->r);
        if (n % SAMPLE_EVERY == 0) {
            if (ti->n_samples == cap) {
                cap = cap ? cap * 2 : 64;
                struct sample *s = realloc(ti->samples, cap * sizeof(*s));
                if (!s) {
                    snprintf(err, errlen, "out of memory");
                    trace_nav_close(ti);
                    return NULL;
                }
                ti->samples = s;
            }
            struct sample *s = &ti->samples[ti->n_samples++];
            ukvm_trace_reader_tell(ti->r, &s->pos);
            s->clock = clock;
        }
        struct ukvm_event ev;
        int rc = ukvm_trace_reader_next(ti->r, &ev, err, errlen);
        if (rc < 0) {
            trace_nav_close(ti);
            return NULL;
        }
        if (rc == 0)
            break;
        clock_note(&clock, &ev);
        last_kind = ev.kind;
        ti->count = n + 1;
    }
    ti->ends_in_halt = ti->count > 0 && last_kind == UKVM_EV_HALT;
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

/* Put the reader before event n (n <= count); *clock gets the clock state
 * there when clock is not NULL. */
static int seek_to(struct trace_nav *ti, uint64_t n, struct clock_state *clock,
        char *err, size_t errlen)
{
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
        struct ukvm_event ev;
        int rc = ukvm_trace_reader_next(ti->r, &ev, err, errlen);
        if (rc <= 0) {
            if (rc == 0)
                snprintf(err, errlen, "trace index: the trace ends before event %llu",
                        (unsigned long long)n);
            return -1;
        }
        clock_note(&c, &ev);
    }
    if (clock)
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
    if (ukvm_trace_reader_event_number(ti->r) != n && seek_to(ti, n, NULL, err, errlen) < 0)
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
    if (seek_to(ti, next, &c, err, errlen) < 0)
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

/*
 * The fakes of fake_nav.h: a trace index over the fake program's events
 * and the replayer's halt release.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_nav.h"
#include "record/replayer.h"
#include "record/trace_nav.h"

struct trace_nav {
    uint64_t count;
    bool final_halt;
    const uint64_t *values;
    struct ukvm_trace_header header;
};

static struct {
    struct trace_nav trace;
    unsigned releases, opens;
} nav_fake;

void fake_nav_trace(const struct fake_program *p, bool final_halt)
{
    memset(&nav_fake, 0, sizeof(nav_fake));
    nav_fake.trace.count = p->n_events;
    nav_fake.trace.values = p->events;
    nav_fake.trace.final_halt = final_halt && p->n_events > 0;
    nav_fake.trace.header.tsc_hz = 1000000000;
}

unsigned fake_nav_halt_releases(void)
{
    return nav_fake.releases;
}

unsigned fake_nav_opens(void)
{
    return nav_fake.opens;
}

/* ---- the trace index ---- */

struct trace_nav *trace_nav_open(const char *path, char *err, size_t errlen)
{
    if (!strcmp(path, FAKE_NAV_MISSING)) {
        snprintf(err, errlen, "%s: no such file", path);
        return NULL;
    }
    nav_fake.opens++;
    return &nav_fake.trace;
}

void trace_nav_close(struct trace_nav *ti)
{
    (void)ti;
}

uint64_t trace_nav_count(const struct trace_nav *ti)
{
    return ti->count;
}

uint64_t trace_nav_end_event(const struct trace_nav *ti)
{
    return ti->final_halt ? ti->count - 1 : ti->count;
}

int trace_nav_read(struct trace_nav *ti, uint64_t n, struct ukvm_event *ev, char *err,
        size_t errlen)
{
    if (n >= ti->count) {
        snprintf(err, errlen, "no event %llu", (unsigned long long)n);
        return -1;
    }
    memset(ev, 0, sizeof(*ev));
    bool halt = ti->final_halt && n == ti->count - 1;
    ev->kind = halt ? UKVM_EV_HALT : UKVM_EV_RDTSC;
    ev->a[0] = halt ? 0 : ti->values[n];
    return 0;
}

/* The guest of the fake trace reads no clock. */
int trace_nav_clock(struct trace_nav *ti, uint64_t next, struct guest_clock *c, char *err,
        size_t errlen)
{
    (void)ti;
    (void)next;
    (void)err;
    (void)errlen;
    memset(c, 0, sizeof(*c));
    return 0;
}

const struct ukvm_trace_header *trace_nav_header(const struct trace_nav *ti)
{
    return &ti->header;
}

/* ---- the replayer ---- */

void replayer_release_halt(struct ukvm_event_source *src)
{
    (void)src;
    nav_fake.releases++;
    fake_release_halt();
}

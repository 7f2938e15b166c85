/*
 * An index of a trace for navigating it: how many events there are, where
 * its end is, any event by number, and the guest's own clock before any
 * event. It reads the trace through a reader of its own (no pass at open:
 * the frame index, then seeks), so the replay's reader is never disturbed.
 */
#ifndef UKVM_TRACE_NAV_H
#define UKVM_TRACE_NAV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ukvm/trace.h"

struct trace_nav;

/* Opens the trace (its frame index only: no decoding). NULL with a one-line
 * message on failure. */
struct trace_nav *trace_nav_open(const char *path, char *err, size_t errlen);
void trace_nav_close(struct trace_nav *ti);

/* Events in the trace. */
uint64_t trace_nav_count(const struct trace_nav *ti);
/* The trace's end as a place to stop: the number of its final halt event
 * (the stop just before the guest exits), or the count for a trace that
 * ends otherwise (cut short, or stopped by the recorder). */
uint64_t trace_nav_end_event(const struct trace_nav *ti);

/* Event n (n < count) into *ev; its data pointer is valid until the next
 * call. 0, or -1 with a message. */
int trace_nav_read(struct trace_nav *ti, uint64_t n, struct ukvm_event *ev,
        char *err, size_t errlen);

/* The guest's clock as its recorded events show it before event `next`:
 * the last walltime it read, moved on by the TSC reads since (at tsc_hz),
 * and the last TSC value it read. */
struct guest_clock {
    bool have_wall;
    uint64_t wall_ns;
    bool have_tsc;
    uint64_t tsc;
};
int trace_nav_clock(struct trace_nav *ti, uint64_t next, struct guest_clock *c,
        char *err, size_t errlen);

/* The trace header (valid while the index is open). */
const struct ukvm_trace_header *trace_nav_header(const struct trace_nav *ti);

#endif

/*
 * Fakes for the navigation by event (src/replay/replay_nav.c) over the fake
 * engine (fake_engine.h): the trace index replay_nav.c reads again
 * (record/trace_nav.h) and the replayer's release of the final halt. The
 * answer buffer is the real one (src/monitor/outbuf.c).
 *
 * The fake trace has one event per value of the fake program's trace; its
 * events are RDTSC reads (a0: the value) except, when asked, the last one,
 * the guest's final halt (then trace_nav_end_event is its number, not the
 * count).
 */
#ifndef UKVM_TEST_FAKE_NAV_H
#define UKVM_TEST_FAKE_NAV_H

#include <stdbool.h>
#include <stdint.h>

#include "fake_engine.h"

/* trace_nav_open fails for this path, as for a trace that is gone. */
#define FAKE_NAV_MISSING "missing.trace"

/* The trace trace_nav_open opens from now on (final_halt: its last event
 * is the halt). Resets the counters below. */
void fake_nav_trace(const struct fake_program *p, bool final_halt);
/* replayer_release_halt calls since fake_nav_trace. */
unsigned fake_nav_halt_releases(void);
/* trace_nav_open calls that succeeded, trace_nav_close calls. */
unsigned fake_nav_opens(void);

#endif

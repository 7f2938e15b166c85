/*
 * Moving along a replay's timeline by event: `monitor when/goto/bookmark/
 * bookmarks/delete/events` (gdb_monitor_cmd.h), on top of the replay
 * target's checkpoints. A bookmark is a moment named by its registers,
 * next event and stack digest (as an interrupted stop is); its checkpoint
 * is pinned against thinning while it is in the stack, and the moment is
 * found again by re-execution once going backwards has dropped it.
 */
#ifndef UKVM_REPLAY_NAV_H
#define UKVM_REPLAY_NAV_H

#include "replay/replay_target.h"
#include "ukvm/outbuf.h"

/* Give rt the monitor commands and the restart op (a goto to a position:
 * gdb's `run`, --goto); the trace is read again (its own reader) from
 * trace_path. 0, or -1 with a message. */
int replay_nav_attach(struct replay_target *rt, const char *trace_path, char *err, size_t errlen);

/* The guest's clock as recorded before the next event (0 where unknown):
 * its last walltime, its last TSC value and the TSC's frequency. 0, or -1
 * when the trace cannot be read again. */
int replay_nav_clock_now(struct replay_target *rt, uint64_t *wall_ns, uint64_t *tsc,
        uint64_t *tsc_hz);

/* The monitor op of the replay target. */
int replay_nav_monitor(struct ukvm_target *t, const char *cmd, struct ukvm_outbuf *out);

#endif

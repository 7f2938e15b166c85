/*
 * Diversions: gdb's writes never change the recording (docs/reverse-
 * execution.md, "Diversions"). In `ukvm replay --gdb`, the first write by
 * gdb that changes registers or memory makes the current moment a
 * checkpoint and diverts: the VM is then a private copy, and forward
 * execution runs it on an event source that never reads the trace
 * (record/diversion_source.h). Restoring that checkpoint returns to the
 * recorded timeline bit for bit; it happens on any reverse command,
 * `monitor goto` (and gdb's `run`), `monitor diversion end`, kill or
 * detach, and at a forward resume once gdb has put back everything it wrote
 * (diversion_log.h): so `print f(1)` followed by `continue` replays the
 * recording.
 *
 * The diversion wraps the replay target's operations; the replay target and
 * the timeline navigation know nothing of it.
 */
#ifndef UKVM_REPLAY_DIVERSION_H
#define UKVM_REPLAY_DIVERSION_H

#include "replay/replay_target.h"

/* Give rt diversions (after replay_nav_attach). 0, or -1 with a message. */
int replay_diversion_attach(struct replay_target *rt, char *err, size_t errlen);

/* Is rt diverted from its recording now? */
bool replay_diversion_active(const struct replay_target *rt);

#endif

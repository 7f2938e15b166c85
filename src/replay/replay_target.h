/*
 * The replay debug target: an engine (vcpu/engine.h) over a replay, with
 * reverse execution on the replay's timeline (replay_timeline.h), so that
 * gdb can step and continue backwards (docs/reverse-execution.md).
 */
#ifndef UKVM_REPLAY_TARGET_H
#define UKVM_REPLAY_TARGET_H

#include "replay/replay_timeline.h"

/* What the replay target needs besides its engine. */
struct replay_setup {
    struct ukvm_event_source *src;  /* the recorded events the engine's monitor serves */
    uint64_t checkpoint_mem;        /* bytes of checkpoints to keep (0: 256 MiB) */
    uint64_t initial_end;           /* checkpoint 0 stores the pages below this */
};

/* Set up over an engine standing at the start of the replay; takes
 * checkpoint 0. The debug target gdb is served is &rt->base. */
int replay_target_init(struct replay_target *rt, struct ukvm_engine *e,
        const struct replay_setup *setup, char *err, size_t errlen);

#endif

/*
 * The replay debug target: the KVM target over a replaying monitor, with
 * reverse execution on the replay's timeline (replay_timeline.h), so that
 * gdb can step and continue backwards (docs/reverse-execution.md).
 */
#ifndef UKVM_REPLAY_TARGET_H
#define UKVM_REPLAY_TARGET_H

#include "replay/replay_timeline.h"

/* Set up over a booted replaying monitor; takes checkpoint 0. */
int replay_target_init(struct replay_target *rt, struct monitor *m, const uint8_t *kernel,
        size_t kernel_len, const char *kernel_name, char *err, size_t errlen);

#endif

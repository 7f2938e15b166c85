/* Reverse execution on the replay's timeline (replay_reverse.c): the
 * replay target's reverse resume kinds. They return as the target's
 * resume does; *stop says where the guest stopped. */
#ifndef UKVM_REPLAY_REVERSE_H
#define UKVM_REPLAY_REVERSE_H

#include "replay/replay_timeline.h"

int rt_reverse_step(struct replay_target *rt, struct ukvm_stop *stop);
int rt_reverse_continue(struct replay_target *rt, struct ukvm_stop *stop);

#endif

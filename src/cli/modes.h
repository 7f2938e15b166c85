/* The ways to run a guest; each returns ukvm's exit status. */
#ifndef UKVM_MODES_H
#define UKVM_MODES_H

#include "monitor/monitor.h"

int mode_run(struct config *cfg);
int mode_record(struct config *cfg);
int mode_replay(struct config *cfg);
/* replay --gdb in a child, with gdb started on it; returns gdb's status */
int mode_debug(struct config *cfg);

#endif

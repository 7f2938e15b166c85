/* --dumpcore: a core file of the guest when it aborts, faults, or the
 * monitor is stopped by a signal (docs/dumpcore.md). */
#ifndef UKVM_CORE_DUMP_H
#define UKVM_CORE_DUMP_H

#include "monitor/monitor.h"

/* Open cfg->dumpcore_dir (when set) into cfg->dumpcore_fd, before the
 * guest runs. Returns 0, or -1 with one line in err. */
int core_dump_open_dir(struct config *cfg, char *err, size_t errlen);

/* After the run ended with `status`: write the core when the run asked for
 * one and the guest aborted (status 255), faulted (m->guest_fault) or was
 * stopped by signal `stop_signal` (0: none). Prints the file's name, or
 * why it could not be written, in one line. */
void core_dump_at_end(struct monitor *m, int status, int stop_signal);

/* The guest's core to fd, whatever the reason; signo goes into
 * NT_PRSTATUS. Returns 0, or -1 with a message in err. */
int core_dump_write(struct monitor *m, int fd, int signo, char *err, size_t errlen);

#endif

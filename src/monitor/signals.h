/* SIGINT and SIGTERM end the guest cleanly (a recording gets its footer). */
#ifndef UKVM_SIGNALS_H
#define UKVM_SIGNALS_H

#include <signal.h>
#include "monitor/monitor.h"

/* The signal that asked us to stop, or 0. */
extern volatile sig_atomic_t ukvm_stop_signal;

/* True once SIGINT or SIGTERM arrived. */
static inline bool ukvm_stop_requested(void)
{
    return ukvm_stop_signal != 0;
}

/* Install the handlers; a signal makes the running KVM_RUN return. */
void signals_install(struct vm *vm);

/* Before vm's kvm_run page goes away: a later signal must not write to it
 * (a second SIGINT during teardown would otherwise crash the monitor). */
void signals_forget_vm(const struct vm *vm);

#endif

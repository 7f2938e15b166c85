/*
 * SIGINT/SIGTERM: remember the signal and make KVM_RUN return at once
 * (immediate_exit, plus EINTR when the signal lands during KVM_RUN), so that
 * the vCPU loop can stop and the recorder can write its footer.
 */
#include <string.h>

#include "monitor/signals.h"

volatile sig_atomic_t ukvm_stop_signal;
static struct kvm_run *volatile signal_run;

static void on_stop_signal(int sig)
{
    ukvm_stop_signal = sig;
    struct kvm_run *run = signal_run; /* read once: teardown may clear it */
    if (run)
        run->immediate_exit = 1;
}

void signals_install(struct vm *vm)
{
    signal_run = vm->run;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN and ppoll must return */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void signals_forget_vm(const struct vm *vm)
{
    if (signal_run == vm->run)
        signal_run = NULL;
}

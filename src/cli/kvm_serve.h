/* Serving gdb over the KVM target (kvm_serve.c). */
#ifndef UKVM_KVM_SERVE_H
#define UKVM_KVM_SERVE_H

#include <stdbool.h>

#include "vcpu/kvm_target.h"

/* Serve gdb the target `served` (kt's own, or the replay target over it)
 * on cfg's address and port until the session says the guest is done;
 * returns ukvm's exit status. `replay`: a client that disconnects leaves
 * the guest waiting for the next one. */
int kvm_target_serve(struct kvm_target *kt, struct ukvm_target *served, const struct config *cfg,
        bool replay);

#endif

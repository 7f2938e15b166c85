/* The replay timeline's engine (engine.h) over the KVM target. */
#ifndef UKVM_KVM_ENGINE_H
#define UKVM_KVM_ENGINE_H

#include "vcpu/engine.h"
#include "vcpu/kvm_target.h"

struct kvm_engine {
    struct ukvm_engine base;
    struct kvm_target *kt;
};

/* ke drives kt, which must stay as long as ke. */
void kvm_engine_init(struct kvm_engine *ke, struct kvm_target *kt);

#endif

/* Converting between KVM's register structures and gdb's amd64 set. */
#ifndef UKVM_KVM_REGS_H
#define UKVM_KVM_REGS_H

#include "monitor/monitor.h"
#include "ukvm/target.h"

int kvm_regs_read(struct vm *vm, struct ukvm_regs *out);
int kvm_regs_write(struct vm *vm, const struct ukvm_regs *in);

#endif

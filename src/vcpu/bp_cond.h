/*
 * Breakpoint conditions kept and evaluated by the KVM target (gdb sends
 * them with Z0/Z1 once ConditionalBreakpoints+ is offered), so that a hit
 * whose condition is false costs no round trip to gdb:
 *
 * - forward (kvm_exec.c): in a run whose options ask for cond_filter, a hit
 *   whose condition is false is resumed at once, not reported;
 * - reverse (replay_reverse.c): a scan counts every arrival at an address
 *   (positions name the k-th arrival, condition or not) but only remembers
 *   the hits whose condition holds.
 *
 * Conditions are per address: one list, replaced by each Z at that address.
 */
#ifndef UKVM_BP_COND_H
#define UKVM_BP_COND_H

#include <stdbool.h>
#include <stdint.h>

#include "vcpu/agent_expr.h"
#include "vcpu/bp_cond_table.h"
#include "ukvm/target.h"

struct kvm_target;

/* The target operation (ukvm_target_ops.set_bp_conditions). */
int kvm_target_set_bp_conditions(struct ukvm_target *t, uint64_t addr,
        struct ax_cond_list *conds);

/* Does a breakpoint at addr, reached now, stop? True when there is no
 * condition at addr, when one holds, or when one cannot be evaluated. A
 * false answer adds one to addr's skip count. */
bool bp_condition_holds(struct kvm_target *kt, uint64_t addr);

/* Arrivals at addr that a filtering continue resumed from since the last
 * reset (the stop it reports at addr is arrival skips + 1). */
uint64_t bp_cond_skips(struct kvm_target *kt, uint64_t addr);
void bp_cond_reset_skips(struct kvm_target *kt);

/* Forget every condition (the target goes away). */
void bp_cond_table_free(struct bp_cond_table *tab);

#endif

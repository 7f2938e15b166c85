/* The breakpoint conditions a KVM target keeps (the types only; bp_cond.h
 * has what uses them), so that the target's state can hold them without
 * depending on their evaluation. */
#ifndef UKVM_BP_COND_TABLE_H
#define UKVM_BP_COND_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "vcpu/agent_expr.h"

struct bp_cond {
    uint64_t addr;              /* guest-virtual */
    struct ax_cond_list list;   /* never empty */
    uint64_t skipped;           /* arrivals with a false condition since the
                                   last bp_cond_reset_skips */
};

/* Sorted by addr. */
struct bp_cond_table {
    size_t n, cap;
    struct bp_cond *e;
};

#endif

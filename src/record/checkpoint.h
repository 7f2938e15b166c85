/*
 * Checkpoints of a replaying VM: the whole vCPU state, the replayer's place
 * in the trace, and guest memory saved incrementally (each checkpoint keeps
 * only the pages written since the checkpoint below it in the stack).
 */
#ifndef UKVM_CHECKPOINT_H
#define UKVM_CHECKPOINT_H

#include "monitor/monitor.h"
#include "record/replayer.h"

#define CHECKPOINT_MAX_MSRS 16

struct checkpoint {
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_fpu fpu;
    struct kvm_xsave *xsave;            /* NULL without KVM_CAP_XSAVE */
    struct kvm_xcrs xcrs;
    bool have_xcrs;
    struct kvm_vcpu_events events;
    struct kvm_debugregs debugregs;
    uint32_t n_msrs;
    struct kvm_msr_entry msrs[CHECKPOINT_MAX_MSRS];
    struct replayer_state replay;
    bool halted;
    int exit_status;
    uint64_t next_event;                /* the replayer's next event */
    uint64_t stack_digest;              /* checkpoint_stack_digest() when taken */
    size_t n_pages;
    uint64_t *pfns;                     /* sorted page numbers (NULL when none) */
    uint32_t *slots;                    /* pfns[i]'s copy is pages + slots[i] * 4096 */
    uint8_t *pages;                     /* page copies, mmap'ed (NULL when none) */
    size_t page_room;                   /* pages the mapping holds */
};

/* Undo the debugger's planted bytes in a copy of page `pfn` before it is
 * stored (ctx is the caller's). */
typedef void (*checkpoint_clean_fn)(void *ctx, uint64_t pfn, uint8_t *page);

/* The stack of checkpoints, oldest first; each one's pages are relative to
 * the one below it. */
struct checkpoint_stack {
    size_t n, cap;
    struct checkpoint **cp;
    size_t bytes;                       /* every byte held (checkpoint_cost of each) */
};

/* What one checkpoint holds in memory: the struct, its XSAVE area, its
 * pages and their numbers. */
size_t checkpoint_cost(const struct checkpoint *cp);

/* Start tracking dirty pages and push checkpoint 0 (the state right now,
 * which must be the boot state: pages below `initial_end` are stored). */
int checkpoint_init(struct checkpoint_stack *st, struct monitor *m, uint64_t initial_end,
        checkpoint_clean_fn clean, void *ctx, char *err, size_t errlen);

/* Push a checkpoint of the current state. */
/* A digest of the guest's stack: the bytes from rsp up (at most
 * CHECKPOINT_STACK_DIGEST_BYTES, within guest memory). With the registers
 * it tells apart two moments at one rip whose registers agree but whose
 * callers differ (the same recursive call reached from two places). */
#define CHECKPOINT_STACK_DIGEST_BYTES (64 * 1024)
uint64_t checkpoint_stack_digest(const struct monitor *m, uint64_t rsp);

int checkpoint_push(struct checkpoint_stack *st, struct monitor *m,
        checkpoint_clean_fn clean, void *ctx, char *err, size_t errlen);

/* Make the VM exactly as it was at checkpoint `index` and drop those above
 * it. The caller plants its breakpoints again afterwards. */
int checkpoint_restore(struct checkpoint_stack *st, struct monitor *m, size_t index,
        char *err, size_t errlen);

/* Forget the top checkpoint (there must be one below it) without touching
 * the VM: its pages count as changed since the one below, so that the next
 * restore rewrites them. */
int checkpoint_pop(struct checkpoint_stack *st, struct monitor *m);

/* Drop checkpoint `index` (0 < index < n - 1) to save memory: its pages
 * move into the checkpoint above it (where that one has none of its own).
 * The caller re-expresses the position of the checkpoint above. */
int checkpoint_drop(struct checkpoint_stack *st, size_t index, char *err, size_t errlen);

#endif

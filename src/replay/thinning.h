/*
 * Which checkpoint the timeline drops when its checkpoints outgrow the
 * memory budget (thinning.c): a policy over the checkpoints' places in run
 * time alone, so that it is tested without KVM (tests/unit/test_thinning.c).
 */
#ifndef UKVM_THINNING_H
#define UKVM_THINNING_H

#include <stddef.h>
#include <stdint.h>

/* What the policy knows of a checkpoint. */
struct thinning_mark {
    uint64_t at_ns;                 /* where on the timeline, in guest run time */
    uint32_t pins;                  /* bookmarks on it: never thinned */
};

/* The checkpoint to drop among n (oldest first), whose marks lie `stride`
 * bytes apart from `first` on (inside the caller's own records), at run
 * time now_ns: the one whose loss leaves the smallest gap relative to its
 * distance from the present, so that those kept thin out geometrically
 * with age and still cover the whole history (a reverse operation far back
 * re-executes a stretch about as long as its distance at most, never the
 * whole run). Never checkpoint 0 (boot), the newest, or a pinned one (a
 * bookmark's); 0 when none can go. */
size_t thinning_victim(const struct thinning_mark *first, size_t stride, size_t n,
        uint64_t now_ns);

#endif

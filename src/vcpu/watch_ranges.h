/*
 * The watchpoints of a KVM target, stored as ranges: a watch costs one
 * entry whatever its length, an identical insert is stored once (gdb's
 * semantics: inserting the same watchpoint again is fine, one remove takes
 * it out), and the number of watches is capped. From the set come the
 * protected runs of guest memory that the slot layout carves out.
 */
#ifndef UKVM_WATCH_RANGES_H
#define UKVM_WATCH_RANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/memslots.h"
#include "ukvm/target.h"

/* At most this many distinct watchpoints at once (each one is a few dozen
 * bytes here and a few more per protected run). */
#define WATCH_MAX 4096

struct watch {
    enum ukvm_bp_type type; /* UKVM_WP_WRITE, _READ or _ACCESS */
    uint64_t addr, len;     /* as gdb gave them (guest-virtual) */
    uint64_t gpa;           /* physical start (the guest is identity mapped) */
    bool ghost;             /* removed, but its pages stay protected (no hits) */
};

struct watch_set {
    size_t n, cap;
    struct watch *w;
};

enum watch_add {
    WATCH_ADDED,
    WATCH_PRESENT,          /* the same (type, addr, len) is there already
                               (a ghost of it comes back to life) */
    WATCH_FULL,             /* WATCH_MAX reached, or out of memory */
};
enum watch_add watch_set_add(struct watch_set *ws, const struct watch *w);
/* Takes out the watch (type, addr, len); false when there was none. */
bool watch_set_remove(struct watch_set *ws, enum ukvm_bp_type type, uint64_t addr, uint64_t len);
void watch_set_clear(struct watch_set *ws);
/* Takes out every ghost; returns how many there were. */
size_t watch_set_drop_ghosts(struct watch_set *ws);
void watch_set_free(struct watch_set *ws);

/* The first live watch that an access to [gpa, gpa + len) fires (a write fires
 * write and access watches, a read read and access watches), or NULL. */
const struct watch *watch_set_hit(const struct watch_set *ws, uint64_t gpa, uint64_t len,
        bool write);
/* Does an access (gpa, len, write) hit watch w (its kind and range)? */
bool watch_hit_by(const struct watch *w, uint64_t gpa, uint64_t len, bool write);

/* The watched accesses of one instruction, with touching ones of a kind
 * merged: a rep string instruction's hundreds of one-byte accesses are one
 * range (two for movs), so that every watch it hit is still known after
 * the stop has named the first. */
#define ACCESS_LIST_MAX 8
struct access_list {
    size_t n;
    struct { uint64_t gpa, len; bool write; } a[ACCESS_LIST_MAX];
};
void access_list_add(struct access_list *l, uint64_t gpa, uint64_t len, bool write);
/* Does any access in l hit watch w? */
bool access_list_hits(const struct access_list *l, const struct watch *w);

/* The protected runs for the set plus `extra` (may be NULL): write watches
 * make read-only pages, read and access watches unmapped ones (the stronger
 * wins where they meet). Sorted and disjoint, in a malloc'd *out (free it).
 * Ghosts count when with_ghosts; the watch at index `skip` (or none, -1)
 * does not. Returns how many, or -1 when out of memory. */
long watch_set_runs(const struct watch_set *ws, const struct watch *extra, long skip,
        bool with_ghosts, struct prot_run **out);

#endif

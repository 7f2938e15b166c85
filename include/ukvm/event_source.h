/*
 * Where the guest-visible results of events come from (docs/architecture.md,
 * "One exit, three modes").
 *
 * The guest-facing code of each hypercall and intercepted instruction is
 * written once (src/monitor/hypercalls.c, src/monitor/intercept.c): it checks
 * the guest's arguments, fills a struct ukvm_io and asks the event source to
 * service it. The source is the real world (run), the real world plus a
 * trace writer (record), or the trace alone (replay).
 */
#ifndef UKVM_EVENT_SOURCE_H
#define UKVM_EVENT_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ukvm/trace.h"

/*
 * One event in flight. The caller fills ev.kind, ev.rip and the input
 * arguments of ev.a[] (see trace.h for which are inputs); the source fills
 * the outputs. `buf` is guest memory already checked to lie inside the guest:
 * the data to write (puts, block_write, net_write) or the buffer to fill
 * (block_read, net_read: buf_len bytes at most).
 */
struct ukvm_io {
    struct ukvm_event ev;
    uint8_t *buf;
    size_t buf_len;
};

struct ukvm_event_source;

struct ukvm_event_source_ops {
    /* Returns 0 when the event was serviced, -1 when the guest must stop
     * (the source printed why and set *exit_status). */
    int (*service)(struct ukvm_event_source *src, struct ukvm_io *io, int *exit_status);
};

struct ukvm_event_source {
    const struct ukvm_event_source_ops *ops;
    bool wants_digest;          /* fill the digest inputs of output events */
};

/* Which a[] of a kind are inputs (bit i = a[i]); the rest are outputs. */
unsigned ukvm_event_input_mask(uint32_t kind);
/* Whether the event's data is produced by the source (block_read, net_read). */
bool ukvm_event_has_output_data(uint32_t kind);

#endif

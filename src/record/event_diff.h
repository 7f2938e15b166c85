/*
 * What differs between two events, in the words of `ukvm-trace dump`
 * (event_format.h): for `ukvm-trace diff`.
 */
#ifndef UKVM_EVENT_DIFF_H
#define UKVM_EVENT_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "ukvm/trace.h"

/*
 * Compares a and b: kind, rip, the arguments the kind has, the bytes read
 * (data) and the console text. Returns false when they are the same; else
 * true with what differs written into buf (cut short to len - 1), as parts
 * joined by "; ", e.g.
 *     "tsc: 12 vs 12345"
 *     "kind: rdtsc vs walltime; rip: 0x1000 vs 0x1004"
 *     "data: first differing byte at offset 14: 0x02 vs 0x03"
 *     "data: 60 vs 42 bytes, the same for the first 42"
 * Of events of different kinds only kind and rip are compared (their
 * arguments mean different things).
 */
bool ukvm_event_diff(char *buf, size_t len, const struct ukvm_event *a, const struct ukvm_event *b);

#endif

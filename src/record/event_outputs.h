/*
 * Replay: checking the outputs of a recorded event (the values the guest will
 * be given) against the guest's request, before any of them is written back.
 */
#ifndef UKVM_EVENT_OUTPUTS_H
#define UKVM_EVENT_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>

#include "ukvm/event_source.h"
#include "ukvm/trace.h"

/*
 * rec is the recorded event, whose kind, rip and inputs already match the
 * guest's (io->ev); io->buf_len is the size of the guest's buffer. Returns
 * true when every output field and the data fit the request (lengths, return
 * codes from the hvt ABI's set, register widths); else false with the reason
 * in why ("net_read length 9000 exceeds the guest's buffer of 1514 bytes").
 */
bool event_outputs_ok(const struct ukvm_event *rec, const struct ukvm_io *io,
        const struct ukvm_trace_header *h, char *why, size_t whylen);

#endif

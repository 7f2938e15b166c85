/* Replay: the trace as the event source; the real world is never touched. */
#ifndef UKVM_REPLAYER_H
#define UKVM_REPLAYER_H

#include "monitor/monitor.h"
#include "ukvm/trace.h"

struct ukvm_event_source *replayer_create(struct ukvm_trace_reader *r);

/* True once the guest asked for an event past the end of a cut-short trace
 * (the replay is then complete, not failed). */
bool replayer_reached_end(const struct ukvm_event_source *src);

/* Set up cfg (memory, command line, devices) from a trace header. */
int replayer_config(struct config *cfg, const struct ukvm_trace_header *h,
        char *err, size_t errlen);

/* Check that the patch table derived again matches the trace's. */
int replayer_check_patches(const struct monitor *m, const struct ukvm_trace_header *h,
        char *err, size_t errlen);

#endif

/* Recording: the real world as the event source, every result logged. */
#ifndef UKVM_RECORDER_H
#define UKVM_RECORDER_H

#include "monitor/monitor.h"
#include "ukvm/trace.h"

/* The longest block_read the recorder accepts: one event's data must fit
 * in one trace frame (64 MiB decompressed, less the room the writer keeps
 * for padding: trace_codec.h), rounded down to whole 4 KiB pages. A longer
 * read stops the recording before anything is read. */
#define RECORDER_MAX_READ ((64ull << 20) - (256ull << 10) - 4096)

/* Wrap `world` so that every serviced event is appended to `w`. */
struct ukvm_event_source *recorder_create(struct ukvm_event_source *world,
        struct ukvm_trace_writer *w);

/* True when writing the trace failed (the failure was reported). */
bool recorder_failed(const struct ukvm_event_source *src);

/* Fill a trace header from a booted monitor (pointers into m and cfg). The
 * arrays are allocated; free them with recorder_header_free. */
int recorder_header(const struct monitor *m, struct ukvm_trace_header *h,
        char *err, size_t errlen);
void recorder_header_free(struct ukvm_trace_header *h);

#endif

/* Replay: the trace as the event source; the real world is never touched. */
#ifndef UKVM_REPLAYER_H
#define UKVM_REPLAYER_H

#include "monitor/monitor.h"
#include "ukvm/trace.h"

struct ukvm_event_source *replayer_create(struct ukvm_trace_reader *r);

/* The replayer's place in the trace, for checkpoints. */
struct replayer_state {
    struct ukvm_trace_pos pos;
    bool at_end;
};
void replayer_save(const struct ukvm_event_source *src, struct replayer_state *st);
int replayer_restore(struct ukvm_event_source *src, const struct replayer_state *st);
/* Number of the next event the guest will consume. */
uint64_t replayer_next_event(const struct ukvm_event_source *src);

/* True once the guest asked for an event past the end of a cut-short trace
 * (the replay is then complete, not failed). */
bool replayer_reached_end(const struct ukvm_event_source *src);

/* After replayer_reached_end: the rip of the instruction that wanted the
 * missing event; and forgetting that the end was reached. */
uint64_t replayer_end_rip(const struct ukvm_event_source *src);
void replayer_clear_end(struct ukvm_event_source *src);

/* Under a debugger: stop once before executing the trace's final halt
 * (reported like the end of a cut-short trace), so that the user can look
 * back from the end; the next attempt lets the guest exit. */
void replayer_hold_halt(struct ukvm_event_source *src);
/* The stop before the final halt has been made some other way (a goto to
 * it): the next attempt lets the guest exit, as after that stop. Forgotten
 * at the next restore, like the stop itself. */
void replayer_release_halt(struct ukvm_event_source *src);

/* Console lines begin with "[ev N] ", N the event that wrote their first byte. */
void replayer_mark_output(struct ukvm_event_source *src);
/* Navigation: stop before event `stop_before` (UINT64_MAX: never), reported
 * like the end of a cut-short trace; and call fn(ctx, number) before each
 * event is served (fn may be NULL), e.g. for a progress line. */
void replayer_watch(struct ukvm_event_source *src, uint64_t stop_before,
        void (*fn)(void *ctx, uint64_t number), void *ctx);

/* fn(ctx, number, io) once for every event, the first time the replay
 * serves it: after it matched the recording, with its outputs in io->ev
 * and, for the data kinds, the bytes the guest wrote or read in io->buf
 * (e.g. for `replay --pcap`). A non-zero return stops the replay with
 * status 1 (fn printed why). */
void replayer_on_event(struct ukvm_event_source *src,
        int (*fn)(void *ctx, uint64_t number, const struct ukvm_io *io), void *ctx);

/* Under a debugger: fn(ctx, buf, len) says what the debugger is doing
 * (stepping, points planted), for a divergence report, which then names
 * the debugger's own state as a possible cause instead of blaming the guest. */
void replayer_describe_debugger(struct ukvm_event_source *src,
        void (*fn)(void *ctx, char *buf, size_t len), void *ctx);

/* Set up cfg (memory, command line, devices) from a trace header. */
int replayer_config(struct config *cfg, const struct ukvm_trace_header *h,
        char *err, size_t errlen);

/* Check that the patch table derived again matches the trace's. */
int replayer_check_patches(const struct monitor *m, const struct ukvm_trace_header *h,
        char *err, size_t errlen);

#endif

/*
 * The event source of a diversion: what a replayed guest gets when it runs
 * after gdb changed its registers or memory (src/replay/replay_diversion.c).
 * The trace cannot answer such a guest, and the real world must not, so
 * every event is answered here without touching either:
 *
 * - clocks (walltime, rdtsc, rdtscp, rdmsr TSC): the last values recorded
 *   before the diversion, moved on by the timeouts of the guest's polls
 *   (a sleeping guest sees its time pass) and by one tick per TSC read
 *   (two reads are never equal);
 * - poll: nothing is ready, at once;
 * - block and network reads and writes: HVT_EUNSPEC, nothing transferred;
 * - rdrand, rdseed: no value (CF = 0);
 * - puts: written to out_fd with "[diverted] " before every line;
 * - halt: refused (the service fails with status 0 and `halted` set): the
 *   debugger reports a stop with rip put back on the halting instruction.
 */
#ifndef UKVM_DIVERSION_SOURCE_H
#define UKVM_DIVERSION_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "ukvm/event_source.h"

#define DIVERSION_MARK "[diverted] "

struct diversion_source {
    struct ukvm_event_source base;
    int out_fd;                 /* console output (stdout) */
    uint64_t wall_ns;           /* the recorded clock where the diversion began */
    uint64_t tsc, tsc_hz;
    uint64_t slept_ns;          /* poll timeouts since then */
    uint64_t tsc_reads;
    bool mid_line;              /* the console output ended inside a line */
    uint64_t served;            /* events answered, for `monitor diversion` */
    bool halted;                /* the guest asked to halt... */
    uint64_t halt_rip;          /* ...with the instruction here */
    int halt_status;
};

/* Start a diversion's source from the recorded clock (tsc_hz 0: unknown). */
void diversion_source_init(struct diversion_source *d, int out_fd, uint64_t wall_ns,
        uint64_t tsc, uint64_t tsc_hz);

/* Writes p[0..n) to fd with DIVERSION_MARK before every line that begins in
 * it; *mid_line carries over between calls. */
void diversion_mark_write(int fd, bool *mid_line, const uint8_t *p, size_t n);

#endif

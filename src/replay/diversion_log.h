/*
 * What gdb changed in a diversion (src/replay/replay_diversion.c), to tell
 * when gdb has put everything back: the registers at the diversion's start
 * and the original bytes under every memory write. An inferior call
 * (`print f(1)`) writes registers and builds a frame on the stack, runs,
 * then writes the registers back but not the stack below rsp. So writes
 * to the frame gdb built do not count: below the 128-byte red zone under
 * the start's rsp, and at or above the lowest rsp gdb wrote (at most
 * DIVERSION_DEAD_STACK bytes down). The ABI lets anything clobber the
 * stack there.
 */
#ifndef UKVM_DIVERSION_LOG_H
#define UKVM_DIVERSION_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ukvm/target.h"

#define DIVERSION_RED_ZONE 128
#define DIVERSION_DEAD_STACK (64u << 10)
/* More writes than this: never considered undone (the diversion then lasts
 * until a reverse command, a goto or `monitor diversion end`). */
#define DIVERSION_LOG_MAX 4096

struct diversion_write {
    uint64_t addr;
    size_t len;
    uint8_t *orig;              /* the bytes before this write */
};

struct diversion_log {
    struct ukvm_regs start;     /* the registers where the diversion began */
    size_t n, cap;
    struct diversion_write *w;
    bool overflow;              /* a write could not be logged */
    uint64_t bytes;             /* written, for `monitor diversion` */
    uint64_t reg_writes;
    uint64_t lowest_rsp;        /* the lowest rsp gdb wrote (or the start's) */
};

/* Forget everything and start from these registers. */
void diversion_log_reset(struct diversion_log *log, const struct ukvm_regs *start);
void diversion_log_free(struct diversion_log *log);

/* gdb writes len bytes at addr, which held orig[0..len). */
void diversion_log_write(struct diversion_log *log, uint64_t addr, const uint8_t *orig,
        size_t len);

/* gdb writes these registers. */
void diversion_log_regs(struct diversion_log *log, const struct ukvm_regs *regs);

/* Are a and b the same registers (rflags' TF and RF aside: debugging leaves
 * them behind)? */
bool diversion_regs_equal(const struct ukvm_regs *a, const struct ukvm_regs *b);

/* Reads guest memory as the target's read_mem does. */
typedef long (*diversion_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

/* Has gdb undone all it did: registers `now` equal the start's, and every
 * byte it wrote (outside the dead stack) holds its original value again? */
bool diversion_log_undone(const struct diversion_log *log, const struct ukvm_regs *now,
        diversion_read_fn read, void *ctx);

#endif

/* What gdb changed in a diversion (diversion_log.h). */
#include <stdlib.h>
#include <string.h>

#include "replay/diversion_log.h"

void diversion_log_free(struct diversion_log *log)
{
    for (size_t i = 0; i < log->n; i++)
        free(log->w[i].orig);
    free(log->w);
    log->w = NULL;
    log->n = log->cap = 0;
}

void diversion_log_reset(struct diversion_log *log, const struct ukvm_regs *start)
{
    diversion_log_free(log);
    memset(log, 0, sizeof(*log));
    log->start = *start;
    log->lowest_rsp = start->gpr[7];
}

void diversion_log_regs(struct diversion_log *log, const struct ukvm_regs *regs)
{
    log->reg_writes++;
    if (regs->gpr[7] < log->lowest_rsp)
        log->lowest_rsp = regs->gpr[7];
}

void diversion_log_write(struct diversion_log *log, uint64_t addr, const uint8_t *orig,
        size_t len)
{
    log->bytes += len;
    if (log->overflow || len == 0)
        return;
    if (log->n == DIVERSION_LOG_MAX) {
        log->overflow = true;
        return;
    }
    if (log->n == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 16;
        struct diversion_write *w = realloc(log->w, cap * sizeof(*w));
        if (!w) {
            log->overflow = true;
            return;
        }
        log->w = w;
        log->cap = cap;
    }
    uint8_t *copy = malloc(len);
    if (!copy) {
        log->overflow = true;
        return;
    }
    memcpy(copy, orig, len);
    log->w[log->n++] = (struct diversion_write){ .addr = addr, .len = len, .orig = copy };
}

bool diversion_regs_equal(const struct ukvm_regs *a, const struct ukvm_regs *b)
{
    const uint32_t mask = (uint32_t)~UKVM_RFLAGS_DEBUG_ARTEFACTS;
    if (memcmp(a->gpr, b->gpr, sizeof(a->gpr)) || a->rip != b->rip ||
        (a->eflags & mask) != (b->eflags & mask))
        return false;
    if (a->cs != b->cs || a->ss != b->ss || a->ds != b->ds || a->es != b->es ||
        a->fs != b->fs || a->gs != b->gs || a->fs_base != b->fs_base || a->gs_base != b->gs_base)
        return false;
    if (memcmp(a->st, b->st, sizeof(a->st)) || a->fctrl != b->fctrl || a->fstat != b->fstat ||
        a->ftag != b->ftag || a->fiseg != b->fiseg || a->fioff != b->fioff ||
        a->foseg != b->foseg || a->fooff != b->fooff || a->fop != b->fop)
        return false;
    if (memcmp(a->xmm, b->xmm, sizeof(a->xmm)) || a->mxcsr != b->mxcsr)
        return false;
    return a->cr0 == b->cr0 && a->cr2 == b->cr2 && a->cr3 == b->cr3 && a->cr4 == b->cr4 &&
        a->cr8 == b->cr8 && a->efer == b->efer;
}

/* Where gdb builds an inferior call's frame: between the stack pointer it
 * set and the red zone. */
static bool dead_stack(const struct diversion_log *log, uint64_t addr)
{
    uint64_t rsp = log->start.gpr[7];
    return addr >= log->lowest_rsp && addr < rsp && rsp - addr > DIVERSION_RED_ZONE &&
        rsp - addr <= DIVERSION_DEAD_STACK;
}

/* Did an earlier write (whose orig is the older value) cover addr? */
static bool covered_before(const struct diversion_log *log, size_t i, uint64_t addr)
{
    for (size_t j = 0; j < i; j++)
        if (addr >= log->w[j].addr && addr - log->w[j].addr < log->w[j].len)
            return true;
    return false;
}

bool diversion_log_undone(const struct diversion_log *log, const struct ukvm_regs *now,
        diversion_read_fn read, void *ctx)
{
    if (log->overflow || !diversion_regs_equal(&log->start, now))
        return false;
    for (size_t i = 0; i < log->n; i++) {
        const struct diversion_write *w = &log->w[i];
        uint8_t *cur = malloc(w->len);
        if (!cur)
            return false;
        long got = read(ctx, w->addr, cur, w->len);
        bool same = got == (long)w->len;
        for (size_t b = 0; same && b < w->len; b++) {
            uint64_t addr = w->addr + b;
            if (cur[b] != w->orig[b] && !dead_stack(log, addr) && !covered_before(log, i, addr))
                same = false;
        }
        free(cur);
        if (!same)
            return false;
    }
    return true;
}

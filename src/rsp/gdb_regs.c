/* amd64 register numbering and marshalling for the 'g', 'G', 'p', 'P'
 * packets. The host is little-endian x86-64, so a register's bytes in
 * struct ukvm_regs are already in target order. */
#include "gdb_regs.h"

#include <string.h>

struct reg_slot {
    uint16_t offset;
    uint8_t size;
};

#define SLOT(field, sz) { (uint16_t)offsetof(struct ukvm_regs, field), sz }

static const struct reg_slot slots[UKVM_REG_COUNT] = {
    SLOT(gpr[0], 8), SLOT(gpr[1], 8), SLOT(gpr[2], 8), SLOT(gpr[3], 8),
    SLOT(gpr[4], 8), SLOT(gpr[5], 8), SLOT(gpr[6], 8), SLOT(gpr[7], 8),
    SLOT(gpr[8], 8), SLOT(gpr[9], 8), SLOT(gpr[10], 8), SLOT(gpr[11], 8),
    SLOT(gpr[12], 8), SLOT(gpr[13], 8), SLOT(gpr[14], 8), SLOT(gpr[15], 8),
    [UKVM_REG_RIP] = SLOT(rip, 8),
    [UKVM_REG_EFLAGS] = SLOT(eflags, 4),
    [UKVM_REG_CS] = SLOT(cs, 4), [UKVM_REG_SS] = SLOT(ss, 4),
    [UKVM_REG_DS] = SLOT(ds, 4), [UKVM_REG_ES] = SLOT(es, 4),
    [UKVM_REG_FS] = SLOT(fs, 4), [UKVM_REG_GS] = SLOT(gs, 4),
    [UKVM_REG_ST0] = SLOT(st[0], 10), SLOT(st[1], 10), SLOT(st[2], 10),
    SLOT(st[3], 10), SLOT(st[4], 10), SLOT(st[5], 10), SLOT(st[6], 10),
    SLOT(st[7], 10),
    [UKVM_REG_FCTRL] = SLOT(fctrl, 4), SLOT(fstat, 4), SLOT(ftag, 4),
    SLOT(fiseg, 4), SLOT(fioff, 4), SLOT(foseg, 4), SLOT(fooff, 4),
    SLOT(fop, 4),
    [UKVM_REG_XMM0] = SLOT(xmm[0], 16), SLOT(xmm[1], 16), SLOT(xmm[2], 16),
    SLOT(xmm[3], 16), SLOT(xmm[4], 16), SLOT(xmm[5], 16), SLOT(xmm[6], 16),
    SLOT(xmm[7], 16), SLOT(xmm[8], 16), SLOT(xmm[9], 16), SLOT(xmm[10], 16),
    SLOT(xmm[11], 16), SLOT(xmm[12], 16), SLOT(xmm[13], 16),
    SLOT(xmm[14], 16), SLOT(xmm[15], 16),
    [UKVM_REG_MXCSR] = SLOT(mxcsr, 4),
    [UKVM_REG_FS_BASE] = SLOT(fs_base, 8), [UKVM_REG_GS_BASE] = SLOT(gs_base, 8),
    [UKVM_REG_CR0] = SLOT(cr0, 8), [UKVM_REG_CR2] = SLOT(cr2, 8),
    [UKVM_REG_CR3] = SLOT(cr3, 8), [UKVM_REG_CR4] = SLOT(cr4, 8),
    [UKVM_REG_CR8] = SLOT(cr8, 8), [UKVM_REG_EFER] = SLOT(efer, 8),
};

_Static_assert(UKVM_REG_R15 == 15 && UKVM_REG_ST7 == 31 && UKVM_REG_FOP == 39 &&
               UKVM_REG_XMM15 == 55 && UKVM_REG_EFER == 64,
               "register numbering changed: update slots[] and target.xml");

size_t gdb_reg_size(unsigned n)
{
    return n < UKVM_REG_COUNT ? slots[n].size : 0;
}

size_t gdb_reg_get(const struct ukvm_regs *regs, unsigned n, uint8_t *out)
{
    if (n >= UKVM_REG_COUNT)
        return 0;
    memcpy(out, (const uint8_t *)regs + slots[n].offset, slots[n].size);
    return slots[n].size;
}

size_t gdb_reg_set(struct ukvm_regs *regs, unsigned n, const uint8_t *in)
{
    if (n >= UKVM_REG_COUNT)
        return 0;
    memcpy((uint8_t *)regs + slots[n].offset, in, slots[n].size);
    return slots[n].size;
}

void gdb_regs_pack(const struct ukvm_regs *regs, uint8_t *out)
{
    size_t o = 0;
    for (unsigned n = 0; n < UKVM_REG_COUNT; n++)
        o += gdb_reg_get(regs, n, out + o);
}

unsigned gdb_regs_unpack(struct ukvm_regs *regs, const uint8_t *in, size_t len)
{
    size_t o = 0;
    unsigned n;
    for (n = 0; n < UKVM_REG_COUNT && len - o >= slots[n].size; n++)
        o += gdb_reg_set(regs, n, in + o);
    return n;
}

/*
 * The KVM target's breakpoint conditions (see bp_cond.h): a sorted table by
 * address, and the evaluation environment (registers from the vCPU, memory
 * by guest-virtual address through the target, so planted bytes never show).
 */
#include <stdlib.h>
#include <string.h>

#include "vcpu/bp_cond.h"
#include "vcpu/kvm_regs.h"
#include "vcpu/kvm_points.h"
#include "ukvm/lower_bound.h"

static size_t cond_index(const struct bp_cond_table *tab, uint64_t addr)
{
    return UKVM_LOWER_BOUND(tab->e, tab->n, addr, addr);
}

static struct bp_cond *cond_find(struct bp_cond_table *tab, uint64_t addr)
{
    size_t i = cond_index(tab, addr);
    return i < tab->n && tab->e[i].addr == addr ? &tab->e[i] : NULL;
}

int kvm_target_set_bp_conditions(struct ukvm_target *t, uint64_t addr,
        struct ax_cond_list *conds)
{
    struct bp_cond_table *tab = &((struct kvm_target *)t)->conds;
    size_t i = cond_index(tab, addr);
    bool present = i < tab->n && tab->e[i].addr == addr;
    if (present) { /* replaced: drop the old list */
        ax_cond_list_free(&tab->e[i].list);
        memmove(&tab->e[i], &tab->e[i + 1], (tab->n - i - 1) * sizeof(tab->e[0]));
        tab->n--;
    }
    if (conds->n == 0)
        return 0;
    if (tab->n == tab->cap) {
        size_t cap = tab->cap ? tab->cap * 2 : 8;
        struct bp_cond *n = realloc(tab->e, cap * sizeof(*n));
        if (!n) {
            ax_cond_list_free(conds);
            return -1;
        }
        tab->e = n;
        tab->cap = cap;
    }
    memmove(&tab->e[i + 1], &tab->e[i], (tab->n - i) * sizeof(tab->e[0]));
    tab->e[i] = (struct bp_cond){ .addr = addr, .list = *conds };
    tab->n++;
    conds->n = 0;
    conds->e = NULL;
    return 0;
}

/* Registers as gdb numbers them (src/rsp/gdb_tdesc.c): the general ones,
 * rip and eflags straight from the vCPU; the rest from the full set. */
static int env_reg(void *ctx, unsigned n, uint64_t *val)
{
    struct kvm_target *kt = ctx;
    const struct kvm_regs *r = vm_regs(&kt->m->vm);
    const uint64_t gpr[18] = { r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp,
        r->rsp, r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15, r->rip,
        r->rflags };
    if (n < 18) {
        *val = gpr[n];
        return 0;
    }
    struct ukvm_regs u;
    if (kvm_regs_read(&kt->m->vm, &u) < 0)
        return -1;
    switch (n) {
    case UKVM_REG_CS: *val = u.cs; return 0;
    case UKVM_REG_SS: *val = u.ss; return 0;
    case UKVM_REG_DS: *val = u.ds; return 0;
    case UKVM_REG_ES: *val = u.es; return 0;
    case UKVM_REG_FS: *val = u.fs; return 0;
    case UKVM_REG_GS: *val = u.gs; return 0;
    case UKVM_REG_MXCSR: *val = u.mxcsr; return 0;
    case UKVM_REG_FS_BASE: *val = u.fs_base; return 0;
    case UKVM_REG_GS_BASE: *val = u.gs_base; return 0;
    case UKVM_REG_CR0: *val = u.cr0; return 0;
    case UKVM_REG_CR2: *val = u.cr2; return 0;
    case UKVM_REG_CR3: *val = u.cr3; return 0;
    case UKVM_REG_CR4: *val = u.cr4; return 0;
    case UKVM_REG_CR8: *val = u.cr8; return 0;
    case UKVM_REG_EFER: *val = u.efer; return 0;
    default: return -1; /* x87, SSE: not integers the bytecode can push */
    }
}

static int env_mem(void *ctx, uint64_t addr, void *buf, size_t len)
{
    struct kvm_target *kt = ctx;
    return kvm_target_read_mem(&kt->base, addr, buf, len) == (long)len ? 0 : -1;
}

bool bp_condition_holds(struct kvm_target *kt, uint64_t addr)
{
    struct bp_cond *c = cond_find(&kt->conds, addr);
    if (!c)
        return true;
    struct ax_env env = { env_reg, env_mem, kt };
    if (ax_cond_list_holds(&c->list, &env))
        return true;
    c->skipped++;
    return false;
}

uint64_t bp_cond_skips(struct kvm_target *kt, uint64_t addr)
{
    struct bp_cond *c = cond_find(&kt->conds, addr);
    return c ? c->skipped : 0;
}

void bp_cond_reset_skips(struct kvm_target *kt)
{
    for (size_t i = 0; i < kt->conds.n; i++)
        kt->conds.e[i].skipped = 0;
}

void bp_cond_table_free(struct bp_cond_table *tab)
{
    for (size_t i = 0; i < tab->n; i++)
        ax_cond_list_free(&tab->e[i].list);
    free(tab->e);
    memset(tab, 0, sizeof(*tab));
}

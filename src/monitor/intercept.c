/*
 * Instructions that read non-deterministic state without exiting (rdtsc,
 * rdtscp, rdrand, rdseed) are found at load time and overwritten with a
 * one-byte `hlt` trap plus `nop` padding (docs/architecture.md,
 * "What is recorded"). With no
 * in-kernel irqchip, hlt exits to us on every KVM; we then emulate the
 * original instruction with a value from the event source.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor.h"
#include "ukvm/lower_bound.h"

static int site_cmp(const void *a, const void *b)
{
    const struct patch_site *x = a, *y = b;
    return x->site.addr < y->site.addr ? -1 : x->site.addr > y->site.addr;
}

int intercept_patch(struct monitor *m, char *err, size_t errlen)
{
    struct ukvm_scan_site *sites = NULL;
    size_t n = 0;
    const struct kernel_image *k = &m->kernel;
    for (size_t i = 0; i < k->n_segments; i++) {
        const struct elf_segment *s = &k->seg[i];
        if (!(s->flags & 1 /* PF_X */))
            continue;
        /* .interp and notes in the text are data: skip them (kernel_image) */
        if (ukvm_scan_code_skip(m->vm.mem + s->vaddr, s->filesz, s->vaddr, k->skip, k->n_skip,
                    &sites, &n) < 0) {
            free(sites);
            snprintf(err, errlen, "out of memory while scanning the kernel's code");
            return -1;
        }
    }
    free(m->patches);
    m->patches = calloc(n ? n : 1, sizeof(*m->patches));
    if (!m->patches) {
        free(sites);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct patch_site *p = &m->patches[i];
        p->site = sites[i];
        memcpy(p->orig, m->vm.mem + sites[i].addr, sites[i].len);
    }
    m->n_patches = n;
    free(sites);
    qsort(m->patches, n, sizeof(*m->patches), site_cmp);
    if (m->cfg->no_patch)
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t trap[15];
        ukvm_patch_bytes(&m->patches[i].site, trap);
        memcpy(m->vm.mem + m->patches[i].site.addr, trap, m->patches[i].site.len);
    }
    return 0;
}

const struct patch_site *intercept_find(const struct monitor *m, uint64_t addr)
{
    size_t i = UKVM_LOWER_BOUND(m->patches, m->n_patches, site.addr, addr);
    if (i < m->n_patches && m->patches[i].site.addr == addr)
        return &m->patches[i];
    return NULL;
}

/* kvm_regs field for a hardware register number (0 = rax ... 15 = r15). */
static __u64 *gpr_by_hw_number(struct kvm_regs *r, unsigned n)
{
    __u64 *table[16] = {
        &r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi, &r->rdi,
        &r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15,
    };
    return table[n & 15];
}

#define RFLAGS_CF 0x001ULL
#define RFLAGS_ARITH 0x8d5ULL /* CF PF AF ZF SF OF */

int intercept_service(struct monitor *m, const struct patch_site *p)
{
    struct ukvm_io io;
    memset(&io, 0, sizeof(io));
    io.ev.rip = p->site.addr;
    switch (p->site.kind) {
    case UKVM_PATCH_RDTSC: io.ev.kind = UKVM_EV_RDTSC; break;
    case UKVM_PATCH_RDTSCP: io.ev.kind = UKVM_EV_RDTSCP; break;
    case UKVM_PATCH_RDRAND: io.ev.kind = UKVM_EV_RDRAND; break;
    case UKVM_PATCH_RDSEED: io.ev.kind = UKVM_EV_RDSEED; break;
    default:
        ukvm_err("internal error: unknown patch kind %u", p->site.kind);
        m->exit_status = UKVM_EXIT_MONITOR_ERROR;
        return -1;
    }
    if (io.ev.kind == UKVM_EV_RDRAND || io.ev.kind == UKVM_EV_RDSEED)
        io.ev.a[1] = p->site.operand_bits;
    if (m->src->ops->service(m->src, &io, &m->exit_status) < 0)
        return -1;

    struct kvm_regs *r = vm_regs(&m->vm);
    switch (io.ev.kind) {
    case UKVM_EV_RDTSCP:
        r->rcx = (uint32_t)io.ev.a[1];
        /* fall through */
    case UKVM_EV_RDTSC:
        r->rax = (uint32_t)io.ev.a[0];
        r->rdx = io.ev.a[0] >> 32;
        break;
    default: { /* rdrand, rdseed */
        __u64 *dst = gpr_by_hw_number(r, p->site.reg);
        uint64_t v = io.ev.a[0];
        if (p->site.operand_bits == 16)
            *dst = (*dst & ~0xffffULL) | (v & 0xffff);
        else if (p->site.operand_bits == 32)
            *dst = (uint32_t)v;
        else
            *dst = v;
        r->rflags &= ~RFLAGS_ARITH;
        if (io.ev.a[2])
            r->rflags |= RFLAGS_CF;
        break;
    }
    }
    r->rip = p->site.addr + p->site.len;
    vm_regs_changed(&m->vm);
    return 0;
}

/*
 * The single-step trap flag kept out of the guest's sight (step_guard.h).
 */
#include <string.h>
#include <sys/ioctl.h>

#include "vcpu/step_guard.h"


/* The opcode after the prefixes (legacy ones, then REX), or -1. */
static int opcode_at(const uint8_t *insn, size_t len, size_t *at)
{
    size_t p = 0;
    while (p < len) {
        uint8_t b = insn[p];
        bool legacy = b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 || b == 0xf3 ||
            b == 0x2e || b == 0x36 || b == 0x3e || b == 0x26 || b == 0x64 || b == 0x65;
        if (!legacy && (b & 0xf0) != 0x40)
            break;
        p++;
    }
    if (p >= len)
        return -1;
    *at = p;
    return insn[p];
}

/* A catcher is `nop; hlt` on a handler's first two bytes. A KVM that
 * clears TF when it delivers the exception (as the hardware does) runs
 * into the hlt and exits; one that keeps TF through the delivery traps
 * after the nop. Either way nothing of the handler has run. */
static const uint8_t catcher[STEP_GUARD_BYTES] = { 0x90, 0xf4 };

/* The handlers of the IDT last read, so that a step costs one
 * KVM_GET_SREGS and a compare of the IDT's bytes while the guest keeps
 * its IDT and page tables (cr3) as they are: one vCPU per process, so one
 * entry. */
static struct {
    const struct kvm_target *kt;
    uint64_t cr3, base;
    size_t len;                 /* bytes of gates read */
    uint64_t idt_gpa[2];        /* an IDT spans two pages at most */
    uint8_t bytes[256 * 16];
    size_t n;
    struct { uint64_t gva, gpa[STEP_GUARD_BYTES]; } h[STEP_GUARD_MAX];
} handlers;

/* The IDT's bytes read straight from memory through the pages found last
 * time; false when they cannot be (then translate afresh). */
static bool idt_unchanged(const struct kvm_target *kt, const struct kvm_sregs *s, size_t len)
{
    if (handlers.kt != kt || handlers.cr3 != s->cr3 || handlers.base != s->idt.base ||
            handlers.len != len)
        return false;
    const uint8_t *mem = kt->m->vm.mem;
    size_t first = 0x1000 - (s->idt.base & 0xfff);
    if (first > len)
        first = len;
    return !memcmp(mem + handlers.idt_gpa[0], handlers.bytes, first) &&
        (first == len || !memcmp(mem + handlers.idt_gpa[1], handlers.bytes + first, len - first));
}

static void read_handlers(struct kvm_target *kt, const struct kvm_sregs *s, size_t len)
{
    handlers.kt = NULL;
    handlers.n = 0;
    uint64_t last = s->idt.base + len - 1;
    if (!kvm_target_translate(kt, s->idt.base, &handlers.idt_gpa[0]) ||
            !kvm_target_translate(kt, last & ~0xfffull, &handlers.idt_gpa[1]) ||
            handlers.idt_gpa[0] + (0x1000 - (s->idt.base & 0xfff)) > kt->m->vm.mem_size)
        return;
    if ((s->idt.base & ~0xfffull) == (last & ~0xfffull))
        handlers.idt_gpa[1] = handlers.idt_gpa[0];
    if (kvm_target_read_mem(&kt->base, s->idt.base, handlers.bytes, len) != (long)len)
        return;
    for (size_t v = 0; v < len / 16; v++) {
        const uint8_t *d = handlers.bytes + 16 * v;
        if (!(d[5] & 0x80))
            continue; /* not present */
        uint64_t gva = (uint64_t)d[0] | (uint64_t)d[1] << 8 | (uint64_t)d[6] << 16 |
            (uint64_t)d[7] << 24 | (uint64_t)d[8] << 32 | (uint64_t)d[9] << 40 |
            (uint64_t)d[10] << 48 | (uint64_t)d[11] << 56;
        bool seen = false, mapped = true;
        for (size_t i = 0; i < handlers.n && !seen; i++)
            seen = handlers.h[i].gva == gva;
        if (seen)
            continue;
        for (size_t b = 0; b < STEP_GUARD_BYTES && mapped; b++)
            mapped = kvm_target_translate(kt, gva + b, &handlers.h[handlers.n].gpa[b]);
        if (mapped)
            handlers.h[handlers.n++].gva = gva;
    }
    handlers.kt = kt;
    handlers.cr3 = s->cr3;
    handlers.base = s->idt.base;
    handlers.len = len;
}

void step_guard_arm(struct kvm_target *kt, struct step_guard *g, const uint8_t *insn,
        size_t insn_len)
{
    struct kvm_regs *r = vm_regs(&kt->m->vm);
    g->rip = r->rip;
    g->rsp = r->rsp;
    g->rflags = r->rflags;
    g->insn = insn;
    g->insn_len = insn_len;
    g->n = 0;
    struct kvm_sregs s;
    if (ioctl(kt->m->vm.vcpu_fd, KVM_GET_SREGS, &s) < 0)
        return;
    size_t len = ((size_t)s.idt.limit + 1) / 16 * 16;
    if (len > sizeof(handlers.bytes))
        len = sizeof(handlers.bytes);
    if (len == 0)
        return; /* no IDT: an exception is the guest's end anyway */
    if (!idt_unchanged(kt, &s, len))
        read_handlers(kt, &s, len);
    uint8_t *mem = kt->m->vm.mem;
    uint64_t insn_end = g->rip + (insn_len ? insn_len : 1);
    for (size_t i = 0; i < handlers.n; i++) {
        uint64_t gva = handlers.h[i].gva;
        /* never on the instruction being stepped: it must run as it is */
        if (gva + STEP_GUARD_BYTES > g->rip && gva < insn_end)
            continue;
        /* the bytes as they are now, planted breakpoints' hlt included */
        g->at[g->n].gva = gva;
        for (size_t b = 0; b < STEP_GUARD_BYTES; b++) {
            uint64_t gpa = handlers.h[i].gpa[b];
            g->at[g->n].gpa[b] = gpa;
            g->at[g->n].orig[b] = mem[gpa];
            mem[gpa] = catcher[b];
        }
        g->n++;
    }
}

static int catcher_at(const struct step_guard *g, uint64_t gva)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->at[i].gva == gva)
            return (int)i;
    return -1;
}

/* Clear TF in the 8-byte RFLAGS image at addr, unless the guest set TF itself. */
static void mend_flags_at(struct kvm_target *kt, const struct step_guard *g, uint64_t addr)
{
    uint8_t b; /* TF is bit 0 of the image's second byte */
    if (g->rflags & UKVM_RFLAGS_TF || kvm_target_read_mem(&kt->base, addr + 1, &b, 1) != 1)
        return;
    if (b & 1) {
        b &= (uint8_t)~1u;
        kvm_target_write_mem(&kt->base, addr + 1, &b, 1);
    }
}

/* Is there an exception frame at rsp for the stepped instruction? Then
 * where its RFLAGS image is. [rsp] holds rip, cs, rflags, rsp, ss, with an
 * error code below them for some vectors; the saved rip is the stepped
 * instruction (a fault) or the one after it (a trap, int N); cs fits 16
 * bits and RFLAGS has its always-one bit 1 and nothing above bit 21. */
static bool frame_flags_at(struct kvm_target *kt, const struct step_guard *g, uint64_t rsp,
        uint64_t *flags_at)
{
    uint64_t q[4];
    if (rsp + 40 > g->rsp || kvm_target_read_mem(&kt->base, rsp, q, sizeof(q)) != sizeof(q))
        return false;
    for (int err = 0; err <= 1; err++) {
        uint64_t rip = q[err], cs = q[err + 1], flags = q[err + 2];
        if (rip - g->rip <= 15 && cs <= 0xffff && (flags & 2) && flags < (1ull << 22)) {
            *flags_at = rsp + 8 * (uint64_t)(err + 2);
            return true;
        }
    }
    return false;
}

bool step_guard_caught(struct kvm_target *kt, struct step_guard *g, bool hlt_exit)
{
    struct kvm_regs *r = vm_regs(&kt->m->vm);
    uint64_t at = r->rip - (hlt_exit ? 2 : 1); /* past the hlt, or the nop */
    if (catcher_at(g, at) < 0)
        return false;
    uint64_t flags_at;
    if (!frame_flags_at(kt, g, r->rsp, &flags_at))
        return false;
    r->rip = at;
    vm_regs_changed(&kt->m->vm);
    mend_flags_at(kt, g, flags_at);
    return true;
}

void step_guard_after(struct kvm_target *kt, const struct step_guard *g)
{
    size_t p;
    int op = opcode_at(g->insn, g->insn_len, &p);
    struct kvm_regs *r = vm_regs(&kt->m->vm);
    if (op == 0x9c && (r->rsp == g->rsp - 8 || r->rsp == g->rsp - 2)) {
        mend_flags_at(kt, g, r->rsp); /* pushf: a 2-byte image has TF in byte 1 too */
    } else if (op == 0x0f && p + 1 < g->insn_len && g->insn[p + 1] == 0x05 &&
               !(g->rflags & UKVM_RFLAGS_TF) && (r->r11 & UKVM_RFLAGS_TF)) {
        r->r11 &= ~UKVM_RFLAGS_TF; /* syscall: r11 holds RFLAGS */
        vm_regs_changed(&kt->m->vm);
    }
}

void step_guard_disarm(struct kvm_target *kt, struct step_guard *g)
{
    uint8_t *mem = kt->m->vm.mem;
    for (size_t i = 0; i < g->n; i++)
        for (size_t b = 0; b < STEP_GUARD_BYTES; b++)
            if (mem[g->at[i].gpa[b]] == catcher[b]) /* else the guest wrote it */
                mem[g->at[i].gpa[b]] = g->at[i].orig[b];
    g->n = 0;
}

/*
 * The guest's state as a core file: registers from KVM (or, after a fatal
 * trap, from the trap frame the guest gave as halt's cookie), memory with
 * the original instructions under the monitor's patches. core_file.c lays
 * out the bytes.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "monitor/core_dump.h"
#include "monitor/core_file.h"

int core_dump_open_dir(struct config *cfg, char *err, size_t errlen)
{
    cfg->dumpcore_fd = -1;
    if (!cfg->dumpcore_dir)
        return 0;
    int fd = open(cfg->dumpcore_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || faccessat(fd, ".", W_OK, AT_EACCESS) < 0) {
        snprintf(err, errlen, "--dumpcore: cannot write core files in '%s': %s",
                cfg->dumpcore_dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    cfg->dumpcore_fd = fd;
    return 0;
}

static void regs_from_kvm(struct user_regs_struct *u, const struct kvm_regs *r,
        const struct kvm_sregs *s)
{
    memset(u, 0, sizeof(*u));
    u->r15 = r->r15; u->r14 = r->r14; u->r13 = r->r13; u->r12 = r->r12;
    u->rbp = r->rbp; u->rbx = r->rbx; u->r11 = r->r11; u->r10 = r->r10;
    u->r9 = r->r9; u->r8 = r->r8; u->rax = r->rax; u->rcx = r->rcx;
    u->rdx = r->rdx; u->rsi = r->rsi; u->rdi = r->rdi;
    u->orig_rax = (unsigned long long)-1;   /* not in a system call */
    u->rip = r->rip;
    u->eflags = r->rflags;
    u->rsp = r->rsp;
    u->cs = s->cs.selector; u->ss = s->ss.selector; u->ds = s->ds.selector;
    u->es = s->es.selector; u->fs = s->fs.selector; u->gs = s->gs.selector;
    u->fs_base = s->fs.base; u->gs_base = s->gs.base;
}

/* Memory split at the kernel's segments, with their permissions. */
static size_t segments_of(const struct monitor *m, struct core_segment *out)
{
    struct core_segment r[UKVM_MAX_SEGMENTS];
    size_t n = 0;
    for (size_t i = 0; i < m->kernel.n_segments; i++) {
        const struct elf_segment *e = &m->kernel.seg[i];
        if (e->memsz == 0)
            continue;
        r[n++] = (struct core_segment){ e->vaddr, e->memsz,
            (e->flags & PF_R ? PF_R : 0) | (e->flags & PF_W ? PF_W : 0) |
            (e->flags & PF_X ? PF_X : 0) };
    }
    return core_file_segments(out, CORE_MAX_SEGMENTS, r, n, m->vm.mem_size);
}

int core_dump_write(struct monitor *m, int fd, int signo, char *err, size_t errlen)
{
    static struct core_image ci;
    memset(&ci, 0, sizeof(ci));
    struct kvm_regs r;
    struct kvm_sregs s;
    /* KVM's own copy: sync regs are not filled when KVM_RUN failed */
    if (vm_regs_flush(&m->vm) < 0 || ioctl(m->vm.vcpu_fd, KVM_GET_REGS, &r) < 0 ||
        ioctl(m->vm.vcpu_fd, KVM_GET_SREGS, &s) < 0) {
        snprintf(err, errlen, "core: reading the guest's registers: %s", strerror(errno));
        return -1;
    }
    if (m->halted) {
        /* on the halt's `out`, whether or not this KVM moved rip past it */
        r.rip = m->halt_rip;
        struct hvt_trap_regs t;
        if (m->exit_status == HVT_EXIT_ABORT && m->halt_cookie &&
            vm_range_ok(&m->vm, m->halt_cookie, sizeof(t))) {
            memcpy(&t, m->vm.mem + m->halt_cookie, sizeof(t));
            r.rip = t.rip;
            r.rflags = t.rflags;
            r.rsp = t.rsp;
            s.cs.selector = (uint16_t)t.cs;
            s.ss.selector = (uint16_t)t.ss;
        }
    }
    regs_from_kvm(&ci.regs, &r, &s);
    _Alignas(16) uint8_t fx[512];
    if (vm_get_fxarea(&m->vm, fx) == 0) {
        memcpy(ci.fx, fx, sizeof(fx));
        ci.fx_valid = true;
    }
    ci.mem = m->vm.mem;
    ci.mem_size = m->vm.mem_size;
    ci.n_segments = segments_of(m, ci.seg);
    struct core_overlay *ov = calloc(m->n_patches + 1, sizeof(*ov));
    if (!ov) {
        snprintf(err, errlen, "core: out of memory");
        return -1;
    }
    for (size_t i = 0; i < m->n_patches; i++)
        ov[i] = (struct core_overlay){ m->patches[i].site.addr, m->patches[i].orig,
            m->patches[i].site.len };
    ci.overlays = ov;
    ci.n_overlays = m->n_patches;
    ci.signo = signo;
    ci.pid = (int)getpid();
    char args[80];
    const struct config *c = m->cfg;
    static const char *const names[] = { "run", "record", "replay", "debug" };
    snprintf(args, sizeof(args), "ukvm %s %s", names[c->mode],
            c->mode >= MODE_REPLAY ? c->trace_path : c->kernel_path);
    ci.psargs = args;
    int rc = core_file_write(fd, &ci, err, errlen);
    free(ov);
    return rc;
}

void core_dump_at_end(struct monitor *m, int status, int stop_signal)
{
    const struct config *c = m->cfg;
    if (!c->dumpcore_dir || c->dumpcore_fd < 0)
        return;
    int signo;
    if (stop_signal)
        signo = stop_signal;
    else if (m->halted && status == HVT_EXIT_ABORT)
        signo = SIGABRT;
    else if (!m->halted && m->guest_fault)
        signo = SIGSEGV;
    else
        return;
    char name[64], err[512];
    snprintf(name, sizeof(name), "core.ukvm.%d", (int)getpid());
    int fd = openat(c->dumpcore_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        ukvm_err("--dumpcore: %s/%s: %s", c->dumpcore_dir, name, strerror(errno));
        return;
    }
    int rc = core_dump_write(m, fd, signo, err, sizeof(err));
    if (close(fd) < 0 && rc == 0) {
        snprintf(err, sizeof(err), "core: %s", strerror(errno));
        rc = -1;
    }
    if (rc < 0) {
        unlinkat(c->dumpcore_fd, name, 0);
        ukvm_err("--dumpcore: %s/%s: %s", c->dumpcore_dir, name, err);
        return;
    }
    ukvm_err("guest core written to %s/%s", c->dumpcore_dir, name);
}

/*
 * Writing an ELF core file (core_file.h). Written with the <elf.h> structs
 * rather than libelf: the layout is fixed and small, and every byte is ours
 * to place, which keeps two cores of the same moment identical outside the
 * NT_PRPSINFO note.
 *
 * File layout: ELF header, program headers (PT_NOTE, then the PT_LOADs),
 * the notes (NT_PRPSINFO, NT_PRSTATUS, NT_FPREGSET), then each segment's
 * memory at a page-aligned offset.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/procfs.h>
#include <unistd.h>

#include "monitor/core_file.h"

#define NOTE_NAME "CORE"
/* Elf64_Nhdr and "CORE\0" padded to 4 bytes */
#define NOTE_HEAD (sizeof(Elf64_Nhdr) + 8)

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

static uint64_t notes_offset(size_t n_segments)
{
    return sizeof(Elf64_Ehdr) + (1 + n_segments) * sizeof(Elf64_Phdr);
}

void core_file_header_region(size_t n_segments, uint64_t *offset, uint64_t *len)
{
    *offset = notes_offset(n_segments) + NOTE_HEAD;
    *len = sizeof(struct elf_prpsinfo);
}

size_t core_file_segments(struct core_segment *out, size_t max,
        const struct core_segment *ranges, size_t n, uint64_t mem_size)
{
    size_t k = 0;
    uint64_t at = 0;
    for (size_t i = 0; i <= n; i++) {
        uint64_t lo = i < n ? ranges[i].addr / CORE_PAGE * CORE_PAGE : mem_size;
        uint64_t hi = i < n ? align_up(ranges[i].addr + ranges[i].size, CORE_PAGE) : mem_size;
        if (lo < at)
            lo = at;            /* a page shared with the range before */
        if (hi > mem_size)
            hi = mem_size;
        if (lo > at) {
            if (k == max)
                return 0;
            out[k++] = (struct core_segment){ at, lo - at, PF_R | PF_W | PF_X };
        }
        if (i < n && hi > lo) {
            if (k == max)
                return 0;
            out[k++] = (struct core_segment){ lo, hi - lo, ranges[i].flags };
            at = hi;
        } else if (lo > at) {
            at = lo;
        }
    }
    return k;
}

/* Appends one note; returns the new length. */
static size_t put_note(uint8_t *buf, size_t at, uint32_t type, const void *desc, size_t len)
{
    Elf64_Nhdr nh = { .n_namesz = sizeof(NOTE_NAME), .n_descsz = (Elf64_Word)len, .n_type = type };
    memcpy(buf + at, &nh, sizeof(nh));
    memset(buf + at + sizeof(nh), 0, 8);
    memcpy(buf + at + sizeof(nh), NOTE_NAME, sizeof(NOTE_NAME));
    memcpy(buf + at + NOTE_HEAD, desc, len);
    size_t end = at + NOTE_HEAD + len;
    size_t padded = (size_t)align_up(end, 4);
    memset(buf + end, 0, padded - end);
    return padded;
}

static size_t build_notes(uint8_t *buf, const struct core_image *ci)
{
    struct elf_prpsinfo ps;
    memset(&ps, 0, sizeof(ps));
    ps.pr_sname = 'R';
    ps.pr_pid = ci->pid;
    snprintf(ps.pr_fname, sizeof(ps.pr_fname), "ukvm");
    snprintf(ps.pr_psargs, sizeof(ps.pr_psargs), "%s", ci->psargs ? ci->psargs : "ukvm");

    /* The guest is one thread; its id is fixed so that the body of the
     * core does not depend on the monitor's pid. */
    struct elf_prstatus st;
    memset(&st, 0, sizeof(st));
    st.pr_info.si_signo = ci->signo;
    st.pr_cursig = (short)ci->signo;
    st.pr_pid = 1;
    _Static_assert(sizeof(st.pr_reg) == sizeof(ci->regs), "user_regs_struct is elf_gregset_t");
    memcpy(&st.pr_reg, &ci->regs, sizeof(ci->regs));
    st.pr_fpvalid = ci->fx_valid;

    size_t at = put_note(buf, 0, NT_PRPSINFO, &ps, sizeof(ps));
    at = put_note(buf, at, NT_PRSTATUS, &st, sizeof(st));
    if (ci->fx_valid)
        at = put_note(buf, at, NT_FPREGSET, ci->fx, sizeof(ci->fx));
    return at;
}

static bool page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)p;
    for (size_t i = 0; i < CORE_PAGE / 8; i++)
        if (w[i])
            return false;
    return true;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* The non-zero pages of one segment, in runs. */
static int write_segment(int fd, const struct core_image *ci, const struct core_segment *sg,
        uint64_t file_off)
{
    uint64_t run = 0, run_len = 0;
    for (uint64_t a = sg->addr; a <= sg->addr + sg->size; a += CORE_PAGE) {
        bool data = a < sg->addr + sg->size && !page_is_zero(ci->mem + a);
        if (data) {
            if (!run_len)
                run = a;
            run_len += CORE_PAGE;
            continue;
        }
        if (run_len && pwrite_all(fd, ci->mem + run, run_len, file_off + (run - sg->addr)) < 0)
            return -1;
        run_len = 0;
    }
    for (size_t i = 0; i < ci->n_overlays; i++) {
        const struct core_overlay *o = &ci->overlays[i];
        if (o->addr >= sg->addr && o->addr + o->len <= sg->addr + sg->size &&
            pwrite_all(fd, o->bytes, o->len, file_off + (o->addr - sg->addr)) < 0)
            return -1;
    }
    return 0;
}

int core_file_write(int fd, const struct core_image *ci, char *err, size_t errlen)
{
    if (ci->n_segments == 0 || ci->n_segments > CORE_MAX_SEGMENTS) {
        snprintf(err, errlen, "core: %zu memory segments", ci->n_segments);
        return -1;
    }
    for (size_t i = 0; i < ci->n_segments; i++) {
        const struct core_segment *sg = &ci->seg[i];
        if (sg->addr % CORE_PAGE || sg->size % CORE_PAGE || sg->addr > ci->mem_size ||
            sg->size > ci->mem_size - sg->addr) {
            snprintf(err, errlen, "core: segment 0x%llx+0x%llx is not inside guest memory",
                    (unsigned long long)sg->addr, (unsigned long long)sg->size);
            return -1;
        }
    }
    /* headers and notes: well under a page per segment */
    static uint8_t head[CORE_PAGE * 2];
    memset(head, 0, sizeof(head));
    uint64_t note_off = notes_offset(ci->n_segments);
    size_t note_len = build_notes(head + note_off, ci);
    uint64_t data_off = align_up(note_off + note_len, CORE_PAGE);

    Elf64_Ehdr eh;
    memset(&eh, 0, sizeof(eh));
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
    eh.e_type = ET_CORE;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_phoff = sizeof(eh);
    eh.e_ehsize = sizeof(eh);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = (Elf64_Half)(1 + ci->n_segments);
    memcpy(head, &eh, sizeof(eh));

    Elf64_Phdr ph = { .p_type = PT_NOTE, .p_offset = note_off, .p_filesz = note_len,
        .p_align = 4 };
    memcpy(head + sizeof(eh), &ph, sizeof(ph));
    uint64_t off = data_off;
    for (size_t i = 0; i < ci->n_segments; i++) {
        const struct core_segment *sg = &ci->seg[i];
        ph = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = sg->flags, .p_offset = off,
            .p_vaddr = sg->addr, .p_paddr = sg->addr, .p_filesz = sg->size,
            .p_memsz = sg->size, .p_align = CORE_PAGE };
        memcpy(head + sizeof(eh) + (1 + i) * sizeof(ph), &ph, sizeof(ph));
        off += sg->size;
    }
    if (pwrite_all(fd, head, (size_t)data_off, 0) < 0)
        goto fail;
    off = data_off;
    for (size_t i = 0; i < ci->n_segments; i++) {
        if (write_segment(fd, ci, &ci->seg[i], off) < 0)
            goto fail;
        off += ci->seg[i].size;
    }
    if (ftruncate(fd, (off_t)off) < 0)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "core: %s", strerror(errno ? errno : EIO));
    return -1;
}

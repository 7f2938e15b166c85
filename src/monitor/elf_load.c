/*
 * Reading and validating an hvt kernel with libelf: the ELF header, the
 * PT_LOAD segments and the Solo5 ABI and manifest notes (docs/hvt-abi.md,
 * "The kernel file"). Only program headers are read: section headers may be
 * missing or wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor/monitor.h"

uint8_t *read_whole_file(const char *path, size_t *len, char *err, size_t errlen)
{
    /* O_NONBLOCK: a FIFO must not block the open; it is refused below */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return NULL;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n <= 0) {
            snprintf(err, errlen, "%s: read error: %s", path,
                    n < 0 ? strerror(errno) : "file shrank");
            free(buf);
            close(fd);
            return NULL;
        }
        got += (size_t)n;
    }
    close(fd);
    *len = size;
    return buf;
}

/*
 * Notes are found through the PT_NOTE program headers only, as Solo5's
 * tender finds them: a kernel stripped of its section headers still loads.
 * Every note in each PT_NOTE segment is walked (4-byte padding between
 * notes); notes not named "Solo5" (Solo5's own "OpenBSD" note, for one) are
 * skipped.
 */

/* What the notes gave so far. */
struct notes_found {
    bool abi, mft;
};

static uint32_t le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));  /* the file is little-endian, like x86 */
    return v;
}

static uint64_t round4(uint64_t v)
{
    return (v + 3) & ~3ULL;
}

/* The ABI note's content (`size` bytes): 16 bytes at offset 20. */
static int solo5_abi_note(uint64_t size, const uint8_t *content, char *err, size_t errlen)
{
    struct hvt_abi1_desc abi;
    if (size < sizeof(abi)) {
        snprintf(err, errlen, "Solo5 ABI note is too short");
        return -1;
    }
    memcpy(&abi, content, sizeof(abi));
    if (abi.abi_target != HVT_ABI_TARGET_HVT) {
        snprintf(err, errlen, "kernel is built for Solo5 target %u, not hvt (1)",
                abi.abi_target);
        return -1;
    }
    if (abi.abi_version != HVT_ABI_VERSION) {
        snprintf(err, errlen, "kernel uses hvt ABI version %u, ukvm supports %u",
                abi.abi_version, HVT_ABI_VERSION);
        return -1;
    }
    return 0;
}

/* The manifest's content (`size` bytes: u32 version, u32 entries, entries),
 * copied into k. */
static int solo5_manifest(struct kernel_image *k, const uint8_t *content, uint64_t size,
        char *err, size_t errlen)
{
    struct hvt_mft hdr;
    if (size < sizeof(hdr)) {
        snprintf(err, errlen, "Solo5 manifest note is too short");
        return -1;
    }
    memcpy(&hdr, content, sizeof(hdr));
    if (hdr.version != HVT_MFT_VERSION) {
        snprintf(err, errlen, "unsupported manifest version %u", hdr.version);
        return -1;
    }
    if (hdr.entries > HVT_MFT_MAX_ENTRIES) {
        snprintf(err, errlen, "manifest has %u entries (at most %u)",
                hdr.entries, HVT_MFT_MAX_ENTRIES);
        return -1;
    }
    size_t need = sizeof(hdr) + (size_t)hdr.entries * sizeof(struct hvt_mft_entry);
    if (size < need) {
        snprintf(err, errlen, "manifest note is truncated");
        return -1;
    }
    memcpy(k->mft, content + sizeof(hdr), hdr.entries * sizeof(struct hvt_mft_entry));
    k->n_mft_entries = hdr.entries;
    for (uint32_t i = 0; i < hdr.entries; i++) {
        struct hvt_mft_entry *e = &k->mft[i];
        if (memchr(e->name, 0, sizeof(e->name)) == NULL) {
            snprintf(err, errlen, "manifest entry %u has an unterminated name", i);
            return -1;
        }
        /* names reach messages and the command line: printable ASCII only */
        for (const char *c = e->name; *c; c++) {
            if (*c < 0x21 || *c > 0x7e) {
                snprintf(err, errlen, "manifest entry %u has a name with byte 0x%02x "
                        "(printable ASCII only)", i, (unsigned char)*c);
                return -1;
            }
        }
        if (e->attached) {
            snprintf(err, errlen, "manifest entry %u '%s' is marked attached in the file",
                    i, e->name);
            return -1;
        }
    }
    return 0;
}

/* The largest valid manifest content plus its padding. */
#define MFT_DESCSZ_MAX (HVT_NOTE_CONTENT_OFF(HVT_MFT_NOTE_ALIGN) - HVT_NOTE_HDR_SIZE + \
        sizeof(struct hvt_mft) + HVT_MFT_MAX_ENTRIES * sizeof(struct hvt_mft_entry))

/*
 * One Solo5 note of `type` whose descriptor (`descsz` bytes, padding
 * included) starts at `desc`, offset 20 of the note; `room` bytes of the
 * PT_NOTE segment follow `desc`. Notes of other types are ignored.
 */
static int solo5_note(struct kernel_image *k, struct notes_found *found, uint32_t type,
        uint32_t descsz, const uint8_t *desc, uint64_t room, char *err, size_t errlen)
{
    /* the ABI content is 4-aligned: no padding (pad 0) */
    const uint64_t abi_pad = HVT_NOTE_CONTENT_OFF(HVT_ABI_NOTE_ALIGN) - HVT_NOTE_HDR_SIZE;
    const char *what;
    uint64_t max, pad;
    if (type == HVT_NOTE_TYPE_ABI) {
        what = "ABI";
        max = abi_pad + sizeof(struct hvt_abi1_desc);
    } else if (type == HVT_NOTE_TYPE_MANIFEST) {
        what = "manifest";
        max = MFT_DESCSZ_MAX;
    } else {
        return 0;
    }
    if (descsz == 0) {
        snprintf(err, errlen, "Solo5 %s note is empty (descsz 0)", what);
        return -1;
    }
    if (descsz > max) {
        snprintf(err, errlen, "Solo5 %s note is too large (descsz %u, at most %llu)",
                what, descsz, (unsigned long long)max);
        return -1;
    }
    if (descsz > room) {
        snprintf(err, errlen, "Solo5 %s note runs past the end of its PT_NOTE segment "
                "(descsz %u, %llu bytes left)", what, descsz, (unsigned long long)room);
        return -1;
    }
    if (type == HVT_NOTE_TYPE_ABI) {
        if (found->abi) {
            snprintf(err, errlen, "kernel has more than one Solo5 ABI note");
            return -1;
        }
        found->abi = true;
        return solo5_abi_note(descsz - abi_pad, desc + abi_pad, err, errlen);
    }
    if (found->mft) {
        snprintf(err, errlen, "kernel has more than one Solo5 manifest note");
        return -1;
    }
    found->mft = true;
    /* The content is 8 bytes plus 104 per entry. Solo5 aligns it to 8 inside
     * the note (4 bytes of padding counted in descsz: descsz % 8 == 4); older
     * ukvm test guests did not (descsz % 8 == 0). */
    if (descsz % 8 == 4) {
        pad = HVT_NOTE_CONTENT_OFF(HVT_MFT_NOTE_ALIGN) - HVT_NOTE_HDR_SIZE;
    } else if (descsz % 8 == 0) {
        pad = 0;
    } else {
        snprintf(err, errlen, "Solo5 manifest note has descsz %u: neither 8-aligned content "
                "after 4 bytes of padding (descsz %% 8 == 4) nor unpadded content "
                "(descsz %% 8 == 0)", descsz);
        return -1;
    }
    return solo5_manifest(k, desc + pad, descsz - pad, err, errlen);
}

/* Walk every note of PT_NOTE segment `idx` (bytes [off, off + size) of the
 * file, already checked to lie inside it). */
static int note_segment(struct kernel_image *k, size_t idx, uint64_t off, uint64_t size,
        struct notes_found *found, char *err, size_t errlen)
{
    const uint8_t *seg = k->file + off;
    uint64_t pos = 0;
    while (pos < size) {
        if (size - pos < 12) {
            snprintf(err, errlen, "PT_NOTE segment %zu: note header at offset %llu runs past "
                    "the end of the segment", idx, (unsigned long long)pos);
            return -1;
        }
        uint32_t namesz = le32(seg + pos), descsz = le32(seg + pos + 4);
        uint32_t type = le32(seg + pos + 8);
        uint64_t name_off = pos + 12, desc_off = name_off + round4(namesz);
        if (desc_off > size) {
            snprintf(err, errlen, "PT_NOTE segment %zu: note name at offset %llu runs past "
                    "the end of the segment (namesz %u)", idx, (unsigned long long)pos, namesz);
            return -1;
        }
        if (namesz == sizeof(HVT_NOTE_NAME) &&
                memcmp(seg + name_off, HVT_NOTE_NAME, sizeof(HVT_NOTE_NAME)) == 0) {
            /* name_off + 8 == desc_off: the content area starts at 20 */
            if (solo5_note(k, found, type, descsz, seg + desc_off, size - desc_off,
                        err, errlen) < 0)
                return -1;
        }
        if (descsz > size - desc_off) {
            snprintf(err, errlen, "PT_NOTE segment %zu: note at offset %llu runs past the end "
                    "of the segment (descsz %u)", idx, (unsigned long long)pos, descsz);
            return -1;
        }
        pos = desc_off + round4(descsz);   /* the last note's padding may be missing */
    }
    return 0;
}

static int read_phdr(Elf *elf, size_t i, GElf_Phdr *ph, char *err, size_t errlen)
{
    if (gelf_getphdr(elf, (int)i, ph))
        return 0;
    snprintf(err, errlen, "malformed program header %zu: %s", i, elf_errmsg(-1));
    return -1;
}

/* Find the ABI and manifest notes through the PT_NOTE program headers. */
static int find_notes(Elf *elf, size_t phnum, struct kernel_image *k, char *err, size_t errlen)
{
    struct notes_found found = { false, false };
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (read_phdr(elf, i, &ph, err, errlen) < 0)
            return -1;
        if (ph.p_type != PT_NOTE)
            continue;
        if (ph.p_offset > k->file_len || ph.p_filesz > k->file_len - ph.p_offset) {
            snprintf(err, errlen, "PT_NOTE segment %zu lies outside the file (truncated?)", i);
            return -1;
        }
        if (note_segment(k, i, ph.p_offset, ph.p_filesz, &found, err, errlen) < 0)
            return -1;
    }
    if (!found.abi) {
        snprintf(err, errlen, "no Solo5 ABI note: not a Solo5 hvt kernel");
        return -1;
    }
    if (!found.mft) {
        snprintf(err, errlen, "no Solo5 manifest note");
        return -1;
    }
    return 0;
}

/* Record the parts of executable segments that PT_INTERP and PT_NOTE cover,
 * for the rdtsc scan to skip (they are data). */
static int find_skip_ranges(Elf *elf, size_t phnum, struct kernel_image *k, char *err,
        size_t errlen)
{
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (read_phdr(elf, i, &ph, err, errlen) < 0)
            return -1;
        if (ph.p_type != PT_INTERP && ph.p_type != PT_NOTE)
            continue;
        uint64_t size = ph.p_filesz > ph.p_memsz ? ph.p_filesz : ph.p_memsz;
        uint64_t start = ph.p_vaddr;
        uint64_t end = size > UINT64_MAX - start ? UINT64_MAX : start + size;
        for (size_t j = 0; j < k->n_segments; j++) {
            const struct elf_segment *s = &k->seg[j];
            uint64_t lo = start > s->vaddr ? start : s->vaddr;
            uint64_t hi = end < s->vaddr + s->memsz ? end : s->vaddr + s->memsz;
            if (!(s->flags & PF_X) || lo >= hi)
                continue;
            if (k->n_skip == UKVM_SCAN_MAX_SKIP) {
                snprintf(err, errlen, "too many PT_INTERP and PT_NOTE segments inside "
                        "executable segments (at most %d)", UKVM_SCAN_MAX_SKIP);
                return -1;
            }
            k->skip[k->n_skip++] = (struct ukvm_scan_range){ .start = lo, .end = hi };
        }
    }
    return 0;
}

/*
 * The PT_LOAD segments with a non-zero p_memsz (Solo5 kernels have an empty
 * one at vaddr 0). PT_DYNAMIC is refused; every other type (PT_INTERP, which
 * every Solo5 kernel has, PT_TLS, PT_GNU_STACK, ...) is ignored, and PT_NOTE
 * is read by find_notes.
 */
static int load_segments(Elf *elf, size_t phnum, struct kernel_image *k, char *err,
        size_t errlen)
{
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (read_phdr(elf, i, &ph, err, errlen) < 0)
            return -1;
        if (ph.p_type == PT_DYNAMIC) {
            snprintf(err, errlen, "kernel is dynamically linked");
            return -1;
        }
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
            continue;
        if (ph.p_filesz > ph.p_memsz || ph.p_offset > k->file_len ||
                ph.p_filesz > k->file_len - ph.p_offset) {
            snprintf(err, errlen, "segment at 0x%llx lies outside the file (truncated?)",
                    (unsigned long long)ph.p_vaddr);
            return -1;
        }
        if (k->n_segments == UKVM_MAX_SEGMENTS) {
            snprintf(err, errlen, "too many loadable segments (at most %d)", UKVM_MAX_SEGMENTS);
            return -1;
        }
        k->seg[k->n_segments++] = (struct elf_segment){
            .vaddr = ph.p_vaddr, .filesz = ph.p_filesz, .memsz = ph.p_memsz,
            .offset = ph.p_offset, .flags = ph.p_flags,
        };
    }
    if (k->n_segments == 0) {
        snprintf(err, errlen, "no loadable segments");
        return -1;
    }
    return 0;
}

static int check_segments(struct kernel_image *k, uint64_t mem_size, char *err, size_t errlen)
{
    uint64_t prev_end = 0;
    for (size_t i = 0; i < k->n_segments; i++) {
        const struct elf_segment *s = &k->seg[i];
        uint64_t end = s->vaddr + s->memsz;
        if (end < s->vaddr) {
            snprintf(err, errlen, "segment %zu at 0x%llx wraps around", i,
                    (unsigned long long)s->vaddr);
            return -1;
        }
        if (s->vaddr < HVT_GUEST_MIN_BASE) {
            snprintf(err, errlen, "segment at 0x%llx lies below 1 MiB",
                    (unsigned long long)s->vaddr);
            return -1;
        }
        if (s->vaddr < prev_end) {
            snprintf(err, errlen, "segment at 0x%llx overlaps the one before it or is out of order",
                    (unsigned long long)s->vaddr);
            return -1;
        }
        if (end > mem_size) {
            snprintf(err, errlen, "segment at 0x%llx-0x%llx lies outside guest memory (%llu MiB)",
                    (unsigned long long)s->vaddr, (unsigned long long)end,
                    (unsigned long long)(mem_size >> 20));
            return -1;
        }
        if ((s->flags & PF_W) && (s->flags & PF_X)) {
            snprintf(err, errlen, "segment at 0x%llx is both writable and executable",
                    (unsigned long long)s->vaddr);
            return -1;
        }
        prev_end = end;
    }
    k->kernel_end = (prev_end + 0xfff) & ~0xfffULL;
    if (k->entry < HVT_GUEST_MIN_BASE || k->entry >= mem_size) {
        snprintf(err, errlen, "entry point 0x%llx lies outside guest memory",
                (unsigned long long)k->entry);
        return -1;
    }
    return 0;
}

int kernel_parse(const uint8_t *file, size_t len, uint64_t mem_size,
        struct kernel_image *k, char *err, size_t errlen)
{
    memset(k, 0, sizeof(*k));
    k->file = file;
    k->file_len = len;
    if (elf_version(EV_CURRENT) == EV_NONE) {
        snprintf(err, errlen, "libelf initialisation failed");
        return -1;
    }
    if (len < EI_NIDENT || memcmp(file, ELFMAG, SELFMAG) != 0) {
        snprintf(err, errlen, "not an ELF file");
        return -1;
    }
    if (file[EI_CLASS] != ELFCLASS64) {
        snprintf(err, errlen, "not a 64-bit ELF file");
        return -1;
    }
    if (file[EI_DATA] != ELFDATA2LSB) {
        snprintf(err, errlen, "not a little-endian ELF file");
        return -1;
    }
    Elf *elf = elf_memory((char *)(uintptr_t)file, len);
    if (!elf) {
        snprintf(err, errlen, "cannot read ELF: %s", elf_errmsg(-1));
        return -1;
    }
    int rc = -1;
    GElf_Ehdr eh;
    if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
        snprintf(err, errlen, "malformed ELF header: %s", elf_errmsg(-1));
        goto out;
    }
    if (eh.e_machine != EM_X86_64) {
        snprintf(err, errlen, "ELF machine is %u, not x86_64", eh.e_machine);
        goto out;
    }
    if (eh.e_type != ET_EXEC) {
        snprintf(err, errlen, "not a statically linked executable (ELF type %u)", eh.e_type);
        goto out;
    }
    k->entry = eh.e_entry;
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0) {
        snprintf(err, errlen, "malformed ELF header: program header size %u, count %u",
                eh.e_phentsize, eh.e_phnum);
        goto out;
    }

    size_t phnum;
    if (elf_getphdrnum(elf, &phnum) != 0) {
        snprintf(err, errlen, "malformed program headers: %s", elf_errmsg(-1));
        goto out;
    }
    /* libelf may quietly drop program headers that run past the end */
    size_t want = eh.e_phnum == PN_XNUM ? phnum : eh.e_phnum;
    if (phnum != want || eh.e_phoff > len || want > (len - eh.e_phoff) / sizeof(Elf64_Phdr)) {
        snprintf(err, errlen, "program headers lie outside the file (truncated?)");
        goto out;
    }
    if (load_segments(elf, phnum, k, err, errlen) < 0)
        goto out;
    if (check_segments(k, mem_size, err, errlen) < 0)
        goto out;
    if (find_notes(elf, phnum, k, err, errlen) < 0)
        goto out;
    if (find_skip_ranges(elf, phnum, k, err, errlen) < 0)
        goto out;
    rc = 0;
out:
    elf_end(elf);
    return rc;
}

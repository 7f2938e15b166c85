/*
 * Reading and validating an hvt kernel with libelf: the ELF header, the
 * PT_LOAD segments and the Solo5 ABI and manifest notes (hvt-abi.md).
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

/* Walk the notes of one SHT_NOTE section, looking for Solo5's. */
static int scan_notes(Elf_Data *data, struct kernel_image *k, bool *have_abi,
        bool *have_mft, char *err, size_t errlen)
{
    size_t off = 0, name_off, desc_off;
    GElf_Nhdr nh;
    while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
        const char *name = (const char *)data->d_buf + name_off;
        const uint8_t *desc = (const uint8_t *)data->d_buf + desc_off;
        if (nh.n_namesz != sizeof(HVT_NOTE_NAME) ||
            memcmp(name, HVT_NOTE_NAME, sizeof(HVT_NOTE_NAME)) != 0)
            continue;
        if (nh.n_type == HVT_NOTE_TYPE_ABI) {
            struct hvt_abi1_desc abi;
            if (nh.n_descsz < sizeof(abi)) {
                snprintf(err, errlen, "Solo5 ABI note is too short");
                return -1;
            }
            memcpy(&abi, desc, sizeof(abi));
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
            *have_abi = true;
        } else if (nh.n_type == HVT_NOTE_TYPE_MANIFEST) {
            struct hvt_mft hdr;
            if (nh.n_descsz < sizeof(hdr)) {
                snprintf(err, errlen, "Solo5 manifest note is too short");
                return -1;
            }
            memcpy(&hdr, desc, sizeof(hdr));
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
            if (nh.n_descsz < need) {
                snprintf(err, errlen, "manifest note is truncated");
                return -1;
            }
            memcpy(k->mft, desc + sizeof(hdr), hdr.entries * sizeof(struct hvt_mft_entry));
            k->n_mft_entries = hdr.entries;
            for (uint32_t i = 0; i < hdr.entries; i++) {
                struct hvt_mft_entry *e = &k->mft[i];
                if (memchr(e->name, 0, sizeof(e->name)) == NULL) {
                    snprintf(err, errlen, "manifest entry %u has an unterminated name", i);
                    return -1;
                }
                if (e->attached) {
                    snprintf(err, errlen, "manifest entry '%s' is marked attached in the file",
                            e->name);
                    return -1;
                }
            }
            *have_mft = true;
        }
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
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph)) {
            snprintf(err, errlen, "malformed program header %zu: %s", i, elf_errmsg(-1));
            goto out;
        }
        if (ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC) {
            snprintf(err, errlen, "kernel is dynamically linked");
            goto out;
        }
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
            continue;
        if (ph.p_filesz > ph.p_memsz || ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
            snprintf(err, errlen, "segment at 0x%llx lies outside the file (truncated?)",
                    (unsigned long long)ph.p_vaddr);
            goto out;
        }
        if (k->n_segments == UKVM_MAX_SEGMENTS) {
            snprintf(err, errlen, "too many loadable segments (at most %d)", UKVM_MAX_SEGMENTS);
            goto out;
        }
        k->seg[k->n_segments++] = (struct elf_segment){
            .vaddr = ph.p_vaddr, .filesz = ph.p_filesz, .memsz = ph.p_memsz,
            .offset = ph.p_offset, .flags = ph.p_flags,
        };
    }
    if (k->n_segments == 0) {
        snprintf(err, errlen, "no loadable segments");
        goto out;
    }
    if (check_segments(k, mem_size, err, errlen) < 0)
        goto out;

    bool have_abi = false, have_mft = false;
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh)) {
            snprintf(err, errlen, "malformed section header: %s", elf_errmsg(-1));
            goto out;
        }
        if (sh.sh_type != SHT_NOTE)
            continue;
        Elf_Data *data = elf_getdata(scn, NULL);
        if (!data) {
            snprintf(err, errlen, "malformed note section (truncated?)");
            goto out;
        }
        if (scan_notes(data, k, &have_abi, &have_mft, err, errlen) < 0)
            goto out;
    }
    if (!have_abi) {
        snprintf(err, errlen, "no Solo5 ABI note: not a Solo5 hvt kernel");
        goto out;
    }
    if (!have_mft) {
        snprintf(err, errlen, "no Solo5 manifest note");
        goto out;
    }
    rc = 0;
out:
    elf_end(elf);
    return rc;
}

/*
 * Unit tests for the kernel loader (src/monitor/elf_load.c): ELF images are
 * built in memory, laid out like a real Solo5 0.12 hvt kernel (docs/hvt-abi.md,
 * "The kernel file"), then changed one point at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>

#include <cmocka.h>

#include "monitor/monitor.h"

#define MEM (512ULL << 20)

/* ---- a small ELF builder ----
 *
 * The default image, like Solo5's test_hello.hvt:
 *   file 0x1000  vaddr 0x100000  .interp (24 bytes), then code (entry 0x100018)
 *   file 0x2000  vaddr 0x101000  notes: OpenBSD, ABI, manifest; then rodata
 *   file 0x4000  vaddr 0x103000  .data (16 bytes)
 *                vaddr 0x104000  .bss (0x4800 bytes, filesz 0)
 * Program headers: INTERP, LOAD R E, LOAD R, LOAD RW, LOAD (empty), TLS
 * (zero), LOAD RW (bss), NOTE x3. Section headers at the end of the file.
 */
#define TEXT_OFF   0x1000u
#define TEXT_VA    0x100000u
#define RO_OFF     0x2000u
#define RO_VA      0x101000u
#define DATA_OFF   0x4000u     /* rodata may take two pages (64 entries) */
#define DATA_VA    0x103000u
#define BSS_VA     0x104000u
#define BSS_SIZE   0x4800u     /* kernel_end rounds it up to 0x109000 */
#define FILE_MAX   0x6000u
#define MAX_PH     32

/* Program header indexes in the default image. */
enum { PH_INTERP, PH_TEXT, PH_RO, PH_DATA, PH_EMPTY, PH_TLS, PH_BSS,
       PH_NOTE_OPENBSD, PH_NOTE_ABI, PH_NOTE_MFT, PH_DEFAULT_COUNT };

/* The code: nop; rdtsc; hlt (the rdtsc at 0x100019). */
static const uint8_t code[] = { 0x90, 0x0F, 0x31, 0xF4 };

struct image {
    uint8_t file[FILE_MAX];
    size_t len;                 /* file length */
    Elf64_Ehdr eh;
    Elf64_Phdr ph[MAX_PH];
    size_t nph;
    bool shdrs;                 /* write section headers */
    /* where the builder put things (file offsets) */
    size_t openbsd_off, abi_off, mft_off, notes_end;
    /* manifest */
    bool mft_padded;
    uint32_t mft_entries;
};

static Elf64_Phdr phdr(uint32_t type, uint32_t flags, uint64_t off, uint64_t vaddr,
        uint64_t filesz, uint64_t memsz, uint64_t align)
{
    return (Elf64_Phdr){ .p_type = type, .p_flags = flags, .p_offset = off,
        .p_vaddr = vaddr, .p_paddr = vaddr, .p_filesz = filesz, .p_memsz = memsz,
        .p_align = align };
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* A note header and its name (padded to 4); returns the desc's offset. */
static size_t note_head(uint8_t *at, const char *name, uint32_t descsz, uint32_t type)
{
    uint32_t namesz = (uint32_t)strlen(name) + 1;
    put32(at, namesz);
    put32(at + 4, descsz);
    put32(at + 8, type);
    memcpy(at + 12, name, namesz);
    return 12 + ((namesz + 3) & ~3u);
}

/* The OpenBSD note (24 bytes). */
static size_t openbsd_note(uint8_t *at)
{
    size_t d = note_head(at, "OpenBSD", 4, 1);
    put32(at + d, 0);
    return d + 4;
}

/* The ABI note (36 bytes): content at 20. */
static size_t abi_note(uint8_t *at, uint32_t target, uint32_t version)
{
    size_t d = note_head(at, "Solo5", 16, HVT_NOTE_TYPE_ABI);
    assert_int_equal(d, 20);
    put32(at + d, target);
    put32(at + d + 4, version);
    put32(at + d + 8, 0);
    put32(at + d + 12, 0);
    return d + 16;
}

/* The manifest note: content at 24 after 4 bytes of padding (Solo5), or at
 * 20 (older ukvm guests). Entry 0 is the reserved entry that Solo5's
 * bindings put first (type 1 << 30, empty name: with one entry, the manifest
 * of test_hello.hvt); entry 1, when there, "storage" (block); more are "dN"
 * (net). */
static size_t mft_note(uint8_t *at, bool padded, uint32_t entries)
{
    uint32_t pad = padded ? 4 : 0;
    uint32_t descsz = pad + 8 + 104 * entries;
    size_t d = note_head(at, "Solo5", descsz, HVT_NOTE_TYPE_MANIFEST);
    memset(at + d, 0, descsz);
    put32(at + d + pad, HVT_MFT_VERSION);
    put32(at + d + pad + 4, entries);
    for (uint32_t i = 0; i < entries; i++) {
        struct hvt_mft_entry e;
        memset(&e, 0, sizeof(e));
        if (i == 0) {
            e.type = HVT_MFT_RESERVED_FIRST;
        } else if (i == 1) {
            strcpy(e.name, "storage");
            e.type = HVT_MFT_DEV_BLOCK_BASIC;
        } else {
            snprintf(e.name, sizeof(e.name), "d%u", i);
            e.type = HVT_MFT_DEV_NET_BASIC;
        }
        memcpy(at + d + pad + 8 + 104 * i, &e, sizeof(e));
    }
    return d + descsz;
}

static size_t round4(size_t v)
{
    return (v + 3) & ~(size_t)3;
}

/* The default image; tests change it, then call finish(). */
static void build(struct image *im, bool padded, uint32_t entries)
{
    memset(im, 0, sizeof(*im));
    im->mft_padded = padded;
    im->mft_entries = entries;
    im->shdrs = true;

    /* text: .interp then code */
    memcpy(im->file + TEXT_OFF, "/nonexistent/solo5/", 20);
    memcpy(im->file + TEXT_OFF + 24, code, sizeof code);
    size_t text_size = 24 + sizeof code;

    /* rodata: the three notes, then some bytes */
    size_t off = RO_OFF;
    im->openbsd_off = off;
    off += round4(openbsd_note(im->file + off));
    im->abi_off = off;
    off += round4(abi_note(im->file + off, HVT_ABI_TARGET_HVT, HVT_ABI_VERSION));
    im->mft_off = off;
    off += round4(mft_note(im->file + off, padded, entries));
    im->notes_end = off;
    memcpy(im->file + off, "rodata", 7);
    size_t ro_size = off + 7 - RO_OFF;

    /* data */
    memset(im->file + DATA_OFF, 0xAB, 16);
    im->len = DATA_OFF + 16;

    im->eh = (Elf64_Ehdr){
        .e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB,
                     EV_CURRENT, ELFOSABI_SYSV },
        .e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
        .e_entry = TEXT_VA + 24, .e_phoff = sizeof(Elf64_Ehdr),
        .e_ehsize = sizeof(Elf64_Ehdr), .e_phentsize = sizeof(Elf64_Phdr),
    };
    im->ph[PH_INTERP] = phdr(PT_INTERP, PF_R, TEXT_OFF, TEXT_VA, 24, 24, 8);
    im->ph[PH_TEXT] = phdr(PT_LOAD, PF_R | PF_X, TEXT_OFF, TEXT_VA, text_size, text_size, 0x1000);
    im->ph[PH_RO] = phdr(PT_LOAD, PF_R, RO_OFF, RO_VA, ro_size, ro_size, 0x1000);
    im->ph[PH_DATA] = phdr(PT_LOAD, PF_R | PF_W, DATA_OFF, DATA_VA, 16, 16, 0x1000);
    im->ph[PH_EMPTY] = phdr(PT_LOAD, 0, 0, 0, 0, 0, 0x1000);
    im->ph[PH_TLS] = phdr(PT_TLS, 0, 0, 0, 0, 0, 0);
    im->ph[PH_BSS] = phdr(PT_LOAD, PF_R | PF_W, 0, BSS_VA, 0, BSS_SIZE, 0x1000);
    im->ph[PH_NOTE_OPENBSD] = phdr(PT_NOTE, PF_R, im->openbsd_off,
            RO_VA + im->openbsd_off - RO_OFF, 24, 24, 4);
    im->ph[PH_NOTE_ABI] = phdr(PT_NOTE, PF_R, im->abi_off, RO_VA + im->abi_off - RO_OFF,
            36, 36, 4);
    size_t mft_size = im->notes_end - im->mft_off;
    im->ph[PH_NOTE_MFT] = phdr(PT_NOTE, PF_R, im->mft_off, RO_VA + im->mft_off - RO_OFF,
            mft_size, mft_size, 4);
    im->nph = PH_DEFAULT_COUNT;
}

/* Section headers: null, .interp, .text, the three notes, .rodata, .data,
 * .bss, .shstrtab. They are written for realism only: the loader must not
 * need them. */
static void write_shdrs(struct image *im)
{
    static const char strtab[] = "\0.interp\0.text\0.note.solo5.not_openbsd\0"
        ".note.solo5.abi\0.note.solo5.manifest\0.rodata\0.data\0.bss\0.shstrtab";
    size_t stroff = im->len;
    memcpy(im->file + stroff, strtab, sizeof strtab);
    size_t shoff = (stroff + sizeof strtab + 7) & ~(size_t)7;
    Elf64_Shdr sh[10];
    memset(sh, 0, sizeof sh);
    /* name offsets into strtab */
    const char *names[] = { "", ".interp", ".text", ".note.solo5.not_openbsd",
        ".note.solo5.abi", ".note.solo5.manifest", ".rodata", ".data", ".bss", ".shstrtab" };
    for (size_t i = 1; i < 10; i++) {
        const char *p = strtab + 1;
        while (strcmp(p, names[i]) != 0)
            p += strlen(p) + 1;
        sh[i].sh_name = (uint32_t)(p - strtab);
    }
    size_t mft_size = im->notes_end - im->mft_off;
    struct { uint32_t type; uint64_t flags, off, size, addr; } d[10] = {
        [1] = { SHT_PROGBITS, SHF_ALLOC, TEXT_OFF, 24, TEXT_VA },
        [2] = { SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, TEXT_OFF + 24, sizeof code, TEXT_VA + 24 },
        [3] = { SHT_NOTE, SHF_ALLOC, im->openbsd_off, 24, RO_VA + im->openbsd_off - RO_OFF },
        [4] = { SHT_NOTE, SHF_ALLOC, im->abi_off, 36, RO_VA + im->abi_off - RO_OFF },
        [5] = { SHT_NOTE, SHF_ALLOC, im->mft_off, mft_size, RO_VA + im->mft_off - RO_OFF },
        [6] = { SHT_PROGBITS, SHF_ALLOC, im->notes_end, 7, RO_VA + im->notes_end - RO_OFF },
        [7] = { SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, DATA_OFF, 16, DATA_VA },
        [8] = { SHT_NOBITS, SHF_ALLOC | SHF_WRITE, DATA_OFF + 16, BSS_SIZE, BSS_VA },
        [9] = { SHT_STRTAB, 0, stroff, sizeof strtab, 0 },
    };
    for (size_t i = 1; i < 10; i++) {
        sh[i].sh_type = d[i].type;
        sh[i].sh_flags = d[i].flags;
        sh[i].sh_offset = d[i].off;
        sh[i].sh_size = d[i].size;
        sh[i].sh_addr = d[i].addr;
        sh[i].sh_addralign = 1;
    }
    assert_true(shoff + sizeof sh <= FILE_MAX);
    memcpy(im->file + shoff, sh, sizeof sh);
    im->eh.e_shoff = shoff;
    im->eh.e_shentsize = sizeof(Elf64_Shdr);
    im->eh.e_shnum = 10;
    im->eh.e_shstrndx = 9;
    im->len = shoff + sizeof sh;
}

/* Write the headers into the file. */
static void finish(struct image *im)
{
    if (im->shdrs)
        write_shdrs(im);
    im->eh.e_phnum = (uint16_t)im->nph;
    memcpy(im->file, &im->eh, sizeof im->eh);
    assert_true(sizeof im->eh + im->nph * sizeof(Elf64_Phdr) <= TEXT_OFF);
    /* at 64 even when a test points e_phoff elsewhere */
    memcpy(im->file + sizeof im->eh, im->ph, im->nph * sizeof(Elf64_Phdr));
}

/* kernel_parse over an exactly-sized copy of the file (ASan sees any read
 * past its end). Returns its result; the message lands in err. */
static int parse_len(const struct image *im, size_t len, struct kernel_image *k,
        char *err, size_t errlen)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, im->file, len);
    err[0] = '\0';
    int rc = kernel_parse(copy, len, MEM, k, err, errlen);
    free(copy);
    k->file = NULL;     /* the copy is gone */
    return rc;
}

static struct kernel_image kimg;   /* large (the manifest): not on the stack */

static void parse_ok(struct image *im)
{
    char err[512];
    finish(im);
    int rc = parse_len(im, im->len, &kimg, err, sizeof err);
    if (rc != 0)
        fail_msg("refused: %s", err);
}

/* The image must be refused with a one-line message containing `want`. */
static void parse_refused(struct image *im, const char *want)
{
    char err[512];
    finish(im);
    assert_int_equal(parse_len(im, im->len, &kimg, err, sizeof err), -1);
    if (strstr(err, want) == NULL)
        fail_msg("message '%s' does not contain '%s'", err, want);
    if (getenv("VERBOSE"))
        printf("      refused: %s\n", err);
    assert_null(strchr(err, '\n'));
}

/* ---- what loads ---- */

static void check_default_segments(const struct kernel_image *k)
{
    assert_int_equal(k->entry, TEXT_VA + 24);
    assert_int_equal(k->n_segments, 4);     /* the empty PT_LOAD is skipped */
    assert_int_equal(k->seg[0].vaddr, TEXT_VA);
    assert_int_equal(k->seg[0].filesz, 24 + sizeof code);
    assert_int_equal(k->seg[0].flags, PF_R | PF_X);
    assert_int_equal(k->seg[1].vaddr, RO_VA);
    assert_int_equal(k->seg[1].flags, PF_R);
    assert_int_equal(k->seg[2].vaddr, DATA_VA);
    assert_int_equal(k->seg[2].offset, DATA_OFF);
    assert_int_equal(k->seg[2].filesz, 16);
    assert_int_equal(k->seg[2].flags, PF_R | PF_W);
    assert_int_equal(k->seg[3].vaddr, BSS_VA);
    assert_int_equal(k->seg[3].filesz, 0);
    assert_int_equal(k->seg[3].memsz, BSS_SIZE);
    /* kernel_end counts the bss, page aligned */
    assert_int_equal(k->kernel_end, 0x109000);
}

static void test_solo5_layout_loads(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 2);
    parse_ok(&im);
    check_default_segments(&kimg);
    assert_int_equal(kimg.n_mft_entries, 2);
    assert_int_equal(kimg.mft[0].type, HVT_MFT_RESERVED_FIRST);
    assert_string_equal(kimg.mft[0].name, "");
    assert_string_equal(kimg.mft[1].name, "storage");
    assert_int_equal(kimg.mft[1].type, HVT_MFT_DEV_BLOCK_BASIC);
    /* .interp at the start of the text is skipped by the rdtsc scan */
    assert_int_equal(kimg.n_skip, 1);
    assert_int_equal(kimg.skip[0].start, TEXT_VA);
    assert_int_equal(kimg.skip[0].end, TEXT_VA + 24);
}

static void test_no_section_headers(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 2);
    im.shdrs = false;   /* e_shoff 0, e_shnum 0 */
    parse_ok(&im);
    assert_int_equal(im.eh.e_shoff, 0);
    assert_int_equal(im.eh.e_shnum, 0);
    check_default_segments(&kimg);
    assert_int_equal(kimg.n_mft_entries, 2);
    assert_string_equal(kimg.mft[1].name, "storage");
}

/* Section headers that lie about the notes do not matter. */
static void test_section_headers_ignored(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 1);
    finish(&im);
    /* every section becomes SHT_NULL */
    for (size_t i = 1; i < im.eh.e_shnum; i++)
        put32(im.file + im.eh.e_shoff + i * sizeof(Elf64_Shdr) + 4, SHT_NULL);
    char err[512];
    assert_int_equal(parse_len(&im, im.len, &kimg, err, sizeof err), 0);
    assert_int_equal(kimg.n_mft_entries, 1);
    /* section headers past the end of the file, or a wild count */
    build(&im, true, 1);
    im.shdrs = false;
    im.eh.e_shoff = 0x7fffffff;
    im.eh.e_shnum = 0xfff0;
    im.eh.e_shentsize = sizeof(Elf64_Shdr);
    parse_ok(&im);
    assert_int_equal(kimg.n_mft_entries, 1);
}

/* The entries build() wrote for n: the reserved one, "storage", "d2"... */
static void expect_entries(uint32_t n)
{
    assert_int_equal(kimg.n_mft_entries, n);
    if (n)
        assert_int_equal(kimg.mft[0].type, HVT_MFT_RESERVED_FIRST);
    if (n > 1)
        assert_string_equal(kimg.mft[1].name, "storage");
    if (n > 2)
        assert_string_equal(kimg.mft[2].name, "d2");
}

static void test_manifest_padded(void **state)
{
    (void)state;
    static struct image im;
    for (uint32_t n = 0; n <= 3; n++) {
        build(&im, true, n);
        /* descsz = 4 (padding) + 8 + 104 n; the version sits at offset 24 */
        assert_int_equal(get32(im.file + im.mft_off + 4) % 8, 4);
        assert_int_equal(get32(im.file + im.mft_off + 20), 0);
        assert_int_equal(get32(im.file + im.mft_off + 24), 1);
        parse_ok(&im);
        expect_entries(n);
    }
}

static void test_manifest_unpadded(void **state)
{
    (void)state;
    static struct image im;
    for (uint32_t n = 0; n <= 3; n++) {
        build(&im, false, n);
        assert_int_equal(get32(im.file + im.mft_off + 4) % 8, 0);
        assert_int_equal(get32(im.file + im.mft_off + 20), 1);
        parse_ok(&im);
        expect_entries(n);
    }
}

/* The largest manifest: 64 entries, padded and not. */
static void test_manifest_64_entries(void **state)
{
    (void)state;
    static struct image im;
    for (int padded = 0; padded <= 1; padded++) {
        build(&im, padded, 64);
        parse_ok(&im);
        assert_int_equal(kimg.n_mft_entries, 64);
        assert_string_equal(kimg.mft[63].name, "d63");
    }
}

/* PT_INTERP is ignored; a kernel without it (older ukvm guests) loads too. */
static void test_interp_present_or_not(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 0);
    parse_ok(&im);
    build(&im, true, 0);
    im.ph[PH_INTERP].p_type = PT_NULL;
    parse_ok(&im);
    check_default_segments(&kimg);
    assert_int_equal(kimg.n_skip, 0);
}

static void test_tls_empty_load_gnu_stack_ignored(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 0);
    /* a PT_TLS with odd fields, a PT_GNU_STACK and a PT_GNU_RELRO */
    im.ph[PH_TLS] = phdr(PT_TLS, PF_R, DATA_OFF, DATA_VA, 8, 0x100, 8);
    im.ph[im.nph++] = phdr(PT_GNU_STACK, PF_R | PF_W | PF_X, 0, 0, 0, 0, 16);
    im.ph[im.nph++] = phdr(PT_GNU_RELRO, PF_R, DATA_OFF, DATA_VA, 16, 16, 1);
    parse_ok(&im);
    check_default_segments(&kimg);
    /* the empty PT_LOAD may have any offset and flags */
    build(&im, true, 0);
    im.ph[PH_EMPTY] = phdr(PT_LOAD, PF_R | PF_W | PF_X, 0x7fffffff, 0, 0, 0, 0x1000);
    parse_ok(&im);
    check_default_segments(&kimg);
}

/* A note not named "Solo5" is skipped, even with Solo5's note types. */
static void test_foreign_notes_skipped(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 0);
    parse_ok(&im);
    /* the OpenBSD note claims to be an ABI note with a bad target: ignored */
    build(&im, true, 0);
    put32(im.file + im.openbsd_off + 8, HVT_NOTE_TYPE_ABI);
    parse_ok(&im);
    /* the ABI note renamed "Solo6": skipped, so there is no ABI note */
    build(&im, true, 0);
    im.file[im.abi_off + 16] = '6';
    parse_refused(&im, "no Solo5 ABI note");
    /* "Solo5" with namesz 5 (no NUL) is not Solo5's either */
    build(&im, true, 0);
    put32(im.file + im.abi_off, 5);
    parse_refused(&im, "no Solo5 ABI note");
    /* a Solo5 note of another type is skipped */
    build(&im, true, 0);
    put32(im.file + im.abi_off + 8, 0x31494242);
    parse_refused(&im, "no Solo5 ABI note");
}

/* The three notes in one PT_NOTE segment (older ukvm guests had the ABI
 * and manifest notes in one), or in three. */
static void test_notes_in_one_segment(void **state)
{
    (void)state;
    static struct image im;
    for (int padded = 0; padded <= 1; padded++) {
        build(&im, padded, 2);
        im.ph[PH_NOTE_OPENBSD].p_filesz = im.ph[PH_NOTE_OPENBSD].p_memsz =
            im.notes_end - im.openbsd_off;
        im.ph[PH_NOTE_ABI].p_type = PT_NULL;
        im.ph[PH_NOTE_MFT].p_type = PT_NULL;
        parse_ok(&im);
        assert_int_equal(kimg.n_mft_entries, 2);
        assert_string_equal(kimg.mft[1].name, "storage");
    }
    /* the manifest first, the ABI note after it */
    build(&im, true, 1);
    uint8_t tmp[256];
    size_t mft_len = im.notes_end - im.mft_off, abi_len = im.mft_off - im.abi_off;
    memcpy(tmp, im.file + im.abi_off, abi_len);
    memmove(im.file + im.abi_off, im.file + im.mft_off, mft_len);
    memcpy(im.file + im.abi_off + mft_len, tmp, abi_len);
    im.ph[PH_NOTE_ABI].p_filesz = im.ph[PH_NOTE_ABI].p_memsz = mft_len + abi_len;
    im.ph[PH_NOTE_MFT].p_type = PT_NULL;
    parse_ok(&im);
    assert_int_equal(kimg.n_mft_entries, 1);
}

/* A note segment whose last note lacks its 4-byte padding at the end. */
static void test_last_note_unpadded_end(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 0);
    /* OpenBSD note with a 3-byte desc: 23 bytes, the segment ends there */
    put32(im.file + im.openbsd_off + 4, 3);
    im.ph[PH_NOTE_OPENBSD].p_filesz = im.ph[PH_NOTE_OPENBSD].p_memsz = 23;
    parse_ok(&im);
}

/* A PT_NOTE inside the text segment is skipped by the rdtsc scan too. */
static void test_note_in_text_skipped(void **state)
{
    (void)state;
    static struct image im;
    /* a zero-length PT_NOTE in the text: nothing to walk, nothing to skip */
    build(&im, true, 0);
    im.ph[im.nph++] = phdr(PT_NOTE, PF_R, TEXT_OFF, TEXT_VA + 2, 0, 0, 4);
    parse_ok(&im);
    assert_int_equal(kimg.n_skip, 1);
    /* the ABI note moved into the text */
    build(&im, true, 0);
    memcpy(im.file + TEXT_OFF + 0x100, im.file + im.abi_off, 36);
    im.ph[PH_TEXT].p_filesz = im.ph[PH_TEXT].p_memsz = 0x100 + 36;
    im.ph[PH_NOTE_ABI] = phdr(PT_NOTE, PF_R, TEXT_OFF + 0x100, TEXT_VA + 0x100, 36, 36, 4);
    parse_ok(&im);
    assert_int_equal(kimg.n_skip, 2);
    assert_int_equal(kimg.skip[0].start, TEXT_VA);          /* .interp */
    assert_int_equal(kimg.skip[0].end, TEXT_VA + 24);
    assert_int_equal(kimg.skip[1].start, TEXT_VA + 0x100);  /* the note */
    assert_int_equal(kimg.skip[1].end, TEXT_VA + 0x100 + 36);
    /* a PT_INTERP that runs past the text is clipped to it */
    build(&im, true, 0);
    im.ph[PH_INTERP].p_memsz = 0x10000;
    parse_ok(&im);
    assert_int_equal(kimg.n_skip, 1);
    assert_int_equal(kimg.skip[0].end, TEXT_VA + 24 + sizeof code);
    /* as many PT_INTERP inside the text as can be recorded, then one more */
    build(&im, true, 0);
    for (int i = 1; i < UKVM_SCAN_MAX_SKIP; i++)
        im.ph[im.nph++] = im.ph[PH_INTERP];
    parse_ok(&im);
    assert_int_equal(kimg.n_skip, UKVM_SCAN_MAX_SKIP);
    im.ph[im.nph++] = im.ph[PH_INTERP];
    parse_refused(&im, "too many PT_INTERP and PT_NOTE segments");
}

/* The skip ranges and the scanner together: the rdtsc right after .interp
 * is found, nothing inside .interp is. */
static void test_scan_skips_interp(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 0);
    parse_ok(&im);
    const struct elf_segment *t = &kimg.seg[0];
    struct ukvm_scan_site *sites = NULL;
    size_t n = 0;
    assert_int_equal(ukvm_scan_code_skip(im.file + t->offset, t->filesz, t->vaddr,
                kimg.skip, kimg.n_skip, &sites, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(sites[0].addr, TEXT_VA + 25);
    assert_int_equal(sites[0].kind, UKVM_PATCH_RDTSC);
    free(sites);
}

/* ---- refusals ---- */

static void test_refuse_dynamic(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 0);
    im.ph[im.nph++] = phdr(PT_DYNAMIC, PF_R | PF_W, DATA_OFF, DATA_VA, 16, 16, 8);
    parse_refused(&im, "dynamically linked");
}

static void test_refuse_no_abi_or_manifest(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 0);
    im.ph[PH_NOTE_ABI].p_type = PT_NULL;
    parse_refused(&im, "no Solo5 ABI note");
    build(&im, true, 0);
    im.ph[PH_NOTE_MFT].p_type = PT_NULL;
    parse_refused(&im, "no Solo5 manifest note");
    /* no PT_NOTE at all: section headers do not count */
    build(&im, true, 0);
    im.nph = PH_NOTE_OPENBSD;
    parse_refused(&im, "no Solo5 ABI note");
}

static void test_refuse_abi_target_version(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 0);
    put32(im.file + im.abi_off + 20, 2);
    parse_refused(&im, "target 2");
    build(&im, true, 0);
    put32(im.file + im.abi_off + 24, 1);
    parse_refused(&im, "ABI version 1");
    build(&im, true, 0);
    put32(im.file + im.abi_off + 24, 3);
    parse_refused(&im, "ABI version 3");
}

static void test_refuse_abi_descsz(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 0);
    put32(im.file + im.abi_off + 4, 0);
    parse_refused(&im, "ABI note is empty");
    build(&im, true, 0);
    put32(im.file + im.abi_off + 4, 20);
    parse_refused(&im, "ABI note is too large");
    build(&im, true, 0);
    put32(im.file + im.abi_off + 4, 0xfffffff0);
    parse_refused(&im, "ABI note is too large");
    build(&im, true, 0);
    put32(im.file + im.abi_off + 4, 4);
    parse_refused(&im, "ABI note is too short");
    /* 16 bytes of content, but the segment holds 12 of them */
    build(&im, true, 0);
    im.ph[PH_NOTE_ABI].p_filesz = 32;
    parse_refused(&im, "ABI note runs past the end of its PT_NOTE segment");
}

static void test_refuse_manifest_descsz(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 1);
    put32(im.file + im.mft_off + 4, 0);
    parse_refused(&im, "manifest note is empty");
    /* larger than 64 entries plus padding */
    build(&im, true, 1);
    put32(im.file + im.mft_off + 4, 4 + 8 + 104 * 64 + 8);
    parse_refused(&im, "manifest note is too large");
    build(&im, true, 1);
    put32(im.file + im.mft_off + 4, 0xfffffff4);
    parse_refused(&im, "manifest note is too large");
    /* beyond the segment: two entries' worth in a note that holds one */
    build(&im, true, 1);
    put32(im.file + im.mft_off + 4, 4 + 8 + 104 * 2);
    parse_refused(&im, "manifest note runs past the end of its PT_NOTE segment");
    /* the segment cut short by 4 bytes */
    build(&im, true, 1);
    im.ph[PH_NOTE_MFT].p_filesz -= 4;
    parse_refused(&im, "manifest note runs past the end of its PT_NOTE segment");
    /* descsz % 8 is neither 4 (padded) nor 0 (unpadded) */
    for (uint32_t cut = 1; cut <= 7; cut++) {
        if (cut == 4)
            continue;
        build(&im, true, 1);
        put32(im.file + im.mft_off + 4, 4 + 8 + 104 - cut);
        parse_refused(&im, "neither 8-aligned content");
    }
    /* padded with 4 bytes but no room for version and entries */
    build(&im, true, 0);
    put32(im.file + im.mft_off + 4, 4);
    parse_refused(&im, "manifest note is too short");
}

static void test_refuse_manifest_content(void **state)
{
    (void)state;
    static struct image im;
    for (int padded = 0; padded <= 1; padded++) {
        build(&im, padded, 1);
        size_t c = im.mft_off + (padded ? 24 : 20);
        put32(im.file + c, 2);
        parse_refused(&im, "unsupported manifest version 2");
        build(&im, padded, 1);
        put32(im.file + c + 4, 65);
        parse_refused(&im, "65 entries");
        build(&im, padded, 1);
        put32(im.file + c + 4, 5);
        parse_refused(&im, "manifest note is truncated");
        build(&im, padded, 2);
        im.file[c + 8 + 104 + 96] = 1;      /* "storage" */
        parse_refused(&im, "manifest entry 1 'storage' is marked attached in the file");
        build(&im, padded, 2);
        im.file[c + 8 + 96] = 1;            /* the reserved entry */
        parse_refused(&im, "manifest entry 0 '' is marked attached in the file");
        build(&im, padded, 1);
        memset(im.file + c + 8, 'x', HVT_MFT_NAME_SIZE);
        parse_refused(&im, "unterminated name");
        build(&im, padded, 2);
        im.file[c + 8 + 104 + 3] = '\n';   /* "sto\nage": would split a message */
        parse_refused(&im, "manifest entry 1 has a name with byte 0x0a");
        build(&im, padded, 2);
        im.file[c + 8 + 104] = 0x1b;        /* a terminal escape */
        parse_refused(&im, "byte 0x1b");
    }
}

static void test_refuse_duplicate_notes(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 0);
    im.ph[im.nph++] = im.ph[PH_NOTE_MFT];
    parse_refused(&im, "more than one Solo5 manifest note");
    build(&im, true, 0);
    im.ph[im.nph++] = im.ph[PH_NOTE_ABI];
    parse_refused(&im, "more than one Solo5 ABI note");
}

static void test_refuse_note_off_segment(void **state)
{
    (void)state;
    static struct image im;
    /* a note header cut by the end of the segment */
    build(&im, true, 0);
    im.ph[PH_NOTE_OPENBSD].p_filesz = 8;
    parse_refused(&im, "note header at offset 0 runs past the end of the segment");
    /* the name runs off the segment */
    build(&im, true, 0);
    put32(im.file + im.abi_off, 0xfffffff0);
    parse_refused(&im, "note name at offset 0 runs past the end of the segment");
    /* a foreign note's desc runs off the segment */
    build(&im, true, 0);
    put32(im.file + im.openbsd_off + 4, 0x1000);
    parse_refused(&im, "note at offset 0 runs past the end of the segment");
    build(&im, true, 0);
    put32(im.file + im.openbsd_off + 4, 0xffffffff);
    parse_refused(&im, "note at offset 0 runs past the end of the segment");
    /* a second, partial note header after a good note */
    build(&im, true, 0);
    im.ph[PH_NOTE_ABI].p_filesz += 4;
    parse_refused(&im, "note header at offset 36 runs past");
    /* a PT_NOTE segment outside the file */
    build(&im, true, 0);
    im.ph[PH_NOTE_MFT].p_offset = 0x7fffff00;
    parse_refused(&im, "PT_NOTE segment 9 lies outside the file");
    build(&im, true, 0);
    im.ph[PH_NOTE_MFT].p_filesz = UINT64_MAX;
    parse_refused(&im, "PT_NOTE segment 9 lies outside the file");
}

static void test_refuse_truncated(void **state)
{
    (void)state;
    static struct image im;
    char err[512];
    build(&im, true, 0);
    im.shdrs = false;
    finish(&im);
    /* inside the program headers */
    assert_int_equal(parse_len(&im, 64 + 56 * 3, &kimg, err, sizeof err), -1);
    assert_non_null(strstr(err, "program headers lie outside the file"));
    /* inside the text, the notes, the data */
    static const size_t cuts[] = { TEXT_OFF + 10, RO_OFF + 30, DATA_OFF + 8 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        assert_int_equal(parse_len(&im, cuts[i], &kimg, err, sizeof err), -1);
        assert_non_null(strstr(err, "outside the file"));
    }
    /* every length up to the whole file is refused (cleanly) */
    for (size_t len = 0; len < im.len; len++)
        assert_int_equal(parse_len(&im, len, &kimg, err, sizeof err), -1);
    assert_int_equal(parse_len(&im, im.len, &kimg, err, sizeof err), 0);
}

static void test_refuse_wx(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 0);
    im.ph[PH_TEXT].p_flags = PF_R | PF_W | PF_X;
    parse_refused(&im, "both writable and executable");
    /* the bss segment counts as well */
    build(&im, true, 0);
    im.ph[PH_BSS].p_flags = PF_R | PF_W | PF_X;
    parse_refused(&im, "both writable and executable");
}

/* The other segment refusals keep their messages with the new layout. */
static void test_refuse_segments(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 0);
    im.ph[PH_TEXT].p_vaddr = 0xff000;
    parse_refused(&im, "below 1 MiB");
    build(&im, true, 0);
    im.ph[PH_RO].p_vaddr = TEXT_VA + 0x10;
    parse_refused(&im, "overlaps");
    build(&im, true, 0);
    im.ph[PH_BSS].p_memsz = 0xfffffffffff00000ULL;
    parse_refused(&im, "wraps around");
    build(&im, true, 0);
    im.ph[PH_BSS].p_memsz = MEM;
    parse_refused(&im, "outside guest memory");
    build(&im, true, 0);
    im.ph[PH_RO].p_filesz = 0x100000;
    parse_refused(&im, "outside the file");
    build(&im, true, 0);
    im.eh.e_entry = MEM;
    parse_refused(&im, "entry point");
    build(&im, true, 0);
    im.eh.e_type = ET_DYN;
    parse_refused(&im, "ELF type 3");
    build(&im, true, 0);
    im.eh.e_phentsize = 32;
    parse_refused(&im, "program header size 32");
    build(&im, true, 0);
    im.eh.e_phoff = 0x7fffffff;
    parse_refused(&im, "program headers");
}

/* Hand-made broken images: every byte of the headers and the notes
 * changed in turn to a few values. Whatever the outcome, no crash and no
 * read outside the file (ASan), and a refusal always has a message. */
static void test_mutations_do_not_crash(void **state)
{
    (void)state;
    static struct image im;
    build(&im, true, 2);
    finish(&im);
    static const uint8_t vals[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
    size_t regions[][2] = {
        { 0, sizeof(Elf64_Ehdr) + PH_DEFAULT_COUNT * sizeof(Elf64_Phdr) },
        { RO_OFF, im.notes_end },
    };
    uint8_t *copy = malloc(im.len);
    assert_non_null(copy);
    char err[512];
    for (size_t r = 0; r < 2; r++) {
        for (size_t i = regions[r][0]; i < regions[r][1]; i++) {
            for (size_t v = 0; v < sizeof vals; v++) {
                memcpy(copy, im.file, im.len);
                copy[i] = vals[v];
                err[0] = '\0';
                if (kernel_parse(copy, im.len, MEM, &kimg, err, sizeof err) != 0)
                    assert_true(err[0] != '\0');
            }
        }
    }
    free(copy);
}

/* ---- the built test guests ---- */

static uint8_t *read_guest(const char *path, size_t *len)
{
    char err[512];
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fclose(f);
    uint8_t *buf = read_whole_file(path, len, err, sizeof err);
    if (!buf)
        fail_msg("%s", err);
    return buf;
}

static void test_built_guests(void **state)
{
    (void)state;
    static const struct { const char *path; uint32_t entries; } guests[] = {
        { "build/guests/hello.elf", 1 },    /* the reserved entry only */
        { "build/guests/blk.elf", 2 },
    };
    int found = 0;
    for (size_t g = 0; g < sizeof guests / sizeof guests[0]; g++) {
        size_t len;
        uint8_t *buf = read_guest(guests[g].path, &len);
        if (!buf)
            continue;
        found++;
        char err[512];
        if (kernel_parse(buf, len, MEM, &kimg, err, sizeof err) != 0)
            fail_msg("%s refused: %s", guests[g].path, err);
        assert_int_equal(kimg.n_mft_entries, guests[g].entries);
        assert_int_equal(kimg.mft[0].type, HVT_MFT_RESERVED_FIRST);
        assert_string_equal(kimg.mft[0].name, "");
        assert_int_equal(kimg.n_segments, 4);           /* text, rodata, data, bss */
        assert_int_equal(kimg.seg[0].flags, PF_R | PF_X);
        assert_int_equal(kimg.seg[3].filesz, 0);        /* bss */
        assert_true(kimg.kernel_end >= kimg.seg[3].vaddr + kimg.seg[3].memsz);
        assert_int_equal(kimg.n_skip, 1);               /* .interp */
        assert_int_equal(kimg.skip[0].start, 0x100000);
        assert_int_equal(kimg.skip[0].end, 0x100018);
        assert_memory_equal(buf + kimg.seg[0].offset, "/nonexistent/solo5/", 20);

        /* the same file stripped of its section headers */
        Elf64_Ehdr eh;
        memcpy(&eh, buf, sizeof eh);
        eh.e_shoff = 0;
        eh.e_shnum = 0;
        eh.e_shstrndx = 0;
        memcpy(buf, &eh, sizeof eh);
        if (kernel_parse(buf, len, MEM, &kimg, err, sizeof err) != 0)
            fail_msg("%s without section headers refused: %s", guests[g].path, err);
        assert_int_equal(kimg.n_mft_entries, guests[g].entries);
        free(buf);
    }
    if (!found)
        skip();     /* not built (the unit tests run from the top of the tree) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solo5_layout_loads),
        cmocka_unit_test(test_no_section_headers),
        cmocka_unit_test(test_section_headers_ignored),
        cmocka_unit_test(test_manifest_padded),
        cmocka_unit_test(test_manifest_unpadded),
        cmocka_unit_test(test_manifest_64_entries),
        cmocka_unit_test(test_interp_present_or_not),
        cmocka_unit_test(test_tls_empty_load_gnu_stack_ignored),
        cmocka_unit_test(test_foreign_notes_skipped),
        cmocka_unit_test(test_notes_in_one_segment),
        cmocka_unit_test(test_last_note_unpadded_end),
        cmocka_unit_test(test_note_in_text_skipped),
        cmocka_unit_test(test_scan_skips_interp),
        cmocka_unit_test(test_refuse_dynamic),
        cmocka_unit_test(test_refuse_no_abi_or_manifest),
        cmocka_unit_test(test_refuse_abi_target_version),
        cmocka_unit_test(test_refuse_abi_descsz),
        cmocka_unit_test(test_refuse_manifest_descsz),
        cmocka_unit_test(test_refuse_manifest_content),
        cmocka_unit_test(test_refuse_duplicate_notes),
        cmocka_unit_test(test_refuse_note_off_segment),
        cmocka_unit_test(test_refuse_truncated),
        cmocka_unit_test(test_refuse_wx),
        cmocka_unit_test(test_refuse_segments),
        cmocka_unit_test(test_mutations_do_not_crash),
        cmocka_unit_test(test_built_guests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

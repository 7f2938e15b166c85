/*
 * The core file layout (src/monitor/core_file.c), read back with libelf:
 * ET_CORE header, PT_NOTE first with NT_PRPSINFO, NT_PRSTATUS (registers
 * in user_regs_struct order) and NT_FPREGSET, PT_LOADs covering memory at
 * their addresses with the overlays applied, zero pages as zeros, and the
 * header region where the pid lives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gelf.h>
#include <sys/procfs.h>

#include <cmocka.h>

#include "monitor/core_file.h"

#define MEM (64 * CORE_PAGE)

static void test_segments_split(void **state)
{
    (void)state;
    struct core_segment r[2] = { { 0x10100, 0x1f00, PF_R | PF_X }, { 0x12800, 0x100, PF_R | PF_W } };
    struct core_segment s[8];
    size_t n = core_file_segments(s, 8, r, 2, MEM);
    assert_int_equal(n, 4);
    assert_int_equal(s[0].addr, 0);
    assert_int_equal(s[0].size, 0x10000);
    assert_int_equal(s[1].addr, 0x10000);
    assert_int_equal(s[1].size, 0x2000);
    assert_int_equal(s[1].flags, PF_R | PF_X);
    /* shares no page with the text: starts at its own page */
    assert_int_equal(s[2].addr, 0x12000);
    assert_int_equal(s[2].size, 0x1000);
    assert_int_equal(s[3].addr, 0x13000);
    assert_int_equal(s[3].addr + s[3].size, MEM);
    assert_int_equal(core_file_segments(s, 2, r, 2, MEM), 0);
}

static void test_write_read_back(void **state)
{
    (void)state;
    static uint8_t mem[MEM];
    memset(mem, 0, sizeof(mem));
    for (int i = 0; i < 100; i++)
        mem[0x11000 + i] = (uint8_t)(i + 1);
    mem[0x20000] = 0xf4;
    static const uint8_t orig[2] = { 0x0f, 0x31 };
    struct core_overlay ov = { 0x20000, orig, 2 };
    static struct core_image ci;
    memset(&ci, 0, sizeof(ci));
    ci.mem = mem;
    ci.mem_size = MEM;
    struct core_segment r = { 0x10000, 0x2000, PF_R | PF_X };
    ci.n_segments = core_file_segments(ci.seg, CORE_MAX_SEGMENTS, &r, 1, MEM);
    ci.overlays = &ov;
    ci.n_overlays = 1;
    ci.regs.rip = 0x10abc;
    ci.regs.rsp = 0x3fff8;
    ci.regs.r15 = 15;
    ci.fx_valid = true;
    ci.fx[24] = 0x80; /* MXCSR low byte */
    ci.signo = 6;
    ci.pid = 4242;
    ci.psargs = "ukvm run k.elf";

    char path[] = "/tmp/h-core-unit-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    char err[256];
    assert_int_equal(core_file_write(fd, &ci, err, sizeof(err)), 0);
    assert_int_equal(lseek(fd, 0, SEEK_END), 0x1000 + MEM);

    elf_version(EV_CURRENT);
    Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    assert_non_null(e);
    GElf_Ehdr eh;
    assert_non_null(gelf_getehdr(e, &eh));
    assert_int_equal(eh.e_type, ET_CORE);
    assert_int_equal(eh.e_machine, EM_X86_64);
    size_t phnum;
    assert_int_equal(elf_getphdrnum(e, &phnum), 0);
    assert_int_equal(phnum, 1 + ci.n_segments);
    GElf_Phdr ph;
    assert_non_null(gelf_getphdr(e, 0, &ph));
    assert_int_equal(ph.p_type, PT_NOTE);
    uint64_t hoff, hlen;
    core_file_header_region(ci.n_segments, &hoff, &hlen);
    assert_int_equal(hoff, ph.p_offset + 20);
    assert_int_equal(hlen, sizeof(struct elf_prpsinfo));

    static uint8_t notes[4096];
    assert_int_equal(pread(fd, notes, ph.p_filesz, (off_t)ph.p_offset), (ssize_t)ph.p_filesz);
    const Elf64_Nhdr *nh = (const Elf64_Nhdr *)notes;
    assert_int_equal(nh->n_type, NT_PRPSINFO);
    assert_string_equal((const char *)(nh + 1), "CORE");
    struct elf_prpsinfo ps;   /* notes are only 4-aligned */
    memcpy(&ps, notes + 20, sizeof(ps));
    assert_int_equal(ps.pr_pid, 4242);
    assert_string_equal(ps.pr_psargs, "ukvm run k.elf");
    size_t at = 20 + sizeof(ps);
    nh = (const Elf64_Nhdr *)(notes + at);
    assert_int_equal(nh->n_type, NT_PRSTATUS);
    assert_int_equal(nh->n_descsz, sizeof(struct elf_prstatus));
    assert_int_equal(at % 4, 0);
    struct elf_prstatus st;
    memcpy(&st, notes + at + 20, sizeof(st));
    assert_int_equal(st.pr_cursig, 6);
    assert_int_equal(st.pr_pid, 1);
    assert_int_equal(st.pr_reg[16], 0x10abc);  /* rip: index 16 */
    assert_int_equal(st.pr_reg[19], 0x3fff8);  /* rsp */
    assert_int_equal(st.pr_reg[0], 15);        /* r15 first */
    at += 20 + sizeof(st);
    nh = (const Elf64_Nhdr *)(notes + at);
    assert_int_equal(nh->n_type, NT_FPREGSET);
    assert_int_equal(nh->n_descsz, 512);
    assert_int_equal(notes[at + 20 + 24], 0x80);
    assert_int_equal(at + 20 + 512, ph.p_filesz);

    uint64_t next = 0;
    for (size_t i = 1; i < phnum; i++) {
        assert_non_null(gelf_getphdr(e, (int)i, &ph));
        assert_int_equal(ph.p_type, PT_LOAD);
        assert_int_equal(ph.p_vaddr, next);
        assert_int_equal(ph.p_paddr, next);
        assert_int_equal(ph.p_offset % CORE_PAGE, 0);
        assert_int_equal(ph.p_filesz, ph.p_memsz);
        static uint8_t back[MEM];
        assert_int_equal(pread(fd, back, ph.p_filesz, (off_t)ph.p_offset), (ssize_t)ph.p_filesz);
        uint8_t *want = malloc(ph.p_filesz);
        memcpy(want, mem + ph.p_vaddr, ph.p_filesz);
        if (ov.addr >= ph.p_vaddr && ov.addr < ph.p_vaddr + ph.p_filesz)
            memcpy(want + (ov.addr - ph.p_vaddr), orig, 2);
        assert_memory_equal(back, want, ph.p_filesz);
        free(want);
        next += ph.p_memsz;
    }
    assert_int_equal(next, MEM);
    elf_end(e);
    close(fd);
}

static void test_bad_segment(void **state)
{
    (void)state;
    static uint8_t mem[MEM];
    static struct core_image ci;
    memset(&ci, 0, sizeof(ci));
    ci.mem = mem;
    ci.mem_size = MEM;
    ci.n_segments = 1;
    ci.seg[0] = (struct core_segment){ 0, MEM + CORE_PAGE, PF_R };
    char err[256];
    assert_int_equal(core_file_write(-1, &ci, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not inside guest memory"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segments_split),
        cmocka_unit_test(test_write_read_back),
        cmocka_unit_test(test_bad_segment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * libFuzzer target for the kernel loader: ELF bytes in. Either kernel_parse
 * refuses them with one line (non-empty, no newline), or every fact it
 * reports holds: segments inside the file and inside guest memory, the entry
 * point inside guest memory, the manifest within its limits. The accepted
 * image's executable segments are then swept by the rdtsc scanner the way
 * the monitor does at start-up, so the scanner sees fuzzed code too.
 * Seeds: tests/fuzz/corpus/elf_load/ (the test guests' ELF files are added
 * by the suite from build/guests/).
 */
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor.h"
#include "ukvm/scan.h"

#define FUZZ_MEM_SIZE (64ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_refusal(const char *err)
{
    size_t n = strnlen(err, 256);
    if (n == 0 || n == 256 || memchr(err, '\n', n))
        __builtin_trap(); /* an error must be one non-empty line */
}

static void check_image(const struct kernel_image *k, const uint8_t *data, size_t size)
{
    volatile uint64_t sink = 0;
    if (k->entry >= FUZZ_MEM_SIZE || k->n_segments > UKVM_MAX_SEGMENTS ||
            k->n_mft_entries > HVT_MFT_MAX_ENTRIES || k->n_skip > UKVM_SCAN_MAX_SKIP)
        __builtin_trap();
    for (size_t i = 0; i < k->n_segments; i++) {
        const struct elf_segment *s = &k->seg[i];
        if (s->filesz > s->memsz || s->offset > size || s->filesz > size - s->offset)
            __builtin_trap();
        if (s->vaddr >= FUZZ_MEM_SIZE || s->memsz > FUZZ_MEM_SIZE - s->vaddr)
            __builtin_trap();
        if (s->vaddr + s->memsz > k->kernel_end)
            __builtin_trap();
        if (s->filesz)  /* ASan checks these reads stay inside the input */
            sink += data[s->offset] + data[s->offset + s->filesz - 1];
    }
    for (uint32_t i = 0; i < k->n_mft_entries; i++)
        if (strnlen(k->mft[i].name, sizeof(k->mft[i].name)) == sizeof(k->mft[i].name))
            __builtin_trap(); /* device names must be terminated */

    struct ukvm_scan_site *sites = NULL;
    size_t n = 0;
    for (size_t i = 0; i < k->n_segments; i++) {
        const struct elf_segment *s = &k->seg[i];
        if (!(s->flags & PF_X) || s->filesz == 0)
            continue;
        if (ukvm_scan_code_skip(data + s->offset, s->filesz, s->vaddr, k->skip, k->n_skip,
                    &sites, &n) < 0)
            break;
    }
    for (size_t i = 0; i < n; i++) {
        if (sites[i].len == 0 || sites[i].len > UKVM_SCAN_MAX_INSN)
            __builtin_trap();
        for (size_t j = 0; j < k->n_skip; j++)
            if (sites[i].addr >= k->skip[j].start && sites[i].addr < k->skip[j].end)
                __builtin_trap(); /* nothing inside a skipped range is reported */
    }
    free(sites);
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    memset(err, 0, sizeof err);
    /* kernel_parse keeps pointers into the file: give it a private copy so
     * that ASan sees reads past the input's end */
    uint8_t *file = malloc(size ? size : 1);
    if (!file)
        return 0;
    memcpy(file, data, size);
    struct kernel_image k;
    if (kernel_parse(file, size, FUZZ_MEM_SIZE, &k, err, sizeof err) < 0)
        check_refusal(err);
    else
        check_image(&k, file, size);
    free(file);
    return 0;
}

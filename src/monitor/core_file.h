/*
 * An ELF core file of a guest, in the layout gdb reads for an x86-64 Linux
 * process: registers in an NT_PRSTATUS note, the x87/SSE state in
 * NT_FPREGSET, and guest memory as PT_LOAD segments whose addresses are the
 * guest-physical ones (which are also the hvt guest's virtual addresses).
 * Knows nothing of KVM: the caller fills a struct core_image.
 */
#ifndef UKVM_CORE_FILE_H
#define UKVM_CORE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/user.h>

#define CORE_PAGE 4096u
#define CORE_MAX_SEGMENTS 40

struct core_segment {
    uint64_t addr, size;            /* page aligned */
    uint32_t flags;                 /* PF_R | PF_W | PF_X */
};

/* Bytes that replace guest memory in the core (the original instructions
 * under the monitor's patches). */
struct core_overlay {
    uint64_t addr;
    const uint8_t *bytes;
    size_t len;
};

struct core_image {
    const uint8_t *mem;
    uint64_t mem_size;
    size_t n_segments;
    struct core_segment seg[CORE_MAX_SEGMENTS]; /* ascending, inside mem */
    size_t n_overlays;
    const struct core_overlay *overlays;
    struct user_regs_struct regs;
    bool fx_valid;
    uint8_t fx[512];                /* FXSAVE image: NT_FPREGSET */
    int signo;                      /* why the guest stopped, as a signal */
    /* The header region, which may differ between two cores of one
     * moment (docs/dumpcore.md): the NT_PRPSINFO note. */
    int pid;
    const char *psargs;
};

/* Where the NT_PRPSINFO descriptor lies, for an image of n_segments:
 * the only bytes that depend on the process that wrote the core. */
void core_file_header_region(size_t n_segments, uint64_t *offset, uint64_t *len);

/* Split [0, mem_size) into segments: one per (page-rounded) range in
 * `ranges` with its flags, the gaps between them PF_R|PF_W|PF_X. ranges
 * must be ascending. Returns the number, or 0 when they do not fit. */
size_t core_file_segments(struct core_segment *out, size_t max,
        const struct core_segment *ranges, size_t n, uint64_t mem_size);

/* Write the core to fd (a new, empty regular file). Zero pages are left as
 * holes. Returns 0, or -1 with a message in err. */
int core_file_write(int fd, const struct core_image *ci, char *err, size_t errlen);

#endif

/*
 * The monitor's core state: one VM with one vCPU running one hvt kernel.
 */
#ifndef UKVM_MONITOR_H
#define UKVM_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>
#include "ukvm/hvt_abi.h"
#include "ukvm/event_source.h"
#include "ukvm/scan.h"

#define UKVM_VERSION "0.1.0"

/* Exit status when the monitor itself stops the guest. */
#define UKVM_EXIT_MONITOR_ERROR 1
/* Exit status of `ukvm replay` when the guest diverges from the trace. */
#define UKVM_EXIT_DIVERGENCE 125

/* printf-style one-line error on stderr, prefixed with "ukvm: ". */
void ukvm_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, then exit(1). */
void ukvm_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Write all of buf to fd (the guest's console), giving up quietly on error. */
void ukvm_write_all(int fd, const void *buf, size_t len);

/* CLOCK_MONOTONIC in ns; ukvm_start_ns is set first thing in main(). */
uint64_t ukvm_now_ns(void);
extern uint64_t ukvm_start_ns;

/* ---- the loaded kernel ---- */
struct elf_segment {
    uint64_t vaddr, filesz, memsz, offset;
    uint32_t flags;                 /* PF_R | PF_W | PF_X */
};

#define UKVM_MAX_SEGMENTS 16

struct kernel_image {
    const uint8_t *file;            /* the whole ELF file */
    size_t file_len;
    uint64_t entry;
    uint64_t kernel_end;            /* end of the highest segment, page aligned */
    size_t n_segments;
    struct elf_segment seg[UKVM_MAX_SEGMENTS];
    /* Bytes of executable segments that PT_INTERP or PT_NOTE cover (Solo5
     * puts .interp at the start of its text): data, not code, so the rdtsc
     * scan skips them. Clipped to the executable segments. */
    size_t n_skip;
    struct ukvm_scan_range skip[UKVM_SCAN_MAX_SKIP];
    uint32_t n_mft_entries;
    struct hvt_mft_entry mft[HVT_MFT_MAX_ENTRIES];
};

/* Parse and validate an ELF image held in memory (`what` names it in
 * messages). Returns 0, or -1 with a one-line message in err. */
int kernel_parse(const uint8_t *file, size_t len, uint64_t mem_size,
        struct kernel_image *k, char *err, size_t errlen);
/* Read a whole file. Returns NULL with a message in err. */
uint8_t *read_whole_file(const char *path, size_t *len, char *err, size_t errlen);

/* ---- the VM ---- */
struct vm_slot {
    uint64_t gpa, size;             /* size 0: the slot id is free */
    uint32_t flags;                 /* KVM_MEM_READONLY, KVM_MEM_LOG_DIRTY_PAGES */
};

struct vm {
    int kvm_fd, vm_fd, vcpu_fd;
    struct kvm_run *run;
    size_t run_size;
    int mem_fd;
    uint8_t *mem;                   /* the monitor's writable view */
    uint8_t *guest_view;            /* the view KVM uses (text write-protected) */
    uint64_t mem_size;
    uint64_t tsc_hz;
    bool sync_regs;                 /* KVM_CAP_SYNC_REGS in use */
    bool regs_dirty;
    struct kvm_regs regs_cache;     /* when !sync_regs */
    bool regs_cached;
    struct kvm_cpuid2 *cpuid;
    bool io_rip_advanced;           /* KVM_EXIT_IO reports rip past the `out` */
    uint32_t n_slots;               /* slot ids in use are below this (memslots.c) */
    struct vm_slot *slots;          /* by KVM slot id, size 0 when free; NULL:
                                       vm_create's one slot 0 over all memory */
    uint32_t slot_limit;            /* KVM_CAP_NR_MEMSLOTS (0: not asked yet) */
    bool dirty_log;                 /* slots log dirty pages (checkpoints) */
    uint64_t *dirty_bits;           /* pages written since the last harvest
                                       by the monitor, and by the guest once
                                       harvested from KVM; NULL when unused */
};

int vm_create(struct vm *vm, uint64_t mem_size, char *err, size_t errlen);
/* Set the CPUID table (entries from a trace, or NULL: the host's supported
 * table with RDRAND/RDSEED hidden). */
int vm_set_cpuid(struct vm *vm, const struct kvm_cpuid_entry2 *entries, uint32_t n,
        char *err, size_t errlen);
/* Long mode, page tables, GDT, registers for entry at `entry`. */
int vm_setup_cpu(struct vm *vm, uint64_t entry, char *err, size_t errlen);
/* Write-protect the host view of [gpa, gpa+len) (text and rodata). */
int vm_protect(struct vm *vm, uint64_t gpa, uint64_t len, char *err, size_t errlen);
void vm_destroy(struct vm *vm);

/* Dirty-page tracking for checkpoints: turn it on (all slots log dirty
 * pages), note a write made by the monitor itself, and fold KVM's log into
 * vm->dirty_bits. */
int vm_dirty_enable(struct vm *vm, char *err, size_t errlen);
static inline void vm_mark_dirty(struct vm *vm, uint64_t gpa, uint64_t len)
{
    if (!vm->dirty_bits || len == 0)
        return;
    for (uint64_t p = gpa >> 12; p <= (gpa + len - 1) >> 12 && p < (vm->mem_size >> 12); p++)
        vm->dirty_bits[p / 64] |= 1ULL << (p % 64);
}
int vm_dirty_harvest(struct vm *vm);

/* Register access through sync regs or ioctls; the cache is flushed by
 * vm_run. */
struct kvm_regs *vm_regs(struct vm *vm);
void vm_regs_changed(struct vm *vm);
/* Push pending register changes to KVM now (before other vCPU ioctls). */
int vm_regs_flush(struct vm *vm);
int vm_run(struct vm *vm);

/* The x87/SSE state. Read and written through KVM_GET/SET_XSAVE when KVM
 * has it: some KVMs (this machine's) return MXCSR as 0 from KVM_GET_FPU. */
struct vm_fpstate {
    uint16_t fcw, fsw, fop;
    uint8_t ftw;                    /* abridged (FXSAVE) tag byte */
    uint64_t fip, fdp;
    uint32_t mxcsr;
    uint8_t st[8][10];
    uint8_t xmm[16][16];
};
int vm_get_fpstate(struct vm *vm, struct vm_fpstate *f);
/* The same state as a 512-byte FXSAVE image (16-byte aligned buffer). */
int vm_get_fxarea(struct vm *vm, uint8_t fx[512]);
/* For a change to that state (an instruction completed for KVM): read it
 * once, and write it back only if it changed, without reading it again. */
struct vm_fx_copy {
    bool xsave;
    _Alignas(16) uint8_t read[512]; /* the FXSAVE image read */
    struct kvm_xsave xs;            /* as KVM_GET_XSAVE gave it (last: it
                                       ends in a flexible array) */
};
int vm_fx_read(struct vm *vm, struct vm_fx_copy *c, uint8_t fx[512]);
int vm_fx_write_changed(struct vm *vm, struct vm_fx_copy *c, const uint8_t fx[512]);
int vm_set_fpstate(struct vm *vm, const struct vm_fpstate *f);

/* True when [gpa, gpa + len) lies inside guest memory (no overflow). */
static inline bool vm_range_ok(const struct vm *vm, uint64_t gpa, uint64_t len)
{
    return gpa <= vm->mem_size && len <= vm->mem_size - gpa;
}

/* ---- devices ---- */
struct device {
    char name[HVT_MFT_NAME_SIZE];
    uint32_t type;                  /* HVT_MFT_DEV_BLOCK_BASIC / NET_BASIC */
    uint32_t mft_index;
    const char *path;               /* block file or tap interface name */
    int fd;                         /* -1 in replay */
    uint64_t capacity;
    uint16_t block_size;
    uint8_t mac[6];
    bool mac_given;
    bool oversize_told;             /* an oversized net_write was reported */
    uint16_t mtu;                   /* the tap's (net_open), or the trace's in replay */
};

/* A frame is at most the MTU plus the Ethernet header (no FCS): the bound of
 * every net_write, and of what one net_read gives. */
#define UKVM_ETH_HLEN 14
#define UKVM_NET_MTU_MAX (65535 - UKVM_ETH_HLEN)

/* ---- run configuration ---- */
enum ukvm_mode { MODE_RUN, MODE_RECORD, MODE_REPLAY, MODE_DEBUG };

struct config {
    enum ukvm_mode mode;
    uint64_t mem_size;
    const char *kernel_path;
    char cmdline[HVT_CMDLINE_SIZE];
    size_t n_devices;
    struct device devices[HVT_MFT_MAX_ENTRIES];
    const char *trace_path;
    bool force;
    bool gdb;
    int gdb_port;
    const char *gdb_addr;
    bool no_patch;                  /* debugging aid: do not patch rdtsc & co */
    uint64_t checkpoint_mem;        /* replay: checkpoint memory budget (0: default) */
    const char *goto_target;        /* replay --gdb, debug: --goto=EVENT|start|end */
    int gdb_listen_fd;              /* when gdb_listen_fd_given: serve on this socket */
    bool gdb_listen_fd_given;
    int gdb_ready_fd;               /* when > 0: a byte there when about to serve */
    const char *debugger;           /* debug: the gdb to start (default "gdb") */
    int debugger_argc;              /* debug: arguments passed on to it */
    char **debugger_argv;
    bool mark_output;               /* replay: "[ev N] " before each console line */
    bool gdb_once;                  /* replay --gdb: end when the client goes (--once) */
    const char *pcap_path;          /* replay: write the frames read and written (--pcap) */
    const char *dumpcore_dir;       /* --dumpcore[=DIR]: write a core there (NULL: no) */
    int dumpcore_fd;                /* that directory, opened before the guest runs */
};

/* ---- the monitor ---- */
struct patch_site {
    struct ukvm_scan_site site;
    uint8_t orig[15];
};

struct monitor {
    struct config *cfg;
    struct vm vm;
    struct kernel_image kernel;
    struct ukvm_event_source *src;
    struct device *by_handle[HVT_MFT_MAX_ENTRIES]; /* manifest index -> device */
    size_t n_patches;
    struct patch_site *patches;     /* sorted by address */
    bool halted;
    int exit_status;
    uint64_t halt_rip, halt_cookie; /* the halt hypercall's `out` and cookie */
    bool guest_fault;               /* the guest made the monitor stop it (not
                                       a divergence, not an I/O error) */
    bool mmio_to_caller;            /* MMIO exits inside guest memory go to the caller */
    /* The debugger's: is the hlt at addr a planted breakpoint? (A breakpoint
     * on a patched instruction shares its hlt.) */
    bool (*is_breakpoint)(struct monitor *m, uint64_t addr);
    void *debugger;
    bool single_stepping;           /* an instruction the monitor completes ends the step */
    /* The debugger's: the monitor itself wrote guest memory (hypercall
     * results, data read from a device or the trace). It may set
     * stop_pending to stop the guest once the instruction is complete. */
    void (*guest_written)(struct monitor *m, uint64_t gpa, uint64_t len);
    /* The same for a load the monitor made for the guest (an instruction
     * it completed): read and access watchpoints. */
    void (*guest_read)(struct monitor *m, uint64_t gpa, uint64_t len);
    bool stop_pending;
};

/* Complete the x87/MMX/SSE instruction at rip that KVM could not emulate (see
 * fpu_exec.c). 0 when done (rip advanced, or the fault the guest's CPU would
 * raise injected), -1 when it cannot (KVM's error stands), 1 when the guest
 * must stop (one line said why). */
int fpu_complete(struct monitor *m);

/* The monitor stops the guest for what it did (a triple fault, a bad
 * hypercall, a store into its text...): status 1. */
static inline void monitor_guest_fault(struct monitor *m)
{
    m->exit_status = UKVM_EXIT_MONITOR_ERROR;
    m->guest_fault = true;
}

/* Port I/O made by the instruction at `rip` (from an exit, or emulated by
 * the debugger when stepping): a hypercall when it is a 4-byte `out` to a
 * hypercall port. 0 = go on, 1 = the guest halted, -1 = stop. */
int monitor_port_io(struct monitor *m, bool is_out, unsigned size, unsigned port,
        uint32_t value, uint64_t rip);

/* Build the boot information, manifest copy and command line at 0x10000. */
int boot_info_write(struct monitor *m, char *err, size_t errlen);

/* Load the kernel's segments into guest memory and protect them. */
int kernel_load(struct monitor *m, char *err, size_t errlen);
/* The host keeps the page at gpa write-protected (text, read-only data). */
bool kernel_page_protected(const struct kernel_image *k, uint64_t gpa);

/* Attach the command-line devices to the kernel's manifest. In replay the
 * devices come from the trace and no file or tap is opened. */
int devices_attach(struct monitor *m, char *err, size_t errlen);

/* Find and patch rdtsc & co in the executable segments. */
int intercept_patch(struct monitor *m, char *err, size_t errlen);
/* The patch site that starts at addr, or NULL. */
const struct patch_site *intercept_find(const struct monitor *m, uint64_t addr);
/* Service the patched instruction at `site` (rip is at its first byte):
 * ask the event source, set the registers, advance rip. 0, or -1 (stop). */
int intercept_service(struct monitor *m, const struct patch_site *site);

/* Service hypercall `nr` with argument-struct address `gpa`, made by the
 * instruction at `rip`. 0 = go on, 1 = the guest halted, -1 = stop (error). */
int hypercall_service(struct monitor *m, unsigned port, uint64_t gpa, uint64_t rip);

/* Outcome of running the vCPU until something needs the caller. */
enum vcpu_stop {
    VCPU_HALTED,        /* the guest halted: m->exit_status */
    VCPU_ERROR,         /* the monitor stopped the guest: m->exit_status */
    VCPU_DEBUG,         /* KVM_EXIT_DEBUG */
    VCPU_HLT,           /* a hlt that is not a patch site (breakpoint?) */
    VCPU_INTERRUPTED,   /* KVM_RUN returned EINTR / immediate exit */
    VCPU_MMIO,          /* an access to a watched page (mmio_to_caller) */
    VCPU_STOP_PENDING,  /* guest_written asked for a stop (a watchpoint) */
};
enum vcpu_stop vcpu_loop(struct monitor *m);

/* The real world as an event source (run mode, and under the recorder). */
struct ukvm_event_source *world_source_create(struct monitor *m);

#endif

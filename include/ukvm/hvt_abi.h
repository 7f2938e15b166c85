/*
 * The Solo5 hvt ABI (version 2) on x86_64, as seen by both sides: the
 * monitor and freestanding test guests include this file. It needs only
 * <stdint.h>, so a -ffreestanding build can use it.
 *
 * docs/hvt-abi.md describes the ABI and which file of ukvm implements each
 * part.
 */
#ifndef UKVM_HVT_ABI_H
#define UKVM_HVT_ABI_H

#include <stdint.h>

/* ELF notes. */
#define HVT_NOTE_NAME           "Solo5"
#define HVT_NOTE_TYPE_ABI       0x31494241u /* "ABI1" */
#define HVT_NOTE_TYPE_MANIFEST  0x3154464du /* "MFT1" */
#define HVT_ABI_TARGET_HVT      1u
#define HVT_ABI_VERSION         2u

/*
 * A Solo5 note: a 12-byte Elf64_Nhdr and the name "Solo5" padded to 8 bytes,
 * 20 bytes in all. The content follows at round_up(20, align), where align is
 * the alignment of the content's C struct; the padding counts in n_descsz.
 * ABI note: align 4, content at 20. Manifest: align 8, content at 24 after 4
 * bytes of padding (older ukvm test guests had it unpadded, at 20).
 */
#define HVT_NOTE_HDR_SIZE       20u
#define HVT_NOTE_CONTENT_OFF(align) ((HVT_NOTE_HDR_SIZE + (align) - 1) & ~((align) - 1u))
#define HVT_ABI_NOTE_ALIGN      4u
#define HVT_MFT_NOTE_ALIGN      8u

struct hvt_abi1_desc {
    uint32_t abi_target;
    uint32_t abi_version;
    uint32_t reserved0;
    uint32_t reserved1;
};

#define HVT_MFT_VERSION         1u
#define HVT_MFT_MAX_ENTRIES     64u
#define HVT_MFT_NAME_SIZE       68u
#define HVT_MFT_DEV_BLOCK_BASIC 1u
#define HVT_MFT_DEV_NET_BASIC   2u
#define HVT_MFT_RESERVED_FIRST  (1u << 30)

struct hvt_mft_block_info {
    uint64_t capacity;
    uint16_t block_size;
};

struct hvt_mft_net_info {
    uint8_t mac[6];
    uint16_t mtu;
};

struct hvt_mft_entry {
    char name[HVT_MFT_NAME_SIZE];           /* offset 0 */
    uint32_t type;                          /* offset 68 */
    union {                                 /* offset 72, 16 bytes */
        struct hvt_mft_block_info block;
        struct hvt_mft_net_info net;
        uint8_t raw[16];
    } u;
    uint64_t hostfd;                        /* offset 88: the host's own */
    uint8_t attached;                       /* offset 96 */
    uint8_t pad[7];
};

struct hvt_mft {
    uint32_t version;
    uint32_t entries;
    struct hvt_mft_entry e[];
};

_Static_assert(sizeof(struct hvt_mft_entry) == 104, "manifest entry is 104 bytes");
_Static_assert(sizeof(struct hvt_mft) == 8, "manifest header is 8 bytes");

/* Guest-physical layout built by the monitor. */
#define HVT_GDT_BASE            0x1000u
#define HVT_PML4_BASE           0x2000u
#define HVT_PDPT_BASE           0x3000u
#define HVT_PD_BASE             0x4000u   /* four directories, 0x4000-0x7fff */
#define HVT_PT_BASE             0x8000u   /* page table for the first 2 MiB */
#define HVT_BOOT_INFO_BASE      0x10000u
#define HVT_GUEST_MIN_BASE      0x100000u
#define HVT_GDT_SEL_CODE        0x08u
#define HVT_GDT_SEL_DATA        0x10u
#define HVT_CMDLINE_SIZE        8192u
#define HVT_COOKIE_MAX          512u

struct hvt_boot_info {
    uint64_t mem_size;
    uint64_t kernel_end;
    uint64_t cpu_cycle_freq;
    uint64_t cmdline;
    uint64_t mft;
    uint32_t host_features;
    uint32_t guest_features;
    uint64_t net_ring;
};
_Static_assert(sizeof(struct hvt_boot_info) == 56, "boot info is 56 bytes");

/* Hypercalls: `out dx, eax` to port HVT_HYPERCALL_PIO_BASE + N, with EAX the
 * guest-physical address of the argument struct. */
#define HVT_HYPERCALL_PIO_BASE  0x500u
enum hvt_hypercall {
    HVT_HYPERCALL_WALLTIME    = 1,
    HVT_HYPERCALL_PUTS        = 2,
    HVT_HYPERCALL_POLL        = 3,
    HVT_HYPERCALL_BLOCK_WRITE = 4,
    HVT_HYPERCALL_BLOCK_READ  = 5,
    HVT_HYPERCALL_NET_WRITE   = 6,
    HVT_HYPERCALL_NET_READ    = 7,
    HVT_HYPERCALL_HALT        = 8,
    HVT_HYPERCALL_MAX         = 9
};

enum hvt_result {
    HVT_OK       = 0,
    HVT_AGAIN    = 1,
    HVT_EINVAL   = 2,
    HVT_EUNSPEC  = 3
};

struct hvt_hc_walltime {
    uint64_t nsecs;                 /* out */
};

struct hvt_hc_puts {
    uint64_t data;                  /* in */
    uint64_t len;                   /* in */
};

struct hvt_hc_poll {
    uint64_t timeout_nsecs;         /* in, relative */
    uint64_t ready_set;             /* out */
    int32_t ret;                    /* out */
};

struct hvt_hc_block_write {
    uint64_t handle;
    uint64_t offset;
    uint64_t data;
    uint64_t len;
    int32_t ret;                    /* out */
};

struct hvt_hc_block_read {
    uint64_t handle;
    uint64_t offset;
    uint64_t data;
    uint64_t len;
    int32_t ret;                    /* out */
};

struct hvt_hc_net_write {
    uint64_t handle;
    uint64_t data;
    uint64_t len;
    int32_t ret;                    /* out */
};

struct hvt_hc_net_read {
    uint64_t handle;
    uint64_t data;
    uint64_t len;                   /* in: buffer size, out: frame length */
    int32_t ret;                    /* out */
};

struct hvt_hc_halt {
    uint64_t cookie;
    int32_t exit_status;
};

/* Exit status of an abort (solo5_abort, a fatal trap). */
#define HVT_EXIT_ABORT 255
/* halt's cookie: the address of at most this many bytes. */
#define HVT_HALT_COOKIE_MAX 512
/* What Solo5's bindings give as halt's cookie when a trap handler aborts
 * (status 255): the fault address, the error code, then the interrupt
 * frame the CPU pushed. A plain solo5_abort gives no cookie (0). */
struct hvt_trap_regs {
    uint64_t cr2, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

_Static_assert(sizeof(struct hvt_hc_poll) == 24, "poll struct");
_Static_assert(sizeof(struct hvt_hc_block_write) == 40, "block_write struct");
_Static_assert(sizeof(struct hvt_hc_block_read) == 40, "block_read struct");
_Static_assert(sizeof(struct hvt_hc_net_write) == 32, "net_write struct");
_Static_assert(sizeof(struct hvt_hc_net_read) == 32, "net_read struct");
_Static_assert(sizeof(struct hvt_hc_halt) == 16, "halt struct");
_Static_assert(sizeof(struct hvt_trap_regs) == 56, "trap frame");

#endif

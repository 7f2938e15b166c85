/*
 * A tiny runtime for the freestanding test guests: hypercall wrappers,
 * console output, string helpers, command-line access and the TSC.
 *
 * Every guest defines
 *     int main(const struct hvt_boot_info *bi);
 * and a manifest with RT_MANIFEST(...). main's return value becomes the
 * halt status (the monitor's exit status).
 */
#ifndef GUEST_RT_H
#define GUEST_RT_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <ukvm/hvt_abi.h>

#define NOINLINE __attribute__((noinline))
#define NORETURN __attribute__((noreturn))

/* Set by the start-up code before main() runs. */
extern const struct hvt_boot_info *rt_bi;

int main(const struct hvt_boot_info *bi);

/*
 * The manifest note. Use exactly once per guest, at file scope, with the
 * number of devices and the devices:
 *     RT_MANIFEST(0);
 *     RT_MANIFEST(1, RT_MFT_BLOCK("storage"));
 * As in every real Solo5 kernel, entry 0 is a reserved entry (type
 * HVT_MFT_RESERVED_FIRST, empty name, never attached) that the bindings
 * declare first, so the manifest has N + 1 entries and the devices get the
 * handles 1 to N. Laid out as Solo5 lays it out: a 12-byte header and the
 * name "Solo5" padded to 8 bytes (20 bytes), then the content (u32 version,
 * u32 entries, 104-byte entries), whose C struct is 8-aligned, so it starts
 * at offset 24 of the note; the 4 bytes of padding count in descsz. The
 * note itself is only 4-aligned (aligned(4) on the variable), like every
 * ELF note.
 */
#define RT_MFT_RESERVED()  { .name = "", .type = HVT_MFT_RESERVED_FIRST }
#define RT_MFT_BLOCK(NAME) { .name = NAME, .type = HVT_MFT_DEV_BLOCK_BASIC }
#define RT_MFT_NET(NAME)   { .name = NAME, .type = HVT_MFT_DEV_NET_BASIC }

#define RT_MANIFEST(N, ...)                                                 \
    __asm__(".section .note.solo5.manifest,\"a\",@note\n\t.previous");      \
    static const struct {                                                   \
        uint32_t namesz, descsz, type;                                      \
        char name[8];                                                       \
        struct __attribute__((aligned(8))) {                                \
            uint32_t version, entries;                                      \
            struct hvt_mft_entry e[(N) + 1];                                \
        } mft;                                                              \
    } rt_manifest_note                                                      \
    __attribute__((section(".note.solo5.manifest"), aligned(4), used)) = {  \
        .namesz = 6,                                                        \
        .descsz = sizeof(rt_manifest_note) - 20,                            \
        .type = HVT_NOTE_TYPE_MANIFEST,                                     \
        .name = HVT_NOTE_NAME,                                              \
        .mft = {                                                            \
            .version = HVT_MFT_VERSION,                                     \
            .entries = (N) + 1,                                             \
            .e = { RT_MFT_RESERVED(), __VA_ARGS__ },                        \
        },                                                                  \
    };                                                                      \
    _Static_assert(sizeof(rt_manifest_note) == 24 + 8 + 104 * ((N) + 1),    \
            "manifest content at offset 24, after 4 bytes of padding")

/* Hypercalls: `out dx, eax` with eax = the struct's guest-physical address.
 * The guest is identity mapped and lives below 4 GiB, so a pointer fits. */
static inline void hvt_hypercall(unsigned int n, volatile void *arg)
{
    __asm__ __volatile__("outl %0, %1"
                         :
                         : "a"((uint32_t)(uintptr_t)arg),
                           "d"((uint16_t)(HVT_HYPERCALL_PIO_BASE + n))
                         : "memory");
}

uint64_t hc_walltime(void);
void hc_puts(const char *s, size_t len);
/* Returns the ready set; *ret (if non-NULL) gets the struct's ret field,
 * which in Solo5 is the number of ready events (negative on error). */
uint64_t hc_poll(uint64_t timeout_nsecs, int *ret);
int hc_block_write(uint64_t handle, uint64_t offset, const void *data, size_t len);
int hc_block_read(uint64_t handle, uint64_t offset, void *data, size_t len);
int hc_net_write(uint64_t handle, const void *data, size_t len);
/* *len: in, the buffer size; out, the frame length. */
int hc_net_read(uint64_t handle, void *data, size_t *len);
NORETURN void hc_halt(int status);

/* The TSC. The monitor may patch these sites, so keep them inline. */
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t rdtscp(uint32_t *aux)
{
    uint32_t lo, hi, c;
    __asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi), "=c"(c));
    if (aux)
        *aux = c;
    return ((uint64_t)hi << 32) | lo;
}

/* Cycles to nanoseconds with cpu_cycle_freq, without overflow. */
uint64_t tsc_to_ns(uint64_t cycles);

/* Console. printf understands %s %c %d %i %u %x %p %% with the l/ll/z
 * length modifiers, a field width and the 0 flag. */
void puts(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Strings and memory. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

/* Command line: the guest arguments joined by single spaces. */
const char *cmdline(void);
/* Copies argument i (0-based, space separated) into buf; returns 0 if there
 * is no such argument or it does not fit, 1 otherwise. */
int cmdline_arg(unsigned int i, char *buf, size_t size);
/* Parses argument i as an unsigned decimal number; returns def when the
 * argument is missing or not a number. */
uint64_t cmdline_u64(unsigned int i, uint64_t def);

/* Manifest lookup in the monitor's copy: returns the index (the handle) of
 * the entry with this name and type, or -1. */
int mft_find(const char *name, uint32_t type, const struct hvt_mft_entry **entry);

#endif

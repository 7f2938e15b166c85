/*
 * The test guests' runtime: start-up glue, hypercalls, console, strings.
 * See rt.h for the interface.
 */
#include "rt.h"

/*
 * What makes this an hvt kernel laid out like Solo5's (guest.ld places it):
 * the PT_INTERP string, the OpenBSD note and the ABI note. The manifest note
 * comes from RT_MANIFEST (rt.h).
 */

/* PT_INTERP: a path that cannot exist, so that the host's own kernel
 * refuses to exec the file. 24 bytes, NUL padded. */
static const char rt_interp[24]
    __attribute__((section(".interp"), aligned(8), used)) = "/nonexistent/solo5/";

/* An OpenBSD identification note (owner "OpenBSD", type 1, a 4-byte 0
 * desc), as Solo5's toolchain adds; monitors skip it. */
__asm__(".section .note.solo5.not_openbsd,\"a\",@note\n\t.previous");
static const struct {
    uint32_t namesz, descsz, type;
    char name[8];
    uint32_t desc;
} rt_openbsd_note __attribute__((section(".note.solo5.not_openbsd"), aligned(4), used)) = {
    .namesz = 8,
    .descsz = 4,
    .type = 1,
    .name = "OpenBSD",
    .desc = 0,
};

/* The ABI note: this is an hvt kernel, ABI version 2. Its content is
 * 4-aligned, so it follows the 20-byte header directly. */
__asm__(".section .note.solo5.abi,\"a\",@note\n\t.previous");
static const struct {
    uint32_t namesz, descsz, type;
    char name[8];
    struct hvt_abi1_desc desc;
} rt_abi_note __attribute__((section(".note.solo5.abi"), aligned(4), used)) = {
    .namesz = 6,
    .descsz = sizeof(struct hvt_abi1_desc),
    .type = HVT_NOTE_TYPE_ABI,
    .name = HVT_NOTE_NAME,
    .desc = { .abi_target = HVT_ABI_TARGET_HVT, .abi_version = HVT_ABI_VERSION },
};
_Static_assert(sizeof(rt_abi_note) == 20 + sizeof(struct hvt_abi1_desc), "ABI note layout");

const struct hvt_boot_info *rt_bi;

/* An initialised word, so that every guest has a .data section (and the RW
 * PT_LOAD that carries file bytes); rt_main checks that it was loaded. */
#define RT_DATA_CHECK 0x5f0105d7u
volatile uint32_t rt_data_check = RT_DATA_CHECK;

/* Called by _start (start.S) with the boot info; never returns. */
NORETURN void rt_main(const struct hvt_boot_info *bi);
NORETURN void rt_main(const struct hvt_boot_info *bi)
{
    rt_bi = bi;
    if (rt_data_check != RT_DATA_CHECK) {
        puts("rt: FAIL: .data was not loaded from the kernel file\n");
        hc_halt(2);
    }
    hc_halt(main(bi));
}

/* ---- hypercalls ---- */

uint64_t hc_walltime(void)
{
    struct hvt_hc_walltime a = { 0 };
    hvt_hypercall(HVT_HYPERCALL_WALLTIME, &a);
    return a.nsecs;
}

void hc_puts(const char *s, size_t len)
{
    struct hvt_hc_puts a = { .data = (uintptr_t)s, .len = len };
    hvt_hypercall(HVT_HYPERCALL_PUTS, &a);
}

uint64_t hc_poll(uint64_t timeout_nsecs, int *ret)
{
    struct hvt_hc_poll a = { .timeout_nsecs = timeout_nsecs };
    hvt_hypercall(HVT_HYPERCALL_POLL, &a);
    if (ret)
        *ret = a.ret;
    return a.ready_set;
}

int hc_block_write(uint64_t handle, uint64_t offset, const void *data, size_t len)
{
    struct hvt_hc_block_write a = {
        .handle = handle, .offset = offset, .data = (uintptr_t)data, .len = len,
        .ret = -1,
    };
    hvt_hypercall(HVT_HYPERCALL_BLOCK_WRITE, &a);
    return a.ret;
}

int hc_block_read(uint64_t handle, uint64_t offset, void *data, size_t len)
{
    struct hvt_hc_block_read a = {
        .handle = handle, .offset = offset, .data = (uintptr_t)data, .len = len,
        .ret = -1,
    };
    hvt_hypercall(HVT_HYPERCALL_BLOCK_READ, &a);
    return a.ret;
}

int hc_net_write(uint64_t handle, const void *data, size_t len)
{
    struct hvt_hc_net_write a = {
        .handle = handle, .data = (uintptr_t)data, .len = len, .ret = -1,
    };
    hvt_hypercall(HVT_HYPERCALL_NET_WRITE, &a);
    return a.ret;
}

int hc_net_read(uint64_t handle, void *data, size_t *len)
{
    struct hvt_hc_net_read a = {
        .handle = handle, .data = (uintptr_t)data, .len = *len, .ret = -1,
    };
    hvt_hypercall(HVT_HYPERCALL_NET_READ, &a);
    *len = a.len;
    return a.ret;
}

NORETURN void hc_halt(int status)
{
    struct hvt_hc_halt a = { .cookie = 0, .exit_status = status };
    hvt_hypercall(HVT_HYPERCALL_HALT, &a);
    for (;;)
        __asm__ __volatile__("pause");
}

/* ---- time ---- */

uint64_t tsc_to_ns(uint64_t cycles)
{
    uint64_t f = rt_bi->cpu_cycle_freq;
    if (f == 0)
        return 0;
    return (cycles / f) * 1000000000ull + (cycles % f) * 1000000000ull / f;
}

/* ---- strings and memory ---- */

void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

/* ---- formatted output ---- */

struct out {
    char *buf;
    size_t size;    /* capacity, including the NUL */
    size_t len;     /* characters produced so far (may exceed size) */
};

static void out_c(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void out_num(struct out *o, uint64_t v, unsigned int base, int neg,
                    unsigned int width, char pad)
{
    char tmp[24];
    unsigned int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg && pad == '0')
        out_c(o, '-');
    unsigned int total = n + (neg ? 1 : 0);
    for (; width > total; width--)
        out_c(o, pad);
    if (neg && pad != '0')
        out_c(o, '-');
    while (n)
        out_c(o, tmp[--n]);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { .buf = buf, .size = size, .len = 0 };

    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            out_c(&o, *fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        unsigned int width = 0;
        int lng = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (unsigned int)(*fmt++ - '0');
        while (*fmt == 'l' || *fmt == 'z') {
            lng++;
            fmt++;
        }
        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
            out_num(&o, mag, 10, v < 0, width, pad);
            break;
        }
        case 'u':
        case 'x': {
            uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);
            out_num(&o, v, *fmt == 'u' ? 10 : 16, 0, width, pad);
            break;
        }
        case 'p':
            out_c(&o, '0');
            out_c(&o, 'x');
            out_num(&o, (uintptr_t)va_arg(ap, void *), 16, 0, width, pad);
            break;
        case 'c':
            out_c(&o, (char)va_arg(ap, int));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            size_t n = strlen(s);
            for (; width > n; width--)
                out_c(&o, ' ');
            while (*s)
                out_c(&o, *s++);
            break;
        }
        case '%':
            out_c(&o, '%');
            break;
        case '\0':
            fmt--;
            break;
        default:
            out_c(&o, '%');
            out_c(&o, *fmt);
            break;
        }
    }
    if (o.size)
        o.buf[o.len < o.size ? o.len : o.size - 1] = '\0';
    return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* One puts hypercall per printf call (output longer than the buffer is
 * cut short), so that a line reaches the console in one piece. */
int printf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    hc_puts(buf, strlen(buf));
    return n;
}

void puts(const char *s)
{
    hc_puts(s, strlen(s));
}

/* ---- command line and manifest ---- */

const char *cmdline(void)
{
    return (const char *)(uintptr_t)rt_bi->cmdline;
}

int cmdline_arg(unsigned int i, char *buf, size_t size)
{
    const char *p = cmdline();
    for (;;) {
        while (*p == ' ')
            p++;
        if (!*p)
            return 0;
        const char *start = p;
        while (*p && *p != ' ')
            p++;
        if (i-- == 0) {
            size_t n = (size_t)(p - start);
            if (n + 1 > size)
                return 0;
            memcpy(buf, start, n);
            buf[n] = '\0';
            return 1;
        }
    }
}

uint64_t cmdline_u64(unsigned int i, uint64_t def)
{
    char buf[32];
    if (!cmdline_arg(i, buf, sizeof buf) || !buf[0])
        return def;
    uint64_t v = 0;
    for (const char *p = buf; *p; p++) {
        if (*p < '0' || *p > '9')
            return def;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return v;
}

int mft_find(const char *name, uint32_t type, const struct hvt_mft_entry **entry)
{
    const struct hvt_mft *m = (const struct hvt_mft *)(uintptr_t)rt_bi->mft;
    for (uint32_t i = 0; i < m->entries && i < HVT_MFT_MAX_ENTRIES; i++) {
        if (m->e[i].type == type && strcmp(m->e[i].name, name) == 0) {
            if (entry)
                *entry = &m->e[i];
            return (int)i;
        }
    }
    return -1;
}

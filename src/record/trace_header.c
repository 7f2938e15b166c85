/* The first frame's content: magic, format version and the header record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/sha256.h"
#include "trace_codec.h"

void trace_sha256(const void *data, size_t len, uint8_t out[32])
{
    sha256(data, len, out);
}

static void put_str(struct obuf *b, const char *s, size_t len)
{
    obuf_varint(b, len);
    obuf_bytes(b, s, len);
}

int trace_header_encode(struct obuf *out, const struct ukvm_trace_header *h,
        const uint8_t sha256[32], char *err, size_t errlen)
{
    size_t vlen = strnlen(h->ukvm_version, sizeof h->ukvm_version);
    if (vlen >= sizeof h->ukvm_version) {
        snprintf(err, errlen, "ukvm_version is not NUL-terminated");
        return -1;
    }
    const char *cmdline = h->cmdline ? h->cmdline : "";
    size_t clen = strlen(cmdline);
    if (clen > TRACE_MAX_CMDLINE) {
        snprintf(err, errlen, "command line too long (%zu bytes, at most %u)", clen,
                TRACE_MAX_CMDLINE);
        return -1;
    }
    if (h->kernel_len && !h->kernel) {
        snprintf(err, errlen, "kernel_len without kernel");
        return -1;
    }
    if (h->n_devices > UKVM_TRACE_MAX_DEVICES || (h->n_devices && !h->devices)) {
        snprintf(err, errlen, "bad device list (%u devices, at most %u)", h->n_devices,
                UKVM_TRACE_MAX_DEVICES);
        return -1;
    }
    if (h->n_cpuid > UKVM_TRACE_MAX_CPUID || (h->n_cpuid && !h->cpuid)) {
        snprintf(err, errlen, "bad CPUID table (%u entries, at most %u)", h->n_cpuid,
                UKVM_TRACE_MAX_CPUID);
        return -1;
    }
    if (h->n_patches > UKVM_TRACE_MAX_PATCHES || (h->n_patches && !h->patches)) {
        snprintf(err, errlen, "bad patch table (%u entries, at most %u)", h->n_patches,
                UKVM_TRACE_MAX_PATCHES);
        return -1;
    }

    struct obuf p = { 0 };
    put_str(&p, h->ukvm_version, vlen);
    obuf_bytes(&p, sha256, 32);
    obuf_varint(&p, h->kernel_len);
    if (h->kernel_len)
        obuf_bytes(&p, h->kernel, h->kernel_len);
    put_str(&p, cmdline, clen);
    obuf_varint(&p, h->mem_size);
    obuf_varint(&p, h->tsc_hz);
    obuf_varint(&p, h->start_walltime_ns);

    obuf_varint(&p, h->n_devices);
    for (uint32_t i = 0; i < h->n_devices; i++) {
        const struct ukvm_trace_device *d = &h->devices[i];
        size_t nl = strnlen(d->name, sizeof d->name);
        if (nl >= sizeof d->name) {
            snprintf(err, errlen, "device %u: name is not NUL-terminated", i);
            obuf_free(&p);
            return -1;
        }
        put_str(&p, d->name, nl);
        obuf_varint(&p, d->type);
        obuf_varint(&p, d->mft_index);
        obuf_varint(&p, d->capacity);
        obuf_varint(&p, d->block_size);
        obuf_bytes(&p, d->mac, 6);
        obuf_varint(&p, d->mtu);
    }

    obuf_varint(&p, h->n_cpuid);
    for (uint32_t i = 0; i < h->n_cpuid; i++) {
        const struct ukvm_trace_cpuid *c = &h->cpuid[i];
        obuf_varint(&p, c->function);
        obuf_varint(&p, c->index);
        obuf_varint(&p, c->flags);
        obuf_varint(&p, c->eax);
        obuf_varint(&p, c->ebx);
        obuf_varint(&p, c->ecx);
        obuf_varint(&p, c->edx);
    }

    obuf_varint(&p, h->n_patches);
    for (uint32_t i = 0; i < h->n_patches; i++) {
        const struct ukvm_trace_patch *t = &h->patches[i];
        if (t->len < 1 || t->len > 15) {
            snprintf(err, errlen, "patch %u: bad instruction length %u", i, t->len);
            obuf_free(&p);
            return -1;
        }
        obuf_varint(&p, t->addr);
        obuf_u8(&p, t->len);
        obuf_u8(&p, t->kind);
        obuf_bytes(&p, t->orig, t->len);
    }

    obuf_bytes(out, TRACE_MAGIC, TRACE_MAGIC_LEN);
    uint8_t ver[4] = {
        UKVM_TRACE_FORMAT_VERSION & 0xff, (UKVM_TRACE_FORMAT_VERSION >> 8) & 0xff,
        TRACE_VERSION_MINOR & 0xff, (TRACE_VERSION_MINOR >> 8) & 0xff,
    };
    obuf_bytes(out, ver, 4);
    trace_record_begin(out, TAG_HEADER, p.len);
    obuf_bytes(out, p.p, p.len);
    bool oom = p.oom || out->oom;
    obuf_free(&p);
    if (oom) {
        snprintf(err, errlen, "out of memory encoding the trace header");
        return -1;
    }
    if (out->len > TRACE_MAX_FRAME_CONTENT - TRACE_PAD_ROOM) {
        snprintf(err, errlen, "trace header too large (%zu bytes, at most %u; is the kernel huge?)",
                out->len, TRACE_MAX_FRAME_CONTENT - TRACE_PAD_ROOM);
        return -1;
    }
    return 0;
}

void trace_header_store_free(struct trace_header_store *st)
{
    free(st->cmdline);
    free(st->devices);
    free(st->cpuid);
    free(st->patches);
    memset(st, 0, sizeof *st);
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); goto fail; } while (0)

static uint32_t get_u32(struct ibuf *in)
{
    uint64_t v = ibuf_varint(in);
    if (v > UINT32_MAX)
        in->bad = true;
    return (uint32_t)v;
}

static int decode_payload(struct ibuf *in, struct trace_header_store *st,
        char *err, size_t errlen)
{
    struct ukvm_trace_header *h = &st->h;
    h->format_version = UKVM_TRACE_FORMAT_VERSION;

    uint64_t n = ibuf_varint(in);
    if (in->bad || n >= sizeof h->ukvm_version)
        FAIL("bad ukvm version string in the header");
    const uint8_t *s = ibuf_bytes(in, n);
    if (!s)
        FAIL("header is cut short");
    memcpy(h->ukvm_version, s, n);
    h->ukvm_version[n] = 0;

    s = ibuf_bytes(in, 32);
    if (!s)
        FAIL("header is cut short");
    memcpy(h->kernel_sha256, s, 32);

    n = ibuf_varint(in);
    if (in->bad || n > ibuf_left(in))
        FAIL("bad kernel length in the header");
    h->kernel_len = n;
    h->kernel = ibuf_bytes(in, n);

    n = ibuf_varint(in);
    if (in->bad || n > TRACE_MAX_CMDLINE || n > ibuf_left(in))
        FAIL("bad command line length in the header");
    s = ibuf_bytes(in, n);
    if (n && memchr(s, 0, n))
        FAIL("NUL byte in the header's command line");
    st->cmdline = malloc(n + 1);
    if (!st->cmdline)
        FAIL("out of memory");
    if (n)
        memcpy(st->cmdline, s, n);
    st->cmdline[n] = 0;
    h->cmdline = st->cmdline;

    h->mem_size = ibuf_varint(in);
    h->tsc_hz = ibuf_varint(in);
    h->start_walltime_ns = ibuf_varint(in);

    n = ibuf_varint(in);
    if (in->bad || n > UKVM_TRACE_MAX_DEVICES)
        FAIL("bad device count in the header");
    h->n_devices = (uint32_t)n;
    if (n) {
        st->devices = calloc(n, sizeof *st->devices);
        if (!st->devices)
            FAIL("out of memory");
    }
    for (uint32_t i = 0; i < h->n_devices; i++) {
        struct ukvm_trace_device *d = &st->devices[i];
        uint64_t nl = ibuf_varint(in);
        if (in->bad || nl >= sizeof d->name)
            FAIL("bad name of device %u in the header", i);
        s = ibuf_bytes(in, nl);
        if (!s || (nl && memchr(s, 0, nl)))
            FAIL("bad name of device %u in the header", i);
        memcpy(d->name, s, nl);
        d->type = get_u32(in);
        d->mft_index = get_u32(in);
        d->capacity = ibuf_varint(in);
        uint64_t bs = ibuf_varint(in);
        s = ibuf_bytes(in, 6);
        if (s)
            memcpy(d->mac, s, 6);
        uint64_t mtu = ibuf_varint(in);
        if (in->bad || bs > UINT16_MAX || mtu > UINT16_MAX)
            FAIL("bad device %u in the header", i);
        d->block_size = (uint16_t)bs;
        d->mtu = (uint16_t)mtu;
    }
    h->devices = st->devices;

    n = ibuf_varint(in);
    if (in->bad || n > UKVM_TRACE_MAX_CPUID || n > ibuf_left(in))
        FAIL("bad CPUID entry count in the header");
    h->n_cpuid = (uint32_t)n;
    if (n) {
        st->cpuid = calloc(n, sizeof *st->cpuid);
        if (!st->cpuid)
            FAIL("out of memory");
    }
    for (uint32_t i = 0; i < h->n_cpuid; i++) {
        struct ukvm_trace_cpuid *c = &st->cpuid[i];
        c->function = get_u32(in);
        c->index = get_u32(in);
        c->flags = get_u32(in);
        c->eax = get_u32(in);
        c->ebx = get_u32(in);
        c->ecx = get_u32(in);
        c->edx = get_u32(in);
        if (in->bad)
            FAIL("bad CPUID entry %u in the header", i);
    }
    h->cpuid = st->cpuid;

    n = ibuf_varint(in);
    /* every entry takes at least 4 bytes */
    if (in->bad || n > UKVM_TRACE_MAX_PATCHES || n > ibuf_left(in) / 4)
        FAIL("bad patch count in the header");
    h->n_patches = (uint32_t)n;
    if (n) {
        st->patches = calloc(n, sizeof *st->patches);
        if (!st->patches)
            FAIL("out of memory");
    }
    for (uint32_t i = 0; i < h->n_patches; i++) {
        struct ukvm_trace_patch *t = &st->patches[i];
        t->addr = ibuf_varint(in);
        t->len = ibuf_u8(in);
        t->kind = ibuf_u8(in);
        if (in->bad || t->len < 1 || t->len > 15)
            FAIL("bad patch %u in the header", i);
        s = ibuf_bytes(in, t->len);
        if (!s)
            FAIL("bad patch %u in the header", i);
        memcpy(t->orig, s, t->len);
    }
    h->patches = st->patches;
    if (in->bad)
        FAIL("header is cut short");
    /* Bytes left over are fields of a later minor version: ignored. */
    return 0;
fail:
    return -1;
}

int trace_header_decode(const uint8_t *content, size_t len,
        struct trace_header_store *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    if (len < TRACE_PREAMBLE_LEN || memcmp(content, TRACE_MAGIC, TRACE_MAGIC_LEN) != 0) {
        snprintf(err, errlen, "not a ukvm trace (bad magic)");
        return -1;
    }
    unsigned major = content[8] | (unsigned)content[9] << 8;
    unsigned minor = content[10] | (unsigned)content[11] << 8;
    if (major > UKVM_TRACE_FORMAT_VERSION) {
        snprintf(err, errlen, "trace format version %u.%u is newer than this ukvm reads "
                "(%u.x); use a newer ukvm", major, minor, UKVM_TRACE_FORMAT_VERSION);
        return -1;
    }
    if (major < 1) {
        snprintf(err, errlen, "bad trace format version %u.%u", major, minor);
        return -1;
    }

    struct ibuf in = { .p = content, .len = len, .pos = TRACE_PREAMBLE_LEN };
    bool have_header = false;
    while (ibuf_left(&in)) {
        size_t at = in.pos;
        uint8_t tag = ibuf_u8(&in);
        uint64_t plen = ibuf_varint(&in);
        const uint8_t *payload = in.bad ? NULL : ibuf_bytes(&in, plen);
        if (!payload) {
            snprintf(err, errlen, "malformed record at offset %zu of the header frame", at);
            goto fail;
        }
        if (tag == TAG_HEADER && !have_header) {
            struct ibuf p = { .p = payload, .len = plen };
            if (decode_payload(&p, st, err, errlen) < 0)
                goto fail;
            have_header = true;
        } else if (tag >= TAG_OPT_MIN && tag <= TAG_OPT_MAX) {
            continue;           /* optional record of a later version */
        } else {
            snprintf(err, errlen, "unexpected record tag 0x%02x at offset %zu of the header frame",
                    tag, at);
            goto fail;
        }
    }
    if (!have_header) {
        snprintf(err, errlen, "the first frame holds no header record");
        goto fail;
    }
    uint8_t sum[32];
    trace_sha256(st->h.kernel, st->h.kernel_len, sum);
    if (memcmp(sum, st->h.kernel_sha256, 32) != 0) {
        snprintf(err, errlen, "the embedded kernel does not match its SHA-256 in the header");
        goto fail;
    }
    return 0;
fail:
    trace_header_store_free(st);
    return -1;
}

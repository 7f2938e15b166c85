/* A run's network frames as pcapng (see net_pcap.h). */
#include "record/net_pcap.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record/pcapng.h"
#include "ukvm/hvt_abi.h"

struct net_pcap {
    FILE *f;
    char *path;
    int64_t ifid[UKVM_TRACE_MAX_DEVICES];  /* by handle (manifest index); -1: not in the file */
    uint64_t clock;                         /* the guest's: its last walltime */
    struct net_pcap_counts n;
};

static void write_error(const struct net_pcap *p, int errnum, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: write error: %s", p->path, strerror(errnum));
}

static void destroy(struct net_pcap *p)
{
    if (p->f)
        fclose(p->f);
    free(p->path);
    free(p);
}

struct net_pcap *net_pcap_create(const char *path, bool overwrite, const char *force_hint,
        const struct ukvm_trace_header *h, const char *net, const char *app,
        char *err, size_t errlen)
{
    struct net_pcap *p = calloc(1, sizeof(*p));
    if (!p || !(p->path = strdup(path))) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    uint32_t n_if = 0;
    bool named = false;
    for (uint32_t i = 0; i < UKVM_TRACE_MAX_DEVICES; i++)
        p->ifid[i] = -1;
    for (uint32_t i = 0; i < h->n_devices; i++) {
        const struct ukvm_trace_device *d = &h->devices[i];
        if (d->type != HVT_MFT_DEV_NET_BASIC || (net && strcmp(net, d->name)))
            continue;
        named = true;
        if (d->mft_index < UKVM_TRACE_MAX_DEVICES)
            p->ifid[d->mft_index] = n_if++;
    }
    if (net && !named) {
        snprintf(err, errlen, "the trace has no net device '%s'", net);
        destroy(p);
        return NULL;
    }
    if (!n_if) {
        snprintf(err, errlen, "the trace has no net devices");
        destroy(p);
        return NULL;
    }
    /* Before the guest reads the clock: the recording's start. */
    p->clock = h->start_walltime_ns;

    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (overwrite ? 0 : O_EXCL), 0644);
    if (fd < 0 || !(p->f = fdopen(fd, "wb"))) {
        int e = errno;
        snprintf(err, errlen, "%s: %s%s%s%s", path, strerror(e),
                e == EEXIST ? " (" : "", e == EEXIST ? force_hint : "",
                e == EEXIST ? " overwrites it)" : "");
        if (fd >= 0)
            close(fd);
        destroy(p);
        return NULL;
    }
    errno = 0;
    bool ok = pcapng_section(p->f, app) == 0;
    for (uint32_t i = 0; i < h->n_devices && ok; i++) {
        const struct ukvm_trace_device *d = &h->devices[i];
        if (d->type != HVT_MFT_DEV_NET_BASIC || d->mft_index >= UKVM_TRACE_MAX_DEVICES ||
            p->ifid[d->mft_index] < 0)
            continue;
        uint32_t longest = (uint32_t)d->mtu + 14;  /* the Ethernet header */
        ok = pcapng_interface(p->f, d->name, d->mac, longest > 65535 ? longest : 65535) == 0;
    }
    if (!ok) {
        write_error(p, errno, err, errlen);
        destroy(p);
        return NULL;
    }
    return p;
}

int net_pcap_event(struct net_pcap *p, uint64_t number, const struct ukvm_event *e,
        const uint8_t *frame, size_t len, char *err, size_t errlen)
{
    if (e->kind == UKVM_EV_WALLTIME)
        p->clock = e->a[0];
    bool read = e->kind == UKVM_EV_NET_READ;
    if (!read && e->kind != UKVM_EV_NET_WRITE)
        return 0;
    uint64_t ret = read ? e->a[2] : e->a[3];
    if (e->a[0] >= UKVM_TRACE_MAX_DEVICES || p->ifid[e->a[0]] < 0 || ret != 0)
        return 0;
    if (!frame && !read) {
        p->n.left_out++;
        return 0;
    }
    static const uint8_t none[1];
    if (!frame)                 /* a frame of no bytes: a trace holds no data for it */
        frame = none, len = 0;
    if (len > PCAPNG_MAX_PACKET) {
        snprintf(err, errlen, "%s: event %" PRIu64 ": a frame of %zu bytes is longer "
                "than any net device's (%u)", p->path, number, len, PCAPNG_MAX_PACKET);
        return -1;
    }
    char comment[64];
    snprintf(comment, sizeof(comment), "ukvm event %" PRIu64 ", %s", number,
            read ? "net_read" : "net_write");
    errno = 0;
    if (pcapng_packet(p->f, (uint32_t)p->ifid[e->a[0]], p->clock, read, frame, (uint32_t)len,
                comment) < 0) {
        write_error(p, errno, err, errlen);
        return -1;
    }
    if (read)
        p->n.read++;
    else
        p->n.written++;
    return 0;
}

void net_pcap_counts(const struct net_pcap *p, struct net_pcap_counts *out)
{
    *out = p->n;
}

int net_pcap_close(struct net_pcap *p, char *err, size_t errlen)
{
    errno = 0;
    int rc = fclose(p->f);
    p->f = NULL;
    if (rc != 0)
        write_error(p, errno, err, errlen);
    destroy(p);
    return rc != 0 ? -1 : 0;
}

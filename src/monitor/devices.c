/*
 * Matching the devices given on the command line (or recorded in a trace)
 * with the kernel's manifest, and filling the manifest entries in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "monitor/devices.h"

static const char *type_name(uint32_t type)
{
    return type == HVT_MFT_DEV_BLOCK_BASIC ? "block" :
           type == HVT_MFT_DEV_NET_BASIC ? "net" : "unknown";
}

static void random_mac(uint8_t mac[6])
{
    if (getrandom(mac, 6, 0) != 6) {
        for (int i = 0; i < 6; i++)
            mac[i] = (uint8_t)rand();
    }
    mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
}

int devices_attach(struct monitor *m, char *err, size_t errlen)
{
    struct kernel_image *k = &m->kernel;
    for (size_t i = 0; i < m->cfg->n_devices; i++) {
        struct device *d = &m->cfg->devices[i];
        /* Reserved entries (Solo5's bindings put one at index 0) are not
         * devices: a device option never names one. */
        uint32_t idx;
        for (idx = 0; idx < k->n_mft_entries; idx++)
            if (k->mft[idx].type < HVT_MFT_RESERVED_FIRST &&
                strcmp(k->mft[idx].name, d->name) == 0)
                break;
        if (idx == k->n_mft_entries) {
            snprintf(err, errlen, "device '%s' given on the command line is not in the kernel's manifest",
                    d->name);
            return -1;
        }
        struct hvt_mft_entry *e = &k->mft[idx];
        if (e->type != d->type) {
            snprintf(err, errlen, "device '%s' is a %s device in the manifest, not %s",
                    d->name, type_name(e->type), type_name(d->type));
            return -1;
        }
        if (m->by_handle[idx]) {
            snprintf(err, errlen, "device '%s' is given twice", d->name);
            return -1;
        }
        d->mft_index = idx;
        if (m->cfg->mode != MODE_REPLAY) {
            if (d->type == HVT_MFT_DEV_BLOCK_BASIC) {
                if (block_open(d, err, errlen) < 0)
                    return -1;
            } else {
                if (net_open(d, err, errlen) < 0)
                    return -1;
                if (!d->mac_given)
                    random_mac(d->mac);
            }
        }
        memset(&e->u, 0, sizeof(e->u));
        if (d->type == HVT_MFT_DEV_BLOCK_BASIC) {
            e->u.block.capacity = d->capacity;
            e->u.block.block_size = d->block_size;
        } else {
            memcpy(e->u.net.mac, d->mac, 6);
            e->u.net.mtu = d->mtu;
        }
        e->hostfd = 0;
        e->attached = 1;
        m->by_handle[idx] = d;
    }
    for (uint32_t idx = 0; idx < k->n_mft_entries; idx++) {
        struct hvt_mft_entry *e = &k->mft[idx];
        if (e->type >= HVT_MFT_RESERVED_FIRST)
            continue;
        if (e->type != HVT_MFT_DEV_BLOCK_BASIC && e->type != HVT_MFT_DEV_NET_BASIC) {
            snprintf(err, errlen, "manifest entry '%s' has unknown device type %u", e->name, e->type);
            return -1;
        }
        if (!e->attached) {
            snprintf(err, errlen, "manifest device '%s' is not attached: give --%s:%s=%s",
                    e->name, type_name(e->type), e->name,
                    e->type == HVT_MFT_DEV_BLOCK_BASIC ? "FILE" : "TAP");
            return -1;
        }
    }
    return 0;
}

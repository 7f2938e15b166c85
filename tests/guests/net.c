/*
 * net: Ethernet echo. The manifest has one net device, "service"; run it as
 * `ukvm run --net:service=TAP net.elf [N]`. It prints
 *     net: ready, mac M, echoing N frames
 * then echoes every frame it receives back to its sender (destination =
 * the frame's source, source = our MAC) until it has echoed N frames
 * (default 1), printing for each
 *     net: echoed frame I: L bytes from SRC, ethertype 0xTTTT
 * and finally "net: done" (exit 0). A failed read or write prints
 * "net: FAIL: ..." and exits 1, as does a read or write with handle 0 (the
 * reserved manifest entry, not a device) that does not fail with EINVAL.
 * Frames shorter than an Ethernet header are ignored. With a second
 * argument P non-zero, it then writes one frame a byte longer than its MTU
 * allows (MTU + 15 bytes) and prints
 *     net: oversized frame of L bytes refused (EINVAL)
 * or "net: FAIL: ..." when the write does not fail with EINVAL.
 */
#include "rt.h"

RT_MANIFEST(1, RT_MFT_NET("service"));

#define POLL_NS 1000000000ull   /* 1 s */

static uint8_t frame[65536];  /* the largest frame an MTU allows */

static void fmt_mac(char *buf, const uint8_t *m)
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
             m[0], m[1], m[2], m[3], m[4], m[5]);
}

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    const struct hvt_mft_entry *e;
    int h = mft_find("service", HVT_MFT_DEV_NET_BASIC, &e);
    if (h < 0 || !e->attached) {
        puts("net: FAIL: device \"service\" missing or not attached\n");
        return 1;
    }
    size_t len0 = sizeof frame;
    int r0 = hc_net_read(0, frame, &len0), w0 = hc_net_write(0, frame, 60);
    if (r0 != HVT_EINVAL || w0 != HVT_EINVAL) {
        printf("net: FAIL: handle 0 (the reserved entry): net_read %d, net_write %d, "
               "expected %d\n", r0, w0, HVT_EINVAL);
        return 1;
    }
    uint8_t mac[6];
    memcpy(mac, e->u.net.mac, 6);
    uint64_t want = cmdline_u64(0, 1);
    char macs[18], srcs[18];
    fmt_mac(macs, mac);
    printf("net: ready, mac %s, mtu %u, echoing %lu frames\n",
           macs, e->u.net.mtu, want);

    uint64_t done = 0;
    while (done < want) {
        int pret;
        uint64_t ready = hc_poll(POLL_NS, &pret);
        /* As in Solo5, ret is the number of ready events, not a result
         * code: only a negative value is an error. */
        if (pret < 0) {
            printf("net: FAIL: poll returned %d\n", pret);
            return 1;
        }
        /* Read until AGAIN whatever the ready set says; but it may name only
         * our device (bit h: never bit 0, the reserved entry). */
        if (ready & ~(1ull << h)) {
            printf("net: FAIL: poll ready set 0x%lx, device handle %d\n", ready, h);
            return 1;
        }
        while (done < want) {
            size_t len = sizeof frame;
            int r = hc_net_read(h, frame, &len);
            if (r == HVT_AGAIN)
                break;
            if (r != HVT_OK) {
                printf("net: FAIL: net_read returned %d\n", r);
                return 1;
            }
            if (len < 14 || len > sizeof frame) {
                printf("net: ignoring a frame of %lu bytes\n", (uint64_t)len);
                continue;
            }
            memcpy(frame, frame + 6, 6);    /* back to the sender */
            memcpy(frame + 6, mac, 6);      /* from us */
            r = hc_net_write(h, frame, len);
            if (r != HVT_OK) {
                printf("net: FAIL: net_write returned %d\n", r);
                return 1;
            }
            done++;
            fmt_mac(srcs, frame);
            printf("net: echoed frame %lu: %lu bytes from %s, ethertype 0x%04x\n",
                   done, (uint64_t)len, srcs,
                   (unsigned int)(frame[12] << 8 | frame[13]));
        }
    }
    if (cmdline_u64(1, 0)) {
        size_t big = (size_t)e->u.net.mtu + 15;
        memset(frame, 0xff, 6);
        memcpy(frame + 6, mac, 6);
        frame[12] = 0x88;
        frame[13] = 0xb5;
        int r = hc_net_write(h, frame, big);
        if (r != HVT_EINVAL) {
            printf("net: FAIL: net_write of %lu bytes returned %d, expected %d\n",
                   (uint64_t)big, r, HVT_EINVAL);
            return 1;
        }
        printf("net: oversized frame of %lu bytes refused (EINVAL)\n", (uint64_t)big);
    }
    puts("net: done\n");
    return 0;
}

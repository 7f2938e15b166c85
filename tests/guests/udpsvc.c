/*
 * udpsvc: a small network service, enough IPv4 for Linux's own stack to
 * talk to it through a tap: it answers ARP requests and ICMP echo (ping)
 * for its address, and serves UDP port 7: every datagram comes back to its
 * sender unchanged (a request/response service whose requests a load
 * generator can check). A datagram "QUIT" ends it: it answers "BYE", prints
 * a summary and exits 0.
 *
 *     ukvm run --net:service=TAP udpsvc.elf IP      (e.g. 10.77.0.2)
 *
 * prints "udpsvc: ready, mac M, ip IP" then, at the end,
 *     udpsvc: served R requests, B bytes, P pings, A arps, digest D
 * where D hashes every request's payload in order (the state a replay must
 * reproduce). Frames not for us are counted and dropped. For the debugger
 * tests: serve_request() handles one request, and `requests_served` counts
 * them.
 */
#include "rt.h"

RT_MANIFEST(1, RT_MFT_NET("service"));

#define ETH_HLEN 14
#define ETHERTYPE_IP 0x0800
#define ETHERTYPE_ARP 0x0806
#define IP_PROTO_ICMP 1
#define IP_PROTO_UDP 17
#define SERVICE_PORT 7
#define POLL_NS 1000000000ull

static uint8_t rx[2048], tx[2048];
static uint8_t my_mac[6];
static uint32_t my_ip;          /* host byte order */
static int dev;

volatile uint64_t requests_served;
static uint64_t bytes_served, pings, arps, dropped;
static uint64_t digest = 1469598103934665603ull;       /* FNV-1a */

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* The Internet checksum (RFC 1071) of len bytes. */
static uint16_t inet_checksum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += get16(p + i);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static int parse_ip(const char *s, uint32_t *ip)
{
    uint32_t v = 0;
    for (int part = 0; part < 4; part++) {
        uint32_t n = 0;
        int digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 4) {
            n = n * 10 + (uint32_t)(*s++ - '0');
            digits++;
        }
        if (digits == 0 || n > 255 || (part < 3 && *s++ != '.'))
            return -1;
        v = v << 8 | n;
    }
    *ip = v;
    return *s == 0 ? 0 : -1;
}

static void send_frame(size_t len)
{
    int r = hc_net_write(dev, tx, len);
    if (r != HVT_OK) {
        printf("udpsvc: FAIL: net_write returned %d\n", r);
        hc_halt(1);
    }
}

/* The Ethernet header of a reply to the frame in rx. */
static void reply_eth(uint16_t type)
{
    memcpy(tx, rx + 6, 6);
    memcpy(tx + 6, my_mac, 6);
    put16(tx + 12, type);
}

static void serve_arp(size_t len)
{
    const uint8_t *a = rx + ETH_HLEN;
    /* Ethernet/IPv4 request for our address */
    if (len < ETH_HLEN + 28 || get16(a) != 1 || get16(a + 2) != ETHERTYPE_IP ||
            a[4] != 6 || a[5] != 4 || get16(a + 6) != 1 || get32(a + 24) != my_ip) {
        dropped++;
        return;
    }
    reply_eth(ETHERTYPE_ARP);
    uint8_t *r = tx + ETH_HLEN;
    put16(r, 1); put16(r + 2, ETHERTYPE_IP); r[4] = 6; r[5] = 4;
    put16(r + 6, 2);                            /* reply */
    memcpy(r + 8, my_mac, 6);
    put32(r + 14, my_ip);
    memcpy(r + 18, a + 8, 10);                  /* the asker's MAC and IP */
    arps++;
    send_frame(ETH_HLEN + 28);
}

/* An IPv4 reply header in tx for the request whose header is at ip (ihl
 * bytes), carrying payload_len bytes after it. */
static uint8_t *reply_ip(const uint8_t *ip, uint8_t proto, size_t payload_len)
{
    reply_eth(ETHERTYPE_IP);
    uint8_t *h = tx + ETH_HLEN;
    memset(h, 0, 20);
    h[0] = 0x45;
    put16(h + 2, (uint16_t)(20 + payload_len));
    h[6] = 0x40;                                /* don't fragment */
    h[8] = 64;
    h[9] = proto;
    put32(h + 12, my_ip);
    memcpy(h + 16, ip + 12, 4);                 /* back to the sender */
    put16(h + 10, inet_checksum(h, 20));
    return h + 20;
}

static void serve_ping(const uint8_t *ip, const uint8_t *icmp, size_t len)
{
    if (len < 8 || icmp[0] != 8 || inet_checksum(icmp, len) != 0) {
        dropped++;
        return;
    }
    uint8_t *r = reply_ip(ip, IP_PROTO_ICMP, len);
    memcpy(r, icmp, len);
    r[0] = 0;                                   /* echo reply */
    put16(r + 2, 0);
    put16(r + 2, inet_checksum(r, len));
    pings++;
    send_frame(ETH_HLEN + 20 + len);
}

/* One request: its payload goes back to the sender unchanged. Returns 1
 * when it asked the service to stop. */
static int __attribute__((noipa)) serve_request(const uint8_t *ip, const uint8_t *udp,
        const uint8_t *payload, size_t len)
{
    int quit = len == 4 && memcmp(payload, "QUIT", 4) == 0;
    uint8_t *r = reply_ip(ip, IP_PROTO_UDP, 8 + (quit ? 3 : len));
    put16(r, get16(udp + 2));
    put16(r + 2, get16(udp));
    put16(r + 4, (uint16_t)(8 + (quit ? 3 : len)));
    put16(r + 6, 0);                            /* no checksum (allowed in IPv4) */
    memcpy(r + 8, quit ? (const uint8_t *)"BYE" : payload, quit ? 3 : len);
    if (!quit) {
        for (size_t i = 0; i < len; i++)
            digest = (digest ^ payload[i]) * 1099511628211ull;
        bytes_served += len;
        requests_served++;
    }
    send_frame(ETH_HLEN + 28 + (quit ? 3 : len));
    return quit;
}

/* One IPv4 frame; returns 1 when it was the request to stop. */
static int __attribute__((noinline)) serve_ip(size_t len)
{
    const uint8_t *ip = rx + ETH_HLEN;
    if (len < ETH_HLEN + 20 || (ip[0] >> 4) != 4) {
        dropped++;
        return 0;
    }
    size_t ihl = (size_t)(ip[0] & 15) * 4, total = get16(ip + 2);
    if (ihl < 20 || total < ihl || total > len - ETH_HLEN || get32(ip + 16) != my_ip ||
            (get16(ip + 6) & 0x3fff) != 0 || inet_checksum(ip, ihl) != 0) {
        dropped++;                              /* not ours, fragment or damaged */
        return 0;
    }
    const uint8_t *body = ip + ihl;
    size_t body_len = total - ihl;
    if (ip[9] == IP_PROTO_ICMP) {
        serve_ping(ip, body, body_len);
        return 0;
    }
    if (ip[9] == IP_PROTO_UDP && body_len >= 8 && get16(body + 2) == SERVICE_PORT &&
            get16(body + 4) >= 8 && get16(body + 4) <= body_len &&
            get16(body + 4) - 8u <= sizeof(tx) - ETH_HLEN - 28)
        return serve_request(ip, body, body + 8, get16(body + 4) - 8u);
    dropped++;
    return 0;
}

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    const struct hvt_mft_entry *e;
    char ipstr[16];
    dev = mft_find("service", HVT_MFT_DEV_NET_BASIC, &e);
    if (dev < 0 || !e->attached) {
        puts("udpsvc: FAIL: device \"service\" missing or not attached\n");
        return 1;
    }
    if (!cmdline_arg(0, ipstr, sizeof ipstr) || parse_ip(ipstr, &my_ip) < 0) {
        puts("udpsvc: FAIL: give the service's IPv4 address as the first argument\n");
        return 1;
    }
    memcpy(my_mac, e->u.net.mac, 6);
    printf("udpsvc: ready, mac %02x:%02x:%02x:%02x:%02x:%02x, ip %s\n", my_mac[0], my_mac[1],
           my_mac[2], my_mac[3], my_mac[4], my_mac[5], ipstr);
    for (;;) {
        int pret;
        hc_poll(POLL_NS, &pret);
        if (pret < 0) {
            printf("udpsvc: FAIL: poll returned %d\n", pret);
            return 1;
        }
        for (;;) {
            size_t len = sizeof rx;
            int r = hc_net_read(dev, rx, &len);
            if (r == HVT_AGAIN)
                break;
            if (r != HVT_OK || len > sizeof rx) {
                printf("udpsvc: FAIL: net_read returned %d (%lu bytes)\n", r, (uint64_t)len);
                return 1;
            }
            if (len < ETH_HLEN) {
                dropped++;
                continue;
            }
            int quit = 0;
            switch (get16(rx + 12)) {
            case ETHERTYPE_ARP: serve_arp(len); break;
            case ETHERTYPE_IP: quit = serve_ip(len); break;
            default: dropped++; break;
            }
            if (quit) {
                printf("udpsvc: served %lu requests, %lu bytes, %lu pings, %lu arps, "
                       "digest %016lx\n", (uint64_t)requests_served, bytes_served, pings,
                       arps, digest);
                return 0;
            }
        }
    }
}

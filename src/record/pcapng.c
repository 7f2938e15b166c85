/* pcapng writer (see pcapng.h; the block layouts are those of
 * draft-ietf-opsawg-pcapng). */
#include "pcapng.h"

#include <stdio.h>
#include <string.h>

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define BT_EPB 0x00000006u
#define LINKTYPE_ETHERNET 1

#define OPT_END 0
#define OPT_COMMENT 1
#define IF_NAME 2
#define IF_MACADDR 6
#define IF_TSRESOL 9
#define EPB_FLAGS 2

/* A block under construction. */
struct blk {
    uint8_t b[PCAPNG_MAX_PACKET + 1024]; /* a packet and its options */
    size_t n;
    bool over;
};

static void put(struct blk *k, const void *p, size_t len)
{
    if (k->n + len > sizeof k->b) {
        k->over = true;
        return;
    }
    memcpy(k->b + k->n, p, len);
    k->n += len;
}

static void put32(struct blk *k, uint32_t v) { put(k, &v, 4); }
static void put16(struct blk *k, uint16_t v) { put(k, &v, 2); }

static void pad4(struct blk *k)
{
    static const uint8_t z[4];
    put(k, z, (4 - k->n % 4) % 4);
}

static void opt(struct blk *k, uint16_t code, const void *p, size_t len)
{
    put16(k, code);
    put16(k, (uint16_t)len);
    put(k, p, len);
    pad4(k);
}

static void begin(struct blk *k, uint32_t type)
{
    k->n = 0;
    k->over = false;
    put32(k, type);
    put32(k, 0); /* total length, filled in by finish */
}

static int finish(FILE *f, struct blk *k)
{
    opt(k, OPT_END, NULL, 0);
    uint32_t total = (uint32_t)k->n + 4;
    memcpy(k->b + 4, &total, 4);
    put32(k, total);
    if (k->over)
        return -1;
    return fwrite(k->b, 1, k->n, f) == k->n ? 0 : -1;
}

static struct blk blk;

int pcapng_section(FILE *f, const char *app)
{
    begin(&blk, BT_SHB);
    put32(&blk, 0x1A2B3C4Du);   /* byte-order magic */
    put16(&blk, 1);             /* version 1.0 */
    put16(&blk, 0);
    uint64_t len = UINT64_MAX;  /* section length: not given */
    put(&blk, &len, 8);
    if (app)
        opt(&blk, 4 /* shb_userappl */, app, strlen(app));
    return finish(f, &blk);
}

int pcapng_interface(FILE *f, const char *name, const uint8_t mac[6], uint32_t snaplen)
{
    begin(&blk, BT_IDB);
    put16(&blk, LINKTYPE_ETHERNET);
    put16(&blk, 0);
    put32(&blk, snaplen);
    char c[64];
    snprintf(c, sizeof c, "MAC %02x:%02x:%02x:%02x:%02x:%02x",
            mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    opt(&blk, OPT_COMMENT, c, strlen(c));
    opt(&blk, IF_NAME, name, strlen(name));
    opt(&blk, IF_MACADDR, mac, 6);
    uint8_t resol = 9;          /* nanoseconds */
    opt(&blk, IF_TSRESOL, &resol, 1);
    return finish(f, &blk);
}

int pcapng_packet(FILE *f, uint32_t ifid, uint64_t ts_ns, bool inbound,
        const uint8_t *data, uint32_t len, const char *comment)
{
    begin(&blk, BT_EPB);
    put32(&blk, ifid);
    put32(&blk, (uint32_t)(ts_ns >> 32));
    put32(&blk, (uint32_t)ts_ns);
    put32(&blk, len);           /* captured */
    put32(&blk, len);           /* original */
    put(&blk, data, len);
    pad4(&blk);
    if (comment)
        opt(&blk, OPT_COMMENT, comment, strlen(comment));
    uint32_t flags = inbound ? 1 : 2;   /* direction bits 0-1 */
    opt(&blk, EPB_FLAGS, &flags, 4);
    return finish(f, &blk);
}

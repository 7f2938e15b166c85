/* GDB remote serial protocol: framing, checksums, escaping, hex. */
#include "rsp_packet.h"

#include <string.h>

enum { ST_IDLE, ST_PAYLOAD, ST_RLE_COUNT, ST_CS1, ST_CS2 };

void rsp_decoder_init(struct rsp_decoder *d)
{
    memset(d, 0, sizeof(*d));
    d->state = ST_IDLE;
    d->check_sums = true;
}

static void start_packet(struct rsp_decoder *d)
{
    d->state = ST_PAYLOAD;
    d->sum = 0;
    d->want_sum = 0;
    d->len = 0;
    d->overflow = false;
    d->bad_rle = false;
    d->buf[0] = 0;
}

static void put_byte(struct rsp_decoder *d, uint8_t c)
{
    if (d->len >= RSP_PACKET_SIZE) {
        d->overflow = true;
        return;
    }
    d->buf[d->len++] = c;
}

static void expand_run(struct rsp_decoder *d, uint8_t count_char)
{
    /* The count character is n + 29: the previous byte repeats n more
     * times. Counts below 3 are not printable and not valid. */
    if (count_char < 32 || count_char > 126 || d->len == 0) {
        d->bad_rle = true;
        return;
    }
    uint8_t prev = d->buf[d->len - 1];
    for (int n = count_char - 29; n > 0 && !d->overflow; n--)
        put_byte(d, prev);
}

size_t rsp_decoder_feed(struct rsp_decoder *d, const uint8_t *buf, size_t len,
                        enum rsp_event_type *ev)
{
    size_t i = 0;
    *ev = RSP_EV_NONE;
    while (i < len) {
        uint8_t c = buf[i++];
        switch (d->state) {
        case ST_IDLE:
            if (c == '$') {
                start_packet(d);
            } else if (c == '+') {
                *ev = RSP_EV_ACK;
                return i;
            } else if (c == '-') {
                *ev = RSP_EV_NAK;
                return i;
            } else if (c == 0x03) {
                *ev = RSP_EV_INTERRUPT;
                return i;
            }
            /* Anything else between packets is line noise: dropped. */
            break;
        case ST_PAYLOAD:
        case ST_RLE_COUNT:
            if (c == '$') {             /* a new packet starts: drop this one */
                start_packet(d);
                break;
            }
            if (c == '#') {
                if (d->state == ST_RLE_COUNT)
                    d->bad_rle = true;
                d->state = ST_CS1;
                break;
            }
            d->sum = (uint8_t)(d->sum + c);
            if (d->state == ST_RLE_COUNT) {
                expand_run(d, c);
                d->state = ST_PAYLOAD;
            } else if (c == '*') {
                d->state = ST_RLE_COUNT;
            } else {
                put_byte(d, c);
            }
            break;
        case ST_CS1:
        case ST_CS2: {
            int v = ukvm_hex_value(c);
            if (v < 0) {
                /* Not a checksum digit: treat the packet as corrupt. The byte
                 * may start the next thing on the line, so look at it again. */
                d->state = ST_IDLE;
                if (c == '$' || c == '+' || c == '-' || c == 0x03)
                    i--;
                *ev = d->check_sums ? RSP_EV_BAD_CHECKSUM : RSP_EV_MALFORMED;
                return i;
            }
            d->want_sum = (uint8_t)(d->want_sum << 4 | v);
            if (d->state == ST_CS1) {
                d->state = ST_CS2;
                break;
            }
            d->state = ST_IDLE;
            d->buf[d->len < RSP_PACKET_SIZE ? d->len : RSP_PACKET_SIZE] = 0;
            if (d->check_sums && d->want_sum != d->sum)
                *ev = RSP_EV_BAD_CHECKSUM;
            else if (d->overflow)
                *ev = RSP_EV_OVERSIZED;
            else if (d->bad_rle)
                *ev = RSP_EV_MALFORMED;
            else
                *ev = RSP_EV_PACKET;
            return i;
        }
        }
    }
    return i;
}

bool rsp_scan_byte(struct rsp_scan *sc, uint8_t c)
{
    switch (sc->state) {
    case 0:
        if (c == '$')
            sc->state = 1;
        return c == 0x03;
    case 1:
        if (c == '#')
            sc->state = 2;
        return false;
    case 2:
        sc->state = 3;
        return false;
    default:
        sc->state = 0;
        return false;
    }
}

uint8_t rsp_checksum(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return sum;
}

static const char hexdigits[] = "0123456789abcdef";

size_t rsp_frame(uint8_t *out, size_t cap, const void *payload, size_t len)
{
    if (cap < 4 || len > cap - 4)
        return 0;
    uint8_t sum = rsp_checksum(payload, len);
    out[0] = '$';
    memcpy(out + 1, payload, len);
    out[len + 1] = '#';
    out[len + 2] = (uint8_t)hexdigits[sum >> 4];
    out[len + 3] = (uint8_t)hexdigits[sum & 15];
    return len + 4;
}

static bool needs_escape(uint8_t c)
{
    return c == '#' || c == '$' || c == '}' || c == '*';
}

size_t rsp_escape(uint8_t *dst, size_t cap, const uint8_t *src, size_t len,
                  size_t *consumed)
{
    size_t o = 0, i = 0;
    for (; i < len; i++) {
        if (needs_escape(src[i])) {
            if (cap - o < 2)
                break;
            dst[o++] = '}';
            dst[o++] = src[i] ^ 0x20;
        } else {
            if (cap - o < 1)
                break;
            dst[o++] = src[i];
        }
    }
    *consumed = i;
    return o;
}

long rsp_unescape(uint8_t *buf, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '}') {
            if (++i >= len)
                return -1;
            buf[o++] = buf[i] ^ 0x20;
        } else {
            buf[o++] = buf[i];
        }
    }
    return (long)o;
}

void rsp_bin2hex(char *dst, const uint8_t *src, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        dst[2 * i] = hexdigits[src[i] >> 4];
        dst[2 * i + 1] = hexdigits[src[i] & 15];
    }
}

int rsp_hex2bin(uint8_t *dst, const char *src, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int hi = ukvm_hex_value((unsigned char)src[2 * i]);
        if (hi < 0)
            return -1;
        int lo = ukvm_hex_value((unsigned char)src[2 * i + 1]);
        if (lo < 0)
            return -1;
        dst[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int rsp_parse_hex(const char **p, uint64_t *val)
{
    const char *s = *p;
    uint64_t v = 0;
    int n = 0, d;
    while ((d = ukvm_hex_value((unsigned char)*s)) >= 0) {
        if (v >> 60)
            return -1;
        v = v << 4 | (uint64_t)d;
        s++;
        n++;
    }
    if (n == 0)
        return -1;
    *p = s;
    *val = v;
    return 0;
}

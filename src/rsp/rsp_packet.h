/*
 * GDB remote serial protocol: the byte level. Framing ($payload#cs),
 * checksums, run-length decoding of what arrives, binary escaping, hex.
 * No I/O here: the decoder is fed bytes and reports events.
 */
#ifndef UKVM_GDB_RSP_PACKET_H
#define UKVM_GDB_RSP_PACKET_H

#include "ukvm/hex.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest packet payload we accept or send (advertised as PacketSize). */
#define RSP_PACKET_SIZE 0x4000

enum rsp_event_type {
    RSP_EV_NONE,         /* input used up, nothing complete yet */
    RSP_EV_PACKET,       /* a packet with a good checksum: d->buf, d->len */
    RSP_EV_BAD_CHECKSUM, /* a packet whose checksum did not match (send '-') */
    RSP_EV_MALFORMED,    /* a good checksum but bad run-length encoding */
    RSP_EV_OVERSIZED,    /* a good checksum but longer than RSP_PACKET_SIZE */
    RSP_EV_INTERRUPT,    /* a 0x03 byte outside a packet */
    RSP_EV_ACK,          /* '+' */
    RSP_EV_NAK,          /* '-' */
};

struct rsp_decoder {
    int state;
    bool check_sums;     /* false in no-ack mode: checksums are not checked */
    uint8_t sum;         /* running sum of the payload bytes as sent */
    uint8_t want_sum;
    bool overflow;       /* the payload outgrew buf */
    bool bad_rle;
    size_t len;          /* decoded payload length */
    uint8_t buf[RSP_PACKET_SIZE + 1];   /* decoded payload, NUL-terminated */
};

void rsp_decoder_init(struct rsp_decoder *d);

/* Consumes bytes from buf until one event completes or the input is used
 * up; returns how many bytes were consumed and sets *ev. After RSP_EV_PACKET
 * the payload (run-length decoded, still binary-escaped) is d->buf[0..d->len)
 * with d->buf[d->len] == 0, valid until the next call. */
size_t rsp_decoder_feed(struct rsp_decoder *d, const uint8_t *buf, size_t len,
                        enum rsp_event_type *ev);

/* A minimal follower of the byte stream that only tells an interrupt byte
 * (0x03 between packets) from packet contents; used by the socket watcher
 * while the target runs. Start zeroed. */
struct rsp_scan {
    int state;
};
/* Returns true when c is an interrupt outside any packet. */
bool rsp_scan_byte(struct rsp_scan *sc, uint8_t c);

/* 8-bit modular sum of the bytes. */
uint8_t rsp_checksum(const void *buf, size_t len);

/* Frames a payload as $payload#cs into out (cap bytes, at least len + 4).
 * Returns the framed length, or 0 when it does not fit. The payload is sent
 * as is (the caller escapes binary data). */
size_t rsp_frame(uint8_t *out, size_t cap, const void *payload, size_t len);

/* Binary escaping of '#', '$', '}' and '*' as '}' (byte ^ 0x20). Writes at
 * most cap bytes to dst, never splitting an escape; *consumed gets the number
 * of source bytes encoded. Returns the bytes written. */
size_t rsp_escape(uint8_t *dst, size_t cap, const uint8_t *src, size_t len,
                  size_t *consumed);

/* Undoes the escaping in place; returns the new length or -1 when the data
 * ends in a lone '}'. */
long rsp_unescape(uint8_t *buf, size_t len);

/* Writes 2*len lowercase hex digits (no NUL). */
void rsp_bin2hex(char *dst, const uint8_t *src, size_t len);
/* Decodes exactly 2*len hex digits; -1 on a non-hex digit. */
int rsp_hex2bin(uint8_t *dst, const char *src, size_t len);
/* Parses a hex number at *p (at least one digit, at most 16), advancing *p.
 * Returns 0, or -1 when there is no digit or it overflows 64 bits. */
int rsp_parse_hex(const char **p, uint64_t *val);

#endif

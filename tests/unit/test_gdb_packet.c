/* Unit tests of the remote protocol byte level (src/rsp/rsp_packet.c), the
 * register table (gdb_regs.c) and the target description (gdb_tdesc.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/rsp/gdb_regs.h"
#include "../../src/rsp/gdb_tdesc.h"
#include "../../src/rsp/rsp_packet.h"

/* Feeds a whole string; returns the events seen, in order, in evs. */
static int feed_all(struct rsp_decoder *d, const char *in, size_t len,
                    enum rsp_event_type *evs, int max)
{
    size_t pos = 0;
    int n = 0;
    while (pos < len) {
        enum rsp_event_type ev;
        pos += rsp_decoder_feed(d, (const uint8_t *)in + pos, len - pos, &ev);
        if (ev != RSP_EV_NONE && n < max)
            evs[n++] = ev;
    }
    return n;
}

static void test_checksum_and_frame(void **state)
{
    (void)state;
    assert_int_equal(rsp_checksum("", 0), 0);
    assert_int_equal(rsp_checksum("OK", 2), 0x9a);
    assert_int_equal(rsp_checksum("qSupported", 10), 0x37);
    uint8_t out[32];
    size_t n = rsp_frame(out, sizeof(out), "OK", 2);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "$OK#9a", 6);
    n = rsp_frame(out, sizeof(out), "", 0);
    assert_memory_equal(out, "$#00", 4);
    assert_int_equal(rsp_frame(out, 5, "OK", 2), 0);   /* does not fit */
}

static void test_decode_simple(void **state)
{
    (void)state;
    struct rsp_decoder d;
    rsp_decoder_init(&d);
    enum rsp_event_type evs[8];
    const char *in = "+$OK#9a-\x03";
    int n = feed_all(&d, in, strlen(in), evs, 8);
    assert_int_equal(n, 4);
    assert_int_equal(evs[0], RSP_EV_ACK);
    assert_int_equal(evs[1], RSP_EV_PACKET);
    assert_int_equal(evs[2], RSP_EV_NAK);
    assert_int_equal(evs[3], RSP_EV_INTERRUPT);
    /* Byte by byte gives the same packet. */
    const char *pkt = "$qSupported#37";
    enum rsp_event_type ev = RSP_EV_NONE;
    for (size_t i = 0; i < strlen(pkt); i++) {
        assert_int_equal(rsp_decoder_feed(&d, (const uint8_t *)pkt + i, 1, &ev), 1);
        if (i + 1 < strlen(pkt))
            assert_int_equal(ev, RSP_EV_NONE);
    }
    assert_int_equal(ev, RSP_EV_PACKET);
    assert_int_equal(d.len, 10);
    assert_string_equal((char *)d.buf, "qSupported");
    /* Upper-case checksum digits are fine. */
    in = "$m0,1#FA";
    n = feed_all(&d, in, strlen(in), evs, 8);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0], RSP_EV_PACKET);     /* the sum of "m0,1" is 0xfa */
}

static void test_decode_bad_checksum(void **state)
{
    (void)state;
    struct rsp_decoder d;
    rsp_decoder_init(&d);
    enum rsp_event_type evs[8];
    const char *in = "$OK#9b$OK#9a";
    int n = feed_all(&d, in, strlen(in), evs, 8);
    assert_int_equal(n, 2);
    assert_int_equal(evs[0], RSP_EV_BAD_CHECKSUM);
    assert_int_equal(evs[1], RSP_EV_PACKET);
    /* A non-hex checksum digit; the '$' after it still starts a packet. */
    in = "$OK#9$OK#9a";
    n = feed_all(&d, in, strlen(in), evs, 8);
    assert_int_equal(n, 2);
    assert_int_equal(evs[0], RSP_EV_BAD_CHECKSUM);
    assert_int_equal(evs[1], RSP_EV_PACKET);
    /* In no-ack mode checksums are not checked. */
    d.check_sums = false;
    in = "$OK#00";
    n = feed_all(&d, in, strlen(in), evs, 8);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0], RSP_EV_PACKET);
}

static void test_decode_noise_and_restart(void **state)
{
    (void)state;
    struct rsp_decoder d;
    rsp_decoder_init(&d);
    enum rsp_event_type evs[8];
    /* Noise between packets is dropped; a '$' inside a packet restarts it. */
    const char *in = "xyz$garb$OK#9a";
    int n = feed_all(&d, in, strlen(in), evs, 8);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0], RSP_EV_PACKET);
    assert_string_equal((char *)d.buf, "OK");
    /* 0x03 inside a packet is data, not an interrupt. */
    char pkt[16];
    uint8_t sum = rsp_checksum("X\x03", 2);
    snprintf(pkt, sizeof(pkt), "$X\x03#%02x", sum);
    n = feed_all(&d, pkt, strlen(pkt), evs, 8);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0], RSP_EV_PACKET);
    assert_int_equal(d.len, 2);
    assert_int_equal(d.buf[1], 3);
}

static void send_framed(struct rsp_decoder *d, const char *payload,
                        enum rsp_event_type *ev)
{
    uint8_t buf[256];
    size_t n = rsp_frame(buf, sizeof(buf), payload, strlen(payload));
    assert_true(n > 0);
    assert_int_equal(rsp_decoder_feed(d, buf, n, ev), n);
}

static void test_decode_rle(void **state)
{
    (void)state;
    struct rsp_decoder d;
    rsp_decoder_init(&d);
    enum rsp_event_type ev;
    /* '0* ' is 0 followed by 3 more: "0000". */
    send_framed(&d, "0* ", &ev);
    assert_int_equal(ev, RSP_EV_PACKET);
    assert_string_equal((char *)d.buf, "0000");
    /* 'a*"' = a + 5 more; then plain text continues. */
    send_framed(&d, "Xa*\"b", &ev);
    assert_int_equal(ev, RSP_EV_PACKET);
    assert_string_equal((char *)d.buf, "Xaaaaaab");
    /* '*' with nothing before it, a count that is not printable, and a
     * '*' right before '#' are malformed. */
    send_framed(&d, "*  ", &ev);
    assert_int_equal(ev, RSP_EV_MALFORMED);
    send_framed(&d, "a*\x01", &ev);
    assert_int_equal(ev, RSP_EV_MALFORMED);
    send_framed(&d, "a*", &ev);
    assert_int_equal(ev, RSP_EV_MALFORMED);
    /* The decoder recovers. */
    send_framed(&d, "OK", &ev);
    assert_int_equal(ev, RSP_EV_PACKET);
}

static void test_decode_oversized(void **state)
{
    (void)state;
    static char big[RSP_PACKET_SIZE + 64];
    struct rsp_decoder d;
    rsp_decoder_init(&d);
    enum rsp_event_type ev;
    memset(big, 'a', sizeof(big));
    big[0] = '$';
    size_t plen = RSP_PACKET_SIZE + 10;
    uint8_t sum = rsp_checksum(big + 1, plen);
    snprintf(big + 1 + plen, 4, "#%02x", sum);
    size_t total = 1 + plen + 3;
    assert_int_equal(rsp_decoder_feed(&d, (uint8_t *)big, total, &ev), total);
    assert_int_equal(ev, RSP_EV_OVERSIZED);
    /* Run-length expansion past the limit is oversized too. */
    char rle[RSP_PACKET_SIZE / 8 * 3 + 8];
    size_t o = 0;
    for (int i = 0; i < RSP_PACKET_SIZE / 8 + 1; i++) {
        rle[o++] = 'z';
        rle[o++] = '*';
        rle[o++] = '%';     /* 37 - 29: 8 more */
    }
    rle[o] = 0;
    uint8_t buf[sizeof(rle) + 8];
    size_t n = rsp_frame(buf, sizeof(buf), rle, o);
    assert_int_equal(rsp_decoder_feed(&d, buf, n, &ev), n);
    assert_int_equal(ev, RSP_EV_OVERSIZED);
    /* Exactly the limit is fine. */
    memset(big + 1, 'b', RSP_PACKET_SIZE);
    sum = rsp_checksum(big + 1, RSP_PACKET_SIZE);
    snprintf(big + 1 + RSP_PACKET_SIZE, 4, "#%02x", sum);
    assert_int_equal(rsp_decoder_feed(&d, (uint8_t *)big, RSP_PACKET_SIZE + 4, &ev),
                     RSP_PACKET_SIZE + 4);
    assert_int_equal(ev, RSP_EV_PACKET);
    assert_int_equal(d.len, RSP_PACKET_SIZE);
    assert_int_equal(d.buf[RSP_PACKET_SIZE], 0);
}

static void test_escape(void **state)
{
    (void)state;
    const uint8_t src[] = { 'a', '#', '$', '}', '*', 0, 0xff };
    uint8_t dst[32];
    size_t used;
    size_t n = rsp_escape(dst, sizeof(dst), src, sizeof(src), &used);
    assert_int_equal(used, sizeof(src));
    const uint8_t want[] = { 'a', '}', 0x03, '}', 0x04, '}', 0x5d, '}', 0x0a, 0, 0xff };
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(dst, want, sizeof(want));
    long m = rsp_unescape(dst, n);
    assert_int_equal(m, sizeof(src));
    assert_memory_equal(dst, src, sizeof(src));
    /* An escape is never split at the end of the room. */
    n = rsp_escape(dst, 2, src, sizeof(src), &used);
    assert_int_equal(n, 1);
    assert_int_equal(used, 1);
    /* A lone '}' at the end is an error. */
    uint8_t bad[] = { 'a', '}' };
    assert_int_equal(rsp_unescape(bad, 2), -1);
}

static void test_hex(void **state)
{
    (void)state;
    const char *p = "1f,rest";
    uint64_t v;
    assert_int_equal(rsp_parse_hex(&p, &v), 0);
    assert_int_equal(v, 0x1f);
    assert_string_equal(p, ",rest");
    p = "ffffffffffffffff";
    assert_int_equal(rsp_parse_hex(&p, &v), 0);
    assert_true(v == UINT64_MAX);
    p = "10000000000000000";
    assert_int_equal(rsp_parse_hex(&p, &v), -1);
    p = ",";
    assert_int_equal(rsp_parse_hex(&p, &v), -1);
    uint8_t b[3];
    assert_int_equal(rsp_hex2bin(b, "0aFf10", 3), 0);
    assert_int_equal(b[0], 0x0a);
    assert_int_equal(b[1], 0xff);
    assert_int_equal(rsp_hex2bin(b, "0g", 1), -1);
    assert_int_equal(rsp_hex2bin(b, "0", 1), -1);
    char h[7] = { 0 };
    rsp_bin2hex(h, b, 3);
    assert_string_equal(h, "0aff10");
}

static void test_scan(void **state)
{
    (void)state;
    struct rsp_scan sc = { 0 };
    const char *in = "+$X\x03#0\x03\x03";
    int irq = 0;
    for (size_t i = 0; i < strlen(in); i++)
        irq += rsp_scan_byte(&sc, (uint8_t)in[i]);
    /* The 0x03 in the packet and the one as checksum digit do not count. */
    assert_int_equal(irq, 1);
}

static void test_regs(void **state)
{
    (void)state;
    size_t total = 0;
    for (unsigned n = 0; n < UKVM_REG_COUNT; n++) {
        assert_true(gdb_reg_size(n) > 0);
        total += gdb_reg_size(n);
    }
    assert_int_equal(total, GDB_REGS_BYTES);
    assert_int_equal(gdb_reg_size(UKVM_REG_COUNT), 0);
    assert_int_equal(gdb_reg_size(UKVM_REG_RIP), 8);
    assert_int_equal(gdb_reg_size(UKVM_REG_EFLAGS), 4);
    assert_int_equal(gdb_reg_size(UKVM_REG_ST0), 10);
    assert_int_equal(gdb_reg_size(UKVM_REG_XMM0), 16);
    struct ukvm_regs r, r2;
    memset(&r, 0, sizeof(r));
    r.gpr[0] = 0x1122334455667788ull;
    r.rip = 0x100000;
    r.cr3 = 0x5000;
    r.xmm[15][0] = 0xab;
    r.st[7][9] = 0x7f;
    uint8_t blk[GDB_REGS_BYTES];
    gdb_regs_pack(&r, blk);
    assert_int_equal(blk[0], 0x88);
    assert_int_equal(blk[128], 0x00);   /* rip low byte */
    assert_int_equal(blk[130], 0x10);
    memset(&r2, 0, sizeof(r2));
    assert_int_equal(gdb_regs_unpack(&r2, blk, sizeof(blk)), UKVM_REG_COUNT);
    assert_true(r2.gpr[0] == r.gpr[0] && r2.rip == r.rip && r2.cr3 == r.cr3);
    assert_int_equal(r2.xmm[15][0], 0xab);
    assert_int_equal(r2.st[7][9], 0x7f);
    /* A partial block sets only the registers it covers. */
    memset(&r2, 0, sizeof(r2));
    assert_int_equal(gdb_regs_unpack(&r2, blk, 8 * 16 + 4), 16);
    assert_true(r2.rip == 0);
    uint8_t v[16];
    assert_int_equal(gdb_reg_get(&r, UKVM_REG_CR3, v), 8);
    assert_int_equal(v[1], 0x50);
    assert_int_equal(gdb_reg_get(&r, 99, v), 0);
}

static void test_tdesc(void **state)
{
    (void)state;
    assert_int_equal(strlen(gdb_target_xml), gdb_target_xml_len);
    assert_non_null(strstr(gdb_target_xml, "<architecture>i386:x86-64</architecture>"));
    /* Every register number appears once, in order, with its size. */
    const char *p = gdb_target_xml;
    for (unsigned n = 0; n < UKVM_REG_COUNT; n++) {
        char want[32];
        snprintf(want, sizeof(want), "regnum=\"%u\"", n);
        const char *hit = strstr(p, want);
        assert_non_null(hit);
        const char *reg = hit;
        while (reg > gdb_target_xml && strncmp(reg, "<reg ", 5))
            reg--;
        char bits[32];
        snprintf(bits, sizeof(bits), "bitsize=\"%zu\"", gdb_reg_size(n) * 8);
        const char *b = strstr(reg, bits);
        assert_true(b && b < hit);
        p = hit;
    }
    assert_null(strstr(gdb_target_xml, "regnum=\"65\""));
    assert_non_null(strstr(gdb_target_xml, "name=\"cr3\""));
    assert_non_null(strstr(gdb_target_xml, "name=\"fs_base\""));
    assert_non_null(strstr(gdb_target_xml, "org.gnu.gdb.i386.segments"));
    /* Balanced features. */
    int open = 0, close = 0;
    for (p = gdb_target_xml; (p = strstr(p, "<feature ")); p++)
        open++;
    for (p = gdb_target_xml; (p = strstr(p, "</feature>")); p++)
        close++;
    assert_int_equal(open, 4);
    assert_int_equal(close, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksum_and_frame),
        cmocka_unit_test(test_decode_simple),
        cmocka_unit_test(test_decode_bad_checksum),
        cmocka_unit_test(test_decode_noise_and_restart),
        cmocka_unit_test(test_decode_rle),
        cmocka_unit_test(test_decode_oversized),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_regs),
        cmocka_unit_test(test_tdesc),
    };
    return cmocka_run_group_tests_name("gdb_packet", tests, NULL, NULL);
}

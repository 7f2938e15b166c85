/* Varints, zigzag and event record encoding of the trace layer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/record/trace_codec.h"

static void varint_round_trip(void **state)
{
    (void)state;
    static const uint64_t vals[] = {
        0, 1, 0x7f, 0x80, 0xff, 0x3fff, 0x4000, 0x1fffff, 0x200000,
        UINT32_MAX, (uint64_t)UINT32_MAX + 1, (1ull << 56) - 1, 1ull << 56,
        (1ull << 63) - 1, 1ull << 63, UINT64_MAX - 1, UINT64_MAX,
    };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint8_t b[TRACE_MAX_VARINT];
        size_t n = varint_put(b, vals[i]);
        assert_int_equal(n, varint_len(vals[i]));
        uint64_t v = 12345;
        assert_int_equal(varint_get(b, n, &v), n);
        assert_true(v == vals[i]);
        /* one byte short is truncated */
        assert_int_equal(varint_get(b, n - 1, &v), 0);
    }
    uint8_t b[TRACE_MAX_VARINT];
    assert_int_equal(varint_put(b, UINT64_MAX), 10);
    assert_int_equal(varint_put(b, 0), 1);
    /* pseudo-random values */
    uint64_t x = 0x123456789abcdefull;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint64_t v = x >> (x & 63), got;
        size_t n = varint_put(b, v);
        assert_int_equal(varint_get(b, n, &got), n);
        assert_true(got == v);
    }
}

static void varint_rejects_bad(void **state)
{
    (void)state;
    uint64_t v;
    /* overlong encodings of 0 and 1 */
    static const uint8_t over0[] = { 0x80, 0x00 };
    static const uint8_t over1[] = { 0x81, 0x80, 0x00 };
    assert_int_equal(varint_get(over0, sizeof over0, &v), 0);
    assert_int_equal(varint_get(over1, sizeof over1, &v), 0);
    /* 11 bytes */
    static const uint8_t eleven[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00 };
    assert_int_equal(varint_get(eleven, sizeof eleven, &v), 0);
    /* 10th byte overflowing 64 bits */
    static const uint8_t ovf[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 };
    assert_int_equal(varint_get(ovf, sizeof ovf, &v), 0);
    static const uint8_t max[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
    assert_int_equal(varint_get(max, sizeof max, &v), 10);
    assert_true(v == UINT64_MAX);
    /* empty and unterminated */
    assert_int_equal(varint_get(max, 0, &v), 0);
    static const uint8_t unterminated[] = { 0x80, 0x80 };
    assert_int_equal(varint_get(unterminated, sizeof unterminated, &v), 0);
    /* a lone zero is canonical */
    static const uint8_t zero[] = { 0x00 };
    assert_int_equal(varint_get(zero, 1, &v), 1);
    assert_true(v == 0);
}

static void zigzag(void **state)
{
    (void)state;
    assert_true(zz_enc(0) == 0);
    assert_true(zz_enc(-1) == 1);
    assert_true(zz_enc(1) == 2);
    assert_true(zz_enc(-2) == 3);
    assert_true(zz_enc(INT64_MAX) == UINT64_MAX - 1);
    assert_true(zz_enc(INT64_MIN) == UINT64_MAX);
    static const int64_t vals[] = { 0, 1, -1, 63, -64, 64, -65, INT32_MAX, INT32_MIN,
        INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1 };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        assert_true(zz_dec(zz_enc(vals[i])) == vals[i]);
    for (uint64_t u = 0; u < 1000; u++)
        assert_true(zz_enc(zz_dec(u)) == u);
    assert_true(zz_enc(zz_dec(UINT64_MAX)) == UINT64_MAX);
}

static void event_codec(void **state)
{
    (void)state;
    struct obuf b = { 0 };
    struct trace_delta wd = { 0 }, rd = { 0 };
    uint8_t data[5] = { 1, 2, 3, 4, 5 };
    struct ukvm_event evs[] = {
        { .kind = UKVM_EV_RDTSC, .rip = 0x100000, .a = { UINT64_MAX } },
        { .kind = UKVM_EV_RDTSC, .rip = 0xffffffff80000000ull, .a = { 5 } },    /* tsc goes back */
        { .kind = UKVM_EV_WALLTIME, .rip = 0, .a = { 1700000000000000000ull } },
        { .kind = UKVM_EV_RDTSCP, .rip = UINT64_MAX, .a = { 0, UINT32_MAX } },
        { .kind = UKVM_EV_BLOCK_READ, .rip = 7, .a = { 1, 2, 5, 0 }, .data = data, .data_len = 5 },
        { .kind = UKVM_EV_NET_READ, .rip = 8, .a = { 0, 1514, 1, 0 } },
        { .kind = UKVM_EV_BLOCK_WRITE, .rip = 9, .a = { UINT64_MAX, UINT64_MAX, UINT64_MAX,
            UINT64_MAX, UINT64_MAX } },
    };
    size_t n = sizeof evs / sizeof evs[0];
    for (size_t i = 0; i < n; i++) {
        assert_null(trace_event_check(&evs[i]));
        trace_event_encode(&b, &wd, &evs[i]);
    }
    assert_false(b.oom);
    struct ibuf in = { .p = b.p, .len = b.len };
    for (size_t i = 0; i < n; i++) {
        uint8_t tag = ibuf_u8(&in);
        uint64_t len = ibuf_varint(&in);
        const uint8_t *p = ibuf_bytes(&in, len);
        assert_false(in.bad);
        assert_int_equal(tag & 0x80, 0x80);
        struct ukvm_event e;
        /* every strict prefix of the payload is rejected, state untouched */
        for (uint64_t k = 0; k < len; k++) {
            struct trace_delta tmp = rd;
            assert_non_null(trace_event_decode(tag & 0x7f, p, k, &tmp, &e));
            assert_memory_equal(&tmp, &rd, sizeof tmp);
        }
        assert_null(trace_event_decode(tag & 0x7f, p, len, &rd, &e));
        assert_int_equal(e.kind, evs[i].kind);
        assert_true(e.rip == evs[i].rip);
        assert_memory_equal(e.a, evs[i].a, sizeof e.a);
        assert_int_equal(e.data_len, evs[i].data_len);
        if (e.data_len)
            assert_memory_equal(e.data, evs[i].data, e.data_len);
    }
    assert_int_equal(ibuf_left(&in), 0);
    obuf_free(&b);
}

static void event_decode_rejects(void **state)
{
    (void)state;
    struct trace_delta d = { 0 };
    struct ukvm_event e;
    uint8_t p[32] = { 0 };
    /* unknown kinds */
    assert_non_null(trace_event_decode(0, p, 2, &d, &e));
    assert_non_null(trace_event_decode(UKVM_EV_KIND_MAX, p, 2, &d, &e));
    assert_non_null(trace_event_decode(0x7f, p, 2, &d, &e));
    /* rdtsc: rip + tsc = 2 bytes; 1 is short, 3 has a trailing byte */
    assert_null(trace_event_decode(UKVM_EV_RDTSC, p, 2, &d, &e));
    assert_non_null(trace_event_decode(UKVM_EV_RDTSC, p, 1, &d, &e));
    assert_non_null(trace_event_decode(UKVM_EV_RDTSC, p, 3, &d, &e));
    /* block read whose data length exceeds the payload */
    uint8_t br[] = { 0, 0, 0, 0, 0, 100, 1, 2 };
    assert_non_null(trace_event_decode(UKVM_EV_BLOCK_READ, br, sizeof br, &d, &e));
    /* data length over 32 bits */
    uint8_t big[] = { 0, 0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10 };
    assert_non_null(trace_event_decode(UKVM_EV_BLOCK_READ, big, sizeof big, &d, &e));
    /* the writer's checks */
    struct ukvm_event bad = { .kind = UKVM_EV_RDTSC, .a = { 1, 2 } };
    assert_non_null(trace_event_check(&bad));
    bad = (struct ukvm_event){ .kind = UKVM_EV_PUTS, .data = p, .data_len = 1 };
    assert_non_null(trace_event_check(&bad));
    bad = (struct ukvm_event){ .kind = 0 };
    assert_non_null(trace_event_check(&bad));
    bad = (struct ukvm_event){ .kind = UKVM_EV_BLOCK_WRITE, .a = { 1, 2, 3, 4, 5, 6 } };
    assert_non_null(trace_event_check(&bad));
}

static void kind_table(void **state)
{
    (void)state;
    for (uint32_t k = 1; k < UKVM_EV_KIND_MAX; k++) {
        assert_true(trace_kind_valid(k));
        assert_true(trace_kind_nargs(k) >= 1 && trace_kind_nargs(k) <= UKVM_EVENT_NARGS);
        assert_string_not_equal(ukvm_event_kind_name(k), "?");
    }
    assert_string_equal(ukvm_event_kind_name(0), "?");
    assert_string_equal(ukvm_event_kind_name(UKVM_EV_KIND_MAX), "?");
    assert_string_equal(ukvm_event_kind_name(UKVM_EV_RDTSC), "rdtsc");
    assert_true(trace_kind_has_data(UKVM_EV_BLOCK_READ));
    assert_true(trace_kind_has_data(UKVM_EV_NET_READ));
    assert_false(trace_kind_has_data(UKVM_EV_PUTS));
}

static void digest(void **state)
{
    (void)state;
    uint8_t buf[64];
    for (int i = 0; i < 64; i++)
        buf[i] = (uint8_t)i;
    /* lengths and single-bit changes all give different digests */
    uint64_t seen[65];
    for (size_t n = 0; n <= 64; n++) {
        seen[n] = ukvm_digest(buf, n);
        for (size_t m = 0; m < n; m++)
            assert_true(seen[m] != seen[n]);
    }
    uint64_t d = ukvm_digest(buf, 64);
    for (int bit = 0; bit < 64 * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_true(ukvm_digest(buf, 64) != d);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_true(ukvm_digest(buf, 64) == d);
    /* zero bytes at the end matter */
    uint8_t z[9] = { 0 };
    assert_true(ukvm_digest(z, 8) != ukvm_digest(z, 9));
    assert_true(ukvm_digest(NULL, 0) == ukvm_digest(z, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(varint_round_trip),
        cmocka_unit_test(varint_rejects_bad),
        cmocka_unit_test(zigzag),
        cmocka_unit_test(event_codec),
        cmocka_unit_test(event_decode_rejects),
        cmocka_unit_test(kind_table),
        cmocka_unit_test(digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

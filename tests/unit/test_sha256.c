/*
 * SHA-256 (src/record/sha256.c) against the FIPS 180-4 example digests and
 * the sha256sum tool, whole and fed in pieces of every size around a block.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "record/sha256.h"

static void hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void check(const void *data, size_t len, const char *want)
{
    uint8_t d[32];
    char h[65];
    sha256(data, len, d);
    hex(d, h);
    assert_string_equal(h, want);
}

static void test_known_digests(void **state)
{
    (void)state;
    check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* a million 'a': many blocks */
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    check(a, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

/* Lengths around the padding boundary (55, 56, 63, 64 bytes), each fed in
 * one call and in pieces of every size: the digests agree. */
static void test_pieces_agree(void **state)
{
    (void)state;
    uint8_t buf[200];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t len = 0; len <= sizeof(buf); len++) {
        uint8_t whole[32];
        sha256(buf, len, whole);
        for (size_t piece = 1; piece <= 70; piece += 3) {
            struct sha256_ctx c;
            sha256_init(&c);
            for (size_t at = 0; at < len; at += piece)
                sha256_update(&c, buf + at, len - at < piece ? len - at : piece);
            uint8_t d[32];
            sha256_final(&c, d);
            assert_memory_equal(d, whole, 32);
        }
    }
    /* 56 and 64 bytes (from sha256sum): the length no longer fits after the
     * 0x80, so the padding takes a block of its own */
    memset(buf, 'x', 64);
    check(buf, 56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e");
    check(buf, 64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_digests),
        cmocka_unit_test(test_pieces_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * For unit tests that drive a gdb session: a write callback that keeps
 * everything the session sends in `sent` (NUL-terminated), and a reset.
 * Include it once per test program.
 */
#ifndef UKVM_TEST_CAPTURE_WRITE_H
#define UKVM_TEST_CAPTURE_WRITE_H

#include <stddef.h>
#include <string.h>

static char sent[65536];
static size_t sent_len;

static int cap_write(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    if (sent_len + len < sizeof(sent)) {
        memcpy(sent + sent_len, buf, len);
        sent_len += len;
        sent[sent_len] = 0;
    }
    return 0;
}

static inline void cap_reset(void)
{
    sent_len = 0;
    sent[0] = 0;
}

#endif

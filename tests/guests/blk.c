/*
 * blk: block device test. The manifest has one block device, "storage";
 * run it as `ukvm run --block:storage=FILE blk.elf`. It writes a distinct
 * pattern to several sectors (first, second, middle, last), reads them back
 * and compares, then checks that out-of-range requests and bad handles (the
 * reserved manifest entry 0 among them) fail with EINVAL.
 * Prints one line per problem and a final
 *     blk: OK (S sectors verified, capacity C bytes, block size B)
 * (exit 0), or "blk: FAIL (N errors)" (exit 1).
 */
#include "rt.h"

RT_MANIFEST(1, RT_MFT_BLOCK("storage"));

#define MAX_BLOCK 4096
#define MAX_SECTORS 6

static uint8_t wbuf[MAX_BLOCK], rbuf[MAX_BLOCK];
static int errors;

static void fill(uint8_t *buf, size_t len, uint64_t sector)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(sector * 131 + i * 7 + (i >> 8) + 0x5a);
}

static void expect(const char *what, int got, int want)
{
    if (got != want) {
        printf("blk: %s: got %d, expected %d\n", what, got, want);
        errors++;
    }
}

int main(const struct hvt_boot_info *bi)
{
    const struct hvt_mft_entry *e;
    int h = mft_find("storage", HVT_MFT_DEV_BLOCK_BASIC, &e);
    if (h < 0 || !e->attached) {
        puts("blk: FAIL: device \"storage\" missing or not attached\n");
        return 1;
    }
    /* As in a real Solo5 kernel, entry 0 is the reserved entry, which the
     * monitor leaves alone, and "storage" is entry 1. */
    const struct hvt_mft *mft = (const struct hvt_mft *)(uintptr_t)bi->mft;
    if (h != 1 || mft->e[0].type < HVT_MFT_RESERVED_FIRST || mft->e[0].attached) {
        printf("blk: FAIL: manifest entry 0 (type 0x%x, attached %u) is not the reserved "
               "entry, or \"storage\" is not entry 1 (%d)\n",
               mft->e[0].type, mft->e[0].attached, h);
        return 1;
    }
    uint64_t cap = e->u.block.capacity;
    uint64_t bs = e->u.block.block_size;
    if (bs == 0 || bs > MAX_BLOCK || cap < bs) {
        printf("blk: FAIL: unusable geometry: capacity %lu, block size %lu\n",
               cap, bs);
        return 1;
    }
    uint64_t nsec = cap / bs;

    /* Sectors to test: distinct, in range, the last one included. */
    uint64_t sectors[MAX_SECTORS];
    int n = 0;
    uint64_t want[MAX_SECTORS] = { 0, 1, 7, nsec / 2, nsec - 2, nsec - 1 };
    for (int i = 0; i < MAX_SECTORS; i++) {
        int dup = want[i] >= nsec;
        for (int j = 0; j < n && !dup; j++)
            dup = sectors[j] == want[i];
        if (!dup)
            sectors[n++] = want[i];
    }

    for (int i = 0; i < n; i++) {
        fill(wbuf, bs, sectors[i]);
        int r = hc_block_write(h, sectors[i] * bs, wbuf, bs);
        if (r != HVT_OK) {
            printf("blk: write sector %lu: ret %d\n", sectors[i], r);
            errors++;
        }
    }
    for (int i = 0; i < n; i++) {
        fill(wbuf, bs, sectors[i]);
        memset(rbuf, 0, bs);
        int r = hc_block_read(h, sectors[i] * bs, rbuf, bs);
        if (r != HVT_OK) {
            printf("blk: read sector %lu: ret %d\n", sectors[i], r);
            errors++;
        } else if (memcmp(wbuf, rbuf, bs) != 0) {
            printf("blk: sector %lu: data mismatch\n", sectors[i]);
            errors++;
        }
    }

    /* Requests the monitor must refuse. */
    expect("read at capacity", hc_block_read(h, cap, rbuf, bs), HVT_EINVAL);
    expect("write at capacity", hc_block_write(h, cap, wbuf, bs), HVT_EINVAL);
    expect("read across the end",
           hc_block_read(h, cap - bs + 1, rbuf, bs), HVT_EINVAL);
    expect("read at offset 2^64-512",
           hc_block_read(h, ~(uint64_t)0 - 511, rbuf, bs), HVT_EINVAL);
    expect("read with a bad handle",
           hc_block_read(h + 1, 0, rbuf, bs), HVT_EINVAL);
    expect("read with handle 0 (the reserved entry)",
           hc_block_read(0, 0, rbuf, bs), HVT_EINVAL);
    expect("write with handle 0 (the reserved entry)",
           hc_block_write(0, 0, wbuf, bs), HVT_EINVAL);

    /* The last sector must still hold its pattern after the refusals. */
    fill(wbuf, bs, nsec - 1);
    expect("re-read last sector", hc_block_read(h, (nsec - 1) * bs, rbuf, bs), HVT_OK);
    if (memcmp(wbuf, rbuf, bs) != 0) {
        puts("blk: last sector changed\n");
        errors++;
    }

    if (errors) {
        printf("blk: FAIL (%d errors)\n", errors);
        return 1;
    }
    printf("blk: OK (%d sectors verified, capacity %lu bytes, block size %lu)\n",
           n, cap, bs);
    return 0;
}

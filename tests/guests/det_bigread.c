/*
 * det_bigread: one block_read longer than a trace event can hold (the
 * trace's frames are at most 64 MiB). Run it with a block device
 * "storage" of at least LEN bytes (a sparse file will do) and enough guest
 * memory: argument 0 is LEN in MiB (default 80). The buffer starts at
 * 16 MiB. With argument "4g" it asks for 4 GiB into guest-physical 0 (run
 * it with --mem=4096 and a 4 GiB device, and only under `record`: it would
 * overwrite the whole guest): a length that is 0 as a u32. The read is valid for the hvt ABI (within the capacity and guest
 * memory), so `ukvm run` serves it; `ukvm record` cannot record it and must
 * stop before reading anything, with one line (status 1).
 * Prints "det_bigread: reading N bytes", then, if the read returns,
 * "det_bigread: ret R, first byte B" and exits 0 when R is 0.
 */
#include "rt.h"

RT_MANIFEST(1, RT_MFT_BLOCK("storage"));

#define BUF_ADDR (16ull << 20)

int main(const struct hvt_boot_info *bi)
{
    const struct hvt_mft_entry *e;
    int h = mft_find("storage", HVT_MFT_DEV_BLOCK_BASIC, &e);
    if (h < 0 || !e->attached) {
        puts("det_bigread: FAIL: device \"storage\" missing or not attached\n");
        return 1;
    }
    char arg[16] = "";
    cmdline_arg(0, arg, sizeof arg);
    int four_gib = strcmp(arg, "4g") == 0;
    uint64_t len = four_gib ? 4ull << 30 : cmdline_u64(0, 80) << 20;
    uint64_t addr = four_gib ? 0 : BUF_ADDR;
    if (len > e->u.block.capacity || addr + len > bi->mem_size) {
        printf("det_bigread: FAIL: %lu bytes do not fit the device (%lu) or memory (%lu)\n",
               len, e->u.block.capacity, bi->mem_size);
        return 1;
    }
    uint8_t *buf = (uint8_t *)(uintptr_t)addr;
    printf("det_bigread: reading %lu bytes\n", len);
    int r = hc_block_read(h, 0, buf, len);
    printf("det_bigread: ret %d, first byte %u\n", r, four_gib ? 0 : buf[0]);
    return r == HVT_OK ? 0 : 1;
}

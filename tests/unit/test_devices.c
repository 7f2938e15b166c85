/*
 * Unit tests for matching devices with the kernel's manifest
 * (src/monitor/devices.c), above all its reserved entries: a real Solo5
 * kernel's manifest starts with one (type 1 << 30, empty name), which is
 * never attached, never a handle, and never named by a device option.
 * The devices are attached as in replay, so no file or tap is opened.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "monitor/monitor.h"

static struct monitor m;
static struct config cfg;
static char err[512];

/* A manifest like a real Solo5 kernel's: the reserved entry, then the
 * devices, each "NAME" of the given type (0 ends the list). */
static void manifest(const char *reserved_name, const char *names[], const uint32_t types[])
{
    memset(&m, 0, sizeof(m));
    memset(&cfg, 0, sizeof(cfg));
    cfg.mode = MODE_REPLAY;
    m.cfg = &cfg;
    struct kernel_image *k = &m.kernel;
    strcpy(k->mft[0].name, reserved_name);
    k->mft[0].type = HVT_MFT_RESERVED_FIRST;
    k->n_mft_entries = 1;
    for (size_t i = 0; names && names[i]; i++, k->n_mft_entries++) {
        strcpy(k->mft[k->n_mft_entries].name, names[i]);
        k->mft[k->n_mft_entries].type = types[i];
    }
}

static void device(const char *name, uint32_t type)
{
    struct device *d = &cfg.devices[cfg.n_devices++];
    memset(d, 0, sizeof(*d));
    strcpy(d->name, name);
    d->type = type;
    d->path = "unused";
    d->fd = -1;
    d->capacity = 4096;
    d->block_size = 512;
    d->mtu = 1500;
}

static int attach(void)
{
    err[0] = 0;
    return devices_attach(&m, err, sizeof(err));
}

static void refused(const char *want)
{
    assert_int_equal(attach(), -1);
    if (strstr(err, want) == NULL)
        fail_msg("message '%s' does not contain '%s'", err, want);
}

/* The reserved entry is left exactly as it was: not attached, no handle. */
static void reserved_untouched(void)
{
    struct hvt_mft_entry want;
    memset(&want, 0, sizeof(want));
    strcpy(want.name, m.kernel.mft[0].name);
    want.type = HVT_MFT_RESERVED_FIRST;
    assert_memory_equal(&m.kernel.mft[0], &want, sizeof(want));
    assert_null(m.by_handle[0]);
}

static const char *blk_net[] = { "storage", "service", NULL };
static const uint32_t blk_net_types[] = { HVT_MFT_DEV_BLOCK_BASIC, HVT_MFT_DEV_NET_BASIC };

/* Only the reserved entry (Solo5's test_hello): nothing to attach. */
static void test_reserved_only(void **state)
{
    (void)state;
    manifest("", NULL, NULL);
    assert_int_equal(attach(), 0);
    reserved_untouched();
}

/* The devices get the handles 1 and 2. */
static void test_devices_after_reserved(void **state)
{
    (void)state;
    manifest("", blk_net, blk_net_types);
    device("service", HVT_MFT_DEV_NET_BASIC);
    device("storage", HVT_MFT_DEV_BLOCK_BASIC);
    assert_int_equal(attach(), 0);
    reserved_untouched();
    assert_int_equal(cfg.devices[0].mft_index, 2);
    assert_int_equal(cfg.devices[1].mft_index, 1);
    assert_ptr_equal(m.by_handle[1], &cfg.devices[1]);
    assert_ptr_equal(m.by_handle[2], &cfg.devices[0]);
    assert_int_equal(m.kernel.mft[1].attached, 1);
    assert_int_equal(m.kernel.mft[1].u.block.capacity, 4096);
    assert_int_equal(m.kernel.mft[2].attached, 1);
    assert_int_equal(m.kernel.mft[2].u.net.mtu, 1500);
}

/* A device left out is named; the reserved entry is not asked for. */
static void test_missing_device_named(void **state)
{
    (void)state;
    manifest("", blk_net, blk_net_types);
    device("storage", HVT_MFT_DEV_BLOCK_BASIC);
    refused("manifest device 'service' is not attached");
    manifest("rsvd", blk_net, blk_net_types);
    device("storage", HVT_MFT_DEV_BLOCK_BASIC);
    device("service", HVT_MFT_DEV_NET_BASIC);
    assert_int_equal(attach(), 0);
    reserved_untouched();
}

/* A device option naming a reserved entry is refused, of either kind. */
static void test_reserved_name_refused(void **state)
{
    (void)state;
    manifest("rsvd", blk_net, blk_net_types);
    device("rsvd", HVT_MFT_DEV_BLOCK_BASIC);
    refused("device 'rsvd' given on the command line is not in the kernel's manifest");
    reserved_untouched();
    manifest("rsvd", NULL, NULL);
    device("rsvd", HVT_MFT_DEV_NET_BASIC);
    refused("not in the kernel's manifest");
    reserved_untouched();
    /* the same for any reserved type */
    manifest("rsvd", NULL, NULL);
    m.kernel.mft[0].type = 0xffffffffu;
    device("rsvd", HVT_MFT_DEV_BLOCK_BASIC);
    refused("not in the kernel's manifest");
}

/* A reserved entry with a device's name does not hide the device. */
static void test_reserved_name_does_not_shadow(void **state)
{
    (void)state;
    manifest("storage", blk_net, blk_net_types);
    device("storage", HVT_MFT_DEV_BLOCK_BASIC);
    device("service", HVT_MFT_DEV_NET_BASIC);
    assert_int_equal(attach(), 0);
    reserved_untouched();
    assert_int_equal(cfg.devices[0].mft_index, 1);
    assert_int_equal(m.kernel.mft[1].attached, 1);
}

/* A type below the reserved range that is no device is still refused. */
static void test_unknown_type_refused(void **state)
{
    (void)state;
    static const char *names[] = { "odd", NULL };
    static const uint32_t types[] = { HVT_MFT_RESERVED_FIRST - 1 };
    manifest("", names, types);
    refused("unknown device type");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserved_only),
        cmocka_unit_test(test_devices_after_reserved),
        cmocka_unit_test(test_missing_device_named),
        cmocka_unit_test(test_reserved_name_refused),
        cmocka_unit_test(test_reserved_name_does_not_shadow),
        cmocka_unit_test(test_unknown_type_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

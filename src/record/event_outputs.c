/*
 * What a recorded event may give back to the guest (event_outputs.h). A trace
 * is untrusted input: its outputs are checked against what the guest asked
 * for, so that replay never writes past a guest buffer, never tells the guest
 * it received more than was copied, and never returns a value the real world
 * could not have produced (see world_source.c for what that is).
 */
#include <inttypes.h>
#include <stdio.h>

#include "record/event_outputs.h"
#include "ukvm/hvt_abi.h"

#define BAD(...) do { snprintf(why, whylen, __VA_ARGS__); return false; } while (0)

/* A result code the hypercall can return (HVT_AGAIN only from net_read). */
static bool result_ok(uint64_t ret, bool again_ok)
{
    return ret == HVT_OK || ret == HVT_EINVAL || ret == HVT_EUNSPEC || (again_ok && ret == HVT_AGAIN);
}

/* Bit h set for every network device handle (its manifest index). */
static uint64_t net_handles(const struct ukvm_trace_header *h)
{
    uint64_t set = 0;
    for (uint32_t i = 0; i < h->n_devices; i++)
        if (h->devices[i].type == HVT_MFT_DEV_NET_BASIC && h->devices[i].mft_index < 64)
            set |= 1ULL << h->devices[i].mft_index;
    return set;
}

static bool block_read_ok(const struct ukvm_event *rec, const struct ukvm_io *io,
        char *why, size_t whylen)
{
    uint64_t ret = rec->a[3];
    if (!result_ok(ret, false))
        BAD("block_read returns %" PRId64 ", not an hvt result code", (int64_t)ret);
    if (ret != HVT_OK && rec->data_len)
        BAD("block_read fails (%" PRIu64 ") but carries %u bytes of data", ret, rec->data_len);
    if (ret == HVT_OK && rec->data_len != io->buf_len)
        BAD("block_read carries %u bytes of data for the guest's read of %zu bytes",
                rec->data_len, io->buf_len);
    return true;
}

static bool net_read_ok(const struct ukvm_event *rec, const struct ukvm_io *io,
        char *why, size_t whylen)
{
    uint64_t ret = rec->a[2], len = rec->a[3];
    if (!result_ok(ret, true))
        BAD("net_read returns %" PRId64 ", not an hvt result code", (int64_t)ret);
    if (ret != HVT_OK) {
        if (len || rec->data_len)
            BAD("net_read fails (%" PRIu64 ") but gives a frame of %" PRIu64 " bytes", ret, len);
        return true;
    }
    if (len > io->buf_len)
        BAD("net_read length %" PRIu64 " exceeds the guest's buffer of %zu bytes", len,
                io->buf_len);
    if (len != rec->data_len)
        BAD("net_read length %" PRIu64 " differs from the %u bytes of frame recorded", len,
                rec->data_len);
    return true;
}

static bool poll_ok(const struct ukvm_event *rec, const struct ukvm_trace_header *h,
        char *why, size_t whylen)
{
    uint64_t ready = rec->a[1], ret = rec->a[2];
    if (ready & ~net_handles(h))
        BAD("poll's ready set 0x%" PRIx64 " names a handle that is not a network device", ready);
    if (ret != (uint64_t)__builtin_popcountll(ready))
        BAD("poll returns %" PRId64 " for a ready set of %d devices", (int64_t)ret,
                __builtin_popcountll(ready));
    return true;
}

static bool random_ok(const struct ukvm_event *rec, char *why, size_t whylen)
{
    const char *name = ukvm_event_kind_name(rec->kind);
    uint64_t value = rec->a[0], bits = rec->a[1], cf = rec->a[2];
    if (cf > 1)
        BAD("%s carry flag %" PRIu64 " is not 0 or 1", name, cf);
    if (bits < 64 && value >> bits)
        BAD("%s value 0x%" PRIx64 " is wider than its %" PRIu64 "-bit operand", name, value, bits);
    if (!cf && value)
        BAD("%s fails (CF 0) but gives the value 0x%" PRIx64, name, value);
    return true;
}

bool event_outputs_ok(const struct ukvm_event *rec, const struct ukvm_io *io,
        const struct ukvm_trace_header *h, char *why, size_t whylen)
{
    if (rec->data_len && !ukvm_event_has_output_data(rec->kind))
        BAD("%s carries data", ukvm_event_kind_name(rec->kind));
    switch (rec->kind) {
    case UKVM_EV_POLL:
        return poll_ok(rec, h, why, whylen);
    case UKVM_EV_BLOCK_WRITE:
        if (!result_ok(rec->a[4], false))
            BAD("block_write returns %" PRId64 ", not an hvt result code", (int64_t)rec->a[4]);
        return true;
    case UKVM_EV_BLOCK_READ:
        return block_read_ok(rec, io, why, whylen);
    case UKVM_EV_NET_WRITE:
        if (!result_ok(rec->a[3], false))
            BAD("net_write returns %" PRId64 ", not an hvt result code", (int64_t)rec->a[3]);
        return true;
    case UKVM_EV_NET_READ:
        return net_read_ok(rec, io, why, whylen);
    case UKVM_EV_RDTSCP:
        if (rec->a[1] > UINT32_MAX)
            BAD("rdtscp TSC_AUX 0x%" PRIx64 " is wider than 32 bits", rec->a[1]);
        return true;
    case UKVM_EV_RDRAND:
    case UKVM_EV_RDSEED:
        return random_ok(rec, why, whylen);
    default:
        /* walltime, rdtsc, rdmsr_tsc: any 64-bit value; puts, halt: no outputs */
        return true;
    }
}

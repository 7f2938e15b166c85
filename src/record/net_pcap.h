/*
 * The network frames of a run as a pcapng file (written by pcapng.c): one
 * interface per net device of the trace header, one packet per frame read
 * or written, in event order, stamped with the guest's clock and commented
 * "ukvm event N, net_read" (or net_write).
 *
 * `ukvm-trace pcap` feeds it a trace's events, which hold the frames read
 * but only digests of those written; `ukvm replay --pcap` feeds it the
 * events as the replay serves them, with the frames the guest writes again.
 */
#ifndef UKVM_NET_PCAP_H
#define UKVM_NET_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ukvm/trace.h"

struct net_pcap;

/* Creates path (an existing file only when overwrite; else the error says
 * that `force_hint` overwrites it) and writes the section header, `app` as
 * its application, and the interfaces: every net device of h, or only the
 * one named net (when not NULL). NULL with one line in err. */
struct net_pcap *net_pcap_create(const char *path, bool overwrite, const char *force_hint,
        const struct ukvm_trace_header *h, const char *net, const char *app,
        char *err, size_t errlen);

/* Event `number` (events in order; walltime events before the first one of
 * interest too, they set the clock). A net_read or net_write that moved a
 * frame (ret 0) on a device of the file becomes a packet of the `len`
 * bytes at `frame`; frame NULL: its bytes are not known (a net_write read
 * from a trace), it is counted as left out. -1 on a write error, with one
 * line in err (the file's name and why). */
int net_pcap_event(struct net_pcap *p, uint64_t number, const struct ukvm_event *e,
        const uint8_t *frame, size_t len, char *err, size_t errlen);

struct net_pcap_counts {
    uint64_t read, written;     /* packets in the file */
    uint64_t left_out;          /* frames written whose bytes were not known */
};
void net_pcap_counts(const struct net_pcap *p, struct net_pcap_counts *out);

/* Flushes and closes the file, and frees p. -1 with one line in err when a
 * write failed (a full disk shows here, as the buffered data is written). */
int net_pcap_close(struct net_pcap *p, char *err, size_t errlen);

#endif

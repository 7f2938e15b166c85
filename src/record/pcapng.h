/*
 * A minimal pcapng writer (one Section Header Block, one Interface
 * Description Block per net device, Enhanced Packet Blocks), for
 * net_pcap.c. Little-endian, as the host writes it.
 */
#ifndef UKVM_PCAPNG_H
#define UKVM_PCAPNG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The longest packet pcapng_packet takes: a frame of the largest MTU
 * (65535) and its Ethernet header. */
#define PCAPNG_MAX_PACKET (65535u + 14u)

/* Writes the Section Header Block. Returns 0, or -1 on a write error. */
int pcapng_section(FILE *f, const char *app);
/* Writes an Interface Description Block (LINKTYPE_ETHERNET, ns timestamps)
 * with if_name, if_MACaddr and a comment naming the MAC. Interfaces are
 * numbered from 0 in the order written. */
int pcapng_interface(FILE *f, const char *name, const uint8_t mac[6], uint32_t snaplen);
/* Writes an Enhanced Packet Block: ts_ns in nanoseconds since the epoch,
 * inbound (true) or outbound, and a comment. */
int pcapng_packet(FILE *f, uint32_t ifid, uint64_t ts_ns, bool inbound,
        const uint8_t *data, uint32_t len, const char *comment);

#endif

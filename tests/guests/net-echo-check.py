#!/usr/bin/env python3
"""Host side of the net guest test.

    net-echo-check.py IFACE [COUNT] [TIMEOUT] [SIZE]

Sends COUNT (default 3) Ethernet frames on IFACE (a tap that
`ukvm run --net:service=IFACE build/guests/net.elf COUNT` is attached to)
and waits up to TIMEOUT seconds (default 10) for each to come back with the
MAC addresses swapped and the payload unchanged. SIZE, when given, is
the length of every frame sent, Ethernet header included (padded). Prints one line per frame,
exits 0 when all came back, 1 otherwise. Needs CAP_NET_RAW.

The guest echoes every frame, including the host's own IPv6 router and
multicast-listener chatter on a fresh tap, which would use up its count:
create the tap with IPv6 disabled, before bringing it up:
    ip tuntap add dev tapX mode tap
    sysctl -w net.ipv6.conf.tapX.disable_ipv6=1
    ip link set tapX up
"""
import os
import socket
import sys
import time

ETH_P_ALL = 0x0003
ETHERTYPE = 0x88b5          # IEEE local experimental ethertype
SRC_MAC = bytes.fromhex("020000aabbcc")
BCAST = b"\xff" * 6


def main():
    iface = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    ok = 0
    for i in range(count):
        payload = b"ukvm-net-test %d " % i + os.urandom(16) + bytes(range(32))
        if size > 14 + len(payload):
            payload += bytes(i & 0xff for i in range(size - 14 - len(payload)))
        frame = BCAST + SRC_MAC + ETHERTYPE.to_bytes(2, "big") + payload
        s.send(frame)
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, addr = s.recvfrom(65536)
            except socket.timeout:
                break
            # addr[2] is the packet type: 4 = PACKET_OUTGOING (our own frame)
            if addr[2] == 4 or data[:6] != SRC_MAC:
                continue
            if data[12:14] == ETHERTYPE.to_bytes(2, "big") and data[14:14 + len(payload)] == payload:
                got = data
                break
        if got is None:
            print("frame %d: no echo" % i)
            continue
        print("frame %d: echoed by %s, %d bytes" % (i, got[6:12].hex(":"), len(got)))
        ok += 1
    print("%d/%d frames echoed" % (ok, count))
    return 0 if ok == count else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Load generator for the udpsvc test guest (tests/guests/udpsvc.c).

    udp_load.py HOST [--port 7] [--seconds S] [--rate R | --window W]
                [--size N] [--random] [--quit] [--json]

Sends UDP requests to HOST:PORT for S seconds (default 5), either at a
fixed rate of R requests per second (open loop), or at full speed with W
requests in flight (closed loop, the default, W=8). Every request carries
its sequence number and bytes derived from it (or random bytes, --random:
incompressible, for measuring trace size); every reply must be the same
bytes. A request with no reply within a second is lost. Prints one line:

    requests 12345, replies 12345, lost 0, bad 0, 2469.0 req/s,
    latency p50 210 us, p99 900 us, max 4000 us

(or a JSON object with --json) and exits 0 when every request got a correct
reply, 1 otherwise. --quit sends "QUIT" at the end and waits for "BYE".
Only the address given is ever contacted (the tests use the tap's own link).
"""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time

LOST_AFTER = 1.0


def payload(seq, size, rand=False):
    head = struct.pack("<Q", seq)
    if rand:
        return head + os.urandom(max(0, size - 8))
    fill = bytes((seq * 31 + i) & 0xFF for i in range(max(0, size - 8)))
    return (head + fill)[:max(size, 8)]


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, int(round(p / 100.0 * (len(sorted_values) - 1))))
    return sorted_values[i]


class Load:
    def __init__(self, sock, size, rand):
        self.sock, self.size, self.rand = sock, size, rand
        self.seq = 0
        self.in_flight = {}          # seq -> (send time, payload)
        self.latencies = []
        self.bad = self.lost = 0

    def send_one(self):
        self.seq += 1
        data = payload(self.seq, self.size, self.rand)
        self.in_flight[self.seq] = (time.monotonic(), data)
        self.sock.send(data)

    def receive(self, timeout):
        """Takes every reply that arrives within timeout seconds (at least
        one wait); returns how many came."""
        got = 0
        end = time.monotonic() + timeout
        while True:
            left = max(0.0, end - time.monotonic())
            if not select.select([self.sock], [], [], left)[0]:
                return got
            data = self.sock.recv(65536)
            now = time.monotonic()
            seq = struct.unpack("<Q", data[:8])[0] if len(data) >= 8 else 0
            sent = self.in_flight.pop(seq, None)
            if sent is None or data != sent[1]:
                self.bad += 1
            else:
                self.latencies.append(now - sent[0])
            got += 1
            if left == 0.0:
                return got

    def expire(self):
        now = time.monotonic()
        for seq in [s for s, v in self.in_flight.items() if now - v[0] > LOST_AFTER]:
            del self.in_flight[seq]
            self.lost += 1


def run(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((args.host, args.port))
    load = Load(sock, args.size, args.random)
    start = time.monotonic()
    stop = start + args.seconds
    if args.rate:
        interval = 1.0 / args.rate
        next_send = start
        while time.monotonic() < stop:
            now = time.monotonic()
            while next_send <= now and next_send < stop:
                load.send_one()
                next_send += interval
            load.receive(max(0.0, min(next_send, stop) - time.monotonic()))
            load.expire()
    else:
        while time.monotonic() < stop:
            while len(load.in_flight) < args.window:
                load.send_one()
            load.receive(0.05)
            load.expire()
    sending_time = time.monotonic() - start
    # wait for the last replies
    drain_end = time.monotonic() + LOST_AFTER
    while load.in_flight and time.monotonic() < drain_end:
        load.receive(0.05)
    load.lost += len(load.in_flight)
    bye = None
    if args.quit:
        for _ in range(5):
            sock.send(b"QUIT")
            if select.select([sock], [], [], 1.0)[0]:
                bye = sock.recv(65536)
                if bye == b"BYE":
                    break
    lat = sorted(load.latencies)
    result = {
        "requests": load.seq, "replies": len(lat), "lost": load.lost, "bad": load.bad,
        "req_per_s": len(lat) / sending_time if sending_time > 0 else 0.0,
        "p50_us": percentile(lat, 50) * 1e6, "p99_us": percentile(lat, 99) * 1e6,
        "max_us": (lat[-1] if lat else 0.0) * 1e6,
        "quit": (bye == b"BYE") if args.quit else None,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print("requests %d, replies %d, lost %d, bad %d, %.1f req/s, latency p50 %.0f us, "
              "p99 %.0f us, max %.0f us%s" % (
                  result["requests"], result["replies"], result["lost"], result["bad"],
                  result["req_per_s"], result["p50_us"], result["p99_us"], result["max_us"],
                  "" if not args.quit else (", BYE" if result["quit"] else ", no BYE")))
    ok = load.seq > 0 and load.lost == 0 and load.bad == 0 and (not args.quit or bye == b"BYE")
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description="UDP request/response load for udpsvc")
    p.add_argument("host")
    p.add_argument("--port", type=int, default=7)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--rate", type=float, default=0.0, help="requests/s (open loop)")
    p.add_argument("--window", type=int, default=8, help="requests in flight (closed loop)")
    p.add_argument("--size", type=int, default=64, help="payload bytes (at least 8)")
    p.add_argument("--random", action="store_true", help="random payload bytes")
    p.add_argument("--quit", action="store_true", help='send "QUIT" at the end')
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.size < 8 or args.size > 1472 or args.window < 1 or args.seconds <= 0:
        p.error("--size must be 8..1472, --window at least 1, --seconds positive")
    try:
        return run(args)
    except OSError as e:
        print("udp_load: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

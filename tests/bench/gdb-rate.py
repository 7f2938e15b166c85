#!/usr/bin/env python3
"""
gdb-rate.py: debugger benchmarks for `make bench`, with a raw GDB remote
protocol client (no gdb involved).

    gdb-rate.py UKVM KERNEL.elf|TRACE.zst MODE [ARG...]

Each MODE starts `UKVM run --gdb=PORT KERNEL.elf` (or `UKVM replay --gdb=PORT
TRACE.zst`) on a random free high port (retrying on another port if that one
is taken), connects, switches to no-ack mode and measures one thing. It prints one line "key=value ..." on
stdout and exits 0, or prints "error: ..." and exits 1.

Modes:
  stepi SECONDS MAX         's' packets in a loop from the first instruction:
                            steps=N secs=T rate=N/T
  break ADDR SECONDS MAX    Z0 at ADDR, then 'c' until MAX hits, the time
                            limit, or the exit: hits=N secs=T rate=N/T
  cont                      'c' from the first instruction to the exit:
                            secs=T (the time the guest runs under the server)
  watch ADDR LEN [SECONDS]  Z2 (write watchpoint) on ADDR,LEN then 'c' until
                            the exit (or until SECONDS have passed), counting
                            the hits: hits=N secs=T rate=N/T exited=0|1
  reverse ADDR K N          (replay) Z0 at ADDR, 'c' K times, then N reverse
                            steps ('bs'), each timed, then N forward steps
                            that must retrace them: n=N median_ms=M
                            max_ms=X first_ms=F, or unsupported=1 when the server
                            answers 'bs' with an empty reply
"""
import os
import random
import socket
import subprocess
import sys
import time


class Error(Exception):
    pass


class Remote:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.ack = True

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise Error("the server closed the connection")
        self.buf += data

    def send(self, payload):
        data = payload.encode()
        csum = sum(data) & 0xFF
        self.sock.sendall(b"$" + data + b"#%02x" % csum)
        if self.ack:
            while not self.buf:
                self._fill()
            c, self.buf = self.buf[:1], self.buf[1:]
            if c != b"+":
                raise Error("no ack for %r: got %r" % (payload, c))

    def recv(self):
        while True:
            start = self.buf.find(b"$")
            if start >= 0:
                end = self.buf.find(b"#", start)
                if end >= 0 and len(self.buf) >= end + 3:
                    pkt = self.buf[start + 1:end]
                    self.buf = self.buf[end + 3:]
                    if self.ack:
                        self.sock.sendall(b"+")
                    return pkt.decode(errors="replace")
            self._fill()

    def cmd(self, payload):
        self.send(payload)
        return self.recv()


def start_ukvm(ukvm, kernel, args):
    """Starts ukvm on a free port; returns (process, Remote)."""
    last = ""
    sub = "replay" if kernel.endswith(".zst") else "run"
    for _ in range(20):
        port = random.randint(20000, 60000)
        p = subprocess.Popen([ukvm, sub, "--gdb=%d" % port, kernel] + args,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Wait for the "waiting for gdb" line, or for the process to end
        # (the port was taken: try another one).
        line = p.stderr.readline().decode(errors="replace")
        if "waiting for gdb" not in line:
            last = line.strip()
            p.wait()
            continue
        deadline = time.time() + 5
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=60)
                break
            except OSError as e:
                if time.time() > deadline:
                    p.kill()
                    raise Error("cannot connect to port %d: %s" % (port, e))
                time.sleep(0.02)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        r = Remote(s)
        try:
            if r.cmd("QStartNoAckMode") == "OK":
                r.ack = False
            r.cmd("qSupported:swbreak+;hwbreak+")
            stop = r.cmd("?")
            if not stop.startswith(("T", "S")):
                raise Error("unexpected initial stop reply %r" % stop)
        except BaseException:
            finish(p, r)
            raise
        return p, r
    raise Error("ukvm did not start a gdb server: %s" % last)


def finish(p, r):
    try:
        r.ack = False
        r.send("k")
    except (Error, OSError):
        pass
    r.sock.close()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    p.stderr.close()


def read_pc(r):
    reply = r.cmd("p10")
    try:
        return int.from_bytes(bytes.fromhex(reply), "little")
    except ValueError:
        raise Error("cannot read rip: %r" % reply)


def is_exit(reply):
    return reply.startswith(("W", "X"))


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    ukvm, kernel, mode = argv[1], argv[2], argv[3]
    # Addresses go to the server as bare hex.
    rest = [a[2:] if a.startswith("0x") else a for a in argv[4:]]
    p, r = start_ukvm(ukvm, kernel, [])
    try:
        if mode == "stepi":
            secs, cap = float(rest[0]), int(rest[1])
            n = 0
            t0 = time.perf_counter()
            while n < cap:
                reply = r.cmd("s")
                if is_exit(reply):
                    break
                if not reply.startswith("T05") and not reply.startswith("S05"):
                    raise Error("stepi: unexpected reply %r" % reply)
                n += 1
                if n % 64 == 0 and time.perf_counter() - t0 > secs:
                    break
            dt = time.perf_counter() - t0
            print("steps=%d secs=%.3f rate=%.0f" % (n, dt, n / dt))
        elif mode == "break":
            addr, secs, cap = rest[0], float(rest[1]), int(rest[2])
            if r.cmd("Z0,%s,1" % addr) != "OK":
                raise Error("Z0 refused")
            n = 0
            pc = None
            t0 = time.perf_counter()
            while n < cap:
                reply = r.cmd("c")
                if is_exit(reply):
                    break
                if not reply.startswith("T05"):
                    raise Error("break: unexpected reply %r" % reply)
                n += 1
                if n == 1:
                    # Check once that the stop is at the breakpoint.
                    pc = r.cmd("p10")
                if time.perf_counter() - t0 > secs:
                    break
            dt = time.perf_counter() - t0
            if pc is not None:
                v = int.from_bytes(bytes.fromhex(pc), "little")
                if v != int(addr, 16):
                    raise Error("break: stopped at %#x, not at %s" % (v, addr))
            print("hits=%d secs=%.3f rate=%.0f" % (n, dt, n / dt if dt else 0))
        elif mode in ("cont", "watch"):
            if mode == "watch":
                addr, length = rest[0], rest[1]
                if r.cmd("Z2,%s,%s" % (addr, length)) != "OK":
                    raise Error("Z2 refused")
            limit = float(rest[2]) if mode == "watch" and len(rest) > 2 else None
            n = 0
            exited = False
            t0 = time.perf_counter()
            while True:
                reply = r.cmd("c")
                if is_exit(reply):
                    exited = True
                    break
                if "watch" not in reply:
                    raise Error("%s: unexpected stop %r" % (mode, reply))
                n += 1
                if limit is not None and time.perf_counter() - t0 > limit:
                    break
            dt = time.perf_counter() - t0
            if exited and reply != "W00":
                raise Error("%s: guest exit %r" % (mode, reply))
            print("hits=%d secs=%.3f rate=%.0f exited=%d"
                  % (n, dt, n / dt if dt else 0, exited))
        elif mode == "reverse":
            addr, k, n = rest[0], int(rest[1]), int(rest[2])
            if r.cmd("Z0,%s,1" % addr) != "OK":
                raise Error("Z0 refused")
            for _ in range(k):
                reply = r.cmd("c")
                if not reply.startswith("T05"):
                    raise Error("reverse: unexpected reply to c: %r" % reply)
            r.cmd("z0,%s,1" % addr)
            times = []
            pcs = [read_pc(r)]
            for _ in range(n):
                t0 = time.perf_counter()
                reply = r.cmd("bs")
                times.append(time.perf_counter() - t0)
                if reply == "":
                    print("unsupported=1")
                    return 0
                if not reply.startswith("T05"):
                    raise Error("reverse: unexpected reply to bs: %r" % reply)
                pcs.append(read_pc(r))
            # Check: stepping forward again retraces the same addresses.
            for i in range(n):
                reply = r.cmd("s")
                if not reply.startswith("T05"):
                    raise Error("reverse: unexpected reply to s: %r" % reply)
                pc = read_pc(r)
                if pc != pcs[n - 1 - i]:
                    raise Error("reverse: %d reverse steps went through %s, but "
                                "stepping forward again from %#x reached %#x at "
                                "step %d, not %#x"
                                % (n, " ".join("%#x" % a for a in pcs), pcs[n],
                                   pc, i + 1, pcs[n - 1 - i]))
            first = times[0]
            times.sort()
            print("n=%d median_ms=%.1f max_ms=%.1f first_ms=%.1f"
                  % (n, times[len(times) // 2] * 1e3, times[-1] * 1e3, first * 1e3))
        else:
            raise Error("unknown mode %s" % mode)
    finally:
        finish(p, r)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (Error, OSError, ValueError, IndexError) as e:
        print("error: %s" % e)
        sys.exit(1)

#!/usr/bin/env python3
"""
gdb-rate.py: debugger benchmarks for `make bench`, with the raw GDB remote
protocol client of tests/lib/rsp_client.py (no gdb involved).

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
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from rsp_client import Client, frame  # noqa: E402

# Seconds to wait for a connection or for the reply to one packet.
TIMEOUT = 60


class Error(Exception):
    pass


class Remote:
    """tests/lib/rsp_client.py's Client, with str packets and a reply to
    every command (an Error otherwise)."""

    def __init__(self, port):
        self.c = Client(port, timeout=TIMEOUT)

    def send(self, payload):
        self.c.send(frame(payload.encode()))

    def cmd(self, payload):
        reply = self.c.command(payload.encode(), TIMEOUT)
        # console output before a stop reply (a long reverse-continue's
        # progress): gdb prints it and waits on
        while reply is not None and reply[:1] == b"O" and reply != b"OK":
            reply = self.c.read_packet(TIMEOUT)
        if reply is None:
            raise Error("no reply to %r within %d s" % (payload, TIMEOUT))
        return reply.decode(errors="replace")


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
                r = Remote(port)
                break
            except OSError as e:
                if time.time() > deadline:
                    p.kill()
                    raise Error("cannot connect to port %d: %s" % (port, e))
                time.sleep(0.02)
        try:
            if r.cmd("QStartNoAckMode") == "OK":
                r.c.ack = False
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
        r.send("k")
    except OSError:
        pass
    r.c.s.close()
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
    except (Error, OSError, EOFError, ValueError, IndexError) as e:
        print("error: %s" % e)
        sys.exit(1)

#!/usr/bin/env python3
"""The tests' one raw GDB-remote-protocol client: the Client class (framing,
acks, no-ack mode) and check/is_stop, imported by tests/integration/gdb/*.py,
tests/integration/reverse/rsp_target.py, tests/integration/gdb_starti.sh and
tests/bench/gdb-rate.py; run as a script, the checks of
tests/integration/gdb_kvm.sh:

    rsp_client.py malformed PORT   bad checksum, garbage, oversized and
                                   badly run-length-encoded packets; the
                                   connection must stay usable ('?' answered)
    rsp_client.py second PORT      connect while another client is attached:
                                   the server must answer the first packet
                                   with an E.text saying why, and close
    rsp_client.py interrupt PORT   send 'c', then 0x03 after a delay: expects
                                   a SIGINT stop reply (T02/S02)
    rsp_client.py kill PORT        send 'k' (ends the session)

Prints "CHECK <name> OK" or "CHECK <name> BAD <why>" lines.
"""
import socket
import sys
import time


def frame(payload: bytes) -> bytes:
    return b"$" + payload + b"#%02x" % (sum(payload) & 0xFF)


class Client:
    def __init__(self, port, timeout=5.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        # as gdb does: else the ack '+' and the next command, two small
        # writes, wait for the server's delayed ACK (40 ms a command)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        # False once the server has agreed to QStartNoAckMode: packets
        # received are then not acknowledged
        self.ack = True

    def send(self, data: bytes):
        self.s.sendall(data)

    def _fill(self, deadline):
        self.s.settimeout(max(0.01, deadline - time.time()))
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            return False
        if not d:
            raise EOFError("connection closed")
        self.buf += d
        return True

    def read_ack(self, timeout=5.0):
        """The next ack byte ('+' or '-'), or None on timeout."""
        deadline = time.time() + timeout
        while True:
            while self.buf[:1] in (b"+", b"-"):
                c, self.buf = self.buf[:1], self.buf[1:]
                return c.decode()
            if self.buf and self.buf[:1] != b"$":
                # junk before a packet: should not happen
                raise ValueError("unexpected bytes %r" % self.buf[:40])
            if self.buf[:1] == b"$":
                return "$"  # a packet with no ack first
            if time.time() >= deadline or not self._fill(deadline):
                return None

    def read_packet(self, timeout=5.0):
        """The next packet's payload (acks before it are skipped); acks it
        (unless in no-ack mode). None on timeout."""
        deadline = time.time() + timeout
        while True:
            while self.buf[:1] in (b"+", b"-"):
                self.buf = self.buf[1:]
            i = self.buf.find(b"$")
            j = self.buf.find(b"#", i + 1) if i >= 0 else -1
            if i >= 0 and j >= 0 and len(self.buf) >= j + 3:
                payload = self.buf[i + 1:j]
                self.buf = self.buf[j + 3:]
                if self.ack:
                    self.send(b"+")
                return payload
            if time.time() >= deadline or not self._fill(deadline):
                return None

    def command(self, payload: bytes, timeout=5.0):
        self.send(frame(payload))
        return self.read_packet(timeout)


def check(name, ok, why=""):
    print("CHECK %s %s" % (name, "OK" if ok else "BAD " + why), flush=True)
    return ok


def is_stop(p):
    return p is not None and p[:1] in (b"T", b"S")


def malformed(port):
    c = Client(port)
    p = c.command(b"?")
    check("initial '?' answered with a stop reply", is_stop(p), repr(p))

    # bad checksum: '-' and no reply
    c.send(b"$?#00")
    a = c.read_ack()
    check("bad checksum gets '-'", a == "-", "got %r" % a)
    p = c.command(b"?")
    check("'?' after bad checksum", is_stop(p), repr(p))

    # garbage outside packets is ignored (no '-': that would ask for a resend)
    c.send(b"hello, this is not a packet\r\n\x00\xff\x7f{}")
    p = c.command(b"?")
    check("'?' after garbage", is_stop(p), repr(p))

    # oversized packet with a good checksum: an error reply
    big = b"X" + b"A" * 100000
    c.send(frame(big))
    p = c.read_packet()
    check("oversized packet gets an error reply", p is not None and p.startswith(b"E"), repr(p)[:80])
    p = c.command(b"?")
    check("'?' after oversized packet", is_stop(p), repr(p))

    # oversized packet with a bad checksum: '-'
    c.send(b"$" + b"m" * 70000 + b"#00")
    a = c.read_ack()
    check("oversized packet with bad checksum gets '-'", a == "-", "got %r" % a)
    p = c.command(b"?")
    check("'?' after oversized bad-checksum packet", is_stop(p), repr(p))

    # bad run-length encoding ('*' with nothing before it)
    p = c.command(b"*!")
    check("bad run-length encoding gets an error reply", p is not None and p.startswith(b"E"), repr(p))
    # malformed arguments
    p = c.command(b"mzz,qq")
    check("malformed 'm' gets an error reply", p is not None and p.startswith(b"E"), repr(p))
    p = c.command(b"vNoSuchThing")
    check("unknown packet gets the empty reply", p == b"", repr(p))
    p = c.command(b"?")
    check("'?' at the end", is_stop(p), repr(p))
    c.send(frame(b"k"))
    time.sleep(0.2)


def second(port):
    try:
        c = Client(port, timeout=3.0)
    except OSError as e:
        check("second client refused", True)
        print("(connect failed: %s)" % e)
        return
    try:
        p = c.command(b"?", timeout=3.0)
    except (EOFError, ConnectionResetError, BrokenPipeError):
        check("second client refused", False, "closed without saying why")
        return
    check("second client refused", p.startswith(b"E.ukvm: another gdb client is connected (from 127.0.0.1:")
          and p.endswith(b"); one client at a time"), "got a reply %r" % p)
    try:
        more = c.command(b"?", timeout=3.0)
        check("second client hung up on", False, "got a second reply %r" % more)
    except (EOFError, ConnectionResetError, BrokenPipeError, OSError):
        check("second client hung up on", True)


def interrupt(port, delay):
    c = Client(port)
    p = c.command(b"?")
    check("raw: '?' answered", is_stop(p), repr(p))
    c.send(frame(b"c"))
    a = c.read_ack()
    check("raw: 'c' acked", a == "+", repr(a))
    p = c.read_packet(timeout=delay)
    check("raw: guest keeps running", p is None, "stopped with %r" % p)
    c.send(b"\x03")
    p = c.read_packet(timeout=5.0)
    check("raw: 0x03 gives a SIGINT stop reply", p is not None and p[:3] in (b"T02", b"S02"), repr(p))
    p = c.command(b"p10")  # rip
    check("raw: rip readable after the interrupt", p is not None and len(p) == 16, repr(p))
    c.send(frame(b"k"))
    time.sleep(0.2)


def main():
    what, port = sys.argv[1], int(sys.argv[2])
    try:
        if what == "malformed":
            malformed(port)
        elif what == "second":
            second(port)
        elif what == "interrupt":
            interrupt(port, float(sys.argv[3]) if len(sys.argv) > 3 else 1.0)
        elif what == "kill":
            c = Client(port)
            c.send(frame(b"k"))
            time.sleep(0.2)
        else:
            sys.exit("unknown command " + what)
    except (OSError, EOFError, ValueError) as e:
        check(what + " connection", False, "%s: %s" % (type(e).__name__, e))


if __name__ == "__main__":
    main()

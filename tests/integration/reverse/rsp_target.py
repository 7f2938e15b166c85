"""A debugger's view of one `ukvm replay --gdb` (or `ukvm run --gdb`) server
over the raw remote protocol, for the reverse-execution oracle and the
debug_invisible test. Built on tests/lib/rsp_client.py (the
framing and acks); this adds the commands and parses the replies.

Register bytes are the 'g' packet's, in the layout of gdb's amd64 target
(general registers, rip, eflags, segment selectors, x87, SSE, mxcsr, then
whatever the server's target description adds, named tail+OFFSET here).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from rsp_client import Client, frame  # noqa: E402

GPR = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
       "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
# (name, size) of gdb's amd64 'g' layout (i386/amd64 core + sse features)
LAYOUT = ([(r, 8) for r in GPR] + [("rip", 8), ("eflags", 4)] +
          [(s, 4) for s in ("cs", "ss", "ds", "es", "fs", "gs")] +
          [("st%d" % i, 10) for i in range(8)] +
          [(f, 4) for f in ("fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop")] +
          [("xmm%d" % i, 16) for i in range(16)] + [("mxcsr", 4)])

TF = 0x100
TRACE = bool(os.environ.get("ORACLE_TRACE"))  # every resume and Z/z to stderr


class RspError(Exception):
    pass


def rle_decode(p):
    """Undo the protocol's run-length encoding (c*N repeats c N-29 times)."""
    if b"*" not in p:
        return p
    out = bytearray()
    i = 0
    while i < len(p):
        if p[i:i + 1] == b"*" and out and i + 1 < len(p):
            out += out[-1:] * (p[i + 1] - 29)
            i += 2
        else:
            out.append(p[i])
            i += 1
    return bytes(out)


def split_regs(raw):
    """{name: int} for the general registers, rip and eflags of a 'g' reply."""
    out = {}
    o = 0
    for name, size in LAYOUT[:18]:
        out[name] = int.from_bytes(raw[o:o + size], "little")
        o += size
    return out


def reg_diff(a, b, limit=4):
    """Names (and values) of the registers that differ between two 'g' byte
    strings, at most LIMIT of them."""
    d = []
    o = 0
    for name, size in LAYOUT:
        x, y = a[o:o + size], b[o:o + size]
        if x != y:
            d.append("%s 0x%x/0x%x" % (name, int.from_bytes(x, "little"), int.from_bytes(y, "little")))
        o += size
    for k in range(o, max(len(a), len(b)), 8):
        x, y = a[k:k + 8], b[k:k + 8]
        if x != y:
            d.append("tail+%d %s/%s" % (k - o, x.hex(), y.hex()))
    if len(d) > limit:
        d = d[:limit] + ["(+%d more)" % (len(d) - limit)]
    return ", ".join(d)


class Stop:
    """A stop reply: kind is 'swbreak', 'hwbreak', 'watch', 'rwatch',
    'awatch', 'replaylog:begin', 'replaylog:end', 'trap' (a plain T05),
    'signal' (another T/S), 'exit' (W/X) or 'none' (no reply)."""

    def __init__(self, payload):
        self.raw = payload
        self.kind = "none"
        self.addr = None
        self.sig = None
        self.status = None
        if payload is None:
            return
        if payload[:1] in (b"W", b"X"):
            self.kind = "exit"
            self.status = int(payload[1:3] or b"0", 16)
            return
        if payload[:1] not in (b"T", b"S"):
            self.kind = "error:" + payload.decode(errors="replace")
            return
        self.sig = int(payload[1:3], 16)
        self.kind = "trap" if self.sig == 5 else "signal"
        for field in payload[3:].split(b";"):
            k, _, v = field.partition(b":")
            if k in (b"swbreak", b"hwbreak"):
                self.kind = k.decode()
            elif k in (b"watch", b"rwatch", b"awatch"):
                self.kind = k.decode()
                self.addr = int(v, 16)
            elif k == b"replaylog":
                self.kind = "replaylog:" + v.decode()

    def __repr__(self):
        return self.kind + ("@0x%x" % self.addr if self.addr is not None else "")


class Target:
    def __init__(self, port, timeout=60.0):
        self.c = Client(port, timeout=timeout)
        self.timeout = timeout
        self.c.command(b"qSupported:swbreak+;hwbreak+", timeout)
        # no acks from here on: half the round trips
        if self.c.command(b"QStartNoAckMode", timeout) == b"OK":
            self.c.ack = False
        self.stop0 = Stop(self.c.command(b"?", timeout))

    def cmd(self, payload, timeout=None):
        p = self.c.command(payload, timeout or self.timeout)
        if p is None:
            raise RspError("no reply to %r" % payload[:40])
        return rle_decode(p)

    def regs_raw(self):
        p = self.cmd(b"g")
        if p[:1] == b"E" and len(p) == 3:
            raise RspError("g: %r" % p)
        return bytes.fromhex(p.replace(b"x", b"0").decode())

    def mem(self, addr, n):
        p = self.cmd(b"m%x,%x" % (addr, n))
        if p[:1] == b"E" and len(p) == 3:
            raise RspError("m%x,%x: %r" % (addr, n, p))
        return bytes.fromhex(p.decode())

    def resume(self, what):
        """'s', 'c', 'bs' or 'bc': the stop reply. Console output before it
        (O packets: a long reverse-continue's progress) is skipped, as gdb
        prints it and goes on waiting."""
        p = self.c.command(what.encode(), self.timeout)
        while p is not None and p[:1] == b"O" and p != b"OK":
            p = self.c.read_packet(self.timeout)
        st = Stop(p)
        if TRACE:
            sys.stderr.write("%s -> %s\n" % (what, st.raw))
        return st

    def point(self, insert, kind, addr, length):
        """Z/z of kind 0-4; True when the server accepted it."""
        p = self.cmd(b"%s%d,%x,%x" % (b"Z" if insert else b"z", kind, addr, length))
        if TRACE:
            sys.stderr.write("%s%d,%x,%x -> %s\n" % ("Z" if insert else "z", kind, addr, length, p))
        return p == b"OK"

    def monitor(self, text):
        """qRcmd: the console output the server sent, and its final reply."""
        if TRACE:
            sys.stderr.write("monitor %s\n" % text)
        self.c.send(frame(b"qRcmd," + text.encode().hex().encode()))
        out = b""
        while True:
            p = self.c.read_packet(self.timeout)
            if p is None:
                raise RspError("no reply to monitor %s" % text)
            if p[:1] == b"O" and p != b"OK":
                out += bytes.fromhex(p[1:].decode())
                continue
            return out.decode(errors="replace"), p

    def kill(self):
        try:
            self.c.send(frame(b"k"))
        except OSError:
            pass

#!/usr/bin/env python3
"""A raw client for gdb_interrupt.sh: interrupting a long `monitor goto`.

    goto_interrupt.py PORT DELAY BOUND

1. qRcmd "goto end", then 0x03 after DELAY s: the reply (console text, then
   OK, as for every monitor command) must come within BOUND s of the 0x03
   and say "interrupted".
2. qRcmd "when" answers right after it (the protocol is in step).
3. qRcmd "goto end", then (as gdb 13 does after a Ctrl-C and its remote
   timeout) the next packet, '?', without waiting for the reply: the goto
   stops, its reply is dropped, and the first packet back is the stop reply
   to '?', within BOUND s.
4. qRcmd "when" answers again.
Prints "CHECK <name> OK|BAD <why>" and "TIME <name> <seconds>".
"""
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from rsp_client import Client, check, frame, is_stop  # noqa: E402


def rcmd_packet(cmd):
    return b"qRcmd," + cmd.encode().hex().encode()


def read_reply(c, timeout):
    """Console text and the final packet of a qRcmd reply."""
    text = b""
    deadline = time.time() + timeout
    while True:
        p = c.read_packet(timeout=max(0.01, deadline - time.time()))
        if p is None:
            return text.decode(errors="replace"), None
        if p[:1] == b"O" and p != b"OK":
            text += bytes.fromhex(p[1:].decode())
            continue
        return text.decode(errors="replace"), p


def main():
    port, delay, bound = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    c = Client(port)
    p = c.command(b"?")
    check("raw goto: '?' answered", is_stop(p), repr(p))

    c.send(frame(rcmd_packet("goto end")))
    time.sleep(delay)
    c.send(b"\x03")
    t0 = time.time()
    text, last = read_reply(c, 30)
    took = time.time() - t0
    print("TIME raw-0x03 %.3f" % took, flush=True)
    check("raw goto: 0x03 stops it within %.1f s" % bound, last is not None and took <= bound,
          "%.3f s, reply %r" % (took, last))
    check("raw goto: the reply says interrupted", "interrupted at event" in text and last == b"OK",
          repr((text, last)))
    text, last = read_reply(c, 10) if c.send(frame(rcmd_packet("when"))) is None else (None, None)
    check("raw goto: when answers next", last == b"OK" and text.startswith("event "),
          repr((text, last)))

    c.send(frame(rcmd_packet("goto end")))
    # this goto starts where the first was stopped (a checkpoint there),
    # with less of the run left: wait less, so that it is still running
    time.sleep(delay / 4)
    t0 = time.time()
    c.send(frame(b"?"))
    p = c.read_packet(timeout=30)
    took = time.time() - t0
    print("TIME raw-next-packet %.3f" % took, flush=True)
    check("raw goto: a next packet stops it within %.1f s and gets the first reply" % bound,
          p is not None and is_stop(p) and took <= bound, "%.3f s, %r" % (took, p))
    text, last = read_reply(c, 10) if c.send(frame(rcmd_packet("when"))) is None else (None, None)
    check("raw goto: when answers after that", last == b"OK" and text.startswith("event "),
          repr((text, last)))
    c.send(frame(b"k"))
    time.sleep(0.2)


if __name__ == "__main__":
    main()

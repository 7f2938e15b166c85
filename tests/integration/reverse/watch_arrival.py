# A watchpoint hit whose instruction is followed by a breakpoint leaves
# rip on that breakpoint: that moment is an arrival at it too. Here the
# write watch is the anchor a reverse-continue runs to (the stop before
# the second of two back-to-back stores into it is named "just after the
# first"), and the first hit is the bss clearing's rep stosb, right before
# a breakpoint: reverse-continue to that breakpoint must stop there.
# Usage: watch_arrival.py PORT SEEN AFTER_STORES AFTER_REP (hex addresses)
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rsp_target import Target  # noqa: E402

port = int(sys.argv[1])
seen, after_stores, after_rep = (int(a, 16) for a in sys.argv[2:5])
t = Target(port)


def rip():
    return struct.unpack_from("<Q", t.regs_raw(), 16 * 8)[0]


def say(name, ok, why=""):
    print("%s %s %s" % ("OK" if ok else "BAD", name, why), flush=True)


t.point(True, 0, after_stores, 1)
st = t.resume("c")
t.point(False, 0, after_stores, 1)
say("forward to the first trap's stores", st.kind == "swbreak" and rip() == after_stores, repr(st))
t.point(True, 2, seen, 16)
st = t.resume("bc")
t.point(False, 2, seen, 16)
say("reverse-continue to the watch", st.kind == "watch", repr(st))
t.point(True, 0, after_rep, 1)
st = t.resume("bc")
say("reverse-continue to the breakpoint after the rep stosb",
    st.kind == "swbreak" and rip() == after_rep, "%r at 0x%x" % (st, rip()))
t.kill()

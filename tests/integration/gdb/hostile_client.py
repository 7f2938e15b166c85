#!/usr/bin/env python3
"""Raw-protocol clients that push the KVM target's limits, for
tests/integration/gdb_hostile.sh. Each prints "CHECK <name> OK" or
"CHECK <name> BAD <why>" lines (see tests/lib/rsp_client.py).

    hostile_client.py slots PORT WANT_OK    300 watches on adjacent pages, then
        300 on every other page; WANT_OK: how many of the latter must be
        accepted before an E reply ("all": every one, "any": E or OK), then
        the guest must run to its end (W00)
    hostile_client.py dup PORT PID START LEN   the same Z2 over [START,
        START+LEN) 200 times, a step, the monitor's peak RSS, one z2, and the
        guest must run to its end with no watch stop
    hostile_client.py textstore PORT [ADDR]   a watch at ADDR (default: a
        data page), then the guest's store into its text must stop it as a
        fault (T0b), not go through (W02) nor be reported as a watch hit
    hostile_client.py arm PORT ADDR     Z0 at ADDR and a Z2, then hang up
    hostile_client.py after PORT ADDR   the next client: continue must not
        stop at ADDR
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from rsp_client import Client, check, frame  # noqa: E402

DATA = 0x10000000       # far above the test guests' own memory
ADJ = 0x14000000


def zcmd(c, what, typ, addr, length):
    return c.command(b"%s%d,%x,%x" % (what, typ, addr, length), timeout=30)


def run_to_end(c, name):
    # a replay stops at the end of its trace first (replaylog:end)
    for _ in range(2):
        p = c.command(b"c", timeout=120)
        if p is None or b"replaylog:end" not in p:
            break
    check(name, p is not None and p.startswith(b"W00"), repr(p)[:120])


def slots(port, want_ok):
    c = Client(port, timeout=30)
    adj = [zcmd(c, b"Z", 2, ADJ + i * 0x1000, 8) for i in range(300)]
    check("300 watches on adjacent pages accepted", all(r == b"OK" for r in adj),
          "replies %r" % sorted(set(adj)))
    ok = 0
    first_err = None
    bad = []
    for i in range(300):
        r = zcmd(c, b"Z", 2, DATA + 2 * i * 0x1000, 8)
        if r == b"OK" and first_err is None:
            ok += 1
        elif r is not None and r.startswith(b"E"):
            first_err = first_err if first_err is not None else i
        else:
            bad.append((i, r))
    print("slots: %d of 300 watches on separate pages accepted, first E at %r" % (ok, first_err),
          flush=True)
    check("every watch reply is OK or E (OK only before the first E)", not bad, repr(bad[:3]))
    if want_ok == "all":
        check("300 watches on separate pages accepted", ok == 300, "%d accepted" % ok)
    elif want_ok != "any":
        check("watches on separate pages accepted up to the slot limit (%s)" % want_ok,
              ok == int(want_ok) and first_err == int(want_ok),
              "%d accepted, first E at %r" % (ok, first_err))
    # the VM kept its memory: registers and memory still answer
    p = c.command(b"m%x,8" % (ADJ,))
    check("memory still readable after the refusals", p is not None and len(p) == 16, repr(p))
    run_to_end(c, "the guest runs to its end with the watches set (W00)")


def vm_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def dup(port, pid, start, length):
    c = Client(port, timeout=30)
    before = vm_kib(pid, "VmRSS")
    replies = [zcmd(c, b"Z", 2, start, length) for _ in range(200)]
    check("200 identical Z2 over %d MiB all answered OK" % (length >> 20),
          all(r == b"OK" for r in replies), repr(sorted(set(replies)))[:120])
    p = c.command(b"s", timeout=60)     # the layout is applied on resume
    check("a step with the watch set stops", p is not None and p[:1] == b"T", repr(p)[:120])
    rss, hwm = vm_kib(pid, "VmRSS"), vm_kib(pid, "VmHWM")
    print("dup: VmRSS before %d KiB, after %d KiB, peak %d KiB" % (before, rss, hwm), flush=True)
    check("the monitor's peak RSS grew by less than 32 MiB (%d -> %d KiB)" % (before, hwm),
          hwm - before < 32 * 1024, "grew by %d KiB" % (hwm - before))
    r = zcmd(c, b"z", 2, start, length)
    check("one z2 answered OK", r == b"OK", repr(r))
    run_to_end(c, "after one z2 no watch is left: the guest runs to its end (W00)")


def textstore(port, addr):
    c = Client(port, timeout=30)
    r = zcmd(c, b"Z", 2, addr, 8)
    check("a watch at 0x%x" % addr, r == b"OK", repr(r))
    p = c.command(b"c", timeout=60)
    check("a store into text with a watch set is a fault (T0b), not W02",
          p is not None and p.startswith(b"T0b"), repr(p)[:120])
    c.send(frame(b"k"))


def rip_of(stop):
    """rip from a T stop reply's '10:' field, or None."""
    for part in stop.split(b";"):
        if part.startswith(b"10:") or part[3:6] == b"10:":
            v = part.split(b":")[-1]
            return int.from_bytes(bytes.fromhex(v.decode()), "little")
    return None


def arm(port, addr):
    c = Client(port, timeout=30)
    r0 = zcmd(c, b"Z", 0, addr, 1)
    r2 = zcmd(c, b"Z", 4, DATA, 8)
    check("first client arms a breakpoint and a watchpoint", r0 == b"OK" and r2 == b"OK",
          "%r %r" % (r0, r2))
    c.s.close()                         # gone without z, D or k


def after(port, addr):
    c = Client(port, timeout=30)
    p = c.command(b"c", timeout=120)
    ok = p is not None and (p.startswith(b"W") or (p.startswith(b"T") and rip_of(p) != addr))
    check("the next client does not stop at the first client's breakpoint", ok, repr(p)[:160])
    c.send(frame(b"k"))


def main():
    what, port = sys.argv[1], int(sys.argv[2])
    try:
        if what == "slots":
            slots(port, sys.argv[3])
        elif what == "dup":
            dup(port, int(sys.argv[3]), int(sys.argv[4], 0), int(sys.argv[5], 0))
        elif what == "textstore":
            textstore(port, int(sys.argv[3], 0) if len(sys.argv) > 3 else DATA)
        elif what == "arm":
            arm(port, int(sys.argv[3], 0))
        elif what == "after":
            after(port, int(sys.argv[3], 0))
        else:
            sys.exit("unknown command " + what)
    except (OSError, EOFError, ValueError) as e:
        check(what + " connection", False, "%s: %s" % (type(e).__name__, e))


if __name__ == "__main__":
    main()

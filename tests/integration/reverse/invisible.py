#!/usr/bin/env python3
"""Drive a `ukvm replay --gdb` or `ukvm run --gdb` server the way a user
debugging it would, for tests/integration/debug_invisible.sh:

    invisible.py --port P --elf KERNEL [--steps N] [--funcs F,G,...] [--conts M]

1. single-step N instructions from the start (over hypercall outs, patched
   rdtsc, pushf, faults, int N: whatever the guest runs first);
2. plant a software breakpoint on every instruction of the functions F, G...
   (from objdump's disassembly) and continue M times (each continue runs to
   the next planted instruction);
3. remove every breakpoint and continue to the end (a replay stops once at
   the end of its trace first: continue again).

Prints "STEPS n", "CONTS n", "END <stop>" (W<status> at the exit), or
"ERROR <why>".
"""
import argparse
import sys

import insn_access
from rsp_target import RspError, Target


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--elf", required=True)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--funcs", default="")
    ap.add_argument("--conts", type=int, default=1000)
    a = ap.parse_args()
    insns = insn_access.decode(a.elf)
    t = Target(a.port, timeout=120)
    try:
        n, st = 0, None
        for n in range(1, a.steps + 1):
            st = t.resume("s")
            if st.kind != "trap":
                print("STEPS %d (stopped: %r)" % (n, st))
                break
        else:
            print("STEPS %d" % n)
        if st is not None and st.kind == "exit":
            return end(st)
        addrs = sorted(x for f in a.funcs.split(",") if f for x in func_insns(a.elf, insns, f))
        for x in addrs:
            if not t.point(True, 0, x, 1):
                print("ERROR Z0 at 0x%x refused" % x)
                return 1
        n = 0
        for n in range(1, a.conts + 1 if addrs else 1):
            st = t.resume("c")
            if st.kind != "swbreak":
                break
        print("CONTS %d over %d breakpoints (last stop %r)" % (n, len(addrs), st))
        if st.kind == "exit":
            return end(st)
        for x in addrs:
            t.point(False, 0, x, 1)
        for _ in range(3):
            st = t.resume("c")
            if st.kind in ("exit", "none") or st.kind.startswith("error"):
                break
        end(st)
        if st.kind != "exit":
            t.kill()
    except (RspError, OSError, EOFError) as e:
        print("ERROR %s: %s" % (type(e).__name__, e))
        return 1
    return 0


def end(st):
    print("END %s" % (st.raw.decode() if st.raw else st.kind))
    return 0


def func_insns(elf, insns, name):
    """The instruction addresses of function NAME (its symbol's extent)."""
    import subprocess
    out = subprocess.run(["nm", "-S", elf], check=True, capture_output=True, text=True).stdout
    for line in out.split("\n"):
        f = line.split()
        if len(f) == 4 and f[3] == name:
            start, size = int(f[0], 16), int(f[1], 16)
            return [x for x in insns if start <= x < start + size]
    raise SystemExit("no symbol %s with a size in %s" % (name, elf))


if __name__ == "__main__":
    sys.exit(main())

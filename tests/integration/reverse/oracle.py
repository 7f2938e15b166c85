#!/usr/bin/env python3
"""Differential oracle for reverse execution over the raw remote protocol.

    oracle.py --port P --elf KERNEL --name NAME [--base ADDR] [--steps N]
              [--watch NAME=ADDR:LEN ...] [--entries ADDR,...]
              [--points N] [--seed S]

The server is a fresh `ukvm replay --gdb` at the start of its trace. With
--base, the log starts at the first arrival at ADDR (a breakpoint and one
continue), else at the start of the trace. The log (steplog.py) is the
truth: from N random steps i of it, each reached exactly (a breakpoint on a
rip seen just before i, continued the number of arrivals the log counts,
then single steps; the registers and watched bytes must be the log's), the
reverse and forward commands must stop where the log says (checks.py).

Prints
    WATCH NAME RANGE        the watched ranges
    LOG NAME steps L trusted T end KIND secs S   (T: the steps checks may use)
    FLOW NAME i WHY        a step the decoder says cannot be (first few)
    FLOWS NAME N           how many there are
    ORACLE NAME i WHY      the oracle itself is wrong there (first few)
    RESULT NAME KIND ok N bad M skipped K
    MISMATCH NAME KIND seed S point i: WHY   (first few per kind)
    SKIP NAME KIND WHY
"""
import argparse
import random
import sys
import time

import os
import checks
import insn_access
import steplog
from rsp_target import RspError, Target, split_regs


def parse_watch(spec):
    name, _, rest = spec.partition("=")
    addr, _, length = rest.partition(":")
    return steplog.Watch(name, int(addr, 0), int(length, 0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--elf", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--base", type=lambda s: int(s, 0))
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--watch", action="append", default=[])
    ap.add_argument("--watch-stack", action="append", default=[],
                    help="NAME=RIP:OFFSET:LEN, the range at rsp+OFFSET at the first arrival at RIP")
    ap.add_argument("--entries", default="")
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget", type=float, default=0,
                    help="seconds for the checks (0: no limit); fewer points when it runs out")
    ap.add_argument("--show", type=int, default=5)
    a = ap.parse_args()

    insns = insn_access.decode(a.elf)
    entries = {int(x, 0) for x in a.entries.split(",") if x}
    watches = [parse_watch(w) for w in a.watch]
    t = Target(a.port)
    for spec in a.watch_stack:
        name, _, rest = spec.partition("=")
        rip, off, length = (int(x, 0) for x in rest.split(":"))
        if not t.point(True, 0, rip, 1) or t.resume("c").kind != "swbreak":
            print("ORACLE %s 0 cannot reach 0x%x to place the watch %s" % (a.name, rip, name))
            return 1
        t.point(False, 0, rip, 1)
        watches.append(steplog.Watch(name, split_regs(t.regs_raw())["rsp"] + off, length))
        t.monitor("goto start")
    if a.base is not None:
        if not t.point(True, 0, a.base, 1) or t.resume("c").kind != "swbreak":
            print("ORACLE %s 0 cannot reach the log's base 0x%x" % (a.name, a.base))
            return 1
        t.point(False, 0, a.base, 1)
    print("WATCH %s %s" % (a.name, " ".join(map(repr, watches))))
    t0 = time.time()
    log = steplog.record(t, watches, a.steps)
    log.check(insns, entries)
    trusted = log.seg.index(1) if 1 in log.seg else len(log)
    print("LOG %s steps %d trusted %d end %s secs %.1f" % (a.name, len(log), trusted, log.end,
                                                         time.time() - t0))
    for i, why in log.flow[:a.show]:
        print("FLOW %s %d %s" % (a.name, i, why))
    print("FLOWS %s %d" % (a.name, len(log.flow)))
    for i, why in log.oracle[:a.show]:
        print("ORACLE %s %d %s" % (a.name, i, why))
    sys.stdout.flush()

    nav = checks.Navigator(t, log, a.base, from_start=a.base is None)
    ck = checks.Checker(nav, random.Random(a.seed), a.seed)
    if os.environ.get("REV_ORACLE_NO_HW"):  # DR breakpoints never fire on this KVM
        ck.hw_ok = False
        for kind in ("bc-hwbreak", "c-hwbreak"):
            ck.skips[kind] = "this KVM does not fire debug-register breakpoints"
    t0 = time.time()
    try:
        ck.run(a.points, a.budget)
    except (RspError, OSError, EOFError) as e:
        print("MISMATCH %s session seed %d point %s: %s: %s" % (
            a.name, a.seed, ck.point, type(e).__name__, e))
    for kind in sorted(ck.results):
        ok, bad, skipped = ck.results[kind]
        print("RESULT %s %s ok %d bad %d skipped %d" % (a.name, kind, ok, bad, skipped))
    for kind, why in ck.skips.items():
        print("SKIP %s %s %s" % (a.name, kind, why))
    for kind, lst in ck.mismatches.items():
        for m in lst[:a.show]:
            print("MISMATCH %s %s seed %d %s" % (a.name, kind, a.seed, m))
    print("TIME %s checks %.1f points %d restarts %d" % (a.name, time.time() - t0, ck.points,
                                                          nav.restarts))
    t.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())

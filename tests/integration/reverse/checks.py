"""The reverse-execution oracle's checks (oracle.py runs them).

Navigator reaches a step of the log exactly, with forward commands only: from
the step it is at (or from the log's base, after `monitor goto start`) it
plants a breakpoint on the rip of a step j <= i seen few times since, sends
as many continues as the log counts arrivals there, then single-steps from j
to i; the registers and watched bytes must then be the log's at i.

Checker picks random steps; from each it runs a short chain of random
commands (bs, N times bs, bc with a software or hardware breakpoint or a
watchpoint, s, c with one of those), each from where the one before
stopped, and compares every stop with the one the log gives:
  bs                step i-1 (replaylog:begin at step 0 of a log that starts
                    the trace)
  bc, breakpoint A  the last step j < i with rip A, swbreak/hwbreak
  bc, watch W       the last step j < i whose instruction accesses W in that
                    way (Z2 write, Z3 read, Z4 either): the stop is step j,
                    before the access ran, with watch/rwatch/awatch:ADDR in W
  bc, nothing found replaylog:begin at step 0 (a log that starts the trace)
  s                 step i+1
  c, breakpoint A   the first step j > i with rip A
  c, watch W        the first step j >= i whose instruction accesses W: the
                    stop is step j+1, after the access
An expectation that would rely on the log across a step the decoder rejects
(see steplog.py) is not checked: it counts as skipped.
"""
import bisect
import random
import time

import steplog
from rsp_target import reg_diff

KINDS = {2: "watch", 3: "rwatch", 4: "awatch"}
SHOW = 8


class NavError(Exception):
    pass


class Navigator:
    def __init__(self, t, log, base, from_start):
        self.t, self.log, self.base, self.from_start = t, log, base, from_start
        self.cur = None
        self.restarts = 0
        self.history = []       # what was sent since the last restart, in short
        self.by_g = {}
        for i, g in enumerate(log.g):
            self.by_g.setdefault(g, []).append(i)

    def diff(self, i):
        """'' when the target's state is the log's at step i, else what differs."""
        g = self.t.regs_raw()
        out = []
        if g != self.log.g[i]:
            out.append("registers " + reg_diff(self.log.g[i], g))
        for a, n in self.log.spans:
            data = self.t.mem(a, n)
            for k in range(n):
                if data[k] != self.log.mem[i][a + k]:
                    out.append("byte 0x%x is 0x%02x, log 0x%02x" % (a + k, data[k], self.log.mem[i][a + k]))
                    break
        return "; ".join(out)

    def where(self):
        """The log steps whose registers the target has now (for messages)."""
        idx = self.by_g.get(self.t.regs_raw(), [])
        if not idx:
            return "no log step has these registers"
        return "registers of log step%s %s" % ("s" if len(idx) > 1 else "",
                                               ",".join(map(str, idx[:4])))

    def restart(self):
        self.restarts += 1
        self.cur = None
        self.history = ["monitor goto start" + (", c to 0x%x" % self.base if self.base else "")]
        out, rep = self.t.monitor("goto start")
        if rep != b"OK":
            raise NavError("monitor goto start: %r %s" % (rep, out.strip()))
        if self.base is not None:
            if not self.t.point(True, 0, self.base, 1):
                raise NavError("Z0 at the base refused")
            st = self.t.resume("c")
            self.t.point(False, 0, self.base, 1)
            if st.kind != "swbreak":
                raise NavError("continue to the base stopped with %r" % st)
        d = self.diff(0)
        if d:
            raise NavError("after goto start: not the log's step 0: " + d)
        self.cur = 0

    def goto(self, i):
        if self.cur is None or self.cur > i:
            self.restart()
        cur = self.cur
        if cur == i:
            return
        # cheapest way: breakpoint on the rip of step la <= i, n arrivals
        # counted from cur (exclusive), then i - la single steps
        anchor, n, at = steplog.cheapest_anchor(self.log.rip, cur, i)
        self.cur = None
        if anchor is not None:
            self.history.append("Z0 0x%x, c x%d" % (anchor, n))
        if i > at:
            self.history.append("s x%d" % (i - at))
        if anchor is not None:
            self.t.point(True, 0, anchor, 1)
            for _ in range(n):
                st = self.t.resume("c")
                if st.kind != "swbreak":
                    self.t.point(False, 0, anchor, 1)
                    raise NavError("continue to 0x%x stopped with %r" % (anchor, st))
            self.t.point(False, 0, anchor, 1)
        for _ in range(i - at):
            st = self.t.resume("s")
            if st.kind != "trap":
                raise NavError("step towards step %d stopped with %r" % (i, st))
        d = self.diff(i)
        if d:
            raise NavError("reached step %d with a wrong state: %s" % (i, d))
        self.cur = i


class Checker:
    def __init__(self, nav, rng, seed, chain=6):
        self.nav, self.log, self.t = nav, nav.log, nav.t
        self.rng = rng if rng else random.Random(seed)
        self.seed = seed
        self.chain = chain
        self.results = {}
        self.mismatches = {}
        self.skips = {}
        self.point = None
        self.hw_ok = True
        self.points = 0
        self.rip_idx = {}
        for j in range(len(self.log)):
            self.rip_idx.setdefault(self.log.rip(j), []).append(j)
        self.hit_idx = {}
        for w in self.log.watches:
            for z in KINDS:
                hits = [j for j in range(len(self.log)) if self.log.hits(w.name, z, j) is True]
                amb = [j for j in range(len(self.log)) if self.log.hits(w.name, z, j) is None]
                self.hit_idx[(w.name, z)] = (hits, amb)

    # -- bookkeeping
    def count(self, kind, what, why=""):
        r = self.results.setdefault(kind, [0, 0, 0])
        r[{"ok": 0, "bad": 1, "skip": 2}[what]] += 1
        if what == "bad":
            self.mismatches.setdefault(kind, []).append("point %s (rip 0x%x): %s [after: %s]" % (
                self.point, self.log.rip(self.point) if self.point is not None else 0, why,
                "; ".join(self.nav.history[-8:])))

    def did(self, text):
        self.nav.history.append(text)

    def same_seg(self, i, j):
        return 0 <= j < len(self.log) and self.log.seg[i] == self.log.seg[j]

    # -- expectations: (step, stop kind, watch) or None (not checkable).
    # HITS: the sorted steps whose instruction matches; AMB: the steps where
    # the log cannot say (see steplog.py)
    def exp_back(self, i, hits, amb, kind, watch=None):
        k = bisect.bisect_left(hits, i) - 1
        j = hits[k] if k >= 0 else None
        k = bisect.bisect_left(amb, i) - 1
        if k >= 0 and (j is None or amb[k] > j):
            return None
        if j is None:
            if self.nav.from_start and self.log.seg[i] == 0:
                return (0, "replaylog:begin", None)
            return None
        return (j, kind, watch) if self.same_seg(i, j) else None

    def exp_fwd(self, i, hits, amb, kind, after, watch=None):
        first = i if after else i + 1
        k = bisect.bisect_left(hits, first)
        j = hits[k] if k < len(hits) else None
        k = bisect.bisect_left(amb, first)
        if k < len(amb) and (j is None or amb[k] < j):
            return None
        if j is None:
            return None
        j = j + 1 if after else j
        return (j, kind, watch) if self.same_seg(i, j) else None

    # -- running one command
    def stop_of(self, packet):
        st = self.t.resume(packet)
        if st.kind == "none":        # no stop within the timeout: interrupt
            self.t.c.send(b"\x03")
            st = self.t.resume("?")
        return st

    def judge(self, kind, exp, st, what=""):
        """Compare the stop ST with the expectation; count it."""
        j, want, watch = exp
        why = []
        if st.kind != want:
            why.append("stop %r (%s), expected %s" % (st, (st.raw or b"").decode(errors="replace")[:60], want))
        elif watch is not None and not (watch.addr <= (st.addr or -1) < watch.addr + watch.len):
            why.append("watch address 0x%x outside %r" % (st.addr or 0, watch))
        d = self.nav.diff(j)
        if d:
            why.append("not the state of step %d (rip 0x%x): %s; %s" % (
                j, self.log.rip(j), d, self.nav.where()))
        if why:
            self.nav.cur = None
            self.count(kind, "bad", "; ".join(([what] if what else []) + why))
        else:
            self.nav.cur = j
            self.count(kind, "ok")

    def with_point(self, kind, ztype, addr, length, packet, exp):
        if exp is None:
            return self.count(kind, "skip")
        if ztype == 1 and not self.hw_ok:
            return None
        if not self.t.point(True, ztype, addr, length):
            if ztype == 1:
                self.hw_ok = False
                self.skips[kind] = "the server refused Z1 (no hardware breakpoints here)"
                return None
            self.nav.cur = None
            return self.count(kind, "bad", "Z%d,%x,%d refused" % (ztype, addr, length))
        try:
            st = self.stop_of(packet)
        finally:
            self.t.point(False, ztype, addr, length)
        self.did("Z%d,%x,%d %s -> %r" % (ztype, addr, length, packet, st))
        self.judge(kind, exp, st, "%s with Z%d,%x,%d (%s):" % (
            packet, ztype, addr, length, exp[2] or "a breakpoint"))

    # -- the commands, from step i (where the target is)
    def bs(self, i):
        exp = (i - 1, "trap", None) if i > 0 and self.same_seg(i, i - 1) else \
            (0, "replaylog:begin", None) if i == 0 and self.nav.from_start else None
        if exp is None:
            return self.count("bs", "skip")
        st = self.stop_of("bs")
        self.did("bs -> %r" % st)
        self.judge("bs", exp, st)

    def bs_n(self, i):
        n = self.rng.randint(2, 12)
        j = i - n
        if j < 0 and not self.nav.from_start or not self.same_seg(i, max(j, 0)):
            return self.count("bsN", "skip")
        kinds = [self.stop_of("bs").kind for _ in range(n)]
        self.did("bs x%d" % n)
        want = ["trap"] * min(n, i) + ["replaylog:begin"] * max(0, n - i)
        if kinds != want:
            self.nav.cur = None
            return self.count("bsN", "bad", "%d reverse steps stopped with %s, expected %s" % (
                n, kinds, want))
        self.judge("bsN", (max(j, 0), kinds[-1], None), _Fake(kinds[-1]), "%d x bs:" % n)

    def s(self, i):
        exp = (i + 1, "trap", None) if self.same_seg(i, i + 1) else None
        if exp is None:
            return self.count("s", "skip")
        st = self.stop_of("s")
        self.did("s -> %r" % st)
        self.judge("s", exp, st)

    def pick_rip(self, i, back):
        """A rip seen before step i (after it, going forwards); now and then
        one not seen there at all."""
        n = len(self.log)
        for _ in range(8):
            j = self.rng.randrange(n)
            first = self.rip_idx[self.log.rip(j)][0]
            if back and self.rng.random() < 0.15 and first >= i:
                return self.log.rip(j)
        if back:
            return self.log.rip(self.rng.randrange(i)) if i > 0 else self.log.rip(self.rng.randrange(n))
        return self.log.rip(self.rng.randrange(i + 1, n)) if i + 1 < n else None

    def breakpoint(self, i, back, ztype):
        a = self.pick_rip(i, back)
        if a is None:
            return
        stop = "swbreak" if ztype == 0 else "hwbreak"
        idx = self.rip_idx.get(a, [])
        if back:
            exp = self.exp_back(i, idx, [], stop)
        else:
            exp = self.exp_fwd(i, idx, [], stop, False)
        kind = ("bc-" if back else "c-") + stop
        if exp and exp[1] == "replaylog:begin":
            kind += "-begin"
        self.with_point(kind, ztype, a, 1, "bc" if back else "c", exp)

    def watch(self, i, back):
        opts = [(w, z) for w in self.log.watches for z in KINDS]
        if not opts:
            return
        def has_hit(wz):
            hits = self.hit_idx[(wz[0].name, wz[1])][0]
            k = bisect.bisect_left(hits, i)
            return k > 0 if back else k < len(hits)
        hit = [wz for wz in opts if has_hit(wz)]
        w, z = self.rng.choice(hit if hit and self.rng.random() < 0.85 else opts)
        hits, amb = self.hit_idx[(w.name, z)]
        if back:
            exp = self.exp_back(i, hits, amb, KINDS[z], w)
        else:
            exp = self.exp_fwd(i, hits, amb, KINDS[z], True, w)
        kind = ("bc-" if back else "c-") + KINDS[z]
        if exp and exp[1] == "replaylog:begin":
            kind += "-begin"
        self.with_point(kind, z, w.addr, w.len, "bc" if back else "c", exp)

    COMMANDS = [  # (weight, name)
        (2, "bs"), (1, "bsN"), (2, "bc-sw"), (1, "bc-hw"), (4, "bc-watch"),
        (1, "s"), (1, "c-sw"), (1, "c-hw"), (2, "c-watch")]

    def one(self, name, i):
        if name == "bs":
            return self.bs(i)
        if name == "bsN":
            return self.bs_n(i)
        if name == "s":
            return self.s(i)
        back = name.startswith("bc")
        if name.endswith("watch"):
            return self.watch(i, back)
        return self.breakpoint(i, back, 0 if name.endswith("sw") else 1)

    def run(self, n, budget=0):
        names = [c for w, c in self.COMMANDS for _ in range(w)]
        t0 = time.time()
        self.points = 0
        # only the log's first segment is trusted (steplog.py)
        trusted = self.log.seg.index(1) if 1 in self.log.seg else len(self.log)
        self.trusted = trusted
        for _ in range(n):
            if budget and time.time() - t0 > budget:
                break
            self.points += 1
            self.point = self.rng.randrange(trusted)
            try:
                self.nav.goto(self.point)
            except NavError as e:
                self.nav.cur = None
                self.count("reach", "bad", str(e))
                continue
            for _ in range(self.chain):
                if self.nav.cur is None:
                    break
                self.point = self.nav.cur
                self.one(self.rng.choice(names), self.point)


class _Fake:
    def __init__(self, kind):
        self.kind, self.addr = kind, None

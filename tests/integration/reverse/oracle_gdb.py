# gdb's own reverse commands against a forward log: loaded into gdb (batch
# mode, connected to a fresh `ukvm replay --gdb`, tools/gdb/ukvm.py sourced)
# by reverse_oracle.sh, after `python OG = dict(...)` has set:
#   name     the stretch's name in the output
#   base     the log starts at the first arrival at this address
#   steps    stepi this many times for the log
#   exprs    expressions (globals) whose bytes the log keeps, for ukvm-last
#            and `watch`
#   zero_before  expressions known to hold zero bytes from the start of the
#            trace up to the log's base (a .bss variable the program only
#            writes later): the ukvm-last chain must then end with "no
#            earlier write"
#   points, seed
#   logfile  a file for gdb's output while a check runs
#
# The log is made by gdb's stepi: per step the registers, the line-table
# entry of the pc (gdb's reading of the DWARF), the instruction (gdb's
# disassembler) and the exprs' bytes; calls and returns in it give every step
# its activation (the frame instance it runs in). From random steps, each
# reached with breakpoints and stepi only (and checked against the log):
#   reverse-stepi    step i-1
#   reverse-next     from the first instruction of a line: the first
#                    instruction of the previous line executed in the same
#                    activation (callees passed over)
#   reverse-step     the same, but into a callee that returned just before
#   reverse-finish   the call instruction that started the activation
#   ukvm-last EXPR, then ukvm-last again and again: each time the last step
#                    before that changed EXPR's bytes, stopped on (before it
#                    ran), down to "no earlier write" (zero_before)
#   watch EXPR + reverse-continue, repeatedly: the same steps, gdb's
#                    "Old value" the bytes after the write, "New value" before
# Only points where the rule is unambiguous are used (e.g. the previous line
# was entered at its first instruction, not in the middle, and is another
# line). Prints the LOG/RESULT/MISMATCH lines of oracle.py.
import os
import random
import sys
import time

import gdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import steplog  # noqa: E402

REGS = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
        "r12", "r13", "r14", "r15", "rip", "eflags", "cs", "ss", "ds", "es", "fs", "gs",
        "fs_base", "gs_base"]


def inlined_at(pc):
    """Is pc inside an inlined function (a function block below another)?"""
    try:
        b = gdb.block_for_pc(pc)
    except RuntimeError:
        return False
    functions = 0
    while b is not None:
        if b.function is not None:
            functions += 1
        b = b.superblock
    return functions > 1


def ex(cmd):
    try:
        return gdb.execute(cmd, to_string=True)
    except gdb.error as e:
        return "ERROR: %s" % e


LOGFILE = None      # set by main: where ex_seen captures gdb's stop printing


def ex_seen(cmd):
    """CMD's output including what gdb prints when the target stops (the
    watchpoint's Old/New value lines go straight to gdb's stdout, not into
    gdb.execute's string): stdout is pointed at LOGFILE meanwhile."""
    if not LOGFILE:
        return ex(cmd)
    gdb.flush()
    sys.stdout.flush()
    saved = os.dup(1)
    fd = os.open(LOGFILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    try:
        out = ex(cmd)
        gdb.flush()
        sys.stdout.flush()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(fd)
    with open(LOGFILE) as f:
        return f.read() + out


def regs():
    f = gdb.selected_frame()
    return tuple(int(f.read_register(r)) & 0xFFFFFFFFFFFFFFFF for r in REGS)


def pc():
    return int(gdb.selected_frame().pc())


class Log:
    def __init__(self, exprs):
        self.exprs = []
        for e in exprs:
            v = gdb.parse_and_eval(e)
            self.exprs.append((e, int(v.address), v.type.sizeof))
        self.regs, self.mem, self.asm, self.lines, self.inline = [], [], [], [], []
        self.arch = gdb.selected_frame().architecture()
        self.func_start = {}

    def add(self):
        p = pc()
        self.regs.append(regs())
        inf = gdb.selected_inferior()
        self.mem.append(tuple(bytes(inf.read_memory(a, n)) for _, a, n in self.exprs))
        d = self.arch.disassemble(p)[0]
        self.asm.append((d["asm"], d["length"]))
        self.inline.append(gdb.selected_frame().type() == gdb.INLINE_FRAME)
        sal = gdb.find_pc_line(p)
        self.lines.append((sal.line, sal.pc, sal.last, sal.symtab.filename if sal.symtab else None))
        blk = gdb.block_for_pc(p)
        fn = blk.function if blk else None
        while blk and not fn:
            blk = blk.superblock
            fn = blk.function if blk else None
        self.func_start[p] = int(fn.value().address) if fn else None

    def pcs(self, i):
        return self.regs[i][16]

    def activations(self):
        """act[i]: the activation step i runs in; first[a]: its first step
        (None: it began before the log)."""
        self.act, self.first, self.depth = [], {0: None}, []
        stack, nxt, depth = [0], 1, 0
        for i in range(len(self.regs)):
            self.act.append(stack[-1])
            self.depth.append(depth)
            if i + 1 == len(self.regs):
                break
            mn, ln = self.asm[i][0].split()[0] if self.asm[i][0] else "", self.asm[i][1]
            target = self.pcs(i + 1)
            if mn.startswith("call") and target != self.pcs(i) + ln:
                depth += 1
                stack.append(nxt)
                self.first[nxt] = i + 1
                nxt += 1
            elif mn.startswith("ret"):
                depth -= 1
                stack.pop()
                if not stack:
                    stack.append(nxt)
                    self.first[nxt] = None
                    nxt += 1


def stmt_addresses():
    """Addresses where a line-table entry marked is_stmt starts (gdb's
    `maint info line-table`)."""
    out = set()
    for row in ex("maint info line-table").splitlines():
        f = row.split()
        if len(f) >= 4 and f[0].isdigit() and f[2].startswith("0x") and f[3] == "Y":
            out.add(int(f[2], 16))
    return out


def record(base, steps, exprs):
    bp = gdb.Breakpoint("*0x%x" % base, internal=True)
    ex("continue")
    bp.delete()
    log = Log(exprs)
    log.add()
    for _ in range(steps):
        out = ex("stepi")
        if "ERROR" in out or "exited" in out or "No more" in out:
            break
        log.add()
    log.activations()
    log.stmt = stmt_addresses()
    return log


class Nav:
    """Reach step i of the log with breakpoints and stepi (see checks.py)."""

    def __init__(self, log, base):
        self.log, self.base, self.cur = log, base, None

    def restart(self):
        self.cur = None
        ex("monitor goto start")
        ex("maintenance flush register-cache")
        bp = gdb.Breakpoint("*0x%x" % self.base, internal=True)
        ex("continue")
        bp.delete()
        if regs() != self.log.regs[0]:
            raise RuntimeError("restart: not the log's step 0")
        self.cur = 0

    def goto(self, i):
        if self.cur is None or self.cur > i:
            self.restart()
        cur = self.cur
        anchor, n, at = steplog.cheapest_anchor(self.log.pcs, cur, i)
        self.cur = None
        if anchor is not None:
            bp = gdb.Breakpoint("*0x%x" % anchor, internal=True)
            for _ in range(n):
                ex("continue")
            bp.delete()
        for _ in range(i - at):
            ex("stepi")
        if regs() != self.log.regs[i]:
            raise RuntimeError("could not reach step %d (pc 0x%x)" % (i, self.log.pcs(i)))
        self.cur = i


class Checks:
    def __init__(self, log, nav, name, rng):
        self.log, self.nav, self.name, self.rng = log, nav, name, rng
        self.results, self.mism = {}, {}

    def count(self, kind, ok, why=""):
        r = self.results.setdefault(kind, [0, 0, 0])
        r[0 if ok is True else 1 if ok is False else 2] += 1
        if ok is False:
            self.mism.setdefault(kind, []).append(why)

    def state_is(self, j):
        """'' when gdb's registers and the exprs' bytes are the log's at j."""
        r = regs()
        out = []
        if r != self.log.regs[j]:
            d = ["%s 0x%x/0x%x" % (REGS[k], self.log.regs[j][k], r[k])
                 for k in range(len(REGS)) if r[k] != self.log.regs[j][k]]
            out.append("registers " + ", ".join(d[:4]))
        inf = gdb.selected_inferior()
        for k, (e, a, n) in enumerate(self.log.exprs):
            if bytes(inf.read_memory(a, n)) != self.log.mem[j][k]:
                out.append("%s differs" % e)
        if out:
            idx = [k for k in range(len(self.log.regs)) if self.log.regs[k] == r][:3]
            out.append("registers of log step %s" % (",".join(map(str, idx)) or "none"))
        return "; ".join(out)

    def run_cmd(self, kind, i, cmd, j, extra=None):
        """At step i run CMD; the stop must be step j."""
        self.nav.goto(i)
        out = ex(cmd)
        d = self.state_is(j)
        bad = d or (extra(out) if extra else "")
        self.nav.cur = None if bad else j
        self.count(kind, not bad, "point %d (pc 0x%x): %s: expected step %d (pc 0x%x): %s%s" % (
            i, self.log.pcs(i), cmd, j, self.log.pcs(j), bad, (" | gdb: " + out.strip().replace(
                "\n", " / ")[:200]) if bad else ""))

    # -- expectations from the log
    def plain(self, k):
        """Step k has a line, and gdb's frame there is not an inlined one."""
        return self.log.lines[k][0] != 0 and not self.log.inline[k]

    def back(self, k, a):
        """The step before k in activation a (deeper ones passed over), or -1."""
        k -= 1
        while k >= 0 and self.log.act[k] != a:
            k -= 1
        return k

    def line_start_points(self):
        """Steps that begin a line: pc at its entry's start, the activation's
        step before on another line, not a function's first instruction, no
        inlined frame."""
        out = []
        for i in range(1, len(self.log.regs)):
            line, start, _, _ = self.log.lines[i]
            p = self.log.pcs(i)
            if p != start or not self.plain(i) or self.log.func_start.get(p) == p:
                continue
            k = self.back(i, self.log.act[i])
            if k >= 0 and self.log.lines[k][0] != line:
                out.append(i)
        return out

    def prev_line(self, i, step_into):
        """Where gdb's reverse-next (reverse-step: STEP_INTO) from step i
        stops, by gdb's reverse stepping rules run over the log (infrun.c:
        keep stepping back while in the step range, stop at the range's
        start unless it is the function's entry; leaving the range, stop at
        the first instruction of another line if it is a statement (is_stmt)
        entry, else take that entry as the new range; a callee met on the
        way back is passed over to its call (reverse-next), or entered and
        stopped in at the start of its last line (reverse-step)). None where
        the rules would go on into what the log does not model (back out of
        the function, deeper calls inside a callee, inlined frames)."""
        a = self.log.act[i]
        if not self.plain(i):
            return None
        line, start, last, _ = self.log.lines[i]
        rng, cur_line, step_frame, frame = (start, last), line, a, a
        in_callee = False
        j = i
        while True:
            k = j - 1
            if k < 0:
                return None
            if self.log.act[k] != frame:
                if in_callee or self.log.depth[k] < self.log.depth[j]:
                    return None
                if not step_into:
                    k = self.back(j, frame)       # over the call, to the call insn
                    if k < 0:
                        return None
                else:                             # into the callee, at its return
                    if not self.plain(k):
                        return None
                    _, s0, e0, _ = self.log.lines[k]
                    if self.log.pcs(k) == s0:
                        return k
                    frame, rng, in_callee, j = self.log.act[k], (s0, e0), True, k
                    continue
            if not self.plain(k):
                return None
            p = self.log.pcs(k)
            ln, s0, e0, _ = self.log.lines[k]
            if rng[0] <= p <= rng[1]:
                if p == rng[0]:
                    return None if self.log.func_start.get(p) == p else k
                j = k
                continue
            if p == s0 and ln != cur_line:
                if p in self.log.stmt:
                    return None if self.log.func_start.get(p) == p else k
                if frame == step_frame:
                    j = k                        # not a statement: step on
                    continue
            rng, cur_line, step_frame, j = (s0, e0), ln, frame, k

    def changes(self, k):
        return [j for j in range(len(self.log.regs) - 1)
                if self.log.mem[j][k] != self.log.mem[j + 1][k]]

    # -- the checks
    def reverse_lines(self, n):
        # half from the first instruction of a line, half from anywhere
        starts = self.line_start_points()
        pts = sorted(set(self.rng.sample(starts, min(len(starts), 4 * n)) +
                         self.rng.sample(range(1, len(self.log.regs)), min(len(self.log.regs) - 1, 4 * n))))
        for kind, cmd, callee in (("reverse-next", "reverse-next", False),
                                  ("reverse-step", "reverse-step", True)):
            cands = [(i, self.prev_line(i, callee)) for i in pts]
            cands = [c for c in cands if c[1] is not None]
            skipped = len(pts) - len(cands)
            self.results.setdefault(kind, [0, 0, 0])[2] += skipped
            for i, j in sorted(self.rng.sample(cands, min(n, len(cands)))):
                self.run_cmd(kind, i, cmd, j)

    def reverse_stepi(self, n):
        for i in sorted(self.rng.randrange(1, len(self.log.regs)) for _ in range(n)):
            self.run_cmd("reverse-stepi", i, "reverse-stepi", i - 1)

    def reverse_finish(self, n):
        # inside an inlined function, gdb's reverse-finish leaves the inlined
        # frame (to where it began in its caller), not the real call
        cands = [i for i in range(len(self.log.regs))
                 if self.log.first.get(self.log.act[i]) not in (None, 0)]
        inl = [i for i in cands if inlined_at(self.log.pcs(i))]
        self.results.setdefault("reverse-finish", [0, 0, 0])[2] += len(inl)
        cands = [i for i in cands if i not in set(inl)]
        for i in sorted(self.rng.sample(cands, min(n, len(cands)))):
            self.run_cmd("reverse-finish", i, "reverse-finish", self.log.first[self.log.act[i]] - 1)

    def chain(self, kind, k, i, first_cmd, again_cmd, zero_before, show_ok, watch=False):
        """From step i, FIRST_CMD then AGAIN_CMD repeatedly: the changes of
        expr k before i, latest first; then (zero_before) the start. WATCH:
        with `watch EXPR` set (once at i)."""
        e = self.log.exprs[k][0]
        ch = [j for j in self.changes(k) if j < i][::-1]
        if len(ch) > 12:                # a bounded chain; the start is too far
            ch, zero_before = ch[:12], []
        self.nav.goto(i)
        wp = gdb.Breakpoint(e, gdb.BP_WATCHPOINT, gdb.WP_WRITE) if watch else None
        try:
            self.chain_from(kind, k, i, ch, first_cmd, again_cmd, zero_before, show_ok)
        finally:
            if wp:
                wp.delete()

    def chain_from(self, kind, k, i, ch, first_cmd, again_cmd, zero_before, show_ok):
        e = self.log.exprs[k][0]
        cmd = first_cmd
        for j in ch:
            out = ex_seen(cmd)
            d = self.state_is(j) or show_ok(out, k, j)
            self.count(kind, not d, "from point %d (pc 0x%x): '%s' #%d: expected the write at step %d "
                       "(pc 0x%x): %s | gdb: %s" % (i, self.log.pcs(i), cmd, ch.index(j) + 1, j,
                                                   self.log.pcs(j), d,
                                                   out.strip().replace("\n", " / ")[:300]))
            if d:
                self.nav.cur = None
                return
            self.nav.cur = j
            cmd = again_cmd
        if e in zero_before:
            out = ex_seen(cmd)
            ok = "no earlier write" in out or "No more reverse-execution history" in out
            self.count(kind + "-begin", ok, "from point %d: '%s' after the %d changes in the log: "
                       "expected the start of the recording | gdb: %s" % (
                           i, cmd, len(ch), out.strip().replace("\n", " / ")[:300]))
            self.nav.cur = None

    def value_text(self, k, j):
        return str(gdb.Value(self.log.mem[j][k], gdb.parse_and_eval(self.log.exprs[k][0]).type))

    def last_ok(self, out, k, j):
        e = self.log.exprs[k][0]
        want = "ukvm-last: %s was %s, became %s" % (e, self.value_text(k, j), self.value_text(k, j + 1))
        return "" if want in out else "no line '%s'" % want

    def watch_ok(self, out, k, j):
        old, new = self.value_text(k, j + 1), self.value_text(k, j)
        if "Old value = %s" % old in out and "New value = %s" % new in out:
            return ""
        return "no 'Old value = %s' / 'New value = %s'" % (old, new)

    def last_and_watch(self, n, zero_before):
        for k, (e, _, _) in enumerate(self.log.exprs):
            ch = self.changes(k)
            if not ch:
                continue
            for _ in range(n):
                i = self.rng.randrange(ch[0] + 1, len(self.log.regs))
                self.chain("ukvm-last", k, i, "ukvm-last " + e, "ukvm-last", zero_before,
                           self.last_ok)
                i = self.rng.randrange(ch[0] + 1, len(self.log.regs))
                self.chain("watch+reverse-continue", k, i, "reverse-continue", "reverse-continue",
                           zero_before, self.watch_ok, watch=True)


def main(og):
    global LOGFILE
    LOGFILE = og.get("logfile")
    name = og["name"]
    rng = random.Random(og.get("seed", 1))
    t0 = time.time()
    log = record(og["base"], og["steps"], og.get("exprs", []))
    print("LOG %s steps %d trusted %d end gdb secs %.1f" % (name, len(log.regs), len(log.regs),
                                                          time.time() - t0))
    print("WATCH %s %s" % (name, " ".join("%s(0x%x,%d)" % x for x in log.exprs)))
    nav = Nav(log, og["base"])
    ck = Checks(log, nav, name, rng)
    n = og.get("points", 10)
    t0 = time.time()
    for step in (lambda: ck.reverse_stepi(n), lambda: ck.reverse_lines(n),
                 lambda: ck.reverse_finish(n), lambda: ck.last_and_watch(max(1, n // 4),
                                                                         og.get("zero_before", []))):
        try:
            step()
        except (RuntimeError, gdb.error) as e:
            ck.count("reach", False, str(e))
            nav.cur = None
    for kind in sorted(ck.results):
        ok, bad, sk = ck.results[kind]
        print("RESULT %s %s ok %d bad %d skipped %d" % (name, kind, ok, bad, sk))
    for kind, lst in ck.mism.items():
        for m in lst[:og.get("show", 4)]:
            print("MISMATCH %s %s seed %d %s" % (name, kind, og.get("seed", 1), m))
    print("TIME %s checks %.1f points %d restarts 0" % (name, time.time() - t0, n))

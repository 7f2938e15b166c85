"""The forward single-step log, the reverse-execution oracle's ground truth.

record(target, watches, steps) single-steps a replay from where it stands,
keeping at every step the 'g' bytes and the bytes of the watched ranges.
Log.check(insns, entries) then judges the log with the independent decoder
(insn_access.py) and fills in, per watched range and step, whether the
instruction executed from that step read or wrote the range:

  flow    a step ended where the instruction cannot go (not its fall-through,
          branch target, or, for one that traps or faults, the first
          instruction of an exception handler), or eflags shows TF: the
          guest never sets it, so it is the debugger's. These steps cut the
          log into segments; a check may only rely on the log within one,
          and only the first segment is used at all: after a debugger's TF
          leaked into the guest (an exception frame, a pushed flags word) the
          log's states are ones a run without the debugger never has.
  oracle  a watched byte changed at a step whose instruction the decoder
          does not see writing it, or rip is not an instruction objdump
          knows, or the decoder cannot classify an access to watched bytes:
          the oracle itself is wrong there and says so.
"""
import insn_access
from rsp_target import TF, split_regs


class Watch:
    def __init__(self, name, addr, length):
        self.name, self.addr, self.len = name, addr, length

    def __repr__(self):
        return "%s(0x%x,%d)" % (self.name, self.addr, self.len)


def spans(watches, gap=64):
    """Merge the watched ranges into few (address, length) reads."""
    out = []
    for a, n in sorted((w.addr, w.len) for w in watches):
        if out and a <= out[-1][0] + out[-1][1] + gap:
            last = out[-1]
            out[-1] = (last[0], max(last[1], a + n - last[0]))
        else:
            out.append((a, n))
    return out


class Log:
    def __init__(self, watches):
        self.watches = watches
        self.spans = spans(watches)
        self.g = []             # 'g' bytes per step
        self.regs = []          # split_regs of them
        self.mem = []           # {address: byte} over the spans, per step
        self.end = None         # the stop that ended the log
        self.flow = []          # (index, why): bad step index -> index+1
        self.oracle = []        # (index, why)
        self.seg = []           # segment number per step
        self.reads = {}         # watch name -> [bool per step]
        self.writes = {}

    def rip(self, i):
        return self.regs[i]["rip"]

    def bytes_of(self, i, w):
        return bytes(self.mem[i][w.addr + k] for k in range(w.len))

    def add(self, t):
        g = t.regs_raw()
        m = {}
        for a, n in self.spans:
            data = t.mem(a, n)
            for k in range(n):
                m[a + k] = data[k]
        self.g.append(g)
        self.regs.append(split_regs(g))
        self.mem.append(m)

    def __len__(self):
        return len(self.g)

    def check(self, insns, entries):
        n = len(self)
        for w in self.watches:
            self.reads[w.name] = [False] * n
            self.writes[w.name] = [False] * n
        seg = 0
        for i in range(n):
            self.seg.append(seg)
            r = self.regs[i]
            if r["eflags"] & TF:
                self.flow.append((i, "eflags 0x%x shows TF at rip 0x%x" % (r["eflags"], r["rip"])))
            if i == n - 1:
                break
            ins = insns.get(r["rip"])
            nxt = self.regs[i + 1]
            if ins is None:
                self.oracle.append((i, "rip 0x%x is not an instruction in objdump's listing" % r["rip"]))
                seg += 1
                continue
            succ = ins.successors(entries)
            trapped = nxt["rip"] in entries and nxt["rip"] not in (ins.next, ins.branch_target())
            if succ is not None and nxt["rip"] not in succ:
                self.flow.append((i, "step from 0x%x (%s) ended at 0x%x, expected %s" % (
                    r["rip"], ins.text.strip(), nxt["rip"],
                    " or ".join("0x%x" % x for x in sorted(succ)))))
                seg += 1
            elif nxt["eflags"] & TF:
                seg += 1
            acc = [] if trapped else ins.accesses(r, nxt)
            # one step is one whole instruction, a rep string one too (ukvm
            # steps it to its end, and reports a watch hit inside it after
            # it): its accesses are those of all its iterations
            written = set()
            for a, ln, mode in acc:
                for w in self.watches:
                    if insn_access.overlap(a, ln, w.addr, w.len):
                        if "r" in mode:
                            self.reads[w.name][i] = True
                        if "w" in mode:
                            self.writes[w.name][i] = True
                if "w" in mode:
                    written.update(range(a, a + ln))
            if ins.unknown:
                self.oracle.append((i, "cannot classify %s at 0x%x" % (ins.unknown, r["rip"])))
            for a in self.mem[i]:
                if self.mem[i][a] != self.mem[i + 1][a] and a not in written:
                    self.oracle.append((i, "byte 0x%x changed (0x%02x -> 0x%02x) at 0x%x (%s), "
                                        "which the decoder does not see writing it" % (
                                            a, self.mem[i][a], self.mem[i + 1][a], r["rip"],
                                            ins.text.strip())))
                    break
        return self

    def hits(self, name, kind, i):
        """Does the instruction at step i make an access of KIND (2 write,
        3 read, 4 either) to watch NAME? None: the log cannot say."""
        r, w = self.reads[name][i], self.writes[name][i]
        if kind == 2:
            return w
        if kind == 3:
            return r
        return None if None in (r, w) else r or w


def record(t, watches, steps):
    """Single-step STEPS times (or until a stop that is not a plain trap)
    from where T stands; the log has the state before every step."""
    log = Log(watches)
    log.add(t)
    for _ in range(steps):
        st = t.resume("s")
        if st.kind != "trap":
            log.end = st
            break
        log.add(t)
    return log


def cheapest_anchor(rip_of, cur, i):
    """The cheapest way from step cur to step i of a log: (anchor, n, at),
    a breakpoint at rip `anchor` continued n times arrives at step `at`,
    then single steps; anchor None: single steps all the way. rip_of(j)
    is step j's rip. A continue costs 1.5 steps."""
    count, last = {}, {}
    for j in range(cur + 1, i + 1):
        r = rip_of(j)
        count[r] = count.get(r, 0) + 1
        last[r] = j
    best = (i - cur, None, 0, cur)
    for r, n in count.items():
        cost = 1.5 * n + (i - last[r])
        if cost < best[0]:
            best = (cost, r, n, last[r])
    return best[1:]

# gdb python helpers for tests/integration/reverse.sh, loaded with
# `-ex 'source .../revcheck.py'`. Every command prints lines that the shell
# script greps; a line starting with "RV-BAD" is a failed comparison.
#
#   rv-state LABEL            print "STATE LABEL pc=0x.. <regs> mem=<sha1>"
#   rv-roundtrip LABEL N      stepi N times recording the state after each
#                             step (pc, general registers, eflags), printing
#                             "FWD i 0x<pc> <x/i text>" per step; then
#                             reverse-stepi N times and compare each state
#                             with the forward one. Ends with
#                             "ROUNDTRIP LABEL OK N" or "ROUNDTRIP LABEL BAD k".
#   rv-backtrip LABEL N       the other way round: reverse-stepi N times
#                             recording the states ("BWD i 0x<pc> <x/i>"),
#                             then stepi N times comparing them; ends with
#                             "BACKTRIP LABEL OK N" or "BACKTRIP LABEL BAD k".
#   rv-save NAME / rv-cmp NAME LABEL
#                             remember the full state (registers + memory
#                             hash) under NAME / compare the current state
#                             with it: "CMP LABEL OK" or "CMP LABEL BAD ...".
#   rv-do LABEL CMD           print "BEGIN LABEL", run the gdb command CMD
#                             (gdb prints the stop itself; whatever it
#                             returns is printed prefixed by "OUT LABEL | "),
#                             then "AT LABEL 0x<pc> <elapsed seconds>".
#   rv-until-call MAX         stepi until the current instruction is a call
#                             (at most MAX steps); prints "CALLAT 0x<pc> <len>".
#   rv-steprec NAME PC MAX    stepi until pc == PC (at most MAX steps; PC
#                             may be a name given to rv-save: its pc),
#                             remembering the state after every step under NAME
#                             (the states are kept as a list); prints
#                             "STEPREC NAME <steps> 0x<pc>".
#   rv-inrec NAME LABEL       the current state must be the latest one of
#                             NAME's list with the same pc: "INREC LABEL OK
#                             <index> 0x<pc>" or "INREC LABEL BAD ...".
#   rv-eval LABEL EXPR        print "EVAL LABEL <value of EXPR>".
# The memory hashed is set with `python RV_MEM = [(addr, len), ...]`.
import hashlib
import time
import gdb

REGS = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
        "rip", "eflags", "cs", "ss", "ds", "es", "fs", "gs",
        "fs_base", "gs_base"]
RV_MEM = []
_saved = {}


def pc():
    return int(gdb.parse_and_eval("$pc")) & 0xFFFFFFFFFFFFFFFF


def regs():
    out = {}
    for r in REGS:
        try:
            out[r] = int(gdb.parse_and_eval("$" + r)) & 0xFFFFFFFFFFFFFFFF
        except gdb.error:
            out[r] = None
    return out


def memhash():
    h = hashlib.sha1()
    inf = gdb.selected_inferior()
    for addr, ln in RV_MEM:
        h.update(bytes(inf.read_memory(addr, ln)))
    return h.hexdigest()


def state():
    s = regs()
    s["mem"] = memhash() if RV_MEM else ""
    return s


def fmt(s):
    return " ".join("%s=%s" % (k, ("0x%x" % v) if isinstance(v, int) else v)
                    for k, v in s.items())


def diff(a, b):
    return ["%s: 0x%x vs 0x%x" % (k, a[k], b[k]) if isinstance(a[k], int) and isinstance(b[k], int)
            else "%s: %s vs %s" % (k, a[k], b[k])
            for k in a if a[k] != b.get(k)]


def xi():
    return gdb.execute("x/i $pc", to_string=True).strip().replace("\n", " ")


class State(gdb.Command):
    def __init__(self):
        super().__init__("rv-state", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        print("STATE %s %s" % (arg, fmt(state())))


class Save(gdb.Command):
    def __init__(self):
        super().__init__("rv-save", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        _saved[arg.strip()] = state()
        print("SAVED %s pc=0x%x" % (arg.strip(), pc()))


class Cmp(gdb.Command):
    def __init__(self):
        super().__init__("rv-cmp", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        name, label = arg.split(None, 1)
        if name not in _saved:
            print("CMP %s BAD nothing saved under %s" % (label, name))
            return
        d = diff(_saved[name], state())
        if d:
            print("CMP %s BAD %s" % (label, "; ".join(d)))
        else:
            print("CMP %s OK" % label)


class Do(gdb.Command):
    def __init__(self):
        super().__init__("rv-do", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        label, cmd = arg.split(None, 1)
        print("BEGIN %s" % label)
        t0 = time.time()
        try:
            out = gdb.execute(cmd, to_string=True)
        except gdb.error as e:
            out = "ERROR: %s" % e
        el = time.time() - t0
        for line in out.splitlines():
            print("OUT %s | %s" % (label, line))
        try:
            print("AT %s 0x%x %.2f" % (label, pc(), el))
        except gdb.error as e:
            print("AT %s none %.2f (%s)" % (label, el, e))


class UntilCall(gdb.Command):
    def __init__(self):
        super().__init__("rv-until-call", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        n = int(arg or "100")
        arch = gdb.selected_frame().architecture()
        for _ in range(n):
            d = arch.disassemble(pc())[0]
            if d["asm"].startswith("call"):
                print("CALLAT 0x%x %d %s" % (pc(), d["length"], d["asm"]))
                return
            gdb.execute("stepi", to_string=True)
        print("CALLAT none")


class Roundtrip(gdb.Command):
    def __init__(self):
        super().__init__("rv-roundtrip", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        label, n = arg.split()
        n = int(n)
        fwd = [state()]
        print("FWD %s 0 0x%x %s" % (label, pc(), xi()))
        t0 = time.time()
        for i in range(1, n + 1):
            out = gdb.execute("stepi", to_string=True)
            fwd.append(state())
            print("FWD %s %d 0x%x %s" % (label, i, pc(), xi()))
            if "exited" in out or "No more" in out:
                print("RV-BAD %s forward stepi %d: %s" % (label, i, out.strip()))
                print("ROUNDTRIP %s BAD forward" % label)
                return
        t1 = time.time()
        bad = 0
        for i in range(n - 1, -1, -1):
            try:
                out = gdb.execute("reverse-stepi", to_string=True)
            except gdb.error as e:
                out = "ERROR: %s" % e
            s = state()
            d = diff(fwd[i], s)
            if "No more reverse-execution history" in out or "ERROR" in out:
                d.append("gdb said: " + out.strip().replace("\n", " / "))
            if d:
                bad += 1
                if bad <= 10:
                    print("RV-BAD %s reverse-stepi to step %d (fwd pc 0x%x): %s" %
                          (label, i, fwd[i]["rip"], "; ".join(d)))
        t2 = time.time()
        print("TIMES %s forward %.2f reverse %.2f" % (label, t1 - t0, t2 - t1))
        if bad:
            print("ROUNDTRIP %s BAD %d" % (label, bad))
        else:
            print("ROUNDTRIP %s OK %d" % (label, n))


class StepRec(gdb.Command):
    def __init__(self):
        super().__init__("rv-steprec", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        name, want, n = arg.split()
        want = _saved[want]["rip"] if want in _saved else int(want, 0)
        lst = [state()]
        for _ in range(int(n)):
            if pc() == want:
                break
            gdb.execute("stepi", to_string=True)
            lst.append(state())
        _saved[name] = lst
        print("STEPREC %s %d 0x%x" % (name, len(lst) - 1, pc()))


class InRec(gdb.Command):
    def __init__(self):
        super().__init__("rv-inrec", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        name, label = arg.split(None, 1)
        lst = _saved.get(name) or []
        now = state()
        for i in range(len(lst) - 1, -1, -1):
            if lst[i]["rip"] == now["rip"]:
                d = diff(lst[i], now)
                if d:
                    print("INREC %s BAD state %d at 0x%x differs: %s" %
                          (label, i, now["rip"], "; ".join(d)))
                else:
                    print("INREC %s OK %d 0x%x" % (label, i, now["rip"]))
                return
        print("INREC %s BAD pc 0x%x was not visited by the forward steps" % (label, now["rip"]))


class Eval(gdb.Command):
    def __init__(self):
        super().__init__("rv-eval", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        label, expr = arg.split(None, 1)
        try:
            print("EVAL %s %s" % (label, gdb.parse_and_eval(expr).format_string()))
        except gdb.error as e:
            print("EVAL %s ERROR %s" % (label, e))


class Backtrip(gdb.Command):
    def __init__(self):
        super().__init__("rv-backtrip", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        label, n = arg.split()
        n = int(n)
        bwd = [state()]
        print("BWD %s 0 0x%x %s" % (label, pc(), xi()))
        for i in range(1, n + 1):
            try:
                out = gdb.execute("reverse-stepi", to_string=True)
            except gdb.error as e:
                out = "ERROR: %s" % e
            bwd.append(state())
            print("BWD %s %d 0x%x %s" % (label, i, pc(), xi()))
            if "No more reverse-execution history" in out or "ERROR" in out:
                print("RV-BAD %s reverse-stepi %d: %s" % (label, i, out.strip().replace("\n", " / ")))
                print("BACKTRIP %s BAD reverse" % label)
                return
        bad = 0
        for i in range(n - 1, -1, -1):
            try:
                out = gdb.execute("stepi", to_string=True)
            except gdb.error as e:
                out = "ERROR: %s" % e
            d = diff(bwd[i], state())
            if "ERROR" in out:
                d.append("gdb said: " + out.strip())
            if d:
                bad += 1
                if bad <= 10:
                    print("RV-BAD %s stepi to back-step %d (pc 0x%x): %s" %
                          (label, i, bwd[i]["rip"], "; ".join(d)))
        if bad:
            print("BACKTRIP %s BAD %d" % (label, bad))
        else:
            print("BACKTRIP %s OK %d" % (label, n))


State()
Backtrip()
Save()
StepRec()
InRec()
Eval()
Cmp()
Do()
UntilCall()
Roundtrip()

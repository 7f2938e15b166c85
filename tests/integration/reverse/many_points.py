# gdb python: reverse-continue with more breakpoints than one segment's
# counting once held (64). From the start, single steps collect the first
# $many_n distinct instruction addresses the guest runs (start-up code is
# mostly straight); back at the start, a breakpoint goes on each, and
# forward `continue` logs every stop (pc and registers): the oracle.
# reverse-continue from the last must retrace that log stop by stop, in
# the same states.
import gdb

N = int(gdb.parse_and_eval("$many_n"))
STOPS = int(gdb.parse_and_eval("$many_stops"))
NAMES = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9",
         "r10", "r11", "r12", "r13", "r14", "r15", "rip", "eflags"]


def state():
    f = gdb.selected_frame()
    # TF/RF: the debugger's, never compared
    return tuple(int(f.read_register(n)) & (~0x10100 if n == "eflags" else ~0)
                 for n in NAMES)


def out(*a):
    print(" ".join(str(x) for x in a), flush=True)


seen, order = set(), []
for _ in range(20000):
    pc = int(gdb.parse_and_eval("$pc"))
    if pc not in seen:
        seen.add(pc)
        order.append(pc)
        if len(order) == N:
            break
    gdb.execute("stepi", to_string=True)
out("POINTS", len(order))
gdb.execute("monitor goto start", to_string=True)
gdb.execute("flushregs", to_string=True)
for a in order:
    gdb.execute("break *0x%x" % a, to_string=True)
log = [state()]
for _ in range(STOPS):
    gdb.execute("continue", to_string=True)
    log.append(state())
hit = set(s[16] for s in log)
out("DISTINCT", len(hit))
bad = 0
for i in range(len(log) - 2, -1, -1):
    gdb.execute("reverse-continue", to_string=True)
    now = state()
    if now != log[i]:
        bad += 1
        if bad <= 3:
            out("MISMATCH", i, "want pc 0x%x got pc 0x%x" % (log[i][16], now[16]))
out("RETRACED", len(log) - 1 - bad, "OF", len(log) - 1)

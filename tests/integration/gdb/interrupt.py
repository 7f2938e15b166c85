# gdb python helpers for gdb_interrupt.sh: time a command that gdb's Ctrl-C
# (a real SIGINT to gdb, from a timer thread) interrupts, and print the state
# to compare with a fresh replay.
#
#   ctlc-run LABEL DELAY CMD...  runs CMD; DELAY seconds after it starts
#                                (DELAY < 0: never) gdb gets SIGINT. Prints
#                                "TIMED LABEL <secs> <after-sigint> <pc> <stop>"
#                                where stop is the signal gdb reported (SIGINT),
#                                Quit (gdb gave up a command) or "other".
#   ctlc-state LABEL             prints "STATE LABEL <registers> <rounds_done>"
import os
import signal
import threading
import time

import gdb

GPRS = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10",
        "r11", "r12", "r13", "r14", "r15", "rip"]


last_stop = []


def on_stop(ev):
    last_stop.append(ev.stop_signal if isinstance(ev, gdb.SignalEvent) else "other")


gdb.events.stop.connect(on_stop)


def pc():
    return int(gdb.parse_and_eval("(long)$pc"))


class CtlcRun(gdb.Command):
    def __init__(self):
        super().__init__("ctlc-run", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        label, delay, cmd = arg.split(None, 2)
        delay = float(delay)
        timer = None
        if delay >= 0:
            timer = threading.Timer(delay, lambda: os.kill(os.getpid(), signal.SIGINT))
            timer.start()
        del last_stop[:]
        t0 = time.time()
        try:
            out = gdb.execute(cmd, to_string=True)
        except gdb.error as e:
            out = "error: %s" % e
        except KeyboardInterrupt:  # gdb's Quit: a Ctrl-C outside a resume
            out = "Quit"
            last_stop.append("Quit")
        took = time.time() - t0
        if timer:
            timer.cancel()
        after = took - delay if delay >= 0 else -1.0
        stop = last_stop[-1] if last_stop else "none"
        gdb.write("OUT %s %s\n" % (label, " | ".join(out.strip().splitlines())[-300:]))
        gdb.write("TIMED %s %.3f %.3f %#x %s\n" % (label, took, after, pc(), stop))


class CtlcState(gdb.Command):
    def __init__(self):
        super().__init__("ctlc-state", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        vals = ["%s=%#x" % (r, int(gdb.parse_and_eval("(long)$" + r)) & (2**64 - 1))
                for r in GPRS]
        rounds = int(gdb.parse_and_eval("rounds_done"))
        gdb.write("STATE %s %s rounds=%d\n" % (arg.strip(), " ".join(vals), rounds))


CtlcRun()
CtlcState()

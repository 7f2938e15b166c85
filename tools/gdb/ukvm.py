# ukvm's gdb extension: commands for debugging a ukvm replay.
#
# Load it with `source /path/to/ukvm.py` (`ukvm debug` and the line printed
# by `ukvm replay --gdb` do it for you). It adds:
#
#   ukvm-last [EXPR]   go back to the last write that changed EXPR's bytes,
#                      print the old and new values and where it happened;
#                      again (or with no EXPR), the write before that
#   ukvm-when          where the replay is (ukvm's `monitor when`)
#   ukvm-goto WHERE    go to an event, start, end or a bookmark
#                      (`monitor goto`; once the guest has exited, `starti
#                      WHERE`), with completion
#
# and a post-hook on `monitor` that flushes gdb's register and memory caches,
# so that a plain `monitor goto` is seen by gdb too.
#
# ukvm-last is a write watchpoint on EXPR's bytes and reverse-continue under
# the hood: it needs no more of the server than gdb's own reverse commands.
import gdb


def _bytes_at(addr, size):
    return bytes(gdb.selected_inferior().read_memory(addr, size))


def _show(raw, typ):
    try:
        return str(gdb.Value(raw, typ))
    except (gdb.error, TypeError, ValueError):
        return "0x" + raw[::-1].hex()


def _entry_point():
    for line in gdb.execute("info files", to_string=True).splitlines():
        if line.strip().startswith("Entry point:"):
            return int(line.split(":", 1)[1].strip(), 16)
    return -1


class UkvmLast(gdb.Command):
    """Go back to the last write that changed EXPR's bytes.

Usage: ukvm-last [EXPR]
Runs backwards (a write watchpoint on EXPR's bytes and reverse-continue)
to the instruction that last changed them, and stops on it, before it
writes; it prints the value before and after that write and where it was
made. Run it with no argument for the write before that, to the same bytes
(the address EXPR had, even once its frame is gone). Writes that stored the bytes already there are
passed over. Stops early, and says so, at the start of the recording or at
one of your own breakpoints."""

    def __init__(self):
        super().__init__("ukvm-last", gdb.COMMAND_RUNNING, gdb.COMPLETE_EXPRESSION)
        # what the last call watched: its text, address and type. A bare
        # `ukvm-last` goes on with these, not with the text, which names
        # nothing once the search has left the frame of a local variable.
        self.last = None

    def invoke(self, arg, from_tty):
        if arg.strip():
            expr = arg.strip()
            val = gdb.parse_and_eval(expr)
            if val.address is None:
                raise gdb.GdbError("ukvm-last: '%s' is not in memory (it has no address)" % expr)
            if val.type.sizeof == 0:
                raise gdb.GdbError("ukvm-last: '%s' has no bytes" % expr)
            self.last = (expr, int(val.address), val.type)
        elif self.last is None:
            raise gdb.GdbError("usage: ukvm-last EXPR (a variable, field or *pointer)")
        expr, addr, typ = self.last
        size = typ.sizeof
        spec = "*(unsigned char (*)[%d]) 0x%x" % (size, addr)
        wp = gdb.Breakpoint(spec, gdb.BP_WATCHPOINT, gdb.WP_WRITE, internal=True)
        wp.silent = True            # we print the change ourselves
        try:
            while True:
                after = _bytes_at(addr, size)
                hits = wp.hit_count
                out = gdb.execute("reverse-continue", to_string=True)
                if wp.hit_count == hits or not wp.is_valid():
                    # gdb prints the end of history itself, outside `out`
                    if int(gdb.selected_frame().pc()) == _entry_point():
                        print("ukvm-last: no earlier write changed %s: this is the start "
                              "of the recording" % expr)
                    else:
                        print("ukvm-last: stopped before finding a write to %s:" % expr)
                        print(out.rstrip())
                    return
                before = _bytes_at(addr, size)
                if before != after:
                    break
        finally:
            if wp.is_valid():
                wp.delete()
        frame = gdb.selected_frame()
        sal = frame.find_sal()
        where = "0x%x" % frame.pc()
        if frame.name():
            where += " in %s" % frame.name()
        if sal.symtab:
            where += " (%s:%d)" % (sal.symtab.filename, sal.line)
        print("ukvm-last: %s was %s, became %s" % (expr, _show(before, typ), _show(after, typ)))
        print("  written by the instruction at %s" % where)
        gdb.execute("frame", to_string=False)


class UkvmWhen(gdb.Command):
    """Where the replay is: event number, instructions since it, guest time.

Usage: ukvm-when   (ukvm's `monitor when`)"""

    def __init__(self):
        super().__init__("ukvm-when", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        gdb.execute("monitor when" + (" " + arg if arg.strip() else ""))


class UkvmGoto(gdb.Command):
    """Go to a point of the recording.

Usage: ukvm-goto EVENT | +N | -N | start | end | BOOKMARK   (`monitor goto`)"""

    def __init__(self):
        super().__init__("ukvm-goto", gdb.COMMAND_RUNNING)

    def invoke(self, arg, from_tty):
        if not arg.strip():
            raise gdb.GdbError("usage: ukvm-goto EVENT | +N | -N | start | end | BOOKMARK")
        if gdb.selected_thread() is None:
            # the guest has exited (or was killed): over extended-remote,
            # starting it over at the place is what makes gdb see it again
            gdb.execute("starti " + arg.strip())
            return
        gdb.execute("monitor goto " + arg.strip())
        # gdb's view of registers and memory follows the move
        gdb.execute("maintenance flush register-cache", to_string=True)
        gdb.execute("frame", to_string=False)

    def complete(self, text, word):
        names = ["start", "end"]
        try:
            listing = gdb.execute("monitor bookmarks", to_string=True)
            names += [line.split()[0] for line in listing.splitlines()
                      if line.strip() and not line.startswith(" ")]
        except gdb.error:
            pass
        return [n for n in names if n.startswith(word or "")]


UkvmLast()
UkvmWhen()
UkvmGoto()

# A `monitor goto` moves the replay behind gdb's back: after any monitor
# command, make gdb read registers and memory again (gdb keeps them cached
# across a monitor command otherwise).
gdb.execute("define hookpost-monitor\n"
            "maintenance flush register-cache\n"
            "maintenance flush dcache\n"
            "end")

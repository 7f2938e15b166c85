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
#   gcore [FILE]       gdb's gcore (generate-core-file), made to work on a
#                      ukvm guest, live or replayed: see UkvmGcore below
#
# and a post-hook on `monitor` that flushes gdb's register and memory caches,
# so that a plain `monitor goto` is seen by gdb too.
#
# ukvm-last is a write watchpoint on EXPR's bytes and reverse-continue under
# the hood: it needs no more of the server than gdb's own reverse commands.
import os
import re
import tempfile

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


# gdb writes x86-64 core notes only for a GNU/Linux target whose
# description has this feature (orig_rax). ukvm's description leaves it
# out: with it, every session would treat the kernel as a dynamically
# linked Linux program (Solo5 kernels name an interpreter), reading it from
# the server and warning at each connect, and `info registers` would lose
# fs_base and gs_base. So `gcore` adds it for its own length only.
_LINUX_FEATURE = "org.gnu.gdb.i386.linux"
_UKVM_FEATURE = "org.ukvm.x86.sys"


def _gcore_description():
    """ukvm's description with orig_rax added, or None when the target is
    not ukvm (or already describes orig_rax)."""
    try:
        xml = gdb.execute("maintenance print xml-tdesc", to_string=True)
    except gdb.error:           # a gdb without the command
        return None
    if _UKVM_FEATURE not in xml or _LINUX_FEATURE in xml:
        return None
    nums = [int(n) for n in re.findall(r'regnum="(\d+)"', xml)]
    if not nums or "</target>" not in xml:
        return None
    # the server answers orig_rax (always -1) as the number after its last
    feature = ('  <feature name="%s">\n'
               '    <reg name="orig_rax" bitsize="64" type="int" regnum="%d"/>\n'
               '  </feature>\n' % (_LINUX_FEATURE, max(nums) + 1))
    return xml.replace("</target>", feature + "</target>")


class UkvmGcore(gdb.Command):
    """Write a core file of the guest as it is now (gdb's generate-core-file).

Usage: gcore [FILE]   (default: core.PID in gdb's directory)
On a ukvm target (`ukvm run --gdb`, `ukvm replay --gdb`, `ukvm debug`),
gdb's own generate-core-file says "Can't create a corefile": it writes
x86-64 cores only for a target described with orig_rax, which ukvm's
description leaves out. This command switches to a description with
orig_rax (a local copy of ukvm's, `set tdesc filename`) for the length of
generate-core-file and then back to ukvm's, so the session is as before.
The core holds the registers, the kernel's sections and the stack; read
it with `gdb KERNEL FILE`. On any other target it is plain
generate-core-file."""

    def __init__(self):
        super().__init__("gcore", gdb.COMMAND_FILES, gdb.COMPLETE_FILENAME)

    @staticmethod
    def _generate(arg, from_tty):
        try:
            gdb.execute("generate-core-file " + arg, from_tty)
        except gdb.error as e:
            raise gdb.GdbError(str(e))  # gdb's message, without a traceback

    def invoke(self, arg, from_tty):
        xml = None
        if gdb.selected_thread() is not None:
            xml = _gcore_description()
        if xml is None:
            self._generate(arg, from_tty)
            return
        level = gdb.selected_frame().level()
        own = gdb.parameter("tdesc filename")  # the user's, if any
        fd, path = tempfile.mkstemp(prefix="ukvm-gcore-", suffix=".xml")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(xml)
            gdb.execute("set tdesc filename " + path, to_string=True)
            self._generate(arg, from_tty)
        finally:
            gdb.execute("set tdesc filename " + own if own else "unset tdesc filename",
                        to_string=True)
            os.unlink(path)
            # a new description resets gdb's frames: select the user's again
            gdb.execute("frame %d" % level, to_string=True)


UkvmLast()
UkvmWhen()
UkvmGoto()
UkvmGcore()

# A `monitor goto` moves the replay behind gdb's back: after any monitor
# command, make gdb read registers and memory again (gdb keeps them cached
# across a monitor command otherwise).
gdb.execute("define hookpost-monitor\n"
            "maintenance flush register-cache\n"
            "maintenance flush dcache\n"
            "end")

"""reverse_settle.sh's two ways to one moment, over the raw protocol (gdb
itself steps off a breakpoint before it continues, which puts no
checkpoint on the breakpoint's instruction).

settle.py PORT OUT RT_BI continues|goto: prints `STOP KIND RIP` for the
reverse-continue to the access watch on RT_BI's 8 bytes, from the
instruction before the `out` at OUT, reached by six `c` to a breakpoint on
OUT (a checkpoint on it at each), or by `monitor goto 11` (just before
event 11, on that `out`)."""
import struct
import sys

from rsp_target import Target


def main():
    port, out, rt_bi, way = int(sys.argv[1]), int(sys.argv[2], 0), int(sys.argv[3], 0), sys.argv[4]
    t = Target(port, timeout=120)
    if way == "continues":
        t.point(True, 0, out, 1)
        for _ in range(6):
            st = t.resume("c")
            if st.kind != "swbreak":
                print("BAD continue: %r" % st)
                return
        t.point(False, 0, out, 1)
    else:
        text, reply = t.monitor("goto 11")
        if reply != b"OK":
            print("BAD goto: %s %r" % (text.strip(), reply))
            return
    st = t.resume("bs")
    if st.kind != "trap":
        print("BAD reverse-stepi: %r" % st)
        return
    t.point(True, 4, rt_bi, 8)
    st = t.resume("bc")
    rip = struct.unpack_from("<Q", t.regs_raw(), 16 * 8)[0]
    print("STOP %s %#x" % (st.kind, rip))
    t.kill()


main()

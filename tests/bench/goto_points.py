# gdb script for bench_goto.sh: with $bench_from_end = 0, times
# `monitor goto EVENT` from the start of the replay; with 1, goes to the end
# first (`monitor goto end`, which leaves periodic checkpoints behind) and
# times `monitor goto EVENT` from there. Prints "GOTO s=<secs>"; the
# caller asks `monitor when`. (Not to_string: gdb 13 then drops the output
# of later monitor commands.)
import gdb, time

EVENT = int(gdb.parse_and_eval("$bench_event"))
if int(gdb.parse_and_eval("$bench_from_end")):
    gdb.execute("monitor goto end")
t = time.time()
gdb.execute("monitor goto %d" % EVENT)
print("GOTO s=%.4f" % (time.time() - t))

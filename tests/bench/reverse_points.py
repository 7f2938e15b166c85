# gdb script for bench_reverse.sh: visit points spread over a long compute
# run and time reverse-stepi and reverse-continue at each (wall time seen by
# gdb). Prints one "POINT <n> rstep_s=<s> rcont_s=<s>" line per point.
import gdb, time, random

random.seed(7)
POINTS = int(gdb.parse_and_eval("$bench_points"))
HOP = int(gdb.parse_and_eval("$bench_hop"))

def timed(cmd):
    t = time.time()
    gdb.execute(cmd, to_string=True)
    return time.time() - t

gdb.execute("break hash_table", to_string=True)
for n in range(POINTS):
    gdb.execute("ignore 1 %d" % HOP, to_string=True)
    gdb.execute("continue", to_string=True)
    steps = 0 if n % 2 == 0 else random.randint(1, 400)
    if steps:
        gdb.execute("stepi %d" % steps, to_string=True)
    rstep = timed("reverse-stepi")
    gdb.execute("ignore 1 0", to_string=True)
    rcont = timed("reverse-continue")
    print("POINT %d steps=%d rstep_s=%.4f rcont_s=%.4f" % (n, steps, rstep, rcont))
gdb.execute("kill", to_string=True)

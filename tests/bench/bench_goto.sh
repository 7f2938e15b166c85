#!/usr/bin/env bash
# `monitor goto` (issue 10): the time to go to an event near the end of the
# 5-million-instruction compute trace, from the replay's start and from its
# end, against the forward run to that event from the nearest checkpoint
# plus 100 ms. From the start the nearest checkpoint is the boot, and the
# forward run is timed as a plain `continue` to a breakpoint on the event's
# instruction in a fresh replay. From the end it is the guest execution
# time of the goto's own run from the checkpoint it restored
# (UKVM_REPLAY_STATS exec_ns), shown with the checkpoint period it must stay
# within. Prints "  LABEL  VALUE  TARGET  PASS|MISS" lines.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
UKVM=${UKVM:-$TOP/ukvm}
TRACE_TOOL=${TRACE_TOOL:-$TOP/tools/ukvm-trace}
GUEST=${G:-$TOP/build/guests}/compute.elf
. "$TOP/tests/lib.sh" # ukvm_gdb_start, ukvm_gdb_stop
T=$(mktemp -d /tmp/ukvm-bench-goto.XXXXXX)
UKVM_PID=
trap 'rm -rf "$T" "$TMPDIR_TEST"; [ -n "$UKVM_PID" ] && kill "$UKVM_PID" 2>/dev/null' EXIT

row() { printf '  %-88s %12s  %-10s %s\n' "$1" "$2" "$3" "$4"; }
verdict_le() { awk -v a="$1" -v b="$2" 'BEGIN {print (a <= b) ? "PASS" : "MISS"}'; }

"$UKVM" record -o "$T/c.zst" "$GUEST" 150 >/dev/null || { echo "BUG: record compute 150"; exit 1; }
# the last event before the final halt: the puts of the result line
EV=$(( $(sed -n 's/^end: complete, \([0-9]*\) events.*/\1/p' <("$TRACE_TOOL" info "$T/c.zst")) - 2 ))
RIP=$("$TRACE_TOOL" dump --from "$EV" --count 1 "$T/c.zst" | sed -n 's/^#[0-9]* [a-z]* rip=\(0x[0-9a-f]*\).*/\1/p')
[ -n "$RIP" ] || { echo "BUG: no event $EV in the compute trace"; exit 1; }

# serve ERR: ukvm replay --gdb on a free port with its statistics on ERR
# (sets UKVM_PID and PORT); finish: end it (gdb's kill leaves it waiting)
serve() {
    UKVM_REPLAY_STATS=1 ukvm_gdb_start "$1" replay --gdb=0 "$T/c.zst" ||
        { echo "BUG: replay --gdb did not start: $(head -c 200 "$1")"; exit 1; }
}
finish() { ukvm_gdb_stop 0; }
min() { printf '%s\n' "$@" | sort -g | head -1; }
ms() { awk -v s="$1" 'BEGIN {printf "%.1f", s * 1000}'; }

# the reference: a forward continue from the start to the event's instruction
forward() {
    serve "$T/fwd.err"
    (cd "$T" && timeout 600 gdb -batch -nx -ex "target remote 127.0.0.1:$PORT" \
        -ex "break *$RIP" -ex 'python import time; t = time.time()' -ex continue \
        -ex 'python print("FWD s=%.4f" % (time.time() - t))' -ex 'monitor when' -ex kill) >"$T/fwd.out" 2>&1
    finish
    grep -q "^event $EV of " "$T/fwd.out" ||
        { echo "BUG: the breakpoint at $RIP is not event $EV: $(grep '^event' "$T/fwd.out")"; exit 1; }
    sed -n 's/^FWD s=//p' "$T/fwd.out"
}
# go_to FROM_END: the time of `monitor goto EV` (from the start, or from the end)
go_to() {
    serve "$T/goto$1.err"
    (cd "$T" && timeout 600 gdb -batch -nx -ex "set \$bench_event = $EV" -ex "set \$bench_from_end = $1" \
        -ex "target remote 127.0.0.1:$PORT" -x "$TOP/tests/bench/goto_points.py" -ex 'monitor when' -ex kill) >"$T/goto$1.out" 2>&1
    finish
    grep -q "^event $EV of .*just before it" "$T/goto$1.out" ||
        { echo "BUG: goto $EV did not land before event $EV: $(tail -3 "$T/goto$1.out")"; exit 1; }
    sed -n 's/^GOTO s=//p' "$T/goto$1.out"
}

# interleaved, twice each, the faster of each (the machine may be busy)
f1=$(forward) || { echo "$f1"; exit 1; }
s1=$(go_to 0) || { echo "$s1"; exit 1; }
f2=$(forward) || { echo "$f2"; exit 1; }
s2=$(go_to 0) || { echo "$s2"; exit 1; }
fwd=$(min "$f1" "$f2"); from_start=$(min "$s1" "$s2")
from_end=$(go_to 1) || { echo "$from_end"; exit 1; }
# the second stats line of that session: the goto's run from its checkpoint
exec_end_ms=$(sed -n 's/.*op=continue .*exec_ns=\([0-9]*\).*/\1/p' "$T/goto1.err" | sed -n 2p |
    awk '{printf "%.1f", $1 / 1e6}')
[ -n "$exec_end_ms" ] || { echo "BUG: no stats line for the goto from the end"; exit 1; }

echo "monitor goto event $EV of the compute 150 trace (about 5 million instructions)"
row "forward continue from the start to event $EV (the reference; faster of 2)" "$(ms "$fwd") ms" "-" info
row "monitor goto $EV from the start (faster of 2)" "$(ms "$from_start") ms" "<= $(ms "$fwd")+100" \
    "$(verdict_le "$(ms "$from_start")" "$(awk -v f="$(ms "$fwd")" 'BEGIN {print f + 100}')")"
row "monitor goto $EV from the end: re-execution from the checkpoint it restored" "$exec_end_ms ms" "-" info
row "monitor goto $EV from the end" "$(ms "$from_end") ms" "<= $exec_end_ms+100" \
    "$(verdict_le "$(ms "$from_end")" "$(awk -v f="$exec_end_ms" 'BEGIN {print f + 100}')")"

#!/usr/bin/env bash
# reverse-continue with many breakpoints (issue 18 item 3): the first 80
# distinct instruction addresses compute runs from its start, each with a
# breakpoint; 300 forward stops are the oracle, and 300 reverse-continue
# must land on them and the start in reverse order, state for state. Without checkpoints
# in between (a long tick), one segment's re-execution counts stops at all
# 80 addresses.
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST
HELPERS=$(cd "$(dirname "$0")/reverse" && pwd)
GDB=${GDB:-gdb}
require_kvm reverse_many_points || exit 0
command -v "$GDB" >/dev/null || { skip reverse_many_points "$GDB is not installed"; exit 0; }
G=$GUESTS/${MANY_GUEST:-flags}.elf
[ -e "$G" ] || { skip reverse_many_points "$G is not built (run make)"; exit 0; }
UKVM_PID=
trap '[ -n "$UKVM_PID" ] && kill -9 "$UKVM_PID" 2>/dev/null; [ -n "${REV_KEEP:-}" ] || rm -rf "$T"' EXIT
if ! run_capture "$T/rec.out" "$T/rec.err" "$UKVM" record -o "$T/c.trace" "$G"; then
    fail reverse_many_points_record "$(head -c 300 "$T/rec.err")"; exit 0
fi
if ! UKVM_TICK_US=100000000 ukvm_gdb_start "$T/srv.err" replay --gdb=0 "$T/c.trace"; then
    fail reverse_many_points_server "no port: $(head -c 300 "$T/srv.err")"; exit 0
fi
(cd "$T" && timeout -k 5 "${GDB_TIMEOUT:-300}" "$GDB" -nx -batch -ex "set \$many_n = 80" \
    -ex "set \$many_stops = 300" -ex "target remote 127.0.0.1:$PORT" \
    -x "$HELPERS/many_points.py" -ex kill >"$T/gdb.out" 2>&1)
ukvm_gdb_stop 5
points=$(awk '$1 == "POINTS" {print $2}' "$T/gdb.out")
distinct=$(awk '$1 == "DISTINCT" {print $2}' "$T/gdb.out")
read -r good total < <(awk '$1 == "RETRACED" {print $2, $4}' "$T/gdb.out")
echo "    many points: $points breakpoints, $distinct distinct stop addresses in the log, $good of $total retraced"
check reverse_many_points_set [ "${points:-0}" = 80 ]
check reverse_many_points_distinct [ "${distinct:-0}" -gt 64 ]
if [ -n "${total:-}" ] && [ "$total" = 300 ] && [ "$good" = "$total" ]; then
    pass reverse_many_points_retraced
else
    fail reverse_many_points_retraced "$(grep -m3 -E 'MISMATCH|Error|error|Traceback' "$T/gdb.out" "$T/srv.err" | head -c 400)"
fi

#!/usr/bin/env bash
# A long reverse-continue says how far it is, once a second, where gdb
# waits (console packets gdb prints while it waits for the stop), not on
# the replay's stderr (issue 20 item 5): a breakpoint never hit, from the
# end of a compute run of a few seconds back to its start.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lib/common.sh"
T=$TMPDIR_TEST
GDB=${GDB:-gdb}
require_kvm reverse_progress || exit 0
command -v "$GDB" >/dev/null || { skip reverse_progress "$GDB is not installed"; exit 0; }
G=$GUESTS/compute.elf
[ -e "$G" ] || { skip reverse_progress "$G is not built (run make)"; exit 0; }
UKVM_PID=
trap '[ -n "$UKVM_PID" ] && kill -9 "$UKVM_PID" 2>/dev/null; rm -rf "$T"' EXIT
# The search has to last a few seconds for a progress line to come, and
# how fast a compute run is depends on the KVM (kvm_pvm here is slower than
# kvm_amd in the test VM): record, and while the recording took under 2 s,
# record again with more rounds. A search back over the run costs about a
# replay of it, which costs about the recording.
if ! record_compute_lasting 2000 "$T/c.trace" "$T/rec.out" "$T/rec.err"; then
    fail reverse_progress_record "$(head -c 300 "$T/rec.err")"; exit 0
fi
echo "    recording of compute $COMPUTE_ROUNDS: $COMPUTE_MS ms"
if ! UKVM_REPLAY_STATS=1 ukvm_gdb_start "$T/srv.err" replay --gdb=0 "$T/c.trace"; then
    fail reverse_progress_server "no port: $(head -c 300 "$T/srv.err")"; exit 0
fi
# hc_block_read: compute has no block device, so it is never called
(cd "$T" && timeout -k 5 "${GDB_TIMEOUT:-600}" "$GDB" -nx -batch -ex "target remote 127.0.0.1:$PORT" \
    -ex 'break hc_block_read' -ex 'monitor goto end' -ex 'reverse-continue' \
    -ex 'printf "PC-AT-START %d\n", $pc == _start' -ex kill >"$T/gdb.out" 2>&1)
ukvm_gdb_stop 5
lines=$(grep -c '^ukvm: reverse-continue: searching the run between' "$T/gdb.out")
echo "    progress: $lines lines in gdb's output"
grep -m2 '^ukvm: reverse-continue: searching' "$T/gdb.out" | sed 's/^/    | /'
check reverse_progress_lands_at_start grep -q '^PC-AT-START 1$' "$T/gdb.out"
check reverse_progress_shown_by_gdb [ "${lines:-0}" -ge 1 ]
# each line: "between A s and B s ..., N s so far": N counts up one a
# second; A, where the search is, only goes back
if awk '/^ukvm: reverse-continue: searching the run between/ {
        a = $7 + 0; n = $(NF - 3) + 0
        if (seen && (a > pa || n < pn)) bad = 1
        pa = a; pn = n; seen = 1 }
        END { exit bad }' "$T/gdb.out"; then
    pass reverse_progress_goes_back_once_a_second
else
    fail reverse_progress_goes_back_once_a_second "$(grep '^ukvm: reverse-continue' "$T/gdb.out" | head -5)"
fi
# compute has no event between its start and its last lines, and every
# checkpoint is in a hot loop: the search must not stop at each iteration
# (a window ending at a checkpoint's rip did, for minutes in the test VM)
runs=$(grep "op=reverse-continue " "$T/srv.err" | sed -n "s/.* runs=\([0-9]*\).*/\1/p" | tail -1)
echo "    reverse-continue: ${runs:-?} KVM runs"
check reverse_progress_few_runs [ "${runs:-999999999}" -lt 2000 ]
if grep -q 'reverse-continue: searching' "$T/srv.err"; then
    fail reverse_progress_not_on_stderr "$(grep -m1 searching "$T/srv.err")"
else
    pass reverse_progress_not_on_stderr
fi

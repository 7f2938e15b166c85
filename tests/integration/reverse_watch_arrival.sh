#!/usr/bin/env bash
# reverse-continue to a breakpoint that a watch stop leaves rip on (the
# instruction right after a watched access), the watch being the anchor of
# the re-execution. The reverse oracle found this swallowed (traps,
# bc-swbreak, seed 275088, in a tree whose guest layout differs: the
# search went on to the start); with this tree's layout the old code
# happened to get it right, so this checks the case, it does not replay
# the failure. Addresses come from the ELF (nm, objdump).
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST
require_kvm reverse_watch_arrival || exit 0
G=$GUESTS/exceptions.elf
[ -e "$G" ] || { skip reverse_watch_arrival "$G is not built (run make)"; exit 0; }
for tool in nm objdump python3; do
    command -v "$tool" >/dev/null || { skip reverse_watch_arrival "$tool is not installed"; exit 0; }
done
UKVM_PID=
trap '[ -n "$UKVM_PID" ] && kill -9 "$UKVM_PID" 2>/dev/null; rm -rf "$T"' EXIT
seen=$(elf_sym "$G" seen)
dis=$(objdump -d --no-show-raw-insn "$G")
# the instruction after _start's rep stosb; the one after the store to seen+8
after_rep=$(awk '/rep stos/ { getline; sub(":", "", $1); print "0x" $1; exit }' <<<"$dis")
s8=$(printf '0x%x' $(( seen + 8 )))
after_stores=$(awk -v pat="$s8\\\\(" '$0 ~ pat && /mov/ { getline; sub(":", "", $1); print "0x" $1; exit }' <<<"$dis")
if [ -z "$seen" ] || [ -z "$after_rep" ] || [ -z "$after_stores" ]; then
    fail reverse_watch_arrival_layout "seen=$seen after_rep=$after_rep after_stores=$after_stores"; exit 0
fi
if ! run_capture "$T/rec.out" "$T/rec.err" "$UKVM" record -o "$T/e.trace" "$G"; then
    fail reverse_watch_arrival_record "$(head -c 300 "$T/rec.err")"; exit 0
fi
# no periodic checkpoints: the second reverse-continue's only segment
# starts at boot and ends at the watch's second hit
if ! UKVM_TICK_US=100000000 ukvm_gdb_start "$T/srv.err" replay --gdb=0 "$T/e.trace"; then
    fail reverse_watch_arrival_server "no port: $(head -c 300 "$T/srv.err")"; exit 0
fi
timeout -k 5 120 python3 "$(dirname "$0")/reverse/watch_arrival.py" "$PORT" \
    "$seen" "$after_stores" "$after_rep" >"$T/out" 2>&1
ukvm_gdb_stop 5
for name in "forward to the first trap's stores" "reverse-continue to the watch" \
        "reverse-continue to the breakpoint after the rep stosb"; do
    if grep -q "^OK $name" "$T/out"; then pass "reverse_watch_arrival: $name"
    else fail "reverse_watch_arrival: $name" "$(grep -F "$name" "$T/out" || head -c 300 "$T/out")"; fi
done

#!/usr/bin/env bash
# gdb's Ctrl-C answers within a second during long reverse operations
# (issue 11 section 3), with a real gdb against `ukvm replay --gdb`.
#
# The guest spins in a tight loop (ckpt_dirty spin: one iteration is a few
# microseconds here), periodic checkpoints are 1 s apart (UKVM_TICK_US), and
# gdb interrupts a forward continue part-way: the stop is far from any
# checkpoint and named only by its registers, so a reverse command must first
# count the arrivals at its rip, one breakpoint stop each (about 100 times
# slower than running). gdb gets a real SIGINT 1 s into each of:
#   1. reverse-stepi (the counting run),
#   2. reverse-continue to mark_start (the counting run again, from a fresh
#      interrupted stop),
#   3. reverse-continue with a breakpoint in the loop whose condition never
#      holds (the scan of a segment, one stop per iteration);
# each must answer SIGINT within ANSWER_BOUND seconds (default 1.0) of the
# signal. Afterwards reverse-continue to mark_start and continue to mark_end
# must land in exactly the state a fresh replay shows there, and ukvm ends
# cleanly.
# Environment: ANSWER_BOUND, GDB_TIMEOUT (default 120), CTLC_KEEP=1 keeps
# the outputs.
. "$(dirname "$0")/../lib.sh"
require_kvm gdb_interrupt || exit 0
command -v gdb >/dev/null || { skip gdb_interrupt "gdb is not installed"; exit 0; }
if ! gdb -batch -nx -ex 'python print("py-ok")' 2>/dev/null | grep -q py-ok; then
    skip gdb_interrupt "gdb has no python"; exit 0
fi
G=$GUESTS/ckpt_dirty.elf
[ -e "$G" ] || { skip gdb_interrupt "$G is not built (run make)"; exit 0; }
HELPERS=$(cd "$(dirname "$0")/gdb" && pwd)
W=$(mktemp -d "$TOP/build/ctlc-test.XXXXXX")
UKVM_PID=""
cleanup() {
    [ -n "$UKVM_PID" ] && kill -9 "$UKVM_PID" 2>/dev/null && wait "$UKVM_PID" 2>/dev/null
    if [ -n "${CTLC_KEEP:-}" ]; then echo "gdb_interrupt: outputs kept in $W"; else rm -rf "$W"; fi
    rm -rf "$TMPDIR_TEST"
}
trap cleanup EXIT
ANSWER_BOUND=${ANSWER_BOUND:-1.0}
GDBT=${GDB_TIMEOUT:-120}
ROUNDS=1000 # about 3 s of replay here

if ! run_capture "$W/rec.out" "$W/rec.err" "$UKVM" record -o "$W/t.trace" "$G" spin $ROUNDS; then
    fail gdb_interrupt_record "$(head -c 300 "$W/rec.err")"; exit 0
fi
INNER=$(objdump -d --no-show-raw-insn "$G" | awk '/<main>:/,/^$/' | awk '$2 == "imul" {sub(/:$/, "", $1); print "0x" $1; exit}')
[ -n "$INNER" ] || { fail gdb_interrupt_inner "no imul in main's disassembly"; exit 0; }

alive() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$st" != Z ]; }
# start NAME: a replay server on a free port in 45000-45999, 1 s ticks
start() {
    local i
    for _ in 1 2 3 4 5 6; do
        PORT=$((45000 + RANDOM % 1000))
        UKVM_TICK_US=1000000 "$UKVM" replay --gdb="$PORT" "$W/t.trace" >"$W/$1.out" 2>"$W/$1.err" &
        UKVM_PID=$!
        for i in $(seq 100); do
            grep -q "waiting for gdb on 127.0.0.1:$PORT" "$W/$1.err" && return 0
            alive "$UKVM_PID" || break
            sleep 0.05
        done
        kill -9 "$UKVM_PID" 2>/dev/null; wait "$UKVM_PID" 2>/dev/null; UKVM_PID=""
    done
    fail "gdb_interrupt: start ukvm replay --gdb ($1)" "$(head -c 300 "$W/$1.err")"
    return 1
}
# finish NAME: ukvm ends after gdb's kill, with no error on its stderr
finish() {
    local i=0 rc
    while alive "$UKVM_PID" && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    if alive "$UKVM_PID"; then kill -9 "$UKVM_PID"; rc=still-running; fi
    wait "$UKVM_PID" 2>/dev/null; rc=${rc:-$?}; UKVM_PID=""
    local bad
    bad=$(grep -E 'reverse execution:|re-execution|could not|runtime error|diverged|Segmentation|Aborted' "$W/$1.err" | head -3)
    if [ "$rc" = 1 ] && grep -q 'guest killed from gdb' "$W/$1.err" && [ -z "$bad" ]; then
        pass "gdb_interrupt: $1: ukvm ends cleanly after kill, no error on its stderr"
    else
        fail "gdb_interrupt: $1: ukvm ends cleanly" "status $rc; $(grep -v 'waiting for gdb' "$W/$1.err" | tail -4 | tr '\n' ' ' | head -c 500)"
    fi
}
session() { # OUT GDB-ARGS...
    local out=$1; shift
    (cd "$W" && timeout -k 5 "$GDBT" gdb -batch -nx -ex 'set pagination off' -ex 'set confirm off' \
        -ex 'set width 0' -ex "source $HELPERS/interrupt.py" \
        -ex "target remote 127.0.0.1:$PORT" "$@" -ex kill) >"$out" 2>&1 </dev/null
}
timed() { awk -v l="$2" '$1 == "TIMED" && $2 == l' "$1"; }
state() { awk -v l="$2" '$1 == "STATE" && $2 == l {$1 = ""; $2 = ""; print}' "$1"; }

# The reference: a fresh replay stopped by breakpoints at mark_start and mark_end.
start fresh || exit 0
session "$W/fresh.gdb" -ex 'break mark_start' -ex 'break mark_end' \
    -ex continue -ex 'ctlc-state start' -ex continue -ex 'ctlc-state end'
finish fresh
REF_START=$(state "$W/fresh.gdb" start)
REF_END=$(state "$W/fresh.gdb" end)
if [ -z "$REF_START" ] || [ -z "$REF_END" ]; then
    fail gdb_interrupt_reference "no state from the fresh replay: $(tail -5 "$W/fresh.gdb" | tr '\n' '|')"; exit 0
fi

start ctlc || exit 0
session "$W/ctlc.gdb" \
    -ex 'ctlc-run fwd1 0.8 continue' \
    -ex 'ctlc-run rsi 1.0 reverse-stepi' \
    -ex 'ctlc-run fwd2 0.8 continue' \
    -ex 'break mark_start' \
    -ex 'ctlc-run rc 1.0 reverse-continue' \
    -ex "break *$INNER if rounds_done == 99999" \
    -ex 'ctlc-run scan 1.0 reverse-continue' \
    -ex 'delete 2' \
    -ex 'ctlc-run back -1 reverse-continue' -ex 'ctlc-state start' \
    -ex 'break mark_end' \
    -ex 'ctlc-run fwd3 -1 continue' -ex 'ctlc-state end'
finish ctlc

for l in fwd1 rsi fwd2 rc scan; do
    line=$(timed "$W/ctlc.gdb" $l)
    read -r _ _ took after _pc stop <<<"$line"
    if [ -z "$line" ]; then
        fail "gdb_interrupt: $l: answered" "no answer: $(grep -E "^(OUT $l|\(gdb)" "$W/ctlc.gdb" | tail -3 | tr '\n' '|')"
    elif [ "$stop" != SIGINT ]; then
        fail "gdb_interrupt: $l: Ctrl-C reported as SIGINT" "$(grep "^OUT $l " "$W/ctlc.gdb" | head -c 400)"
    elif awk -v a="$after" -v b="$ANSWER_BOUND" 'BEGIN {exit !(a <= b)}'; then
        pass "gdb_interrupt: $l: Ctrl-C answered ${after} s after the signal (command took ${took} s; bound ${ANSWER_BOUND} s)"
    else
        fail "gdb_interrupt: $l: Ctrl-C answered within ${ANSWER_BOUND} s" "${after} s after the signal"
    fi
done
got=$(state "$W/ctlc.gdb" start)
if [ "$got" = "$REF_START" ]; then
    pass "gdb_interrupt: reverse-continue to mark_start after the interrupts: the fresh replay's state"
else
    fail "gdb_interrupt: reverse-continue to mark_start after the interrupts" "got [$got], fresh replay [$REF_START]"
fi
got=$(state "$W/ctlc.gdb" end)
if [ "$got" = "$REF_END" ]; then
    pass "gdb_interrupt: continue to mark_end after that: the fresh replay's state"
else
    fail "gdb_interrupt: continue to mark_end after that" "got [$got], fresh replay [$REF_END]"
fi
exit 0

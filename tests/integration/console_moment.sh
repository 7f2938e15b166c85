#!/usr/bin/env bash
# Console line -> moment (issue 10, item 3) and the frame index on a longer
# trace: `ukvm-trace dump` shows console text escaped, `ukvm-trace grep`
# names the event that began each matching line, `ukvm replay --mark-output`
# prefixes the same lines with the same events; info/stats/dump --from on a
# synthetic 1.5M-event trace agree with a full read (timings: tests/bench).
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST

# ---- synthetic: text, escaping, grep
"$SYNTH" --events 40 --flush-every 7 --puts-text $'ab\x1b[31mc\\d\nsecond ' "$T/t.zst"
expect_status "synth with console text" 0 $?
run_capture "$T/dump" "$T/err" "$UKVM_TRACE" dump "$T/t.zst"
check "dump: console text escaped" grep -Fxq '#1 puts rip=0x100082 len=18 digest=fb38b57c905b996e text="ab\x1b[31mc\\d\x0asecond "' "$T/dump"
run_capture "$T/grep" "$T/err" "$UKVM_TRACE" grep 'sec.nd ab' "$T/t.zst"
expect_status "grep regex: exit 0" 0 $?
check "grep: a line made of two puts is named by the first" grep -Fxq '#1 second ab\x1b[31mc\\d' "$T/grep"
check "grep: one line per match" test "$(wc -l <"$T/grep")" = 2
run_capture "$T/grep" "$T/err" "$UKVM_TRACE" grep -F '[31m' "$T/t.zst"
check "grep -F: plain substring" test "$(wc -l <"$T/grep")" = 3
run_capture "$T/grep" "$T/err" "$UKVM_TRACE" grep nothing-like-this "$T/t.zst"
expect_status "grep: no match exits 3" 3 $?
run_capture "$T/grep" "$T/err" "$UKVM_TRACE" grep '(' "$T/t.zst"
expect_status "grep: bad pattern exits 1" 1 $?
check "grep: bad pattern is one line" one_line "$T/err"
"$SYNTH" --events 40 --no-text "$T/old.zst"
run_capture "$T/grep" "$T/err" "$UKVM_TRACE" grep hello "$T/old.zst"
expect_status "grep: a trace without text exits 1" 1 $?
check "grep: says there is no text" grep -q "no console text" "$T/err"

# ---- the frame index on 1.5M events: the same answers as reading it all
"$SYNTH" --clock --events 1500000 "$T/big.zst"
expect_status "synth 1.5M events" 0 $?
run_capture "$T/info" "$T/err" "$UKVM_TRACE" info "$T/big.zst"
check "info: complete from the index" grep -q '^end: complete, 1500000 events' "$T/info"
run_capture "$T/v" "$T/err" "$UKVM_TRACE" verify "$T/big.zst"
check "verify agrees" grep -q '^complete: 1500000 events' "$T/v"
run_capture "$T/stats" "$T/err" "$UKVM_TRACE" stats "$T/big.zst"
check "stats from the summaries: 750000 rdtsc" grep -Eq '^rdtsc +750000 ' "$T/stats"
"$UKVM_TRACE" dump "$T/big.zst" | sed -n '1234568,1234570p' >"$T/full"
run_capture "$T/from" "$T/err" "$UKVM_TRACE" dump --from 1234567 --count 3 "$T/big.zst"
check "dump --from: the same events as a full dump" cmp -s "$T/full" <(head -3 "$T/from")
head -c $(( $(stat -c %s "$T/big.zst") * 2 / 3 )) "$T/big.zst" >"$T/cut.zst"
run_capture "$T/info" "$T/err" "$UKVM_TRACE" info "$T/cut.zst"
run_capture "$T/v" "$T/err" "$UKVM_TRACE" verify "$T/cut.zst"
check "info of a cut trace: the index rebuilt says what verify says" \
    grep -Fq "end: $(cat "$T/v") (" "$T/info"
n=$(sed -n 's/^cut short after event \([0-9]*\) .*/\1/p' "$T/v")
run_capture "$T/from" "$T/err" "$UKVM_TRACE" dump --from "$n" "$T/cut.zst"
check "dump --from the last event of a cut trace" grep -q "^#$n " "$T/from"

# ---- a real recording: --mark-output and grep name the same events
require_kvm console_moment || exit 0
run_capture "$T/rec.out" "$T/rec.err" "$UKVM" record -o "$T/time.trace" --mem=64 "$GUESTS/time.elf"
expect_status "record time" 0 $?
run_capture "$T/plain" "$T/err" "$UKVM" replay "$T/time.trace"
run_capture "$T/marked" "$T/err" "$UKVM" replay --mark-output "$T/time.trace"
expect_status "replay --mark-output" 0 $?
check "every line is marked" test "$(grep -vc '^\[ev [0-9]*\] ' "$T/marked")" = 0
check "without the marks, the plain replay" cmp -s "$T/plain" <(sed 's/^\[ev [0-9]*\] //' "$T/marked")
"$UKVM_TRACE" grep 'iter 2 ' "$T/time.trace" >"$T/g"
ev=$(sed -n 's/^#\([0-9]*\) .*/\1/p' "$T/g")
check "grep and --mark-output agree on the event" grep -q "^\[ev $ev\] time: iter 2 " "$T/marked"
"$UKVM_TRACE" dump --from "$ev" --count 1 "$T/time.trace" >"$T/d"
check "dump --from that event shows the puts" grep -q "^#$ev puts .*text=\"time: iter 2 " "$T/d"
run_capture "$T/out" "$T/err" "$UKVM" replay --mark-output=x "$T/time.trace"
expect_status "replay --mark-output=x: bad option" 1 $?

#!/usr/bin/env bash
# `ukvm debug TRACE [GDB ARGS]` (replay server + gdb in one command, with the
# extension tools/gdb/ukvm.py loaded) and the extension's ukvm-last: on a
# recording of compute.elf, stopped in checksum() after bump_counter() has
# stored counter 20000 times, `ukvm-last counter` lands on the store that
# made 19999 into 20000 (in bump_counter), and again on the one before; a
# variable never written goes back to the start of the recording. gdb
# scripts (-x) and --batch pass through; bad uses get one error line and
# the session goes on.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/common.sh"
require_kvm gdb_extension || exit 0
for tool in gdb python3; do
    command -v "$tool" >/dev/null || { skip gdb_extension "$tool is not installed"; exit 0; }
done
if ! gdb -batch -nx -ex 'python print("py-ok")' 2>/dev/null | grep -q py-ok; then
    skip gdb_extension "gdb has no python"; exit 0
fi
C=$GUESTS/compute.elf
if ! run_capture "$T/rec.out" "$T/rec.err" "$UKVM" record -o "$T/c.trace" "$C"; then
    fail gdb_extension_record "$(head -c 300 "$T/rec.err")"; exit 0
fi
mkdir -p "$T/cwd"

# ukvm debug's own errors come before gdb starts
expect_run debug_no_trace 1 "" "no trace file given" "$UKVM" debug
expect_run debug_bad_trace 1 "" "not a ukvm trace" "$UKVM" debug /etc/passwd
expect_run debug_bad_option 1 "" "unknown debug option" "$UKVM" debug --frob "$T/c.trace"

cat >"$T/script.gdb" <<'EOF'
break checksum
continue
printf "AT-CHECKSUM %d\n", counter
ukvm-last counter
printf "LAST1 %d ", counter
info symbol $pc
x/i $pc
ukvm-last
printf "LAST2 %d ", counter
info symbol $pc
x/i $pc
EOF
# (an error ends a -x script, but not the -ex commands after it)
(cd "$T/cwd" && timeout -k 5 "${GDB_TIMEOUT:-120}" "$UKVM" debug "$T/c.trace" -nx --batch \
    -x "$T/script.gdb" -ex 'ukvm-last 1+2' -ex 'printf "STILL-HERE %d\n", counter') \
    >"$T/dbg.out" 2>"$T/dbg.err" </dev/null
# A variable never written before the stop: back to the start. (From
# bump_counter; from checksum the same search hits a reverse-continue bug
# in the replay target, see the issue notes.)
(cd "$T/cwd" && timeout -k 5 "${GDB_TIMEOUT:-120}" "$UKVM" debug "$T/c.trace" -nx --batch \
    -ex 'break bump_counter' -ex continue -ex 'ukvm-last result' \
    -ex 'printf "RESULT-AT-START %d\n", $pc == _start') >>"$T/dbg.out" 2>>"$T/dbg.err" </dev/null
rc=$?
# A local variable (at count_primes' `leave`, its frame still whole): a bare
# ukvm-last goes on with its address once the search has left the frame
# (count_primes' stack was fib's before).
LEAVE=$(objdump -d --no-show-raw-insn "$C" | awk '/<count_primes>:/ { f = 1 }
    f && /\tleave/ { sub(/:$/, "", $1); print "0x" $1; exit }')
(cd "$T/cwd" && timeout -k 5 "${GDB_TIMEOUT:-120}" "$UKVM" debug "$T/c.trace" -nx --batch \
    -ex "break *$LEAVE" -ex continue -ex 'ukvm-last composite[1990]' \
    -ex 'printf "LOCAL1 %d\n", composite[1990]' -ex 'ukvm-last' -ex 'ukvm-last' \
    -ex 'printf "LOCAL-DONE\n"') >"$T/local.out" 2>"$T/local.err" </dev/null
rc=$((rc | $?))
check "ukvm debug --batch -x: runs the script, exit 0 (got $rc)" test "$rc" = 0
has() { grep -Eq -- "$1" "$T/dbg.out" "$T/dbg.err"; }
report() { # NAME ERE
    if has "$2"; then pass "$1"; else
        fail "$1" "no /$2/ in: $(cat "$T/dbg.out" "$T/dbg.err" | tail -25 | tr '\n' '|' | head -c 1200)"; fi
}
report "debug: connected and stopped at checksum with counter 20000" '^AT-CHECKSUM 20000$'
report "ukvm-last counter: prints old and new value" '^ukvm-last: counter was 19999, became 20000$'
report "ukvm-last counter: lands on the store in bump_counter" '^LAST1 19999 bump_counter \+ [0-9]+ in section'
report "ukvm-last again: the write before" '^LAST2 19998 bump_counter \+ [0-9]+ in section'
# gdb's own disassembly of where it stopped: the store itself, not after it
if [ "$(grep -cE '^=> 0x[0-9a-f]+ <bump_counter\+[0-9]+>:[[:space:]]+mov +%r[a-z0-9]+,0x[0-9a-f]+\(%rip\) +# 0x[0-9a-f]+ <counter>' "$T/dbg.out")" = 2 ]; then
    pass "ukvm-last stops on the store to counter (twice), before it writes"
else
    fail "ukvm-last stops on the store to counter (twice), before it writes" \
        "$(grep -E '^=> ' "$T/dbg.out" | head -3 | tr '\n' '|')"
fi
report "ukvm-last of a non-lvalue: one error, session goes on" "'1\+2' is not in memory"
report "the session goes on after the error" '^STILL-HERE 19998$'
report "ukvm-last of a never-written variable: start of the recording" 'no earlier write changed result: this is the start of the recording'
report "... and gdb is at _start" '^RESULT-AT-START 1$'
lhas() { grep -Eq -- "$1" "$T/local.out"; }
if lhas "^ukvm-last: composite\\[1990\\] was 0 '.000', became 1 '.001'\$" && lhas '^LOCAL1 0$'; then
    pass "ukvm-last of a local: the sieve's store, before it (0, became 1)"
else fail "ukvm-last of a local: the sieve's store" "$(head -c 600 "$T/local.out" | tr '\n' '|')"; fi
# the zeroing before stored a 0 over a 0 (passed over): the start; then once
# more from _start, where the local's name means nothing
if [ "$(grep -c '^ukvm-last: no earlier write changed composite\[1990\]' "$T/local.out")" = 2 ] &&
        lhas '^LOCAL-DONE$' && ! grep -q 'Python Exception' "$T/local.out" "$T/local.err"; then
    pass "bare ukvm-last: the same bytes, further back, out of the local's frame too"
else fail "bare ukvm-last: the same bytes, further back" \
    "$(cat "$T/local.out" "$T/local.err" | grep -v '^warning' | head -c 900 | tr '\n' '|')"; fi

# The replay ends with gdb: no ukvm left behind.
sleep 0.5
if pgrep -f "ukvm debug $T/c.trace" >/dev/null || pgrep -f "$T/c.trace" >/dev/null; then
    fail "debug: the replay ends when gdb exits" "a process still has the trace open"
else
    pass "debug: the replay ends when gdb exits"
fi

# gdb's exit status is ukvm debug's
(cd "$T/cwd" && timeout -k 5 60 "$UKVM" debug "$T/c.trace" -nx --batch -ex 'quit 3') \
    >/dev/null 2>&1 </dev/null
check "debug: gdb's exit status passes through" test $? = 3

# the ending says what really happens: under debug the replay ends with gdb
(cd "$T/cwd" && timeout -k 5 60 "$UKVM" debug "$T/c.trace" -nx --batch -ex 'info registers rip') \
    >"$T/end.out" 2>"$T/end.err" </dev/null
if grep -q "waiting for the next client" "$T/end.out" "$T/end.err"; then
    fail "debug --batch: no 'waiting for the next client'" "$(grep -h waiting "$T/end.out" "$T/end.err")"
elif grep -qx "ukvm: gdb detached; ending the replay" "$T/end.err"; then
    pass "debug --batch: no 'waiting for the next client'"
else
    fail "debug --batch: no 'waiting for the next client'" "stderr: $(head -c 300 "$T/end.err" | tr '\n' '|')"
fi
# replay --gdb --once ends when gdb detaches, with status 0; without it the
# replay says it waits, and does
for once in once wait; do
    ukvm_gdb_start "$T/$once.err" replay --gdb=0 $([ $once = once ] && echo --once) "$T/c.trace"
    timeout -k 5 60 gdb -nx --batch -ex "target remote 127.0.0.1:$PORT" -ex detach >/dev/null 2>&1 </dev/null
    for i in $(seq 100); do proc_alive "$UKVM_PID" || break; sleep 0.05; done
    if [ $once = once ]; then
        wait "$UKVM_PID"; rc=$?
        if [ "$rc" = 0 ] && grep -qx "ukvm: gdb detached; ending the replay" "$T/$once.err"; then
            pass "replay --gdb --once: ends with gdb's detach, status 0"
        else
            fail "replay --gdb --once: ends with gdb's detach, status 0" "status $rc, stderr $(tail -c 300 "$T/$once.err" | tr '\n' '|')"
        fi
        UKVM_PID=""
    else
        if proc_alive "$UKVM_PID" && grep -q "ukvm: gdb detached; waiting for the next client" "$T/$once.err"; then
            pass "replay --gdb: waits for the next client after a detach, and says so"
        else
            fail "replay --gdb: waits for the next client after a detach, and says so" "stderr $(tail -c 300 "$T/$once.err" | tr '\n' '|')"
        fi
        ukvm_gdb_stop 0
    fi
done
expect_run replay_once_without_gdb 1 "" "--once .*needs --gdb" "$UKVM" replay --once "$T/c.trace"

# `ukvm replay --gdb` prints the gdb command line that loads the extension
ukvm_gdb_start "$T/rep.err" replay --gdb=0 "$T/c.trace"
ukvm_gdb_stop 0
ext=$(cd "$TOP/tools/gdb" && pwd)/ukvm.py
if grep -Fq "connect with: gdb -ex 'source $ext' -ex 'target remote 127.0.0.1:" "$T/rep.err"; then
    pass "replay --gdb: prints the command line that loads the extension"
else
    fail "replay --gdb: prints the command line that loads the extension" "$(head -c 300 "$T/rep.err")"
fi

#!/usr/bin/env bash
# Diversions (issue 10 item 6): gdb's writes in `ukvm replay --gdb` never
# change the recording. Real gdb in batch mode against `ukvm replay --gdb=0`
# of a recording of compute.elf (its one console line, then halt):
#   1. at bump_counter, `set var counter = 12345`, `continue`: the guest runs
#      diverted (console line marked "[diverted] ", counter=32345) and stops
#      before its halt; the trace was not consumed (`monitor when`: still
#      before event 0, diverted); `reverse-stepi` returns to the recording
#      and the run then prints exactly the recorded output and ends in the
#      same registers and memory as a plain replay.
#   2. `print checksum(1,2,3,4)` (an inferior call) gives the value computed
#      here independently, leaves registers and stack as they were, and the
#      following `continue` prints exactly the recorded output (no mark).
#   3. `set $rax = ...` in mix, `stepi` (diverted), `reverse-stepi`, `stepi`:
#      rax is the recorded one again.
#   4. `monitor goto start` after a `set var` returns to the recording too;
#      `monitor diversion` reports, `monitor diversion bogus` is a one-line
#      error; `bookmark` is refused while diverted.
#   5. `ukvm run --gdb`: writes go to the live guest, unmarked.
. "$(dirname "$0")/../lib.sh"
GDB=${GDB:-gdb}
GDB_TIMEOUT=${GDB_TIMEOUT:-120}
require_kvm gdb_diversion || exit 0
command -v "$GDB" >/dev/null || { skip gdb_diversion "$GDB is not installed"; exit 0; }
[ -e "$GUESTS/compute.elf" ] || { skip gdb_diversion "compute.elf is not built (run make)"; exit 0; }
# scratch files under the tree's build/ (the VM's /tmp is small)
W=$(mktemp -d "$TOP/build/h-div-test.XXXXXX")
UKVM_PID=""
cleanup() {
    if [ -n "$UKVM_PID" ]; then kill -9 "$UKVM_PID" 2>/dev/null; wait "$UKVM_PID" 2>/dev/null; fi
    rm -rf "$W" "$TMPDIR_TEST"
}
trap cleanup EXIT
G=$GUESTS/compute.elf
if ! run_capture "$W/rec.out" "$W/rec.err" "$UKVM" record -o "$W/c.trace" "$G"; then
    fail gdb_diversion_record "$(head -c 300 "$W/rec.err")"; exit 0
fi
RESULT=$(sed -n 's/.*checksum=\(0x[0-9a-f]*\).*/\1/p' "$W/rec.out")

# session NAME MODE GDB-ARGS...: `ukvm MODE --gdb=0` (replay of the trace,
# or a live run), batch gdb connected to it; leaves NAME.gdb (gdb's output),
# NAME.out and NAME.err (ukvm's).
session() {
    local name=$1 mode=$2; shift 2
    local target=("$W/c.trace")
    [ "$mode" = run ] && target=("$G")
    if ! ukvm_gdb_start "$W/$name.err" "$mode" --gdb=0 "${target[@]}"; then
        fail "gdb_diversion_$name" "ukvm did not start: $(head -c 300 "$W/$name.err")"; return 1
    fi
    timeout -k 5 "$GDB_TIMEOUT" "$GDB" -batch -nx -ex 'set pagination off' -ex 'set confirm off' \
        -ex 'set width 0' -ex "file $G" -ex "target remote 127.0.0.1:$PORT" "$@" \
        -ex 'kill' >"$W/$name.gdb" 2>&1 </dev/null
    ukvm_gdb_stop
    mv -f "$W/$name.err.out" "$W/$name.out"
}
# between markers: the lines a command printed
section() { sed -n "/^BEGIN-$2\$/,/^END-$2\$/p" "$1" | grep -v -e '^BEGIN-' -e '^END-'; }
mark() { printf '%s\n' -ex "echo BEGIN-$1\\n" "${@:2}" -ex "echo END-$1\\n"; }
state() { # TAG: registers and the stack's top, to compare
    mark "$1" -ex 'info registers rax rbx rcx rdx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15 rip eflags' \
        -ex 'x/16xg $rsp' -ex 'p/x counter' -ex 'p/x result' -ex 'x/64xw &table'
}
has() { grep -Eq -- "$2" "$1"; }
report() { # NAME FILE ERE
    if has "$2" "$3"; then pass "$1"; else
        fail "$1" "no /$3/ in: $(tail -20 "$2" | tr '\n' '|' | head -c 1200)"; fi
}
same() { # NAME FILE-A TAG-A FILE-B TAG-B
    section "$2" "$3" >"$W/a.st"; section "$4" "$5" >"$W/b.st"
    if [ -s "$W/a.st" ] && cmp -s "$W/a.st" "$W/b.st"; then pass "$1"; else
        fail "$1" "differs: $(diff "$W/a.st" "$W/b.st" | head -8 | tr '\n' '|')"; fi
}
# the guest's console output without the diverted lines is the recording's
recorded_output() { # NAME FILE
    grep -v '^\[diverted\] ' "$2" >"$W/plain.txt"
    if cmp -s "$W/plain.txt" "$W/rec.out"; then pass "$1"; else
        fail "$1" "output differs: $(diff "$W/plain.txt" "$W/rec.out" | head -6 | tr '\n' '|')"; fi
}

# 0. a plain replay to the end: the state to compare with
mapfile -t END0 < <(state END)
session plain replay -ex continue "${END0[@]}"

# 1. set var, continue diverted, reverse-stepi, continue to the end
mapfile -t END1 < <(state END)
mapfile -t W0 < <(mark WHEN0 -ex 'monitor when')
mapfile -t W1 < <(mark WHEN1 -ex 'monitor when')
mapfile -t D2 < <(mark DIV2 -ex 'monitor diversion')
session setvar replay -ex 'break bump_counter' -ex continue "${W0[@]}" \
    -ex 'set var counter = 12345' -ex continue "${W1[@]}" -ex 'printf "DIVCOUNTER=%d\n", counter' \
    -ex 'reverse-stepi' "${D2[@]}" -ex continue -ex continue "${END1[@]}"
report diversion_setvar_marked "$W/setvar.out" '^\[diverted\] compute: .*counter=32345 '
report diversion_setvar_diverted_value "$W/setvar.gdb" '^DIVCOUNTER=32345$'
section "$W/setvar.gdb" WHEN0 >"$W/when0"; section "$W/setvar.gdb" WHEN1 >"$W/when1"
if grep -q '^diverted from the recording before event 0' "$W/when1" &&
    [ "$(grep '^event ' "$W/when0")" = "$(grep '^event ' "$W/when1")" ]; then
    pass diversion_setvar_trace_not_consumed
else
    fail diversion_setvar_trace_not_consumed "when before: $(tr '\n' '|' <"$W/when0") after: $(tr '\n' '|' <"$W/when1")"
fi
report diversion_setvar_halt_stop "$W/setvar.err" 'diversion: the guest halts \(status 0\)'
report diversion_setvar_reverse_ends "$W/setvar.gdb" '^not diverted: on the recording$'
recorded_output diversion_setvar_recorded_output "$W/setvar.out"
report diversion_setvar_output_once "$W/setvar.out" '^compute: .*counter=20000 '
same diversion_setvar_final_state "$W/setvar.gdb" END "$W/plain.gdb" END
if has "$W/setvar.err" 'diverged|divergence'; then
    fail diversion_setvar_no_divergence "$(grep -E 'diverged|divergence' "$W/setvar.err" | head -2)"
else pass diversion_setvar_no_divergence; fi

# 2. an inferior call
WANT=$(python3 -c '
m = (1 << 64) - 1; s = 0x9e3779b97f4a7c15
for v in (1, 2, 3, 4):
    s ^= v; s = (s * 0x100000001b3) & m; s ^= s >> 29
print(s)')
mapfile -t B2 < <(mark BEFORE -ex 'info registers' -ex 'x/16xg $rsp')
mapfile -t A2 < <(mark AFTER -ex 'info registers' -ex 'x/16xg $rsp')
mapfile -t END2 < <(state END)
session call replay -ex 'break bump_counter' -ex continue "${B2[@]}" \
    -ex 'printf "CALL=%lu\n", checksum(1, 2, 3, 4)' "${A2[@]}" -ex continue "${END2[@]}"
report diversion_call_value "$W/call.gdb" "^CALL=$WANT\$"
same diversion_call_registers_back "$W/call.gdb" BEFORE "$W/call.gdb" AFTER
if cmp -s "$W/call.out" "$W/rec.out"; then pass diversion_call_recorded_output; else
    fail diversion_call_recorded_output "$(diff "$W/call.out" "$W/rec.out" | head -6 | tr '\n' '|')"; fi
report diversion_call_ended_at_resume "$W/call.err" 'diversion ended: back on the recording'
same diversion_call_final_state "$W/call.gdb" END "$W/plain.gdb" END
report diversion_call_result "$W/call.gdb" "^\\\$[0-9]+ = $RESULT\$"

# 3. set $rax, a diverted stepi, reverse-stepi, stepi: the recorded rax
session rax replay -ex 'break mix' -ex continue -ex stepi -ex stepi -ex stepi \
    -ex 'printf "RAX0=%#lx\n", $rax' -ex 'set $rax = 0xdeadbeef' -ex 'printf "RAX1=%#lx\n", $rax' \
    -ex stepi -ex reverse-stepi -ex stepi -ex 'printf "RAX2=%#lx\n", $rax'
rax0=$(sed -n 's/^RAX0=//p' "$W/rax.gdb"); rax2=$(sed -n 's/^RAX2=//p' "$W/rax.gdb")
report diversion_rax_written "$W/rax.gdb" '^RAX1=0xdeadbeef$'
if [ -n "$rax0" ] && [ "$rax0" = "$rax2" ] && [ "$rax0" != 0xdeadbeef ]; then
    pass diversion_rax_recorded_again
else
    fail diversion_rax_recorded_again "rax before $rax0, after reverse-stepi + stepi $rax2"
fi

# 4. goto start ends it too; monitor diversion; bad argument; no bookmark
mapfile -t D4 < <(mark DIV4 -ex 'monitor diversion')
session goto replay -ex 'break bump_counter' -ex continue -ex 'set var counter = 777' "${D4[@]}" \
    -ex 'monitor diversion bogus' -ex 'monitor bookmark here' -ex 'monitor goto start' \
    -ex 'monitor diversion' -ex 'delete' -ex continue -ex 'printf "END4=%d\n", counter'
report diversion_monitor_status "$W/goto.gdb" '^diverted from the recording before event 0: gdb wrote registers 0 times and 8 bytes'
report diversion_monitor_bad_arg "$W/goto.gdb" "^ukvm: diversion: 'bogus' is not 'end'"
report diversion_bookmark_refused "$W/goto.gdb" '^ukvm: bookmark: diverted'
report diversion_goto_ends "$W/goto.err" 'diversion ended: back on the recording before event 0'
report diversion_goto_counter "$W/goto.gdb" '^END4=20000$'
recorded_output diversion_goto_recorded_output "$W/goto.out"
if has "$W/goto.out" '^\[diverted\]'; then fail diversion_goto_not_run "a diverted line was printed"
else pass diversion_goto_not_run; fi

# 5. the live run: writes go to the guest, as before
session live run -ex 'break bump_counter' -ex continue -ex 'set var counter = 12345' -ex continue
report diversion_live_write "$W/live.out" '^compute: .*counter=32345 '
if has "$W/live.out" '\[diverted\]'; then fail diversion_live_unmarked "marked in a live run"
else pass diversion_live_unmarked; fi

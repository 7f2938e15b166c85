#!/usr/bin/env bash
# Navigating a replay from gdb (issue 10 items 1-2): `monitor when`, `goto`
# (event, start, end, +N, -N), bookmarks, `events`, help and bad commands,
# `ukvm debug/replay --goto=`, and gdb's `run` over extended-remote. On a
# recording of time.elf (38 events: puts, rdtscp, walltime, rdtsc, poll...).
# Every place goto reaches is compared with a fresh replay stopped there by
# a breakpoint on the event's instruction: the registers and the stack that
# gdb shows must be the same.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/common.sh"
require_kvm gdb_navigate || exit 0
command -v gdb >/dev/null || { skip gdb_navigate "gdb is not installed"; exit 0; }
if ! gdb -batch -nx -ex 'python print("py-ok")' 2>/dev/null | grep -q py-ok; then
    skip gdb_navigate "gdb has no python"; exit 0
fi
# scratch files under the tree's build/ (the VM's /tmp is small)
W=$(mktemp -d "$TOP/build/h-nav-test.XXXXXX")
UKVM_PID=""
trap '[ -n "$UKVM_PID" ] && kill -9 "$UKVM_PID" 2>/dev/null; rm -rf "$W" "$TMPDIR_TEST"' EXIT
G=$GUESTS/time.elf
if ! run_capture "$W/rec.out" "$W/rec.err" "$UKVM" record -o "$W/t.trace" "$G"; then
    fail gdb_navigate_record "$(head -c 300 "$W/rec.err")"; exit 0
fi
"$UKVM_TRACE" dump "$W/t.trace" >"$W/dump.txt"
N=$(grep -c '^#' "$W/dump.txt")
rip_of() { sed -n "s/^#$1 [a-z]* rip=\(0x[0-9a-f]*\).*/\1/p" "$W/dump.txt"; }
# how many events before event $1 have its rip: the breakpoint's ignore count
arrivals_before() {
    local rip; rip=$(rip_of "$1")
    head -n "$1" "$W/dump.txt" | grep -c " rip=$rip "
}
GDBT=${GDB_TIMEOUT:-120}
# dbg OUT [UKVM-DEBUG-OPTIONS --] GDB-ARGS...: ukvm debug (extension loaded)
dbg() {
    local out=$1; shift
    local opts=()
    while [ $# -gt 0 ] && [ "$1" != -- ] && [[ "$1" == --* ]]; do opts+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    timeout -k 5 "$GDBT" "$UKVM" debug "${opts[@]}" "$W/t.trace" -nx --batch "$@" \
        >"$out" 2>&1 </dev/null
}
# gdb commands that print the state to compare, between markers
state() { # TAG
    printf '%s\n' "-ex" "echo BEGIN-$1\\n" \
        "-ex" "info registers rax rbx rcx rdx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15 rip eflags cs ss" \
        "-ex" "x/32xg \$rsp" "-ex" "echo END-$1\\n"
}
extract() { sed -n "/^BEGIN-$2\$/,/^END-$2\$/p" "$1" | grep -v -e "^BEGIN-" -e "^END-"; }
has() { grep -Eq -- "$2" "$1"; }
report() { # NAME FILE ERE
    if has "$2" "$3"; then pass "$1"; else
        fail "$1" "no /$3/ in: $(tail -25 "$2" | tr '\n' '|' | head -c 1200)"; fi
}
# fresh EVENT TAG OUT: a fresh replay stopped by a breakpoint just before EVENT
fresh() {
    local rip ign; rip=$(rip_of "$1"); ign=$(arrivals_before "$1")
    local args=(-ex "break *$rip")
    [ "$ign" -gt 0 ] && args+=(-ex "ignore 1 $ign")
    mapfile -t st < <(state "$2")
    dbg "$3" "${args[@]}" -ex continue "${st[@]}"
}
same_state() { # NAME FILE-A TAG-A FILE-B TAG-B
    extract "$2" "$3" >"$W/a.st"; extract "$4" "$5" >"$W/b.st"
    if [ -s "$W/a.st" ] && cmp -s "$W/a.st" "$W/b.st"; then pass "$1"; else
        fail "$1" "differs: $(diff "$W/a.st" "$W/b.st" | head -8 | tr '\n' '|')"; fi
}

mapfile -t S5 < <(state G5); mapfile -t S2 < <(state G2); mapfile -t S20 < <(state G20)
mapfile -t SB1 < <(state BM1); mapfile -t SB2 < <(state BM2)
mapfile -t SM1 < <(state MID1); mapfile -t SM2 < <(state MID2)
dbg "$W/nav.out" \
    -ex 'echo WHEN0=' -ex 'monitor when' \
    -ex 'echo EVENTS-AT-START\n' -ex 'monitor events 3' \
    -ex 'monitor goto 5' -ex 'echo WHEN5=' -ex 'monitor when' "${S5[@]}" \
    -ex 'echo EVENTS5\n' -ex 'monitor events' -ex 'echo EVENTS5-BACK\n' -ex 'monitor events -3' \
    -ex 'stepi' -ex 'echo WHEN5S=' -ex 'monitor when' \
    -ex 'monitor goto 20' "${S20[@]}" -ex 'monitor bookmark mark1' "${SB1[@]}" \
    -ex 'monitor goto 2' -ex 'echo WHEN2=' -ex 'monitor when' "${S2[@]}" \
    -ex 'monitor goto +3' -ex 'echo WHENP3=' -ex 'monitor when' \
    -ex 'monitor goto -4' -ex 'echo WHENM4=' -ex 'monitor when' \
    -ex 'monitor goto mark1' -ex 'echo WHENBM=' -ex 'monitor when' "${SB2[@]}" \
    -ex 'monitor goto 10' -ex 'stepi' -ex 'stepi' -ex 'stepi' -ex 'monitor bookmark mid' "${SM1[@]}" \
    -ex 'monitor goto end' -ex 'echo WHENEND=' -ex 'monitor when' \
    -ex 'echo BOOKMARKS\n' -ex 'monitor bookmarks' \
    -ex 'monitor goto start' -ex 'echo WHENSTART=' -ex 'monitor when' -ex 'printf "PC-AT-START %d\n", $pc == _start' \
    -ex 'monitor goto mid' "${SM2[@]}" \
    -ex 'monitor delete mark1' -ex 'monitor goto mark1' \
    -ex 'monitor frob' -ex 'monitor goto 99' -ex 'monitor goto -99' -ex 'monitor bookmark end' \
    -ex 'monitor events 0' -ex 'monitor goto' -ex 'monitor goto 99999' -ex 'monitor events 99999' \
    -ex 'python o = gdb.execute("monitor frob", to_string=True).splitlines(); print("SCRIPT-SEES " + ("failed" if o[-1].startswith("ukvm: ") else "ok"))' \
    -ex 'python o = gdb.execute("monitor goto 3", to_string=True).splitlines(); print("SCRIPT-SEES " + ("failed" if o and o[-1].startswith("ukvm: ") else "ok"))' \
    -ex 'printf "STILL-HERE %d\n", 42'
F=$W/nav.out
report "when at the start" "$F" "^WHEN0=event 0 of $N \(0%\), at the start of the trace, guest clock not read yet$"
report "goto 5 + when: event 5, just before it, guest time" "$F" \
    "^WHEN5=event 5 of $N \(13%\), just before it \(poll\), guest time 20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} UTC$"
report "stepi over the event: +0 instructions after event 5" "$F" "^WHEN5S=event 6 of $N \(15%\), \+0 instructions after event 5, guest time"
report "goto backwards (2)" "$F" "^WHEN2=event 2 of $N \(5%\), just before it \(walltime\), guest tsc [0-9]+ \(no walltime read yet\)$"
report "goto +3" "$F" "^WHENP3=event 5 of $N"
report "goto -4" "$F" "^WHENM4=event 1 of $N"
report "goto bookmark" "$F" "^WHENBM=event 20 of $N \(52%\), just before it \(puts\)"
report "goto end: just before the final halt" "$F" "^WHENEND=event $((N - 1)) of $N \([0-9]+%\), just before it \(halt\)"
report "goto start" "$F" "^WHENSTART=event 0 of $N \(0%\), at the start"
report "goto start: gdb is at _start" "$F" "^PC-AT-START 1$"
report "bookmarks: listed with positions" "$F" "^mark1 +event 20 of $N, rip $(rip_of 20)$"
report "bookmarks: the second one" "$F" "^mid +event 11 of $N, rip 0x"
report "delete: the bookmark is gone" "$F" "no bookmark 'mark1'"
report "bad command: one clear line" "$F" "^ukvm: unknown monitor command 'frob' \(try 'monitor help'\)$"
report "goto past the end: clear line" "$F" "^ukvm: goto 99: the trace ends at event $((N - 1)) \('goto end'\)$"
report "goto -99: clear line" "$F" "^ukvm: goto -99: only [0-9]+ events since the start$"
report "bookmark named end: refused" "$F" "^ukvm: bookmark: 'end' is not a bookmark name"
report "events 0: refused" "$F" "^ukvm: events: '0' is not a count"
report "goto without a place: refused" "$F" "^ukvm: goto needs an argument"
report "errors keep the session" "$F" "^STILL-HERE 42$"
report "goto 99999: clear line" "$F" "^ukvm: goto 99999: the trace ends at event"
if grep -q "Protocol error" "$F"; then fail "failed monitor commands: only ukvm's line" "$(grep -m3 -B1 'Protocol error' "$F" | tr '\n' '|')"
else pass "failed monitor commands: only ukvm's line"; fi
report "a script tells a failed monitor command by its last line" "$F" "^SCRIPT-SEES failed$"
report "a script tells a good monitor command by its last line" "$F" "^SCRIPT-SEES ok$"
# monitor events: the words of ukvm-trace dump
sed -n '/^EVENTS-AT-START$/,/^monitor\|^WHEN5/p' "$F" | grep '^#' | head -3 >"$W/ev0.txt"
sed -n '/^EVENTS5$/,/^EVENTS5-BACK$/p' "$F" | grep '^#' >"$W/ev5.txt"
sed -n '/^EVENTS5-BACK$/,/^WHEN5S/p' "$F" | grep '^#' >"$W/ev5b.txt"
sed -n '1,3p' "$W/dump.txt" >"$W/d0.txt"; sed -n '6,10p' "$W/dump.txt" >"$W/d5.txt"
sed -n '3,5p' "$W/dump.txt" >"$W/d5b.txt"
same_file "events 3 at the start = ukvm-trace dump" "$W/ev0.txt" "$W/d0.txt"
same_file "events after goto 5 = ukvm-trace dump --from 5 --count 5" "$W/ev5.txt" "$W/d5.txt"
same_file "events -3 = the three before" "$W/ev5b.txt" "$W/d5b.txt"
# the places goto reached are those of fresh replays stopped there
fresh 5 F5 "$W/f5.out"; fresh 2 F2 "$W/f2.out"; fresh 20 F20 "$W/f20.out"
same_state "goto 5: registers and stack = a fresh replay stopped before event 5" "$F" G5 "$W/f5.out" F5
same_state "goto 2 (backwards): = a fresh replay before event 2" "$F" G2 "$W/f2.out" F2
same_state "goto 20: = a fresh replay before event 20" "$F" G20 "$W/f20.out" F20
same_state "bookmark: goto back to it restores identical registers and stack" "$F" BM1 "$F" BM2
same_state "bookmark between events (re-executed after goto start): identical" "$F" MID1 "$F" MID2

# without the extension: plain `monitor goto` then the documented flush
ukvm_gdb_start "$W/plain.err" replay --gdb=0 "$W/t.trace"
timeout -k 5 "$GDBT" gdb -nx --batch -ex "target extended-remote 127.0.0.1:$PORT" \
    -ex 'monitor goto 5' -ex 'maintenance flush register-cache' -ex 'printf "PLAIN-PC 0x%x\n", $pc' \
    -ex 'break hc_poll' -ex 'run' -ex 'printf "RUN-STOP 0x%x\n", $pc' -ex 'echo WHENRUN=' -ex 'monitor when' \
    -ex 'delete' -ex 'continue' -ex 'continue' -ex 'run' -ex 'echo WHENRUN2=' -ex 'monitor when' \
    -ex 'kill' >"$W/plain.out" 2>&1 </dev/null
report "plain monitor goto + maintenance flush register-cache: gdb sees event 5's pc" "$W/plain.out" "^PLAIN-PC $(rip_of 5)$"
report "extended-remote run: restarts the replay from the start" "$W/plain.out" "^WHENRUN=event 5 of $N \(13%\)"
report "extended-remote run after the guest exited: replays again" "$W/plain.out" "^WHENRUN2=event $((N - 1)) of $N"
ukvm_gdb_stop 0 # over extended-remote, ukvm waits for the next `run` after kill

# --goto: gdb's session starts there
dbg "$W/goto5.out" --goto=5 -- -ex 'echo WHEN=' -ex 'monitor when' -ex 'printf "PC 0x%x\n", $pc'
report "debug --goto=5: the session starts before event 5" "$W/goto5.out" "^WHEN=event 5 of $N \(13%\), just before it"
report "debug --goto=5: gdb's pc is event 5's" "$W/goto5.out" "^PC $(rip_of 5)$"
report "debug --goto=5: says where on stderr" "$W/goto5.out" "^ukvm: replay starts at event 5 of $N"
dbg "$W/gotoend.out" --goto=end -- -ex 'echo WHEN=' -ex 'monitor when' -ex 'break hc_poll' \
    -ex 'reverse-continue' -ex 'echo AFTER-RC=' -ex 'monitor when'
report "debug --goto=end: the stop before the final halt" "$W/gotoend.out" "^WHEN=event $((N - 1)) of $N .*just before it \(halt\)"
report "goto end then reverse-continue to a breakpoint: the last poll" "$W/gotoend.out" "^AFTER-RC=event 29 of $N"
expect_run replay_goto_bad 1 "" "--goto: 'soon' is not an event number" "$UKVM" replay --gdb=0 --goto=soon "$W/t.trace"
expect_run replay_goto_needs_gdb 1 "" "--goto .* needs --gdb" "$UKVM" replay --goto=5 "$W/t.trace"
dbg "$W/goto99.out" --goto=99 -- -ex 'p 1'
report "--goto past the end: one error line" "$W/goto99.out" "^ukvm: --goto=99: goto 99: the trace ends at event $((N - 1))"

# bookmarks survive thinning under a tiny checkpoint budget
mapfile -t ST1 < <(state TH1); mapfile -t ST2 < <(state TH2)
dbg "$W/thin.out" --checkpoint-mem=1 -- -ex 'monitor goto 12' -ex 'stepi' -ex 'monitor bookmark keep' "${ST1[@]}" \
    -ex 'monitor goto 30' -ex 'monitor goto end' -ex 'monitor goto keep' -ex 'echo WHENKEEP=' -ex 'monitor when' "${ST2[@]}"
report "thinning happened" "$W/thin.out" "thinning old checkpoints"
report "goto a bookmark after thinning" "$W/thin.out" "^WHENKEEP=event 13 of $N \(34%\), after event 12"
same_state "bookmark after thinning: identical registers and stack" "$W/thin.out" TH1 "$W/thin.out" TH2

# a live run: help works, the rest says replay only
ukvm_gdb_start "$W/live.err" run --gdb=0 "$G"
timeout -k 5 60 gdb -nx --batch -ex "target remote 127.0.0.1:$PORT" -ex 'monitor help' \
    -ex 'monitor goto 5' -ex 'kill' >"$W/live.out" 2>&1 </dev/null
ukvm_gdb_stop
report "run --gdb: monitor help" "$W/live.out" "only help works here"
report "run --gdb: goto says replay only" "$W/live.out" "^ukvm: monitor goto 5 works only in replay"

# continue after `goto end` (or after a goto to a bookmark made there): the
# guest exits, as at the second continue at the end; no second end stop
dbg "$W/endcont.out" -ex 'monitor goto end' -ex 'continue' -ex 'echo AFTER-CONT\n'
dbg "$W/endcont2.out" -ex 'monitor goto end' -ex 'monitor bookmark atend' -ex 'monitor goto start' \
    -ex 'monitor goto atend' -ex 'continue' -ex 'echo AFTER-CONT2\n'
cat "$W/endcont2.out" >>"$W/endcont.out"
report "continue after goto end: the guest exits" "$W/endcont.out" \
    "^\[Inferior 1 \(Remote target\) exited normally\]$"
if [ "$(grep -c 'exited normally' "$W/endcont.out")" = 2 ] &&
    ! has "$W/endcont.out" 'No more reverse-execution history'; then
    pass "continue after goto end / goto to a bookmark there: exits at once, twice"
else
    fail "continue after goto end / goto to a bookmark there: exits at once, twice" \
        "$(grep -E 'exited|No more|AFTER' "$W/endcont.out" | tr '\n' '|' | head -c 600)"
fi

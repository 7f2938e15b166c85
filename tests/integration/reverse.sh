#!/usr/bin/env bash
# Reverse execution with a real gdb against `ukvm replay --gdb` on /dev/kvm.
# Every gdb session gets a fresh replay server on a random port and runs from
# an empty directory (gdb fetches the kernel and its symbols from ukvm). The
# expected values come from forward runs in the same session: a reverse
# command must land exactly where (and in exactly the state) the forward run
# was.
#
# Checks:
#   1. compute: 100 stepi from mix, then 100 reverse-stepi: the same pcs in
#      reverse order and the same registers (and stack/bss hash) at each point.
#   2. The same across events: loop (walltime `out` + patched rdtsc in every
#      iteration) and time (rdtscp, poll, walltime, rdtsc); and the other way
#      round (100 reverse-stepi from a breakpoint stop, then 100 stepi).
#   3. reverse-next, reverse-step, reverse-nexti, reverse-finish against the
#      states recorded before next/step/nexti, and reverse-finish from mix /
#      hash_table to the call instructions; on loop, the same over the call
#      to hc_walltime (an out inside) and the rdtsc line.
#   4. reverse-continue to a breakpoint hit in a loop lands on the previous
#      hits (compute: mix; loop: after the walltime hypercall, across events;
#      loop: breakpoints on the out and the rdtsc themselves and right after
#      them, with reverse-stepi/stepi over them); with nothing armed it
#      reaches the start ("No more reverse-execution history", pc = _start,
#      the initial state). Console output is shown once.
#   5. reverse-continue with `watch counter` / `rwatch counter` stops on the
#      previous store / load itself, in the state from before it ran (the
#      forward state at a breakpoint on that instruction); forwards, a
#      watchpoint stops just after the access.
#   6. forward, back, forward: registers and memory hashes at several stops.
#   7. reverse-stepi / reverse-continue near the end of a long loop trace
#      (REV_LONG_ITERS iterations, default 30000: about a million
#      instructions) finish within REV_LONG_BOUND seconds (default 60), land
#      on the right iterations, and a continue from the start reaches the
#      same final state; the console output is the recording's, once.
#
# Helper: reverse/revcheck.py (gdb python commands). Environment:
# GDB_TIMEOUT (seconds per gdb session, default 90), REV_KEEP=1 keeps the
# outputs, REV_CHECKS (a subset of the check function names, for debugging).
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST
HELPERS=$(cd "$(dirname "$0")/reverse" && pwd)
GDB=${GDB:-gdb}
GDB_TIMEOUT=${GDB_TIMEOUT:-90}
REV_LONG_BOUND=${REV_LONG_BOUND:-60}
GDBCWD=$T/gdbcwd                 # empty: no local kernel for gdb to find
mkdir -p "$GDBCWD"

UKVM_PID=""
UKVM_RC=""
PORT=""
ERR=""

cleanup() {
    if [ -n "$UKVM_PID" ]; then
        kill -9 "$UKVM_PID" 2>/dev/null
        wait "$UKVM_PID" 2>/dev/null
        UKVM_PID=""
    fi
    if [ -n "${REV_KEEP:-}" ]; then echo "reverse: outputs kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- prerequisites
require_kvm "reverse" || exit 0
for need in "$UKVM" "$GUESTS/compute.elf" "$GUESTS/loop.elf" "$GUESTS/time.elf"; do
    if [ ! -e "$need" ]; then skip "reverse" "$need is not built (run make)"; exit 0; fi
done
for tool in "$GDB" python3 objdump nm; do
    if ! command -v "$tool" >/dev/null; then skip "reverse" "$tool is not installed"; exit 0; fi
done
if ! "$GDB" -batch -nx -ex 'python print("py-ok")' 2>/dev/null | grep -q py-ok; then
    skip "reverse" "gdb has no python"; exit 0
fi

record() { # NAME ELF ARGS...: records $T/NAME.trace
    local name=$1; shift
    if ! run_capture "$T/$name.rec.out" "$T/$name.rec.err" "$UKVM" record -o "$T/$name.trace" "$@"; then
        fail "reverse: record $name" "$(head -c 300 "$T/$name.rec.err")"
        return 1
    fi
}
record compute "$GUESTS/compute.elf" || exit 0
record loop "$GUESTS/loop.elf" 50 || exit 0
record time "$GUESTS/time.elf" || exit 0

# Addresses from the ELF files (independent of ukvm).
C=$GUESTS/compute.elf
START=$(elf_sym "$C" _start)
MIX=$(elf_sym "$C" mix)
HASH_TABLE=$(elf_sym "$C" hash_table)
BSS_START=$(elf_sym "$C" __bss_start)
BSS_END=$(elf_sym "$C" __bss_end)
CALL_MIX=$(elf_insn "$C" hash_table 'call +[0-9a-f]+ <mix>')
CALL_HASH=$(elf_insn "$C" main 'call +[0-9a-f]+ <hash_table>')
STORE=$(elf_insn "$C" bump_counter 'mov +%[a-z0-9]+,.*<counter>')
STORE_NEXT=$(elf_insn "$C" bump_counter 'mov +%[a-z0-9]+,.*<counter>' next)
LOAD=$(elf_insn "$C" bump_counter 'mov +0x[0-9a-f]+\(%rip\),%[a-z0-9]+ .*<counter>')
LOAD_NEXT=$(elf_insn "$C" bump_counter 'mov +0x[0-9a-f]+\(%rip\),%[a-z0-9]+ .*<counter>' next)
AFTER_WALLTIME=$(elf_insn "$GUESTS/loop.elf" main 'call +[0-9a-f]+ <hc_walltime>' next)
CALL_WALLTIME=$(elf_insn "$GUESTS/loop.elf" main 'call +[0-9a-f]+ <hc_walltime>')
OUT_WALLTIME=$(elf_insn "$GUESTS/loop.elf" hc_walltime 'out ')
AFTER_OUT=$(elf_insn "$GUESTS/loop.elf" hc_walltime 'out ' next)
RDTSC_LOOP=$(elf_insn "$GUESTS/loop.elf" main 'rdtsc *$')
AFTER_RDTSC=$(elf_insn "$GUESTS/loop.elf" main 'rdtsc *$' next)
WALLTIME_RET=$(elf_insn "$GUESTS/loop.elf" hc_walltime 'ret')
RDTSCP=$(elf_insn "$GUESTS/time.elf" main 'rdtscp')
for v in START MIX HASH_TABLE BSS_START BSS_END CALL_MIX CALL_HASH STORE STORE_NEXT LOAD LOAD_NEXT AFTER_WALLTIME CALL_WALLTIME WALLTIME_RET OUT_WALLTIME AFTER_OUT RDTSC_LOOP AFTER_RDTSC RDTSCP; do
    if [ -z "${!v}" ]; then fail "reverse: find $v in the guests' disassembly" "not found"; exit 0; fi
done
MIX_END=$HASH_TABLE                    # mix is immediately followed by hash_table
# memory hashed with the registers: compute's .bss and the top 8 KiB of the
# stack (the stack starts at the end of the default 512 MiB)
MEM_COMPUTE="RV_MEM = [($BSS_START, $BSS_END - $BSS_START), (0x1fffe000, 0x2000)]"
MEM_STACK="RV_MEM = [(0x1fffe000, 0x2000)]"

# ------------------------------------------------------------------ helpers
show() { sed -n '1,40p' "$1" | sed 's/^/    | /'; }
showgrep() { grep -E -m "${3:-10}" -- "$2" "$1" | sed 's/^/    | /'; }

# start_ukvm NAME TRACE: a fresh `ukvm replay --gdb` on a random free port;
# its stderr goes to $T/NAME.err ($ERR).
start_ukvm() {
    local name=$1 trace=$2 i
    ERR=$T/$name.err
    for _ in 1 2 3 4 5 6 7 8; do
        PORT=$((${UKVM_TEST_PORT_BASE:-40000} + RANDOM % ${UKVM_TEST_PORT_SPAN:-20000}))
        "$UKVM" replay --gdb="$PORT" "$trace" >"$T/$name.ukvm.out" 2>"$ERR" &
        UKVM_PID=$!
        for i in $(seq 100); do
            if grep -q "waiting for gdb on 127.0.0.1:$PORT" "$ERR"; then return 0; fi
            proc_alive "$UKVM_PID" || break
            sleep 0.05
        done
        reap_ukvm 1
    done
    fail "reverse: start ukvm replay --gdb ($name)" "could not start: $(head -c 300 "$ERR")"
    return 1
}

# gdb_session OUT GDB-ARGS...: gdb in batch mode, connected to $PORT, with
# the helpers loaded.
gdb_session() {
    local out=$1; shift
    (cd "$GDBCWD" && timeout -k 5 "$GDB_TIMEOUT" "$GDB" -batch -nx \
        -ex 'set pagination off' -ex 'set confirm off' -ex 'set width 0' \
        -ex "source $HELPERS/revcheck.py" \
        -ex "target remote 127.0.0.1:$PORT" "$@") >"$out" 2>&1 </dev/null
    GDB_RC=$?
    if [ "$GDB_RC" = 124 ] || [ "$GDB_RC" = 137 ]; then
        echo "(gdb timed out after ${GDB_TIMEOUT}s)" >>"$out"
    fi
}

# end_session NAME: ukvm ends after gdb's kill, without a reverse-execution
# error or a crash on its stderr.
end_session() {
    reap_ukvm 10
    local bad
    bad=$(grep -E 'reverse execution:|re-execution|could not|AddressSanitizer|runtime error|diverged|Segmentation|Aborted' "$ERR" | head -3 | tr '\n' ' ')
    if [ "$UKVM_RC" = 1 ] && grep -q 'guest killed from gdb' "$ERR" && [ -z "$bad" ]; then
        pass "$1: ukvm ends cleanly after kill, no error on its stderr"
    else
        fail "$1: ukvm ends cleanly after kill, no error on its stderr" \
            "exit status $UKVM_RC; stderr: $(grep -v 'waiting for gdb' "$ERR" | tail -5 | tr '\n' ' ' | head -c 600)"
    fi
}

# expect NAME FILE ERE [DETAIL-ERE]: a line of FILE matches ERE; on failure
# show the lines matching DETAIL-ERE (default: the whole output).
expect() {
    if grep -Eq -- "$3" "$2"; then pass "$1"; else
        fail "$1" "no line matching /$3/ in the gdb output"
        if [ -n "${4:-}" ]; then showgrep "$2" "$4"; else show "$2"; fi
    fi
}
# at LABEL FILE: the pc printed after `rv-do LABEL` ("AT LABEL 0x.. secs")
at() { awk -v l="$1" '$1 == "AT" && $2 == l {print $3; exit}' "$2"; }
secs() { awk -v l="$1" '$1 == "AT" && $2 == l {print $4; exit}' "$2"; }
# between FILE LABEL ERE: a line matching ERE between BEGIN LABEL and AT LABEL
between() {
    awk -v l="$2" -v re="$3" '$1 == "BEGIN" && $2 == l { in_ = 1; next }
        in_ && $1 == "AT" && $2 == l { exit }
        in_ && $0 ~ re { found = 1 }
        END { exit !found }' "$1"
}
# expect_cmp NAME FILE LABEL: "CMP LABEL OK" (states equal)
expect_cmp() {
    if grep -q "^CMP $3 OK$" "$2"; then pass "$1"; else
        fail "$1" "$(grep -m1 "^CMP $3 " "$2" | head -c 700 || echo "no comparison printed")"
        showgrep "$2" "^(AT|CMP|RV-BAD|Program|No more|\(gdb timed)" 12
    fi
}
# expect_pc NAME FILE LABEL WANT
expect_pc() {
    local got
    got=$(at "$3" "$2")
    if [ -n "$got" ] && [ $((got)) = $(($4)) ]; then pass "$1"; else
        fail "$1" "pc after '$3' is ${got:-none}, expected $4"
        showgrep "$2" "^(AT|CMP|Program|No more|\(gdb timed)" 12
    fi
}
# expect_eval NAME FILE LABEL WANT: "EVAL LABEL WANT"
expect_eval() {
    local got
    got=$(awk -v l="$3" '$1 == "EVAL" && $2 == l {print $3; exit}' "$2")
    if [ "$got" = "$4" ]; then pass "$1"; else fail "$1" "$3 = '${got}', expected '$4'"; fi
}
evalv() { awk -v l="$1" '$1 == "EVAL" && $2 == l {print $3; exit}' "$2"; }

# expect_roundtrip NAME FILE LABEL N
expect_roundtrip() {
    if grep -q "^ROUNDTRIP $3 OK $4$" "$2"; then pass "$1"; else
        fail "$1" "$(grep -m1 "^ROUNDTRIP $3 " "$2" || echo "no result (gdb died or timed out?)")"
        showgrep "$2" "^(RV-BAD|TIMES|ROUNDTRIP|Program|No more|\(gdb timed)" 12
    fi
}

# ------------------------------------------------------------------ checks

# 1. compute: 100 stepi from mix and back (two calls of mix, a ret between).
check_stepi_compute() {
    local o=$T/stepi_compute.gdb N=100
    start_ukvm stepi_compute "$T/compute.trace" || return
    gdb_session "$o" -ex "python $MEM_COMPUTE" -ex 'break mix' -ex continue -ex 'delete' \
        -ex "rv-roundtrip compute $N" -ex kill
    expect "compute: the $N forward steps go through ret and call (mix -> hash_table -> mix)" "$o" \
        "^FWD compute [0-9]+ 0x[0-9a-f]+ => .*:[[:space:]]+call +0x[0-9a-f]+ <mix>" '^(FWD|ROUNDTRIP)'
    expect_roundtrip "compute: $N reverse-stepi retrace the $N stepi (pc, registers, stack+bss hash)" "$o" compute $N
    end_session "compute: stepi/reverse-stepi session"
}

# 2. Across hypercalls and patched TSC reads.
check_stepi_events() {
    local o=$T/stepi_loop.gdb N=100
    start_ukvm stepi_loop "$T/loop.trace" || return
    gdb_session "$o" -ex "python $MEM_STACK" -ex 'break hc_walltime' -ex continue -ex 'delete' \
        -ex "rv-roundtrip loop $N" -ex "break *$AFTER_WALLTIME" -ex continue -ex continue -ex continue \
        -ex delete -ex "rv-backtrip loopb 100" -ex kill
    expect "loop: the $N forward steps cross a hypercall out" "$o" \
        '^FWD loop [0-9]+ 0x[0-9a-f]+ => .*:[[:space:]]+out ' '^(FWD loop [0-9]+ 0x[0-9a-f]+ => 0x[0-9a-f]+ <hc|ROUNDTRIP)'
    expect "loop: the $N forward steps cross a patched rdtsc" "$o" \
        '^FWD loop [0-9]+ 0x[0-9a-f]+ => .*:[[:space:]]+rdtsc' '^(FWD loop [0-9]+ 0x[0-9a-f]+ => 0x[0-9a-f]+ <main|ROUNDTRIP)'
    expect_roundtrip "loop: $N reverse-stepi retrace the $N stepi across outs and rdtscs" "$o" loop $N
    if grep -q '^BACKTRIP loopb OK 100$' "$o"; then
        pass "loop: 100 reverse-stepi from a breakpoint stop, then 100 stepi retrace them (across outs and rdtscs)"; else
        fail "loop: 100 reverse-stepi from a breakpoint stop, then 100 stepi retrace them (across outs and rdtscs)" \
            "$(grep -m1 '^BACKTRIP loopb' "$o" || echo 'no result')"
        showgrep "$o" '^(RV-BAD|BACKTRIP|Program|No more|\(gdb timed)' 12; fi
    end_session "loop: stepi/reverse-stepi session"

    o=$T/stepi_time.gdb
    start_ukvm stepi_time "$T/time.trace" || return
    gdb_session "$o" -ex "python $MEM_STACK" -ex "tbreak *$RDTSCP" -ex continue \
        -ex "rv-roundtrip rdtscp 60" -ex 'break hc_poll' -ex continue -ex 'delete' \
        -ex "rv-roundtrip poll 60" -ex kill
    expect "time: the forward steps from rdtscp cross rdtscp and the walltime out" "$o" \
        '^FWD rdtscp [0-9]+ 0x[0-9a-f]+ => .*<hc_walltime\+[0-9]+>:[[:space:]]+out ' '^(FWD rdtscp|ROUNDTRIP)'
    expect_roundtrip "time: 60 reverse-stepi back over walltime's out to rdtscp" "$o" rdtscp 60
    expect "time: the forward steps from hc_poll cross poll's out" "$o" \
        '^FWD poll [0-9]+ 0x[0-9a-f]+ => .*<hc_poll\+[0-9]+>:[[:space:]]+out ' '^(FWD poll|ROUNDTRIP)'
    expect "time: the forward steps from hc_poll cross a patched rdtsc" "$o" \
        '^FWD poll [0-9]+ 0x[0-9a-f]+ => .*:[[:space:]]+rdtsc' '^(FWD poll|ROUNDTRIP)'
    expect_roundtrip "time: 60 reverse-stepi back over rdtsc, poll and walltime" "$o" poll 60
    end_session "time: stepi/reverse-stepi session"
}

# 3. reverse-next / reverse-step / reverse-nexti / reverse-finish.
check_reverse_line_steps() {
    local o=$T/lines.gdb
    start_ukvm lines "$T/compute.trace" || return
    gdb_session "$o" -ex "python $MEM_COMPUTE" -ex 'break hash_table' -ex continue -ex delete \
        -ex 'rv-do n1 next' -ex 'rv-do n2 next' -ex 'rv-save A' \
        -ex 'rv-do n3 next' -ex 'rv-save B' -ex 'rv-do n4 next' \
        -ex 'rv-do rn1 reverse-next' -ex 'rv-cmp B rn1' \
        -ex 'rv-do rn2 reverse-next' -ex 'rv-cmp A rn2' \
        -ex 'rv-do s1 step' -ex 'rv-do rs1 reverse-step' -ex 'rv-cmp A rs1' \
        -ex 'rv-until-call 20' -ex 'rv-save C' -ex 'rv-do ni nexti' -ex 'rv-save D' \
        -ex 'rv-do rni reverse-nexti' -ex 'rv-cmp C rni' \
        -ex 'rv-do si stepi' -ex 'rv-do si4 stepi 4' -ex 'rv-do rf0 reverse-finish' -ex 'rv-cmp C rf0' \
        -ex 'rv-steprec R B 300' -ex 'rv-cmp B fwdB' \
        -ex 'rv-do rs2 reverse-step' -ex 'rv-inrec R rs2' \
        -ex 'rv-do rf1 reverse-finish' -ex 'rv-cmp C rf1' \
        -ex 'break mix' -ex 'rv-do c1 continue' -ex 'rv-eval rspmix $rsp' -ex 'rv-eval vmix $rsi' \
        -ex 'delete' -ex 'rv-do si3 stepi 3' -ex 'rv-do rf2 reverse-finish' \
        -ex 'rv-eval rspcall $rsp' -ex 'rv-eval vcall $rsi' \
        -ex 'x/i $pc' -ex 'rv-do rf3 reverse-finish' -ex 'x/i $pc' -ex kill
    expect_cmp "reverse-next from the next line lands at the line start recorded before next (registers, memory)" "$o" rn1
    expect_cmp "reverse-next over the call to mix lands where next started" "$o" rn2
    local s1
    s1=$(at s1 "$o")
    if [ -n "$s1" ] && [ $((s1)) = $((MIX)) ]; then pass "step from the call line enters mix ($MIX)"; else
        fail "step from the call line enters mix" "pc ${s1:-none}, expected $MIX"; fi
    expect_cmp "reverse-step out of mix's first line lands where step started" "$o" rs1
    expect "the nexti test stopped on the call to mix" "$o" "^CALLAT $CALL_MIX 5 call"
    expect_cmp "reverse-nexti over the call lands on the call (recorded state)" "$o" rni
    expect_cmp "reverse-finish from inside mix lands on the call instruction (recorded state)" "$o" rf0
    expect_cmp "stepping forward again from the call reaches the state next reached" "$o" fwdB
    local rs2
    rs2=$(at rs2 "$o")
    if [ -n "$rs2" ] && [ $((rs2)) -ge $((MIX)) ] && [ $((rs2)) -lt $((MIX_END)) ]; then
        pass "reverse-step from the line after the call goes back into mix (${rs2})"; else
        fail "reverse-step from the line after the call goes back into mix" "pc ${rs2:-none}, mix is [$MIX, $MIX_END)"; fi
    if grep -q '^INREC rs2 OK ' "$o"; then pass "reverse-step into mix: the state of the forward steps at that pc"; else
        fail "reverse-step into mix: the state of the forward steps at that pc" "$(grep -m1 '^INREC rs2' "$o" | head -c 600)"; fi
    expect_cmp "reverse-finish from there lands on the call (recorded state)" "$o" rf1
    expect_pc "break mix, continue, stepi 3, reverse-finish: pc = the call to mix in hash_table ($CALL_MIX)" "$o" rf2 "$CALL_MIX"
    local a b
    a=$(evalv rspmix "$o"); b=$(evalv rspcall "$o")
    if [ -n "$a" ] && [ -n "$b" ] && [ $((a + 8)) = $((b)) ]; then
        pass "reverse-finish: rsp at the call = rsp at mix's entry + 8 (the return address popped)"; else
        fail "reverse-finish: rsp at the call = rsp at mix's entry + 8 (the return address popped)" "entry $a, call $b"; fi
    a=$(evalv vmix "$o"); b=$(evalv vcall "$o")
    if [ -n "$a" ] && [ "$a" = "$b" ]; then pass "reverse-finish: the argument register (rsi = v) is the one mix got"; else
        fail "reverse-finish: the argument register (rsi = v) is the one mix got" "mix $a, call $b"; fi
    expect "reverse-finish: x/i shows the call to mix" "$o" "^=> $CALL_MIX <hash_table\+[0-9]+>:[[:space:]]+call +0x[0-9a-f]+ <mix>"
    expect_pc "reverse-finish from hash_table lands on its call in main ($CALL_HASH)" "$o" rf3 "$CALL_HASH"
    expect "reverse-finish from hash_table: x/i shows the call to hash_table" "$o" "^=> $CALL_HASH <main\+[0-9]+>:[[:space:]]+call +0x[0-9a-f]+ <hash_table>"
    end_session "reverse-next/step/nexti/finish session"

    # the same around events: loop's call to hc_walltime (an out inside),
    # then the rdtsc line
    o=$T/lines_loop.gdb
    start_ukvm lines_loop "$T/loop.trace" || return
    gdb_session "$o" -ex "python $MEM_STACK" -ex "break *$CALL_WALLTIME" -ex continue -ex continue -ex delete \
        -ex 'rv-save C' -ex 'rv-do n1 next' -ex 'rv-save N1' -ex 'rv-do n2 next' \
        -ex 'rv-do rn2 reverse-next' -ex 'rv-cmp N1 rn2' -ex 'rv-do rn1 reverse-next' -ex 'rv-cmp C rn1' \
        -ex 'rv-do ni nexti' -ex 'rv-save D' -ex 'rv-do rni reverse-nexti' -ex 'rv-cmp C rni' \
        -ex 'rv-steprec R D 60' -ex 'rv-cmp D fwdD' -ex 'rv-do rsi reverse-stepi' -ex 'rv-inrec R rsi' \
        -ex 'rv-do rf reverse-finish' -ex 'rv-cmp C rf' -ex kill
    expect_cmp "loop: reverse-next over the rdtsc line lands where that next started" "$o" rn2
    expect_cmp "loop: reverse-next over the call to hc_walltime (an out inside) lands where next started ($CALL_WALLTIME)" "$o" rn1
    expect_cmp "loop: reverse-nexti over the call to hc_walltime lands on the call (recorded state)" "$o" rni
    expect_cmp "loop: stepping through hc_walltime reaches the state nexti reached" "$o" fwdD
    expect_pc "loop: reverse-stepi from after the call lands on hc_walltime's ret ($WALLTIME_RET)" "$o" rsi "$WALLTIME_RET"
    if grep -q '^INREC rsi OK ' "$o"; then pass "loop: reverse-stepi onto hc_walltime's ret: the state the forward steps had there"; else
        fail "loop: reverse-stepi onto hc_walltime's ret: the state the forward steps had there" "$(grep -m1 '^INREC rsi' "$o" | head -c 600)"; fi
    expect_cmp "loop: reverse-finish from hc_walltime's ret (after the out) lands on the call (recorded state)" "$o" rf
    end_session "loop: reverse-next/nexti/finish session"
}

# 4. reverse-continue to a breakpoint hit in a loop; to the start.
check_reverse_continue() {
    local o=$T/rc.gdb i
    local args=()
    for i in 1 2 3 4 5; do args+=(-ex "rv-do c$i continue" -ex "rv-save H$i" -ex "rv-eval v$i \$rsi"); done
    for i in 4 3 2; do args+=(-ex "rv-do rc$i reverse-continue" -ex "rv-cmp H$i rc$i" -ex "rv-eval rv$i \$rsi"); done
    start_ukvm rc "$T/compute.trace" || return
    gdb_session "$o" -ex "python $MEM_COMPUTE" -ex 'rv-save S' -ex 'break mix' "${args[@]}" \
        -ex 'delete' -ex 'rv-do rc0 reverse-continue' -ex 'rv-cmp S rc0' \
        -ex 'rv-do rsi0 reverse-stepi' -ex 'rv-cmp S rsi0' -ex kill
    local v1 v5
    v1=$(evalv v1 "$o"); v5=$(evalv v5 "$o")
    if [ -n "$v1" ] && [ -n "$v5" ] && [ "$v1" != "$v5" ]; then pass "compute: 5 hits of mix with different arguments"; else
        fail "compute: 5 hits of mix with different arguments" "v1 '$v1', v5 '$v5'"; show "$o"; fi
    for i in 4 3 2; do
        expect_pc "compute: reverse-continue #$((5 - i)) stops at mix" "$o" "rc$i" "$MIX"
        expect_eval "compute: reverse-continue #$((5 - i)) lands on hit $i (v = $(evalv "v$i" "$o"))" "$o" "rv$i" "$(evalv "v$i" "$o")"
        expect_cmp "compute: reverse-continue #$((5 - i)): registers and memory of hit $i" "$o" "rc$i"
    done
    if between "$o" rc0 'No more reverse-execution history'; then
        pass "compute: reverse-continue with nothing armed: No more reverse-execution history"; else
        fail "compute: reverse-continue with nothing armed: No more reverse-execution history" "not printed"
        showgrep "$o" '^(BEGIN rc0|AT rc0|Program|No more)'; fi
    expect_pc "compute: reverse-continue with nothing armed stops at _start ($START)" "$o" rc0 "$START"
    expect_cmp "compute: back at the start: the initial registers and memory" "$o" rc0
    if between "$o" rsi0 'No more reverse-execution history'; then
        pass "compute: reverse-stepi at the start: No more reverse-execution history"; else
        fail "compute: reverse-stepi at the start: No more reverse-execution history" "not printed"
        showgrep "$o" '^(BEGIN rsi0|AT rsi0|Program|No more)'; fi
    expect_cmp "compute: reverse-stepi at the start leaves the initial state" "$o" rsi0
    end_session "compute: reverse-continue session"

    # loop: the same across events (a walltime out and an rdtsc per iteration)
    o=$T/rc_loop.gdb
    args=()
    for i in 1 2 3 4 5; do args+=(-ex "rv-do c$i continue" -ex "rv-save H$i" -ex "rv-eval w$i \$rax"); done
    for i in 4 3 2; do args+=(-ex "rv-do rc$i reverse-continue" -ex "rv-cmp H$i rc$i" -ex "rv-eval rw$i \$rax"); done
    start_ukvm rc_loop "$T/loop.trace" || return
    gdb_session "$o" -ex "python $MEM_STACK" -ex "break *$AFTER_WALLTIME" "${args[@]}" -ex kill
    for i in 4 3 2; do
        expect_pc "loop: reverse-continue #$((5 - i)) stops after the walltime call ($AFTER_WALLTIME)" "$o" "rc$i" "$AFTER_WALLTIME"
        expect_eval "loop: reverse-continue #$((5 - i)): walltime result of hit $i" "$o" "rw$i" "$(evalv "w$i" "$o")"
        expect_cmp "loop: reverse-continue #$((5 - i)): registers and stack of hit $i" "$o" "rc$i"
    done
    if [ "$(cat "$T/rc_loop.ukvm.out")" = "$(head -n 1 "$T/loop.rec.out")" ]; then
        pass "loop: console output shown once across the reverse-continues (the first line only)"; else
        fail "loop: console output shown once across the reverse-continues (the first line only)" \
            "got: $(head -c 300 "$T/rc_loop.ukvm.out" | tr '\n' '|')"; fi
    end_session "loop: reverse-continue session"

    # breakpoints on the event instructions themselves (walltime's out, the
    # patched rdtsc) and right after them
    o=$T/rc_events.gdb
    start_ukvm rc_events "$T/loop.trace" || return
    gdb_session "$o" -ex "python $MEM_STACK" -ex "break *$OUT_WALLTIME" -ex "break *$RDTSC_LOOP" \
        -ex 'rv-do c1 continue' -ex 'rv-save O1' -ex 'rv-do c2 continue' -ex 'rv-save T1' \
        -ex 'rv-do c3 continue' -ex 'rv-save O2' -ex 'rv-do c4 continue' -ex 'rv-save T2' -ex 'rv-do c5 continue' \
        -ex 'rv-do rc1 reverse-continue' -ex 'rv-cmp T2 rc1' -ex 'rv-do rc2 reverse-continue' -ex 'rv-cmp O2 rc2' \
        -ex 'rv-do rc3 reverse-continue' -ex 'rv-cmp T1 rc3' \
        -ex 'rv-do s1 stepi' -ex 'rv-do rs1 reverse-stepi' -ex 'rv-cmp T1 rs1' \
        -ex 'rv-do c6 continue' -ex 'rv-cmp O2 c6' -ex 'rv-do s3 stepi' -ex 'rv-do rs3 reverse-stepi' -ex 'rv-cmp O2 rs3' \
        -ex delete -ex "break *$AFTER_OUT" -ex "break *$AFTER_RDTSC" \
        -ex 'rv-do c7 continue' -ex 'rv-save A1' -ex 'rv-do c8 continue' -ex 'rv-save B1' \
        -ex 'rv-do rs4 reverse-stepi' -ex 'rv-do s4 stepi' -ex 'rv-cmp B1 s4' \
        -ex 'rv-do rc4 reverse-continue' -ex 'rv-cmp A1 rc4' \
        -ex 'rv-do rs5 reverse-stepi' -ex 'rv-do s5 stepi' -ex 'rv-cmp A1 s5' -ex kill
    expect_cmp "loop: break on the out and on the rdtsc: reverse-continue lands on the previous rdtsc" "$o" rc1
    expect_cmp "loop: break on the out and on the rdtsc: the reverse-continue after lands on the previous out (before the hypercall)" "$o" rc2
    expect_cmp "loop: break on the out and on the rdtsc: the third reverse-continue lands on the rdtsc before" "$o" rc3
    expect_pc "loop: stepi from the breakpoint on rdtsc executes it ($AFTER_RDTSC)" "$o" s1 "$AFTER_RDTSC"
    expect_cmp "loop: reverse-stepi back onto the rdtsc: the state before it" "$o" rs1
    expect_cmp "loop: continue from there to the next out: the state seen the first time" "$o" c6
    expect_pc "loop: stepi from the breakpoint on the out services it ($AFTER_OUT)" "$o" s3 "$AFTER_OUT"
    expect_cmp "loop: reverse-stepi back onto the out: the state before the hypercall" "$o" rs3
    expect_pc "loop: reverse-stepi from right after rdtsc lands on it ($RDTSC_LOOP)" "$o" rs4 "$RDTSC_LOOP"
    expect_cmp "loop: stepi from there re-executes the rdtsc with the recorded value" "$o" s4
    expect_cmp "loop: reverse-continue from after rdtsc to the breakpoint right after the out" "$o" rc4
    expect_pc "loop: reverse-stepi from right after the out lands on it ($OUT_WALLTIME)" "$o" rs5 "$OUT_WALLTIME"
    expect_cmp "loop: stepi from there services the hypercall again with the recorded result" "$o" s5
    end_session "loop: breakpoints on events session"
}

# 5. reverse-continue with watch / rwatch. Going forwards a watchpoint
# stops just after the access (as the hardware does); going backwards it
# stops at the accessing instruction, in the state from before it ran (gdb's
# own `record full` and rr do this). The expected states come from forward
# breakpoint stops on the store and the load themselves (B1-B4, L1-L3).
check_reverse_watch() {
    local o=$T/watch.gdb i
    local args=()
    args+=(-ex "break *$STORE")
    for i in 1 2 3 4; do args+=(-ex "rv-do b$i continue" -ex "rv-save B$i" -ex "rv-eval cb$i counter"); done
    args+=(-ex delete -ex 'watch counter' -ex 'rv-do w4 continue' -ex 'rv-eval cw4 counter')
    for i in 4 3 2; do args+=(-ex "rv-do rw$i reverse-continue" -ex "rv-cmp B$i rw$i" -ex "rv-eval crw$i counter"); done
    args+=(-ex 'rv-do rsw reverse-stepi' -ex 'rv-eval crsw counter' -ex 'rv-do sw stepi' -ex 'rv-cmp B2 sw')
    args+=(-ex 'rv-do fw continue' -ex 'rv-eval cfw counter' -ex delete -ex "break *$LOAD")
    for i in 1 2 3; do args+=(-ex "rv-do l$i continue" -ex "rv-save L$i"); done
    args+=(-ex delete -ex 'rwatch counter' -ex 'rv-do r3 continue')
    for i in 3 2 1; do args+=(-ex "rv-do rr$i reverse-continue" -ex "rv-cmp L$i rr$i" -ex "rv-eval crr$i counter"); done
    start_ukvm watch "$T/compute.trace" || return
    gdb_session "$o" -ex "python $MEM_COMPUTE" -ex 'break bump_counter' -ex continue -ex delete \
        "${args[@]}" -ex kill
    for i in 1 2 3 4; do
        expect_eval "watch: before store $i (breakpoint on it): counter = $((i - 1))" "$o" "cb$i" "$((i - 1))"
    done
    expect_eval "watch: a forward hit executes the store: counter = 4" "$o" cw4 4
    expect_pc "watch: a forward hit stops right after the store to counter ($STORE_NEXT)" "$o" w4 "$STORE_NEXT"
    for i in 4 3 2; do
        if between "$o" "rw$i" "^Old value = $i\$" && between "$o" "rw$i" "^New value = $((i - 1))\$"; then
            pass "watch: reverse-continue to store $i: gdb shows Old value = $i, New value = $((i - 1))"; else
            fail "watch: reverse-continue to store $i: gdb shows Old value = $i, New value = $((i - 1))" "not shown"
            showgrep "$o" "^(BEGIN rw$i|AT rw$i|Old value|New value|Hardware|Program|No more)" 20; fi
        expect_eval "watch: reverse-continue to store $i: p counter = $((i - 1)) (before it)" "$o" "crw$i" "$((i - 1))"
        expect_pc "watch: reverse-continue to store $i stops on the store ($STORE)" "$o" "rw$i" "$STORE"
        expect_cmp "watch: reverse-continue to store $i: the forward state before the store" "$o" "rw$i"
    done
    expect_eval "watch: reverse-stepi from the store: counter = 1 still" "$o" crsw 1
    expect_cmp "watch: stepi from there: back on store 2, before it" "$o" sw
    expect_eval "watch: continue from store 2 executes it: counter = 2" "$o" cfw 2
    expect_pc "watch: and stops right after it" "$o" fw "$STORE_NEXT"
    expect_pc "rwatch: a forward hit stops right after the load of counter ($LOAD_NEXT)" "$o" r3 "$LOAD_NEXT"
    for i in 3 2 1; do
        if between "$o" "rr$i" "^Value = $((i + 1))\$"; then
            pass "rwatch: reverse-continue to load $i: gdb shows Value = $((i + 1))"; else
            fail "rwatch: reverse-continue to load $i: gdb shows Value = $((i + 1))" "not shown"
            showgrep "$o" "^(BEGIN rr$i|AT rr$i|Value|Hardware|Program|No more)" 20; fi
        expect_eval "rwatch: reverse-continue to load $i: p counter = $((i + 1))" "$o" "crr$i" "$((i + 1))"
        expect_pc "rwatch: reverse-continue to load $i stops on the load ($LOAD)" "$o" "rr$i" "$LOAD"
        expect_cmp "rwatch: reverse-continue to load $i: the forward state before the load" "$o" "rr$i"
    done
    end_session "watch/rwatch reverse-continue session"
}

# 6. Forward, back, forward: the same registers and memory at every stop.
check_forward_back_forward() {
    local o=$T/fbf.gdb
    start_ukvm fbf "$T/compute.trace" || return
    gdb_session "$o" -ex "python $MEM_COMPUTE" -ex 'rv-save S' -ex 'break fill_table' -ex 'break hash_table' \
        -ex 'rv-do a continue' -ex 'rv-save A' -ex 'rv-do b continue' -ex 'rv-save B' \
        -ex 'rv-do c stepi 100' -ex 'rv-save C' -ex 'rv-do d continue' -ex 'rv-save D' \
        -ex 'rv-cmp A AvsB' \
        -ex 'rv-do rb reverse-continue' -ex 'rv-cmp B back-B' \
        -ex 'rv-do ra reverse-continue' -ex 'rv-cmp A back-A' \
        -ex 'rv-do fb continue' -ex 'rv-cmp B fwd-B' \
        -ex 'rv-do fc stepi 100' -ex 'rv-cmp C fwd-C' \
        -ex 'rv-do rc reverse-stepi 100' -ex 'rv-cmp B back-B2' \
        -ex 'rv-do fc2 stepi 100' -ex 'rv-cmp C fwd-C2' \
        -ex 'rv-do fd continue' -ex 'rv-cmp D fwd-D' \
        -ex 'rv-do rd reverse-stepi 5' -ex 'rv-do fd2 stepi 5' -ex 'rv-cmp D fwd-D2' \
        -ex 'delete' -ex 'rv-do rs reverse-continue' -ex 'rv-cmp S back-S' \
        -ex 'break hash_table' -ex 'rv-do fb2 continue' -ex 'rv-cmp B fwd-B3' \
        -ex 'rv-do fc3 stepi 100' -ex 'rv-cmp C fwd-C3' -ex kill
    if grep -q '^CMP AvsB BAD .*mem' "$o"; then pass "fbf: the memory hash differs between two stops (table filled)"; else
        fail "fbf: the memory hash differs between two stops (table filled)" "$(grep -m1 '^CMP AvsB' "$o")"; fi
    expect_cmp "fbf: reverse-continue from fill_table #2 back to hash_table #1: same registers and memory" "$o" back-B
    expect_cmp "fbf: reverse-continue back to fill_table #1: same registers and memory" "$o" back-A
    expect_cmp "fbf: continue forward again to hash_table #1: same" "$o" fwd-B
    expect_cmp "fbf: stepi 100 forward again: same" "$o" fwd-C
    expect_cmp "fbf: reverse-stepi 100: back at hash_table #1, same" "$o" back-B2
    expect_cmp "fbf: stepi 100 forward a third time: same" "$o" fwd-C2
    expect_cmp "fbf: continue forward again to fill_table #2: same" "$o" fwd-D
    expect_cmp "fbf: reverse-stepi 5 then stepi 5: same" "$o" fwd-D2
    expect_cmp "fbf: reverse-continue to the start: the initial registers and memory" "$o" back-S
    expect_cmp "fbf: from the start forward to hash_table #1 again: same" "$o" fwd-B3
    expect_cmp "fbf: and stepi 100 again: same" "$o" fwd-C3
    end_session "forward/back/forward session"
}

# 7. Near the end of a long trace.
check_long_trace() {
    local o=$T/long.gdb iters=${REV_LONG_ITERS:-30000}
    TEST_TIMEOUT=120 record long "$GUESTS/loop.elf" $iters || return
    start_ukvm long "$T/long.trace" || return
    GDB_TIMEOUT=$((REV_LONG_BOUND * 4 + 60)) gdb_session "$o" -ex "python $MEM_STACK" \
        -ex 'break hc_halt' -ex 'rv-do c continue' \
        -ex 'rv-save H' -ex 'rv-do rsi reverse-stepi' -ex 'rv-do si stepi' -ex 'rv-cmp H again' \
        -ex 'rv-backtrip end 100' \
        -ex delete -ex 'break printf' -ex 'rv-do rc1 reverse-continue' -ex 'rv-eval n $rsi' \
        -ex delete -ex 'break loop.c:27' -ex 'rv-do rc2 reverse-continue' -ex 'rv-eval i2 $r14' \
        -ex 'rv-do rc3 reverse-continue' -ex 'rv-eval i3 $r14' \
        -ex delete -ex 'rv-do rc4 reverse-continue' -ex 'break hc_halt' -ex 'rv-do c2 continue' \
        -ex 'rv-cmp H again2' -ex kill
    local label what t
    # the reports are printed every 4096 iterations
    local last=$((iters / 4096 * 4096))
    local before=$((last - 4096))
    for label in rsi rc1 rc2 rc3 rc4; do
        case $label in
            rsi) what="reverse-stepi from hc_halt at the end" ;;
            rc1) what="reverse-continue to the last printf" ;;
            rc2) what="reverse-continue to the last report (iteration $last)" ;;
            rc3) what="reverse-continue to the report before (iteration $before)" ;;
            rc4) what="reverse-continue with nothing armed back to the start" ;;
        esac
        t=$(secs "$label" "$o")
        if [ -n "$t" ] && awk -v t="$t" -v b="$REV_LONG_BOUND" 'BEGIN { exit !(t < b) }'; then
            pass "long trace ($iters iterations): $what within ${REV_LONG_BOUND}s (${t}s)"; else
            fail "long trace ($iters iterations): $what within ${REV_LONG_BOUND}s" "took ${t:-forever}s"
            showgrep "$o" '^(AT|BEGIN|Program|No more|\(gdb timed)' 20; fi
    done
    expect_cmp "long trace: reverse-stepi then stepi at hc_halt: same state" "$o" again
    expect "long trace: the 100 reverse-stepi from hc_halt cross printf's hypercall out" "$o" \
        '^BWD end [0-9]+ 0x[0-9a-f]+ => .*:[[:space:]]+out ' '^(BWD end [0-9]+ 0x[0-9a-f]+ => 0x[0-9a-f]+ <printf|BACKTRIP)'
    if grep -q '^BACKTRIP end OK 100$' "$o"; then
        pass "long trace: 100 reverse-stepi from hc_halt, then 100 stepi retrace them (registers, stack)"; else
        fail "long trace: 100 reverse-stepi from hc_halt, then 100 stepi retrace them (registers, stack)" \
            "$(grep -m1 '^BACKTRIP end' "$o" || echo 'no result')"
        showgrep "$o" '^(RV-BAD|BACKTRIP|Program|No more|\(gdb timed)' 12; fi
    expect_eval "long trace: the last printf is 'done' with n = $iters" "$o" n "$iters"
    expect_eval "long trace: the last report is iteration $last" "$o" i2 $last
    expect_eval "long trace: the report before is iteration $before" "$o" i3 $before
    expect_pc "long trace: reverse-continue with nothing armed stops at _start" "$o" rc4 "$START"
    expect_cmp "long trace: from the start, continue to hc_halt again: the same state as the first time" "$o" again2
    # console output is shown once across the re-executions: all of it (up
    # to hc_halt) exactly as recorded, no line repeated
    if cmp -s "$T/long.rec.out" "$T/long.ukvm.out"; then
        pass "long trace: the replay's console output is the recording's, once, after going back and forth"; else
        fail "long trace: the replay's console output is the recording's, once, after going back and forth" \
            "$(wc -l <"$T/long.ukvm.out") lines vs $(wc -l <"$T/long.rec.out") recorded; first difference: $(diff "$T/long.rec.out" "$T/long.ukvm.out" | sed -n 2p | head -c 200)"; fi
    end_session "long trace session"
}

# 8. Periodic checkpoints taken very often (UKVM_TICK_US=20) lose no
#    breakpoint hit: a tick can stop the guest just before a planted
#    breakpoint, and the hit must still be reported. compute calls mix
#    64 times per round, 8 rounds. Not in the default set: its run time
#    varies a lot (10 s to over 90 s seen in the QEMU VM, where every block
#    start becomes a checkpoint); run it with REV_CHECKS=check_ticks_keep_hits.
check_ticks_keep_hits() {
    local o=$T/ticks.gdb
    local -x UKVM_TICK_US=20
    start_ukvm ticks "$T/compute.trace" || return
    gdb_session "$o" -ex 'break mix' -ex 'python
mix = int(gdb.parse_and_eval("(long)&mix"))
n = 0
while n < 10000:
    gdb.execute("continue", to_string=True)
    if int(gdb.parse_and_eval("(long)$pc")) != mix:
        break
    n += 1
print("MIX HITS %d" % n)' -ex kill
    expect "ticks every 20 us: continue stops at all 512 calls of mix" "$o" '^MIX HITS 512$' 'MIX HITS'
    end_session "ticks session"
}

ALL="check_stepi_compute check_stepi_events check_reverse_line_steps check_reverse_continue check_reverse_watch check_forward_back_forward check_long_trace"
for c in ${REV_CHECKS:-$ALL}; do
    "$c"
done
exit 0

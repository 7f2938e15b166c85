#!/usr/bin/env bash
# Conditional breakpoints evaluated by ukvm (ConditionalBreakpoints+), with a
# real gdb in batch mode against `ukvm run --gdb` and `ukvm replay --gdb` of
# the condloop guest (visit(i) for i = 0 .. N-1). For each mode, the same
# gdb script runs with `set breakpoint condition-evaluation target` and
# `host`; both must give the same answers:
#   1. `break visit if i == K`, continue: stops at i == K (visited holds the
#      sum of 0 .. K-1); gdb sent the condition bytecode with Z0 only under
#      `target` (checked in gdb's `set debug remote` log).
#   2. two breakpoints at visit, `if i == A` and `if i == B`: one Z0 with two
#      conditions (OR): the next stops are A then B.
#   3. replay only: reverse-stepi from a forward conditional stop lands on
#      the call with edi == the same i (the stop was named as the right
#      arrival at visit, false hits counted); from the end of the trace,
#      reverse-continue with `if i == R` lands on i == R, reverse-stepi there
#      shows edi == R, a changed condition (`condition 1 i == 5`) is sent
#      again and the next reverse-continue lands on i == 5, the one after it
#      reaches the start of the trace.
# Environment: GDB, GDB_TIMEOUT (default 120), COND_N (default 80; more than 60).
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST
GDB=${GDB:-gdb}
GDB_TIMEOUT=${GDB_TIMEOUT:-120}
N=${COND_N:-80}
K=$((N / 3))
A=$((K + 7))
B=$((K + 40))
R=$((N - 23))
GDBCWD=$T/gdbcwd
mkdir -p "$GDBCWD"
UKVM_PID=""
PORT=""

cleanup() {
    if [ -n "$UKVM_PID" ]; then kill -9 "$UKVM_PID" 2>/dev/null; wait "$UKVM_PID" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT

require_kvm "gdb_condition" || exit 0
for need in "$UKVM" "$GUESTS/condloop.elf"; do
    if [ ! -e "$need" ]; then skip "gdb_condition" "$need is not built (run make)"; exit 0; fi
done
if ! command -v "$GDB" >/dev/null; then skip "gdb_condition" "$GDB is not installed"; exit 0; fi

# start_ukvm MODE: ukvm serving gdb on a port the kernel picks (--gdb=0).
start_ukvm() {
    local mode=$1 target
    if [ "$mode" = run ]; then target=("$GUESTS/condloop.elf" "$N"); else target=("$T/condloop.trace"); fi
    ukvm_gdb_start "$T/ukvm.err" "$mode" --gdb=0 "${target[@]}" && return 0
    fail "[$mode] start ukvm --gdb" "could not start: $(head -c 300 "$T/ukvm.err")"
    return 1
}

# gdb_session OUT ARGS...: batch gdb connected to $PORT; gdb's remote log
# (every packet) goes to OUT.remote.
gdb_session() {
    local out=$1; shift
    (cd "$GDBCWD" && timeout -k 5 "$GDB_TIMEOUT" "$GDB" -batch -nx \
        -ex 'set pagination off' -ex 'set confirm off' -ex 'set width 0' \
        -ex "set remotelogfile $out.remote" \
        -ex "target remote 127.0.0.1:$PORT" "$@") >"$out" 2>&1 </dev/null
}

# value FILE TAG: the value printed by `printf "TAG=%d\n", ...`.
value() { sed -n "s/^$2=//p" "$1" | head -1; }

expect_eq() { # NAME GOT WANT FILE
    if [ "$2" = "$3" ]; then pass "$1"; else
        fail "$1" "got '$2', expected '$3'"; tail -n 30 "$4" | sed 's/^/    | /'; fi
}

START=$(nm "$GUESTS/condloop.elf" | awk '$3 == "_start" {sub(/^0+/, "", $1); print $1}')

sum_below() { echo $(( $1 * ($1 - 1) / 2 )); }

if ! run_capture "$T/rec.out" "$T/rec.err" "$UKVM" record -o "$T/condloop.trace" \
        "$GUESTS/condloop.elf" "$N"; then
    fail "gdb_condition: record" "$(head -c 300 "$T/rec.err")"
    exit 0
fi

for mode in run replay; do
    for eval in target host; do
        name="gdb_condition [$mode, $eval]"
        start_ukvm "$mode" || continue
        o=$T/$mode-$eval.out
        args=(-ex "set breakpoint condition-evaluation $eval"
              -ex "break visit if i == $K" -ex continue
              -ex 'printf "I1=%d\n", i' -ex 'printf "V1=%d\n", visited')
        if [ "$mode" = replay ]; then
            # the forward stop's position: reverse-stepi lands on the call
            args+=(-ex reverse-stepi -ex 'printf "E1=%d\n", $edi' -ex stepi
                   -ex 'printf "I1B=%d\n", i')
        fi
        args+=(-ex delete -ex "break visit if i == $A" -ex "break visit if i == $B"
               -ex continue -ex 'printf "I2=%d\n", i' -ex continue -ex 'printf "I3=%d\n", i'
               -ex delete)
        if [ "$mode" = replay ]; then
            args+=(-ex continue -ex "break visit if i == $R" -ex reverse-continue
                   -ex 'printf "R1=%d\n", i' -ex 'printf "RV=%d\n", visited'
                   -ex reverse-stepi -ex 'printf "E2=%d\n", $edi' -ex stepi
                   -ex "condition \$bpnum i == 5" -ex reverse-continue -ex 'printf "R2=%d\n", i'
                   -ex reverse-continue -ex 'printf "PC=%x\n", $pc'
                   -ex continue -ex 'printf "F=%d\n", i')
        else
            args+=(-ex kill)
        fi
        gdb_session "$o" "${args[@]}"
        ukvm_gdb_stop
        expect_eq "$name: stops at i == $K" "$(value "$o" I1)" "$K" "$o"
        expect_eq "$name: visited before i == $K" "$(value "$o" V1)" "$(sum_below $K)" "$o"
        expect_eq "$name: two conditions at one address, first" "$(value "$o" I2)" "$A" "$o"
        expect_eq "$name: two conditions at one address, second" "$(value "$o" I3)" "$B" "$o"
        sent=no
        grep -Eq '^w \$Z[01],[0-9a-f]+,[0-9a-f]+;X' "$o.remote" && sent=yes
        if [ "$eval" = target ]; then
            expect_eq "$name: the condition went to ukvm with Z0" "$sent" yes "$o"
            multi=no
            grep -Eq '^w \$Z[01],[0-9a-f]+,[0-9a-f]+;X[0-9a-f]+,[0-9a-f]+X' "$o.remote" && multi=yes
            expect_eq "$name: two conditions in one Z0" "$multi" yes "$o"
        else
            expect_eq "$name: no condition sent" "$sent" no "$o"
        fi
        if [ "$mode" = replay ]; then
            expect_eq "$name: reverse-stepi from the forward stop: the call with i == $K" \
                "$(value "$o" E1)" "$K" "$o"
            expect_eq "$name: stepi back into visit(i == $K)" "$(value "$o" I1B)" "$K" "$o"
            expect_eq "$name: reverse-continue to i == $R" "$(value "$o" R1)" "$R" "$o"
            expect_eq "$name: visited at i == $R" "$(value "$o" RV)" "$(sum_below $R)" "$o"
            expect_eq "$name: reverse-stepi from the reverse stop: the call with i == $R" \
                "$(value "$o" E2)" "$R" "$o"
            expect_eq "$name: changed condition, reverse-continue to i == 5" "$(value "$o" R2)" 5 "$o"
            # (gdb says "No more reverse-execution history" at both ends:
            # the pc tells the start from the end)
            expect_eq "$name: no earlier hit: the start of the trace (pc = _start)" \
                "$(value "$o" PC)" "$START" "$o"
            expect_eq "$name: forward again from the start to i == 5" "$(value "$o" F)" 5 "$o"
        fi
    done
done
# Both evaluation modes answered alike (the values above compared with the
# same expectations); the guest's output is the recording's.

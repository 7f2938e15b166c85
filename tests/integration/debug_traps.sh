#!/usr/bin/env bash
# The trap flag that gdb's single steps set never reaches the guest. The
# `traps` guest runs pushf, ud2, a page fault (and int3 and int $0x80 where
# the KVM runs them at ring 0) and prints every RFLAGS value its own
# handlers saw. Under gdb, in a replay and in a live run, each of those
# instructions is stepped (a breakpoint on it, `stepi`), then everything is
# deleted and the guest continues to its end. Checked against references
# that are not ukvm's idea of the answer:
#   - a step over a faulting instruction stops on the first instruction of
#     the handler the guest's IDT names (the gate's address, read by gdb),
#     with the stepped instruction's address in the frame and no TF in the
#     RFLAGS pushed there;
#   - the console output and exit status equal the recording's (replay) or
#     a plain run's (ukvm run --gdb), and no divergence is reported.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/common.sh"
require_kvm debug_traps || exit 0
command -v gdb >/dev/null || { skip debug_traps "gdb is not installed"; exit 0; }
G=$GUESTS/traps.elf
[ -e "$G" ] || { skip debug_traps "$G is not built (run make)"; exit 0; }

# int3 and int N at ring 0 are not emulated by every KVM (kvm_pvm gives up)
INT=0
if run_capture "$T/int.out" "$T/int.err" "$UKVM" run "$G" 1 1; then INT=1; fi
ARGS=(3 "$INT")
# in the order the guest runs them: each starts with its trapping
# instruction, but do_int3 with a nop (gdb skips an int3 under its own
# breakpoint by moving pc instead of stepping it), so it takes two steps
FUNCS=(do_pushf) HANDLERS=(-) STEPS=(1)
if [ "$INT" = 1 ]; then FUNCS+=(do_int3 do_int80); HANDLERS+=(bp_stub int80_stub); STEPS+=(2 1); fi
FUNCS+=(do_ud2 pf_insn) HANDLERS+=(ud_stub pf_stub) STEPS+=(1 1)
echo "debug_traps: int3 and int \$0x80 run by this KVM (1) or not (0): $INT"

expect_run traps_record 0 - none "$UKVM" record -o "$T/t.trace" "$G" "${ARGS[@]}"
expect_run traps_run 0 - none "$UKVM" run "$G" "${ARGS[@]}"

# One gdb script for both sessions: for each function, stop on its first
# instruction (the trapping one), step it, print where and the frame.
script=$T/steps.gdb
{
    echo "set pagination off"
    for f in "${FUNCS[@]}"; do echo "break *$f"; done
    for i in 1 2; do
        for j in "${!FUNCS[@]}"; do
            f=${FUNCS[$j]}
            echo "continue"
            [ "${STEPS[$j]}" = 2 ] && echo "stepi"
            echo "printf \"AT $f 0x%lx\\n\", \$pc"
            echo "stepi"
            echo "printf \"STEPPED $f 0x%lx rsp 0x%lx\\n\", \$pc, \$rsp"
            echo "printf \"FRAME $f 0x%lx 0x%lx 0x%lx 0x%lx\\n\", *(long*)\$rsp, *(long*)(\$rsp+8), *(long*)(\$rsp+16), *(long*)(\$rsp+24)"
            echo "stepi 3"
        done
    done
    echo "delete"
    echo "continue"
    echo "continue"
} >"$script"

# check_session NAME OUTFILE: the steps landed right, the frames are clean
check_session() {
    local name=$1 o=$2 i f h at stepped frame ok=1 why=""
    for i in "${!FUNCS[@]}"; do
        f=${FUNCS[$i]} h=${HANDLERS[$i]}
        at=$(awk -v f="$f" '$1 == "AT" && $2 == f { print $3; exit }' "$o")
        stepped=$(awk -v f="$f" '$1 == "STEPPED" && $2 == f { print $3; exit }' "$o")
        frame=$(awk -v f="$f" '$1 == "FRAME" && $2 == f { print $3, $4, $5, $6; exit }' "$o")
        if [ -z "$at" ] || [ -z "$stepped" ]; then ok=0; why+="$f: no stop; "; continue; fi
        [ "$h" = - ] && continue # pushf: no handler
        local want
        want=$(printf '0x%x' "0x$(nm "$G" | awk -v s="$h" '$3 == s { print $1 }')")
        if [ "$((stepped))" != "$((want))" ]; then ok=0; why+="$f: stepi went to $stepped, not $h ($want); "; continue; fi
        # the frame: [err,] rip, cs, rflags; rip is the instruction (fault) or the next (trap)
        read -r q0 q1 q2 q3 <<<"$frame"
        local fl
        if [ "$((q1))" -lt 65536 ] && [ "$((q0 - at))" -le 15 ] && [ "$((q0 - at))" -ge 0 ]; then fl=$q2
        else fl=$q3; fi
        if [ $((fl & 0x100)) != 0 ]; then ok=0; why+="$f: TF in the frame's rflags ($fl); "; fi
    done
    if [ "$ok" = 1 ]; then pass "$name: every step into a handler stops on its first instruction, TF-free frame"
    else fail "$name: steps into handlers" "$why"; fi
}

# ---- replay
mkdir -p "$T/cwd"
(cd "$T/cwd" && timeout -k 5 120 "$UKVM" debug "$T/t.trace" -nx --batch -x "$script") \
    >"$T/replay.out" 2>"$T/replay.err" </dev/null
check_session "debug_traps: replay" "$T/replay.out"
got=$(grep -a '^traps:' "$T/replay.out")
if [ "$got" = "$(cat "$T/traps_record.out")" ]; then
    pass "debug_traps: replay under gdb prints the recording's output"
else fail "debug_traps: replay under gdb prints the recording's output" \
    "$(diff <(echo "$got") "$T/traps_record.out" | head -5 | tr '\n' '|')"; fi
check "debug_traps: replay exits normally at the recorded end" grep -q 'exited normally' "$T/replay.out"
if grep -q diverged "$T/replay.err"; then fail "debug_traps: no divergence" "$(grep -m1 diverged "$T/replay.err")"
else pass "debug_traps: no divergence"; fi

# ---- live run under gdb
ukvm_gdb_start "$T/live.err" run --gdb=0 "$G" "${ARGS[@]}"
if [ -z "$PORT" ]; then fail "debug_traps: run --gdb" "no port: $(head -c 200 "$T/live.err")"; exit 0; fi
(cd "$T/cwd" && timeout -k 5 120 gdb -nx --batch -ex "target remote 127.0.0.1:$PORT" -x "$script") \
    >"$T/live.gdb" 2>&1 </dev/null
ukvm_gdb_stop 5
check_session "debug_traps: run --gdb" "$T/live.gdb"
if [ "$(grep -a '^traps:' "$T/live.err.out")" = "$(cat "$T/traps_run.out")" ]; then
    pass "debug_traps: run --gdb prints what a plain run prints"
else fail "debug_traps: run --gdb prints what a plain run prints" \
    "$(diff "$T/live.err.out" "$T/traps_run.out" | head -5 | tr '\n' '|')"; fi

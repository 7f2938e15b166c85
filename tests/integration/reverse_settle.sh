#!/usr/bin/env bash
# A checkpoint on the very `out` a re-execution has just stopped before:
# KVM completes an I/O exit (steps past the `out`) at the next KVM_RUN when
# rip is still on that instruction, so restoring such a checkpoint without
# settling the exit first skipped its `out` and the replay diverged. The
# reverse oracle found it (loop, bc-awatch, seed 575092): continues to a
# breakpoint on the walltime `out` put a checkpoint on it at every
# iteration, and a reverse-continue's search window that ended before that
# `out`'s next event restored one of them. The same moment reached by a
# goto (no checkpoints on the `out`) is the reference: both reverse-continues
# must stop at the same watchpoint, and neither replay may diverge.
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST
require_kvm reverse_settle || exit 0
L=$GUESTS/loop.elf
[ -e "$L" ] || { skip reverse_settle "$L is not built (run make)"; exit 0; }
for tool in python3 nm objdump; do
    command -v "$tool" >/dev/null || { skip reverse_settle "$tool is not installed"; exit 0; }
done
UKVM_PID=
trap '[ -n "$UKVM_PID" ] && kill -9 "$UKVM_PID" 2>/dev/null; rm -rf "$T"' EXIT
out=$(elf_insn "$L" hc_walltime 'out +%eax')
[ -n "$out" ] || { fail reverse_settle_layout "no out instruction in hc_walltime"; exit 0; }
if ! run_capture "$T/rec.out" "$T/rec.err" "$UKVM" record -o "$T/l.trace" "$L" 40; then
    fail reverse_settle_record "$(head -c 300 "$T/rec.err")"; exit 0
fi

rt_bi=$(elf_sym "$L" rt_bi)
[ -n "$rt_bi" ] || { fail reverse_settle_layout "no symbol rt_bi"; exit 0; }

# session WAY: a replay server and settle.py on it; its output in $T/WAY.out,
# ukvm's stderr in $T/WAY.err. No periodic checkpoints (a tick's would be
# the search window's start, the one checkpoint not on the `out`).
session() {
    if ! UKVM_TICK_US=1000000 ukvm_gdb_start "$T/$1.err" replay --gdb=0 "$T/l.trace"; then
        fail "reverse_settle: $1: server" "no port: $(head -c 300 "$T/$1.err")"; return 1
    fi
    timeout -k 5 300 python3 "$(dirname "$0")/reverse/settle.py" "$PORT" "$out" "$rt_bi" "$1" \
        >"$T/$1.out" 2>&1
    ukvm_gdb_stop 5
}
session continues
session goto
for s in continues goto; do
    if grep -q diverged "$T/$s.err"; then
        fail "reverse_settle: $s: the replay stays on the recording" "$(grep -m1 diverged "$T/$s.err")"
    else
        pass "reverse_settle: $s: the replay stays on the recording"
    fi
    if grep -q '^STOP awatch ' "$T/$s.out"; then
        pass "reverse_settle: $s: reverse-continue stops at the watchpoint"
    else
        fail "reverse_settle: $s: reverse-continue stops at the watchpoint" "$(tail -c 400 "$T/$s.out")"
    fi
done
a=$(sed -n 's/^STOP //p' "$T/continues.out"); b=$(sed -n 's/^STOP //p' "$T/goto.out")
if [ -n "$a" ] && [ "$a" = "$b" ]; then
    pass "reverse_settle: the stop after the continues is the stop after the goto ($a)"
else
    fail "reverse_settle: the stop after the continues is the stop after the goto" "continues: ${a:-none}, goto: ${b:-none}"
fi

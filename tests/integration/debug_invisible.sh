#!/usr/bin/env bash
# Debugging leaves no trace in the guest. A debugger single-steps the first
# instructions of a guest (over hypercall outs, patched rdtsc, pushf/popf,
# ud2, page faults, #GP, int N), then plants a breakpoint on every
# instruction of chosen functions and continues from one to the next, then
# deletes everything and continues to the end (reverse/invisible.py, raw
# protocol). Then:
#   - in `ukvm replay --gdb=0`: the console output is the recording's, the
#     exit status too, and nothing on stderr says the replay diverged;
#   - in `ukvm run --gdb=0` (flags, exceptions and traps, whose output does
#     not depend on the clock): the output and exit status are a plain
#     `ukvm run`'s.
# flags prints what pushf pushed, exceptions and traps the rflags of every
# exception frame, so a trap flag leaking from single-steps changes their
# output.
# Environment: INVISIBLE_STEPS (default 3000, 800 on a slow machine: see
# tests/lib.sh machine_is_slow), INVISIBLE_CONTS (1000, 300).
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST
HELPERS=$(cd "$(dirname "$0")/reverse" && pwd)
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree
trap 'ukvm_gdb_stop 0; rm -rf "$T"' EXIT

require_kvm "debug_invisible" || exit 0
STEPS=3000 CONTS=1000
if machine_is_slow; then STEPS=800 CONTS=300; fi
STEPS=${INVISIBLE_STEPS:-$STEPS}
CONTS=${INVISIBLE_CONTS:-$CONTS}
for tool in python3 objdump nm; do
    if ! command -v "$tool" >/dev/null; then skip "debug_invisible" "$tool is not installed"; exit 0; fi
done

# debug NAME ARGS...: ukvm ARGS (with --gdb=0) driven by invisible.py; sets
# DBG_RC (ukvm's exit status) and leaves NAME.dbg.out/.err and NAME.drive
debug() {
    local name=$1 elf=$2 funcs=$3; shift 3
    DBG_RC=""
    if ! ukvm_gdb_start "$T/$name.dbg.err" "$@"; then
        fail "debug_invisible: $name: start ukvm $1 --gdb=0" "$(head -c 300 "$T/$name.dbg.err")"; return 1
    fi
    timeout -k 5 600 python3 "$HELPERS/invisible.py" --port "$PORT" --elf "$elf" --steps "$STEPS" \
        --funcs "$funcs" --conts "$CONTS" >"$T/$name.drive" 2>&1
    for _ in $(seq 200); do proc_alive "$UKVM_PID" || break; sleep 0.05; done
    if proc_alive "$UKVM_PID"; then DBG_RC=still-running; ukvm_gdb_stop 0; else
        wait "$UKVM_PID"; DBG_RC=$?; UKVM_PID=""; fi
    mv "$T/$name.dbg.err.out" "$T/$name.dbg.out"
}

# same NAME WHAT WANT-OUT WANT-RC: the debugged run's output and status
same() {
    local name=$1 what=$2 out=$3 rc=$4 why=""
    if ! cmp -s "$out" "$T/$name.dbg.out"; then
        why="output differs: expected $(diff "$out" "$T/$name.dbg.out" | grep -m2 '^<' | cut -c3- | tr '\n' '|'); got $(diff "$out" "$T/$name.dbg.out" | grep -m2 '^>' | cut -c3- | tr '\n' '|')"
    fi
    [ "$DBG_RC" = "$rc" ] || why="$why exit status $DBG_RC, expected $rc;"
    local bad
    bad=$(grep -E 'diverged|AddressSanitizer|runtime error|could not|triple fault' "$T/$name.dbg.err" | head -2 | tr '\n' ' ')
    [ -z "$bad" ] || why="$why stderr: $bad"
    grep -q '^ERROR' "$T/$name.drive" && why="$why driver: $(grep '^ERROR' "$T/$name.drive")"
    local how
    how=$(grep -E '^(STEPS|CONTS|END)' "$T/$name.drive" | tr '\n' ' ')
    if [ -z "$why" ]; then pass "debug_invisible: $name: $what ($how)"; else
        fail "debug_invisible: $name: $what" "$why ($how)"; fi
}

# guest NAME FUNCS ARGS...: record, then debug the replay
replay_case() {
    local name=$1 funcs=$2; shift 2
    local elf=$GUESTS/$name.elf
    [ -e "$elf" ] || { skip "debug_invisible: $name" "$elf is not built"; return; }
    run_capture "$T/$name.rec.out" "$T/$name.rec.err" "$UKVM" record -o "$T/$name.trace" "$elf" "$@"
    local rc=$?
    [ -s "$T/$name.trace" ] || { fail "debug_invisible: record $name" "$(head -c 300 "$T/$name.rec.err")"; return; }
    debug "$name-replay" "$elf" "$funcs" replay --gdb=0 "$T/$name.trace" || return
    same "$name-replay" "replay under a debugger: the recording's output and exit status, no divergence" \
        "$T/$name.rec.out" "$rc"
}

live_case() {
    local name=$1 funcs=$2; shift 2
    local elf=$GUESTS/$name.elf
    [ -e "$elf" ] || { skip "debug_invisible: $name" "$elf is not built"; return; }
    run_capture "$T/$name.run.out" "$T/$name.run.err" "$UKVM" run "$elf" "$@"
    local rc=$?
    debug "$name-run" "$elf" "$funcs" run --gdb=0 "$elf" "$@" || return
    same "$name-run" "run under a debugger: a plain run's output and exit status" "$T/$name.run.out" "$rc"
}

TRAPS_ARGS=()
if timeout 20 "$UKVM" run "$GUESTS/exceptions.elf" int >/dev/null 2>&1; then TRAPS_ARGS=(int); else
    skip "debug_invisible: exceptions with int \$0x40" "this KVM cannot run int N at CPL 0"; fi
TRAPS_INT=0
if timeout 20 "$UKVM" run "$GUESTS/traps.elf" 1 1 >/dev/null 2>&1; then TRAPS_INT=1; else
    skip "debug_invisible: traps with int3 and int \$0x80" "this KVM cannot run them at CPL 0"; fi

replay_case hello main,printf,vsnprintf
replay_case compute mix,bump_counter,checksum
replay_case loop main,hc_walltime 40
replay_case time main,hc_walltime,hc_poll
replay_case flags main,read_flags,set_and_read_flags
# In the test VM, QEMU's software CPU pushes RF in a fault's frame or not
# depending on where its translated blocks end (a plain run there shows #PF
# frames with RF and without), and single steps move those ends: the
# exceptions guest prints that bit, so it cannot be compared there.
EXC=1
if [ -n "${UKVM_IN_VM:-}" ]; then
    EXC=0
    skip "debug_invisible: exceptions" "QEMU's emulated CPU (the test VM) pushes RF in fault frames by its translation blocks, which single steps change"
fi
[ "$EXC" = 1 ] && replay_case exceptions main,faults,soft_int,trap "${TRAPS_ARGS[@]}"
replay_case traps main,do_pushf,do_int3,do_int80,do_ud2,do_page_fault 3 $TRAPS_INT
live_case flags main,read_flags,set_and_read_flags
[ "$EXC" = 1 ] && live_case exceptions main,faults,soft_int,trap "${TRAPS_ARGS[@]}"
live_case traps main,do_pushf,do_int3,do_int80,do_ud2,do_page_fault 3 $TRAPS_INT
exit 0

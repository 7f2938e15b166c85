#!/usr/bin/env bash
# Differential oracle for reverse execution (`ukvm replay --gdb`).
#
# The truth is a forward single-step log of the same replay (every step's
# registers and the bytes of chosen watched ranges), judged by an
# independent decoder (objdump's disassembly of the guest: which instruction
# reads or writes which watched bytes, and where a step may go). From random
# points of the log, reverse and forward commands over the raw remote
# protocol (bs, bc and c with software/hardware breakpoints and
# write/read/access watchpoints of 1, 2, 4 and 8 bytes, unaligned and page
# straddling, s) must stop exactly where the log says: a reverse watchpoint
# stop at the accessing instruction, before it ran; a forward one just after
# it. Then gdb itself (fewer points): reverse-stepi/next/step/finish,
# ukvm's ukvm-last and `watch` + reverse-continue, against forward runs.
#
# Stretches: compute (from the first fill_table and from bump_counter:
# stores and loads of globals), loop (from the start: walltime hypercalls,
# patched rdtsc, a stack slot written by call and read by ret), flags
# (pushf/popf, a global straddling a page), exceptions (its own IDT: ud2, #PF,
# #GP and, where this KVM can run it, int $0x40).
#
# Output: one PASS/FAIL line per (stretch, command kind) with the count of
# stops checked, and "oracle: KIND N, ..." totals. Helpers: reverse/oracle.py
# (raw protocol), reverse/oracle_gdb.py (gdb). Environment:
#   REV_ORACLE_SEED    seed (default: a fresh one, printed)
#   REV_ORACLE_N       random points per stretch (default 60; each point is
#                      a chain of 6 commands); setting it lifts the time
#                      budget unless REV_ORACLE_BUDGET is set too
#   REV_ORACLE_BUDGET  seconds of checks per stretch (default 12; 0: none)
#   REV_ORACLE_ONLY    run only the stretches matching these globs (e.g.
#                      "gdb-*" or "loop flags"; default: all)
#   UKVM_IN_VM         a slow machine: shorter logs, fewer points
#   REV_ORACLE_KEEP=1  keep the outputs
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST
HELPERS=$(cd "$(dirname "$0")/reverse" && pwd)
GDB=${GDB:-gdb}
SEED=${REV_ORACLE_SEED:-$(( (RANDOM << 15 | RANDOM) % 1000000 ))}
POINTS=${REV_ORACLE_N:-60}
BUDGET=${REV_ORACLE_BUDGET:-$([ -n "${REV_ORACLE_N:-}" ] && echo 0 || echo 12)}
SCALE=1                          # log length divisor on slow machines
if [ -n "${UKVM_IN_VM:-}" ]; then SCALE=4; POINTS=${REV_ORACLE_N:-15}; fi

cleanup() {
    ukvm_gdb_stop 0
    if [ -n "${REV_ORACLE_KEEP:-}" ]; then echo "reverse_oracle: outputs kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

require_kvm "reverse_oracle" || exit 0
for g in compute loop flags exceptions; do
    if [ ! -e "$GUESTS/$g.elf" ]; then skip "reverse_oracle" "$GUESTS/$g.elf is not built (make guests)"; exit 0; fi
done
for tool in python3 objdump nm; do
    if ! command -v "$tool" >/dev/null; then skip "reverse_oracle" "$tool is not installed"; exit 0; fi
done
echo "reverse_oracle: seed $SEED (REV_ORACLE_SEED=$SEED reproduces it), $POINTS points per stretch, budget ${BUDGET}s"


record() { # NAME ELF ARGS...
    local name=$1; shift
    if ! run_capture "$T/$name.rec.out" "$T/$name.rec.err" "$UKVM" record -o "$T/$name.trace" "$@"; then
        fail "reverse_oracle: record $name" "$(head -c 300 "$T/$name.rec.err")"
        return 1
    fi
}

declare -A TOTAL
# report NAME OUTPUT [gdb]: PASS/FAIL lines from oracle.py's (or, with gdb,
# oracle_gdb.py's) output
report() {
    local name=$1 out=$2 kind ok bad sk
    if ! grep -q "^LOG $name " "$out"; then
        fail "reverse_oracle: $name: the log" "no log made"; sed 's/^/    | /' "$out" | head -20; return
    fi
    echo "    $(grep "^WATCH $name " "$out")"
    echo "    $(grep "^LOG $name " "$out") ($(grep "^TIME $name " "$out"))"
    if [ "${3:-}" != gdb ]; then # raw-protocol stretches: the log itself
        if grep -q "^ORACLE $name " "$out"; then
            fail "reverse_oracle: $name: the oracle itself (decoder against the log)" \
                "$(grep -c "^ORACLE $name " "$out") problems, seed $SEED"
            grep "^ORACLE $name " "$out" | sed 's/^/    | /'
        else
            pass "reverse_oracle: $name: the decoder accounts for every change of the watched bytes"
        fi
        if grep -q "^FLOW $name " "$out"; then
            fail "reverse_oracle: $name: every forward single-step ends where its instruction goes, no TF in eflags" \
                "$(grep "^FLOWS $name " "$out" | awk '{print $3}') steps do not (seed $SEED); the log is used up to the first"
            grep "^FLOW $name [0-9]" "$out" | sed 's/^/    | /'
        else
            pass "reverse_oracle: $name: every forward single-step ends where its instruction goes, no TF in eflags"
        fi
    fi
    while read -r _ _ kind _ ok _ bad _ sk; do
        TOTAL[$kind]=$(( ${TOTAL[$kind]:-0} + ok + bad ))
        if [ "$bad" = 0 ]; then
            pass "reverse_oracle: $name: $kind: $ok stops as the log says ($sk not checkable)"
        else
            fail "reverse_oracle: $name: $kind" "$bad of $((ok + bad)) stops differ from the log (seed $SEED)"
            grep "^MISMATCH $name $kind " "$out" | cut -c1-600 | sed 's/^/    | /'
        fi
    done < <(grep "^RESULT $name " "$out")
    while read -r _ _ kind why; do skip "reverse_oracle: $name: $kind" "$why"; done < <(grep "^SKIP $name " "$out")
    if grep -q "^MISMATCH $name session" "$out"; then
        fail "reverse_oracle: $name: the session" "$(grep "^MISMATCH $name session" "$out" | head -c 400)"
    fi
}

# want NAME: NAME is one of the stretches to run (REV_ORACLE_ONLY)
want() {
    local g -
    set -f  # the patterns are for stretch names, not files
    for g in ${REV_ORACLE_ONLY:-*}; do
        # shellcheck disable=SC2254
        case $1 in $g) return 0 ;; esac
    done
    return 1
}

# stretch NAME TRACE ELF ORACLE-ARGS...: one replay server, oracle.py on it
stretch() {
    local name=$1 trace=$2 elf=$3; shift 3
    want "$name" || return 0
    if ! ukvm_gdb_start "$T/$name.err" replay --gdb=0 "$trace"; then
        fail "reverse_oracle: $name: start ukvm replay --gdb=0" "$(head -c 300 "$T/$name.err")"; return
    fi
    timeout -k 5 $(( ${BUDGET:-0} > 0 ? BUDGET * 4 + 240 : 3600 )) \
        python3 "$HELPERS/oracle.py" --port "$PORT" --elf "$elf" --name "$name" \
        --seed "$SEED" --points "$POINTS" --budget "$BUDGET" "$@" >"$T/$name.oracle" 2>"$T/$name.oracle.err"
    ukvm_gdb_stop 2
    report "$name" "$T/$name.oracle"
    local bad
    bad=$(grep -E 'AddressSanitizer|runtime error|Segmentation|Aborted|diverged' "$T/$name.err" | head -3)
    if [ -n "$bad" ]; then fail "reverse_oracle: $name: ukvm's stderr" "$bad"; fi
    if [ -s "$T/$name.oracle.err" ]; then sed 's/^/    ! /' "$T/$name.oracle.err" | tail -5; fi
}

# hardware breakpoints are debug registers: some KVMs never fire them
kvm_can dr-exec-breakpoint || export REV_ORACLE_NO_HW=1
C=$GUESTS/compute.elf
L=$GUESTS/loop.elf
F=$GUESTS/flags.elf
P=$GUESTS/exceptions.elf
record compute "$C" || exit 0
record loop "$L" 40 || exit 0
record flags "$F" || exit 0
TRAPS_ARGS=()
ENTRIES="$(elf_sym "$P" isr_1),$(elf_sym "$P" isr_6),$(elf_sym "$P" isr_13),$(elf_sym "$P" isr_14)"
if timeout 20 "$UKVM" run "$P" int >/dev/null 2>&1; then
    TRAPS_ARGS=(int); ENTRIES="$ENTRIES,$(elf_sym "$P" isr_64)"
else
    skip "reverse_oracle: traps: int \$0x40" "this KVM cannot run int N at CPL 0 ($("$UKVM" run "$P" int 2>&1 >/dev/null | head -c 200))"
fi
record traps "$P" "${TRAPS_ARGS[@]}" || exit 0

stretch compute-table "$T/compute.trace" "$C" --base "$(elf_sym "$C" fill_table)" --steps $((6000 / SCALE)) \
    --watch "t4=$(elf_sym "$C" table 16):4" --watch "t4u=$(elf_sym "$C" table 22):4" \
    --watch "t8=$(elf_sym "$C" table 32):8" --watch "t1=$(elf_sym "$C" table 49):1" \
    --watch "t2u=$(elf_sym "$C" table 63):2"
stretch compute-counter "$T/compute.trace" "$C" --base "$(elf_sym "$C" bump_counter)" --steps $((2500 / SCALE)) \
    --watch "c8=$(elf_sym "$C" counter):8" --watch "c1=$(elf_sym "$C" counter):1" \
    --watch "c2u=$(elf_sym "$C" counter 1):2" --watch "c4=$(elf_sym "$C" counter 4):4" \
    --watch "c4u=$(elf_sym "$C" counter 3):4"
CALL_WALL=$(elf_insn "$L" main 'call +[0-9a-f]+ <hc_walltime>')
stretch loop "$T/loop.trace" "$L" --steps $((4000 / SCALE)) \
    --watch "rt_bi=$(elf_sym "$L" rt_bi):8" --watch-stack "ret=$CALL_WALL:-8:8" \
    --watch-stack "retu=$CALL_WALL:-12:8"
stretch flags "$T/flags.trace" "$F" --steps $((4000 / SCALE)) \
    --watch "cross8=$(elf_sym "$F" cross 4092):8" --watch "cross4=$(elf_sym "$F" cross 4094):4" \
    --watch "cross1=$(elf_sym "$F" cross 4096):1" --watch "pushed1=$(elf_sym "$F" pushed 8):8" \
    --watch "popped=$(elf_sym "$F" popped):16" --watch "wanted3=$(elf_sym "$F" wanted 2):3"
# QEMU's emulated CPU (the test VM) pushes RF in a fault's frame or not by
# where its translated blocks end, which single steps move: the frame's
# flags (loaded by the handler) differ between the log and a continue there
if [ -n "${UKVM_IN_VM:-}" ]; then
    skip "reverse_oracle: traps" "QEMU's emulated CPU (the test VM) pushes RF in fault frames by its translation blocks, which single steps change"
else
stretch traps "$T/traps.trace" "$P" --steps $((4000 / SCALE)) --entries "$ENTRIES" \
    --watch "nseen=$(elf_sym "$P" nseen):4" --watch "rflags1=$(elf_sym "$P" seen 64):8" \
    --watch "fatal=$(elf_sym "$P" fatal):4" --watch "seen0=$(elf_sym "$P" seen):16"
fi

if command -v "$GDB" >/dev/null && "$GDB" -batch -nx -ex 'python print("py-ok")' 2>/dev/null | grep -q py-ok; then
    . "$HELPERS/oracle_gdb.sh"
else
    skip "reverse_oracle: gdb commands" "no gdb with python"
fi

line=""
for k in $(printf '%s\n' "${!TOTAL[@]}" | sort); do line="$line${line:+, }$k ${TOTAL[$k]}"; done
echo "oracle: $line"
exit 0

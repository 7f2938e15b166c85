#!/usr/bin/env bash
# Start-up (part of `make bench`; runs alone too), measured in this one run:
#   - ukvm's own breakdown by phase (UKVM_REPORT_STARTUP=1) for the bundled
#     hello guest at --mem=64 and --mem=2048, medians of N runs interleaved,
#     and the ratio of the total start-up at 2048 to 64 (target <= 1.10:
#     start-up follows what the kernel uses, not the size of guest memory)
#   - against Solo5's own tender when the user provides it:
#       SOLO5_HVT=/path/to/solo5-hvt SOLO5_HELLO=/path/to/solo5-hello.hvt
#     runs N interleaved pairs (ukvm run / solo5-hvt, --mem=64, the same
#     kernel) and compares median wall and CPU time (target <= 1.05 each).
# BENCH_STARTUP_N (default 7) is the number of rounds.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
UKVM=${UKVM:-$TOP/ukvm}
G=${G:-$TOP/build/guests}
N=${BENCH_STARTUP_N:-7}
PAIRS=$TOP/tests/bench/startup_pairs.py
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

echo "- 10. start-up (hello.elf, median of $N interleaved runs)"
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then echo "bench_startup: SKIP: /dev/kvm is not usable"; exit 0; fi
TMP=$(mktemp -d /tmp/ukvm-bench-startup.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

. "$TOP/tests/lib/bench.sh" # bug, ratio
verdict() { awk -v a="$1" -v b="$2" 'BEGIN {print (a != "nan" && a <= b) ? "PASS" : "MISS"}'; }
row() { printf '  %-78s %16s  %-7s %s\n' "$1" "$2" "$3" "$4"; }
us() { awk -v v="$1" 'BEGIN {printf "%.0f us", v / 1e3}'; }
# fig FILE NAME KEY: a figure from startup_pairs.py's output
fig() { awk -v n="$2" -v k="$3" '$1 == n && $2 == k {print $3}' "$1"; }

# ---- ukvm's own breakdown, 64 MiB and 2 GiB ----
if ! UKVM_REPORT_STARTUP=1 "$PY" "$PAIRS" "$N" "m64=$UKVM run --mem=64 $G/hello.elf" \
        "m2048=$UKVM run --mem=2048 $G/hello.elf" >"$TMP/own" 2>&1; then
    bug "ukvm run hello.elf: $(cat "$TMP/own")"
    exit 1
fi
t64=$(fig "$TMP/own" m64 total)
t2048=$(fig "$TMP/own" m2048 total)
[ -n "$t64" ] && [ -n "$t2048" ] || { bug "UKVM_REPORT_STARTUP=1: no total line"; exit 1; }
printf '  %-34s %12s %12s\n' "phase (median ns)" "--mem=64" "--mem=2048"
sum64=0
for key in $(awk '$1 == "m64" && $2 ~ /^phase_/ {print $2}' "$TMP/own"); do
    a=$(fig "$TMP/own" m64 "$key") b=$(fig "$TMP/own" m2048 "$key")
    printf '  %-34s %12s %12s\n' "${key#phase_}" "$a" "$b"
    sum64=$((sum64 + a))
done
for key in total first_kvm_run wall_ns cpu_ns; do
    label=$key
    case $key in
    total) label="total to the first instruction";;
    first_kvm_run) label="first KVM_RUN (to the first exit)";;
    wall_ns) label="process wall (exec to exit)";;
    cpu_ns) label="process CPU (user + sys)";;
    esac
    printf '  %-34s %12s %12s\n' "$label" "$(fig "$TMP/own" m64 "$key")" "$(fig "$TMP/own" m2048 "$key")"
done
# The medians of the phases need not add up to the median total, but
# nearly: far off means a phase line is missing.
awk -v s="$sum64" -v t="$t64" 'BEGIN {exit !(s > t * 0.7 && s < t * 1.3)}' ||
    bug "the phases (sum of medians $sum64 ns) do not add up to the total ($t64 ns)"
r=$(ratio "$t2048" "$t64")
row "start-up to the first instruction, --mem=2048 / --mem=64 ($(us "$t2048") / $(us "$t64"))" "$r" "<= 1.10" "$(verdict "$r" 1.10)"
w64=$(fig "$TMP/own" m64 wall_ns) w2048=$(fig "$TMP/own" m2048 wall_ns)
r=$(ratio "$w2048" "$w64")
row "process wall time, --mem=2048 / --mem=64 ($(us "$w2048") / $(us "$w64"))" "$r" "-" "info"

# ---- against Solo5's tender ----
if [ -z "${SOLO5_HVT:-}" ] || [ -z "${SOLO5_HELLO:-}" ]; then
    row "ukvm run / solo5-hvt, wall and CPU (Solo5's hello, --mem=64)" "not measured (set SOLO5_HVT and SOLO5_HELLO)" "<= 1.05" "n/a"
else
    for f in "$SOLO5_HVT" "$SOLO5_HELLO"; do
        [ -e "$f" ] || { bug "$f does not exist"; exit 1; }
    done
    if ! "$PY" "$PAIRS" "$N" "ukvm=$UKVM run --mem=64 $SOLO5_HELLO" \
            "solo5=$SOLO5_HVT --mem=64 $SOLO5_HELLO" >"$TMP/pairs" 2>&1; then
        bug "ukvm run / solo5-hvt: $(cat "$TMP/pairs")"
        exit 1
    fi
    uw=$(fig "$TMP/pairs" ukvm wall_ns) sw=$(fig "$TMP/pairs" solo5 wall_ns)
    uc=$(fig "$TMP/pairs" ukvm cpu_ns) sc=$(fig "$TMP/pairs" solo5 cpu_ns)
    r=$(ratio "$uw" "$sw")
    row "wall: ukvm run / solo5-hvt, Solo5's hello --mem=64 ($(us "$uw") / $(us "$sw"))" "$r" "<= 1.05" "$(verdict "$r" 1.05)"
    r=$(ratio "$uc" "$sc")
    row "CPU: ukvm run / solo5-hvt, Solo5's hello --mem=64 ($(us "$uc") / $(us "$sc"))" "$r" "<= 1.05" "$(verdict "$r" 1.05)"
fi
[ "$bugs" = 0 ]

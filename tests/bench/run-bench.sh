#!/usr/bin/env bash
# `make bench`: measures ukvm's figures on this machine, in this one run, and
# prints them as a table with PASS/MISS against the targets of the design
# (docs/benchmarks.md explains each figure). MISS does not fail the script:
# it exits 0 unless a command crashed or printed the wrong output (then it
# says BUG on that line and exits 1 at the end).
#
# Environment: BENCH_QUICK=1 takes fewer samples (for a smoke test).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
UKVM=$TOP/ukvm
TRACE_TOOL=$TOP/tools/ukvm-trace
G=$TOP/build/guests
GDB_RATE=$TOP/tests/bench/gdb-rate.py
TMP=$(mktemp -d /tmp/ukvm-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

if [ -n "${BENCH_QUICK:-}" ]; then N_HC=1 N_SMALL=1 N_START=3 N_DBG=1; else N_HC=5 N_SMALL=7 N_START=11 N_DBG=3; fi
HC_N=100000          # walltime hypercalls in hypercalls.elf
LOOP_N=20000         # loop.elf iterations (one walltime + one rdtsc each)

. "$TOP/tests/lib/bench.sh" # bug, ratio, le, now_ns

for f in "$UKVM" "$TRACE_TOOL" "$G/hypercalls.elf" "$G/sse_cost.elf" "$G/compute.elf" "$G/time.elf" "$G/loop.elf" "$G/hello.elf"; do
    [ -e "$f" ] || { echo "bench: $f is missing (run make)"; exit 1; }
done
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
    echo "bench: SKIP: /dev/kvm is not usable (tests/vm/with-kvm.sh make bench measures in the test VM, whose figures reflect QEMU's emulation)"; exit 0
fi
# Work on copies, so that a rebuild in the tree during the bench (the tree is
# shared) neither breaks nor changes what is measured.
mkdir -p "$TMP/bin/guests"
cp "$UKVM" "$TRACE_TOOL" "$TMP/bin/" && cp "$G"/*.elf "$TMP/bin/guests/" ||
    { echo "bench: cannot copy the binaries"; exit 1; }
UKVM=$TMP/bin/ukvm TRACE_TOOL=$TMP/bin/ukvm-trace G=$TMP/bin/guests

# ---- helpers ----

# minimum of the numbers given as arguments
minimum() { printf '%s\n' "$@" | sort -g | head -1; }
# median of the numbers given as arguments
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
verdict_le() { if le "$1" "$2"; then echo PASS; else echo MISS; fi; }

# timed NAME CMD...: runs CMD (timeout 120 s) with stdout to $TMP/NAME.out and
# stderr to $TMP/NAME.err; sets T (elapsed seconds) and RC.
timed() {
    local name=$1; shift
    local t0 t1
    t0=$(now_ns)
    timeout -k 5 120 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    RC=$?
    t1=$(now_ns)
    T=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", (b - a) / 1e9}')
}

# expect_ok NAME WHAT: reports a bug unless RC is 0.
expect_ok() {
    [ "$RC" = 0 ] && return 0
    bug "$2: exit status $RC: $(head -c 300 "$TMP/$1.err" | tr '\n' ' ')"
    return 1
}

ROWS=$TMP/rows
: >"$ROWS"
# row FIGURE VALUE TARGET VERDICT
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$ROWS"; }
section() { printf '#\t%s\n' "$1" >>"$ROWS"; }

echo "ukvm bench: $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ), ukvm $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs on the machine skew the figures)"
echo "(samples: hypercalls x$N_HC, small guests x$N_SMALL, startup x$N_START, debugger x$N_DBG; progress below, table at the end)"

# ---- 1. plain run: hypercall round trip and startup ----
echo "- 1. run: hypercalls and startup"
section "1. ukvm run"
guest_ns=() proc_ns=()
for i in $(seq "$N_HC"); do
    timed hc_run "$UKVM" run "$G/hypercalls.elf" "$HC_N"
    expect_ok hc_run "run hypercalls.elf" || continue
    g=$(sed -n 's/.*(\([0-9]*\) ns\/call).*/\1/p' "$TMP/hc_run.out")
    grep -q "hypercalls: $HC_N walltime calls" "$TMP/hc_run.out" && [ -n "$g" ] ||
        { bug "run hypercalls.elf: unexpected output: $(head -c 200 "$TMP/hc_run.out")"; continue; }
    guest_ns+=("$g")
    proc_ns+=("$(awk -v t="$T" -v n="$HC_N" 'BEGIN {printf "%.0f", t * 1e9 / n}')")
done
if [ ${#guest_ns[@]} -gt 0 ]; then
    row "hypercall round trip, guest-timed (hypercalls.elf $HC_N)" "$(median "${guest_ns[@]}") ns" "-" "info"
    row "hypercall round trip, process time / $HC_N" "$(median "${proc_ns[@]}") ns" "-" "info"
fi
# One SSE instruction against a hypercall, in one guest: on a KVM that
# emulates CPL-0 code each is an exit ukvm completes (the x87/SSE state read
# once, written back only when it changed); elsewhere it runs natively.
SSE_N=$([ -n "${BENCH_QUICK:-}" ] && echo 2000 || echo 20000)
sse=() sse_hc=()
for i in $(seq "$N_HC"); do
    timed sse_run "$UKVM" run "$G/sse_cost.elf" "$SSE_N"
    expect_ok sse_run "run sse_cost.elf" || continue
    line=$(grep "^sse_cost: n=$SSE_N " "$TMP/sse_run.out")
    [ -n "$line" ] || { bug "run sse_cost.elf: unexpected output: $(head -c 200 "$TMP/sse_run.out")"; continue; }
    b=$(sed -n 's/.* base_ns=\([0-9]*\).*/\1/p' <<<"$line")
    v=$(sed -n 's/.* sse_ns=\([0-9]*\).*/\1/p' <<<"$line")
    h=$(sed -n 's/.* hypercall_ns=\([0-9]*\).*/\1/p' <<<"$line")
    # two SSE instructions (mulsd, comisd) per iteration, above the loop's own cost
    sse+=("$(awk -v v="$v" -v b="$b" 'BEGIN {d = (v - b) / 2; printf "%.0f", d < 0 ? 0 : d}')")
    sse_hc+=("$h")
done
if [ ${#sse[@]} -gt 0 ]; then
    s_ns=$(median "${sse[@]}") h_ns=$(median "${sse_hc[@]}")
    row "one SSE instruction / one hypercall round trip, guest-timed (sse_cost.elf $SSE_N): $s_ns / $h_ns ns" \
        "$(ratio "$s_ns" "$h_ns")x" "-" "info"
fi
st=()
for i in $(seq "$N_START"); do
    RC=0
    UKVM_REPORT_STARTUP=1 "$UKVM" run "$G/hello.elf" >"$TMP/st.out" 2>"$TMP/st.err" || RC=$?
    expect_ok st "run hello.elf" || continue
    v=$(sed -n 's/^ukvm: startup \([0-9]*\) ns to the first guest instruction.*/\1/p' "$TMP/st.err")
    [ -n "$v" ] || { bug "UKVM_REPORT_STARTUP=1: no startup line on stderr"; break; }
    st+=("$v")
done
if [ ${#st[@]} -gt 0 ]; then
    row "startup to the first guest instruction (hello.elf, median of ${#st[@]})" \
        "$(awk -v v="$(median "${st[@]}")" 'BEGIN {printf "%.3f ms", v / 1e6}')" "-" "info"
fi

# ---- 2 and 4. record overhead and replay speed ----
# One sample = run, record, replay of the same guest, back to back, so that a
# drift of the machine affects the three alike. Ratios are of medians of the
# process times.
# bench_rrr NAME COUNT KERNEL ARGS...: sets RUN_T REC_T REP_T (medians, s)
# and leaves the last trace in $TMP/NAME.zst; returns 1 on a bug.
bench_rrr() {
    local name=$1 count=$2; shift 2
    local runs=() recs=() reps=() i g1 g2
    RUN_T="" REC_T="" REP_T="" GRUN=() GREC=()
    for i in $(seq "$count"); do
        timed "${name}_run" "$UKVM" run "$@"
        expect_ok "${name}_run" "run $name" || return 1
        runs+=("$T")
        rm -f "$TMP/$name.zst"
        timed "${name}_rec" "$UKVM" record -o "$TMP/$name.zst" "$@"
        expect_ok "${name}_rec" "record $name" || return 1
        recs+=("$T")
        # The guest's own ns/call figure, when it prints one (hypercalls.elf).
        g1=$(sed -n 's/.*(\([0-9]*\) ns\/call).*/\1/p' "$TMP/${name}_run.out")
        g2=$(sed -n 's/.*(\([0-9]*\) ns\/call).*/\1/p' "$TMP/${name}_rec.out")
        if [ -n "$g1" ] && [ -n "$g2" ]; then GRUN+=("$g1") GREC+=("$g2"); fi
        timed "${name}_rep" "$UKVM" replay "$TMP/$name.zst"
        expect_ok "${name}_rep" "replay $name" || return 1
        reps+=("$T")
        if ! cmp -s "$TMP/${name}_rec.out" "$TMP/${name}_rep.out"; then
            bug "replay $name: console output differs from the recording"
            return 1
        fi
    done
    RUN_T=$(median "${runs[@]}") REC_T=$(median "${recs[@]}") REP_T=$(median "${reps[@]}")
    RUN_M=$(minimum "${runs[@]}") REC_M=$(minimum "${recs[@]}") REP_M=$(minimum "${reps[@]}")
}
ms() { awk -v t="$1" 'BEGIN {printf "%.1f ms", t * 1000}'; }

declare -A REC REP RUN RECM REPM RUNM
echo "- 2/4. run, record, replay"
for spec in "hypercalls $N_HC hypercalls.elf $HC_N" "compute $N_SMALL compute.elf" \
            "time $N_SMALL time.elf" "loop $N_HC loop.elf $LOOP_N"; do
    set -- $spec
    name=$1 count=$2 kernel=$3; shift 3
    echo "  $name"
    if bench_rrr "$name" "$count" "$G/$kernel" "$@"; then
        RUN[$name]=$RUN_T REC[$name]=$REC_T REP[$name]=$REP_T
        RUNM[$name]=$RUN_M RECM[$name]=$REC_M REPM[$name]=$REP_M
        [ "$name" = hypercalls ] && HC_GRUN="${GRUN[*]}" HC_GREC="${GREC[*]}"
    fi
done
# Output checks that the runs are what they claim to be.
if [ -n "${REC[compute]:-}" ]; then
    grep -q '^compute: fib=987 primes=303 hash=0x[0-9a-f]* counter=20000 checksum=0x' "$TMP/compute_run.out" ||
        bug "compute.elf: unexpected output: $(head -c 200 "$TMP/compute_run.out")"
    cmp -s "$TMP/compute_run.out" "$TMP/compute_rec.out" ||
        bug "compute.elf: recorded output differs from the plain run's"
fi
[ -n "${REC[time]:-}" ] && ! grep -q '^time: OK' "$TMP/time_rec.out" &&
    bug "time.elf under record: $(grep FAIL "$TMP/time_rec.out" | head -1)"
[ -n "${REC[loop]:-}" ] && ! grep -q "^loop: done $LOOP_N iterations" "$TMP/loop_rec.out" &&
    bug "loop.elf under record: unexpected output"

section "2. record overhead (record time / run time, process wall clock)"
for name in hypercalls compute loop; do
    [ -n "${REC[$name]:-}" ] || continue
    r=$(ratio "${REC[$name]}" "${RUN[$name]}")
    case $name in
        hypercalls) what="hypercalls.elf $HC_N" tgt="<= 1.10" v=$(verdict_le "$r" 1.10) ;;
        compute) what="compute.elf" tgt="<= 1.10" v=$(verdict_le "$r" 1.10) ;;
        loop) what="loop.elf $LOOP_N (walltime + rdtsc)" tgt="-" v=info ;;
    esac
    row "$what: $(ms "${REC[$name]}") / $(ms "${RUN[$name]}") (of minimums: $(ratio "${RECM[$name]}" "${RUNM[$name]}")x)" "${r}x" "$tgt" "$v"
done
if [ -n "${REC[hypercalls]:-}" ] && [ -n "${HC_GRUN:-}" ]; then
    g_run=$(median $HC_GRUN) g_rec=$(median $HC_GREC)
    row "hypercalls.elf, guest-timed ns/call: $g_rec / $g_run" "$(ratio "$g_rec" "$g_run")x" "-" "info"
fi

# ---- 3. trace size ----
# clock_bytes TRACE: "EVENTS BYTES" over the clock kinds (walltime, rdtsc,
# rdtscp), compressed, from `ukvm-trace stats`.
echo "- 3. trace size"
section "3. trace size (compressed bytes per event, ukvm-trace stats)"
for name in loop hypercalls time; do
    [ -f "$TMP/$name.zst" ] || continue
    if ! "$TRACE_TOOL" stats "$TMP/$name.zst" >"$TMP/$name.stats" 2>"$TMP/$name.stats.err"; then
        bug "ukvm-trace stats $name: $(head -c 200 "$TMP/$name.stats.err")"; continue
    fi
    per_kind=$(awk '$1 != "kind" && $1 != "all" && NF == 6 && $2 ~ /^[0-9]+$/ {printf "%s%s %s", sep, $1, $6; sep=", "}' "$TMP/$name.stats")
    read -r ev by < <(awk '$1 ~ /^(walltime|rdtsc|rdtscp)$/ {e += $2; b += $4} END {print e+0, b+0}' "$TMP/$name.stats")
    all=$(awk '$1 == "all" {print $6}' "$TMP/$name.stats")
    file=$(awk '/^bytes\/event overall/ {print $NF}' "$TMP/$name.stats")
    case $name in
        loop) what="loop.elf $LOOP_N" ;; hypercalls) what="hypercalls.elf $HC_N" ;; time) what="time.elf" ;;
    esac
    if [ "${ev:-0}" -gt 0 ]; then
        c=$(awk -v b="$by" -v e="$ev" 'BEGIN {printf "%.2f", b / e}')
        row "$what: clock events ($ev)" "$c B/event" "<= 8" "$(verdict_le "$c" 8)"
    fi
    row "per kind: $per_kind; all events $all; whole file $file" "" "" ""
done

section "4. replay speed (replay time / record time)"
for name in hypercalls compute time loop; do
    [ -n "${REC[$name]:-}" ] || continue
    r=$(ratio "${REP[$name]}" "${REC[$name]}")
    case $name in
        hypercalls) what="hypercalls.elf $HC_N" ;; compute) what="compute.elf" ;;
        time) what="time.elf (5 x 10 ms poll)" ;; loop) what="loop.elf $LOOP_N" ;;
    esac
    row "$what: $(ms "${REP[$name]}") / $(ms "${REC[$name]}") (of minimums: $(ratio "${REPM[$name]}" "${RECM[$name]}")x)" "${r}x" "<= 1.0" "$(verdict_le "$r" 1.0)"
done

# ---- 5. debugger ----
echo "- 5. debugger"
section "5. debugger (ukvm run --gdb, raw remote protocol client, compute.elf)"
sym() { nm "$G/compute.elf" | awk -v s="$1" '$3 == s {print "0x" $1}'; }
MIX=$(sym mix) COUNTER=$(sym counter) BSS_END=$(sym __bss_end)
# A never-written address on counter's page: past the end of .bss.
QUIET=$(printf '0x%x' $(( (COUNTER & ~0xfff) + 0xff8 )))
if [ $((QUIET)) -lt $((BSS_END)) ] || [ $((QUIET & ~0xfff)) -ne $((COUNTER & ~0xfff)) ]; then
    QUIET=""
fi
# gdbrate NAME ARGS...: runs the client; sets OUT, or reports a bug.
gdbrate() {
    local name=$1; shift
    timed "gdb_$name" python3 "$GDB_RATE" "$UKVM" "$G/compute.elf" "$@"
    OUT=$(cat "$TMP/gdb_$name.out")
    if [ "$RC" != 0 ]; then
        bug "gdb $name: status $RC: $OUT $(head -c 200 "$TMP/gdb_$name.err")"; OUT=""; return 1
    fi
}
kv() { printf '%s\n' "$OUT" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
# rates LABEL NAME ARGS...: N_DBG samples of one client mode; adds a row with
# the median rate.
rates() {
    local label=$1 name=$2; shift 2
    local rs=() detail="" i
    for i in $(seq "$N_DBG"); do
        gdbrate "$name" "$@" || return 1
        rs+=("$(kv rate)")
        detail="$(kv steps)$(kv hits) in $(kv secs) s"
    done
    row "$label (median of ${#rs[@]}; last $detail)" "$(median "${rs[@]}") stops/s" "-" "info"
}
rates "stepi from the first instruction, 3 s" stepi stepi 3 100000
[ -n "$MIX" ] && rates "breakpoint on mix, continue + hit" break break "$MIX" 5 100000
[ -n "$COUNTER" ] && rates "watch counter (fires every bump_counter iteration), 2 s" watchhit watch "$COUNTER" 8 2
# Slowdown of a page-protection watchpoint that never fires: 'c' from the
# first instruction to the exit with and without it (medians).
if [ -n "$QUIET" ]; then
    plain=() quiet=() ok=1
    for i in $(seq "$N_DBG"); do
        gdbrate cont cont || { ok=0; break; }
        plain+=("$(kv secs)")
        gdbrate quiet watch "$QUIET" 8 || { ok=0; break; }
        [ "$(kv hits)" = 0 ] || { bug "watch $QUIET (never written) fired $(kv hits) times"; ok=0; break; }
        quiet+=("$(kv secs)")
    done
    if [ "$ok" = 1 ]; then
        p=$(median "${plain[@]}") q=$(median "${quiet[@]}")
        row "'c' to exit, never-firing watch $QUIET (counter's page) / none: $(ms "$q") / $(ms "$p")" \
            "$(ratio "$q" "$p")x" "-" "info"
    fi
fi

# ---- 6. reverse execution (design target; reported when the server has it) ----
echo "- 6. reverse-stepi"
section "6. reverse execution (ukvm replay --gdb, compute.elf trace)"
CHECKSUM=$(sym checksum)
if [ -f "$TMP/compute.zst" ] && [ -n "$MIX" ] && [ -n "$CHECKSUM" ]; then
    # a) In a loop: stopped at the 300th call of mix, 11 reverse steps (the
    #    previous arrival at the stop's address is a few dozen instructions
    #    back).
    timed gdb_reverse python3 "$GDB_RATE" "$UKVM" "$TMP/compute.zst" reverse "$MIX" 300 11
    OUT=$(cat "$TMP/gdb_reverse.out")
    if [ "$RC" != 0 ]; then
        bug "gdb reverse: status $RC: $OUT"
    elif [ "$(kv unsupported)" = 1 ]; then
        row "reverse-stepi ('bs')" "unsupported" "< 200 ms" "n/a"
    else
        m=$(kv median_ms)
        row "reverse-stepi at the 300th call of mix: median of $(kv n), max $(kv max_ms) ms" "$m ms" "< 200 ms" "$(verdict_le "$m" 199.999)"
        # b) Far from any event and any earlier arrival: at checksum's entry
        #    (called once, after nearly all of compute's instructions, with no
        #    event since the start), the first reverse step; median of N_DBG.
        fs=() ok=1
        for i in $(seq "$N_DBG"); do
            timed gdb_reverse2 python3 "$GDB_RATE" "$UKVM" "$TMP/compute.zst" reverse "$CHECKSUM" 1 3
            OUT=$(cat "$TMP/gdb_reverse2.out")
            [ "$RC" = 0 ] || { bug "gdb reverse at checksum: status $RC: $OUT"; ok=0; break; }
            fs+=("$(kv first_ms)")
        done
        if [ "$ok" = 1 ]; then
            m=$(median "${fs[@]}")
            row "first reverse-stepi at checksum's entry, no event or arrival before (median of ${#fs[@]})" "$m ms" "< 200 ms" "$(verdict_le "$m" 199.999)"
        fi
    fi
fi

# ---- the table ----
echo
awk -F '\t' '
    $1 == "#" { printf "\n%s\n", $2; next }
    $2 == "" { printf "      %s\n", $1; next }
    { printf "  %-90s %15s  %-8s %s\n", $1, $2, $3, $4 }
' "$ROWS"
echo
n_pass=$(awk -F '\t' '$4 == "PASS"' "$ROWS" | wc -l)
n_miss=$(awk -F '\t' '$4 == "MISS"' "$ROWS" | wc -l)
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "targets: $n_pass PASS, $n_miss MISS; bugs: $bugs"
echo
# The long-run reverse-execution figures (a 5-million-instruction replay,
# latency by distance, checkpoint memory for 64 MiB and 1 GiB guests).
[ -n "${BENCH_QUICK:-}" ] || bash "$(dirname "$0")/bench_reverse.sh"
# monitor goto near the end of that run, from its start and from its end.
echo
UKVM=$UKVM TRACE_TOOL=$TRACE_TOOL G=$G bash "$(dirname "$0")/bench_goto.sh" || bugs=$((bugs + 1))
# Conditional breakpoints: reverse-continue past 10,000 false hits, the
# condition evaluated by ukvm and by gdb (BENCH_QUICK: 1,000 hits).
echo
UKVM=$UKVM G=$G BENCH_COND_N=${BENCH_COND_N:-$([ -n "${BENCH_QUICK:-}" ] && echo 1000 || echo 10000)} \
    bash "$(dirname "$0")/bench_condition.sh" || bugs=$((bugs + 1))
# The network service under load (needs root for a tap).
echo
UKVM=$UKVM TRACE_TOOL=$TRACE_TOOL G=$G bash "$(dirname "$0")/bench_net.sh" || bugs=$((bugs + 1))
# Start-up by phase at 64 MiB and 2 GiB, and against Solo5's tender when
# SOLO5_HVT and SOLO5_HELLO name it and its hello kernel.
echo
UKVM=$UKVM G=$G BENCH_STARTUP_N=$([ -n "${BENCH_QUICK:-}" ] && echo 3 || echo 7) \
    bash "$(dirname "$0")/bench_startup.sh" || bugs=$((bugs + 1))
# Long traces: 1M and 10M recorded events (about 20 minutes on this machine;
# BENCH_QUICK takes 100k and 1M), info/stats/dump --from, replay RSS.
echo
echo "long traces (tests/bench/bench_long_trace.sh)"
if [ -n "${BENCH_QUICK:-}" ]; then
    LONG_SMALL=100000 LONG_BIG=1000000 UKVM=$UKVM TRACE_TOOL=$TRACE_TOOL G=$G \
        bash "$(dirname "$0")/bench_long_trace.sh" || bugs=$((bugs + 1))
else
    UKVM=$UKVM TRACE_TOOL=$TRACE_TOOL G=$G bash "$(dirname "$0")/bench_long_trace.sh" ||
        bugs=$((bugs + 1))
fi
[ "$bugs" = 0 ]

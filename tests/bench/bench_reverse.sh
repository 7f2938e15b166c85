#!/usr/bin/env bash
# Reverse-execution benchmarks (issue: reverse execution): reverse-stepi and
# reverse-continue latency at points spread over a ~5-million-instruction
# compute run, the share of that time spent re-executing the guest, and
# checkpoint memory for a 64 MiB and a 1 GiB guest doing the same work.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
UKVM=$TOP/ukvm
GUEST=$TOP/build/guests/compute.elf
T=$(mktemp -d /tmp/ukvm-bench-rev.XXXXXX)
trap 'rm -rf "$T"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null' EXIT

free_port() { echo $(( 20000 + RANDOM % 20000 )); }

# run_session MEM POINTS HOP: record compute 150 with MEM MiB, replay it
# under gdb, visit the points; leaves $T/points.MEM and $T/stats.MEM.
run_session() {
    local mem=$1 points=$2 hop=$3 port
    rm -f "$T/c$mem.zst"
    "$UKVM" record --mem="$mem" -o "$T/c$mem.zst" "$GUEST" 150 >/dev/null || return 1
    for try in 1 2 3 4 5; do
        port=$(free_port)
        UKVM_REPLAY_STATS=1 "$UKVM" replay --gdb="$port" "$T/c$mem.zst" >/dev/null 2>"$T/stats.$mem" &
        pid=$!
        sleep 0.3
        kill -0 "$pid" 2>/dev/null && break
    done
    (cd "$T" && timeout 600 gdb -batch -nx -ex "set \$bench_points = $points" \
        -ex "set \$bench_hop = $hop" -ex "target remote 127.0.0.1:$port" \
        -x "$TOP/tests/bench/reverse_points.py" >"$T/points.$mem" 2>&1)
    wait "$pid" 2>/dev/null
    pid=
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

echo "== reverse execution (compute 150: about 5 million instructions, replayed under gdb)"
run_session 512 12 95
rstep_ms=$(sed -n 's/.*rstep_s=\([0-9.]*\).*/\1/p' "$T/points.512" | awk '{print $1*1000}' | median)
rcont_ms=$(sed -n 's/.*rcont_s=\([0-9.]*\).*/\1/p' "$T/points.512" | awk '{print $1*1000}' | median)
npoints=$(grep -c '^POINT' "$T/points.512")
ratio=$(grep 'op=reverse-step ' "$T/stats.512" | sed -n 's/.*total_ns=\([0-9]*\) exec_ns=\([0-9]*\).*/\1 \2/p' |
        awk '$2 > 0 {print $1/$2}' | median)
printf '%-58s %s\n' "points visited" "$npoints"
printf '%-58s %8.1f ms   (target < 200: %s)\n' "median reverse-stepi latency" "$rstep_ms" \
    "$(awk -v v="$rstep_ms" 'BEGIN {print (v < 200) ? "PASS" : "MISS"}')"
printf '%-58s %8.1f ms\n' "median reverse-continue latency (to the previous hit)" "$rcont_ms"
printf '%-58s %8.2f     (target <= 1.5: %s)\n' "reverse-stepi time / its forward re-execution time" "$ratio" \
    "$(awk -v v="$ratio" 'BEGIN {print (v <= 1.5) ? "PASS" : "MISS"}')"
echo "reverse-stepi latency by distance (single steps re-executed from the nearest checkpoint):"
paste <(sed -n 's/.*steps=\([0-9]*\).*rstep_s=\([0-9.]*\).*/\1 \2/p' "$T/points.512") /dev/null |
    awk '{printf "  %4d steps after a breakpoint stop: %7.1f ms%s\n", $1, $2*1000, $1 == 0 ? "  (steps back to the last periodic checkpoint)" : ""}'

echo "== checkpoint memory: same work, 64 MiB and 1 GiB guests"
for mem in 64 1024; do
    run_session "$mem" 4 95
    bytes=$(grep 'ukvm: stats' "$T/stats.$mem" | tail -1 | sed -n 's/.*checkpoint_bytes=\([0-9]*\).*/\1/p')
    cps=$(grep 'ukvm: stats' "$T/stats.$mem" | tail -1 | sed -n 's/.*checkpoints=\([0-9]*\).*/\1/p')
    printf '  guest memory %5s MiB: %4s checkpoints hold %6.1f MiB (structs, XSAVE areas, pages dirtied)\n' \
        "$mem" "${cps:-?}" "$(awk -v b="${bytes:-0}" 'BEGIN {print b/1048576}')"
done

# far_session ROUNDS NAME: compute ROUNDS recorded, then under gdb: continue
# to count_primes (early), continue to checksum (the end): the forward
# stretch; reverse-continue to count_primes across it; then reverse-stepi
# there, at the far end of the history. Leaves $T/far.NAME.stats.
far_session() {
    local rounds=$1 name=$2
    rm -f "$T/far$name.zst"
    "$UKVM" record -o "$T/far$name.zst" "$GUEST" "$rounds" >/dev/null || return 1
    cat >"$T/far.gdb" <<'GDB'
break count_primes
continue
delete
break checksum
continue
delete
break count_primes
reverse-continue
delete
reverse-stepi
reverse-stepi
GDB
    (cd "$T" && UKVM_REPLAY_STATS=1 timeout 1800 "$UKVM" debug "$T/far$name.zst" -batch -x "$T/far.gdb" \
        >"$T/far.$name.out" 2>"$T/far.$name.stats")
}
op_ms() { # FILE OP N: total ms of the N-th stats line of OP
    grep "op=$2 " "$1" | sed -n "$3s/.* total_ns=\([0-9]*\).*/\1/p" | awk '{print $1/1e6}'
}
echo "== reverse-continue far back, against the forward run over the same stretch (compute 150)"
far_session 150 short || { echo "BUG: record compute 150"; exit 1; }
fwd=$(op_ms "$T/far.short.stats" continue 2)
rev=$(op_ms "$T/far.short.stats" reverse-continue 1)
[ -n "$fwd" ] && [ -n "$rev" ] ||
    { echo "BUG: the far-back session gave no timings: $(tail -3 "$T/far.short.stats")"; exit 1; }
runs=$(grep 'op=reverse-continue' "$T/far.short.stats" | head -1 | sed -n 's/.* runs=\([0-9]*\).*/\1/p')
printf '%-58s %8.0f ms\n' "forward: continue from count_primes to checksum" "${fwd:-0}"
printf '%-58s %8.0f ms   (%s stops on the way)\n' "reverse-continue from checksum back to count_primes" "${rev:-0}" "${runs:-?}"
printf '%-58s %8.2f     (target <= 1.3: %s)\n' "reverse-continue / forward over the same stretch" \
    "$(awk -v r="${rev:-0}" -v f="${fwd:-1}" 'BEGIN {print r/f}')" \
    "$(awk -v r="${rev:-0}" -v f="${fwd:-1}" 'BEGIN {print (r/f <= 1.3) ? "PASS" : "MISS"}')"
if [ -z "${BENCH_QUICK:-}" ]; then
    rounds=${BENCH_FAR_ROUNDS:-1500}
    echo "== reverse-stepi at the far end of a run 10x longer (compute $rounds, default --checkpoint-mem)"
    far_session "$rounds" long || { echo "BUG: record compute $rounds"; exit 1; }
    rs=$(grep 'op=reverse-step ' "$T/far.long.stats" | sed -n 's/.* total_ns=\([0-9]*\).*/\1/p' | sort -n | tail -1)
    printf '%-58s %8s\n' "checkpoints pushed / dropped over the run" \
        "$(grep 'ukvm: stats' "$T/far.long.stats" | tail -1 | sed -n 's/.* pushed=\([0-9]*\) dropped=\([0-9]*\).*/\1 \/ \2/p')"
    printf '%-58s %8.0f ms\n' "reverse-continue to count_primes across the whole run" "$(op_ms "$T/far.long.stats" reverse-continue 1)"
    printf '%-58s %8.1f ms   (target < 500: %s)\n' "slowest reverse-stepi there" "$(awk -v n="${rs:-0}" 'BEGIN {print n/1e6}')" \
        "$(awk -v n="${rs:-0}" 'BEGIN {print (n > 0 && n/1e6 < 500) ? "PASS" : "MISS"}')"
fi

#!/usr/bin/env bash
# Network service under load (part of `make bench`; runs alone too): the
# udpsvc guest behind a tap, driven by tests/bench/udp_load.py, under
# `ukvm run` and `ukvm record`, measured side by side in this one run:
#   - throughput at full speed (8 requests in flight): record / run >= 0.9
#   - p50/p99 latency at a fixed rate (half of run's full-speed throughput):
#     record's p99 / run's p99 <= 1.2
#   - trace bytes per request (random 64-byte payloads, so zstd cannot
#     shrink them): events' compressed bytes per request (its frame in, its
#     reply out, the polls) minus the payload's 64 bytes <= 24
#   - replay time of the full-speed recording / its recorded duration <= 0.5
# Needs root (a tap) and /dev/kvm; says SKIP otherwise.
# BENCH_NET_SECONDS (default 5) is each load phase's length.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
UKVM=${UKVM:-$TOP/ukvm}
TRACE_TOOL=${TRACE_TOOL:-$TOP/tools/ukvm-trace}
SVC=${G:-$TOP/build/guests}/udpsvc.elf
LOAD=$TOP/tests/bench/udp_load.py
SECS=${BENCH_NET_SECONDS:-5}
PAYLOAD=64
FRAME=$((14 + 20 + 8 + PAYLOAD))        # a request frame as the guest reads it

echo "- 8. network service under load (udpsvc, ${SECS} s per phase)"
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then echo "bench_net: SKIP: /dev/kvm is not usable"; exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then echo "bench_net: SKIP: needs root and ip(8) for a tap"; exit 0; fi
TMP=$(mktemp -d /tmp/ukvm-bench-net.XXXXXX)
TAP=ukvmb$$
NET=10.214.$(( $$ % 250 + 1 ))
PID=""
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; ip link del "$TAP" 2>/dev/null; rm -rf "$TMP"' EXIT
ip tuntap add dev "$TAP" mode tap && sysctl -q -w "net.ipv6.conf.$TAP.disable_ipv6=1" &&
    ip addr add "$NET.1/24" dev "$TAP" && ip link set "$TAP" up ||
    { echo "bench_net: SKIP: cannot set up a tap"; exit 0; }

. "$TOP/tests/lib/bench.sh" # bug, ratio
verdict() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {ok = op == "<=" ? a <= b : a >= b; print ok ? "PASS" : "MISS"}'; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# session NAME MODE LOAD-ARGS...: the service under MODE (run, or record to
# $TMP/NAME.zst), one load phase, then QUIT. Leaves $TMP/NAME.json (the load
# figures), NAME.out, and WALL (seconds from start to exit).
session() {
    local name=$1 mode=$2 i t0 t1; shift 2
    local opts=()
    [ "$mode" = record ] && opts=(-o "$TMP/$name.zst")
    t0=$(date +%s%N)
    timeout -k 5 $((SECS + 90)) "$UKVM" "$mode" "${opts[@]}" --net:service="$TAP" "$SVC" "$NET.2" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PID=$!
    for i in $(seq 100); do grep -q '^udpsvc: ready' "$TMP/$name.out" 2>/dev/null && break; sleep 0.1; done
    # the host resolves the guest's address once, outside the measured phase
    timeout 10 python3 "$LOAD" "$NET.2" --seconds 0.2 --window 1 >/dev/null 2>&1
    timeout $((SECS + 60)) python3 "$LOAD" "$NET.2" --seconds "$SECS" --size "$PAYLOAD" --random \
        --quit --json "$@" >"$TMP/$name.json" 2>"$TMP/$name.load.err"
    local lrc=$?
    wait "$PID"; local rc=$?; PID=""
    t1=$(date +%s%N)
    WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
    [ "$lrc" = 0 ] || bug "$name: load generator: $(cat "$TMP/$name.json" "$TMP/$name.load.err" | head -c 300)"
    [ "$rc" = 0 ] || bug "$name: ukvm $mode exited $rc: $(head -c 300 "$TMP/$name.err")"
    [ "$lrc" = 0 ] && [ "$rc" = 0 ]
}

ROWS=$TMP/rows
row() { printf '  %-78s %16s  %-7s %s\n' "$1" "$2" "$3" "$4" >>"$ROWS"; }

# 1. full speed, run and record back to back
if session run_full run && session rec_full record; then
    r_run=$(field "$TMP/run_full.json" req_per_s) r_rec=$(field "$TMP/rec_full.json" req_per_s)
    rt=$(ratio "$r_rec" "$r_run")
    row "throughput, 8 in flight: run $(printf %.0f "$r_run") req/s, record $(printf %.0f "$r_rec") req/s" \
        "record/run $rt" ">= 0.9" "$(verdict "$rt" ">=" 0.9)"
    REC_WALL=$WALL
    # replay of the full-speed recording against its recorded duration
    t0=$(date +%s%N)
    timeout 300 "$UKVM" replay "$TMP/rec_full.zst" >"$TMP/rep.out" 2>"$TMP/rep.err" || bug "replay: $(head -c 200 "$TMP/rep.err")"
    t1=$(date +%s%N)
    cmp -s "$TMP/rep.out" "$TMP/rec_full.out" || bug "replay: console output differs from the recording"
    rep=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
    rr=$(ratio "$rep" "$REC_WALL")
    row "replay of the full-speed session: ${rep} s for ${REC_WALL} s recorded" "$rr" "<= 0.5" "$(verdict "$rr" "<=" 0.5)"
fi

# 2. latency at a fixed rate (half of run's full-speed throughput)
if [ -n "${r_run:-}" ]; then
    rate=$(awk -v r="$r_run" 'BEGIN {printf "%.0f", r / 2 < 1 ? 1 : r / 2}')
    if session run_rate run --rate "$rate" && session rec_rate record --rate "$rate"; then
        p50a=$(field "$TMP/run_rate.json" p50_us) p99a=$(field "$TMP/run_rate.json" p99_us)
        p50b=$(field "$TMP/rec_rate.json" p50_us) p99b=$(field "$TMP/rec_rate.json" p99_us)
        pr=$(ratio "$p99b" "$p99a")
        row "latency at $rate req/s: run p50 $(printf %.0f "$p50a") us p99 $(printf %.0f "$p99a") us; record p50 $(printf %.0f "$p50b") us p99 $(printf %.0f "$p99b") us" \
            "p99 rec/run $pr" "<= 1.2" "$(verdict "$pr" "<=" 1.2)"
        # 3. trace bytes per request
        if "$TRACE_TOOL" stats "$TMP/rec_rate.zst" >"$TMP/stats" 2>"$TMP/stats.err"; then
            reqs=$(field "$TMP/rec_rate.json" replies)
            comp=$(awk '$1 == "all" {print $4}' "$TMP/stats")
            over=$(awk -v c="$comp" -v n="$reqs" -v p="$PAYLOAD" 'BEGIN {printf "%.1f", c / n - p}')
            row "trace: $(printf %.0f "$comp") compressed event bytes, $reqs requests ($FRAME-byte frames, $PAYLOAD-byte random payloads)" \
                "payload+$over B" "<= +24" "$(verdict "$over" "<=" 24)"
            awk '$1 != "kind" && NF == 6 && $2 ~ /^[0-9]+$/ {printf "      %s: %s events, %.1f B/event compressed\n", $1, $2, $6}' "$TMP/stats" >>"$ROWS"
        else
            bug "ukvm-trace stats: $(head -c 200 "$TMP/stats.err")"
        fi
    fi
fi
cat "$ROWS" 2>/dev/null
[ "$bugs" = 0 ]

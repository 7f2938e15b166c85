#!/usr/bin/env bash
# A network service under load (tests/guests/udpsvc.c) through a real tap:
# Linux's own stack talks to it (ARP, ping, UDP), tests/bench/udp_load.py
# sends requests and checks every reply. A session under load is recorded,
# replayed with the tap deleted (the same console output and status), and
# debugged with a real gdb: a breakpoint in the request handler,
# reverse-continue to the previous request, and `watch` on the request
# counter with reverse-continue to its last change.
# The tap gets 10.213.N.1/24 and the guest 10.213.N.2 (N from the pid): only
# addresses on the tap's own link are used. NET_LOAD_SECONDS (default 10)
# sets the recorded session's length.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/common.sh"
require_kvm net_service || exit 0
if [ "$(id -u)" != 0 ]; then skip net_service "needs root to create tap devices"; exit 0; fi
for tool in python3 ping gdb; do
    if ! command -v "$tool" >/dev/null; then skip net_service "$tool is not installed"; exit 0; fi
done

TAP=ukvms$$
NET=10.213.$(( $$ % 250 + 1 ))
SVC=$GUESTS/udpsvc.elf
LOAD=$TOP/tests/bench/udp_load.py
GDB_TIMEOUT=${GDB_TIMEOUT:-90}
PID=""
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; ip link del "$TAP" 2>/dev/null; rm -rf "$TMPDIR_TEST"' EXIT

make_tap() {
    ip tuntap add dev "$TAP" mode tap &&
    sysctl -q -w "net.ipv6.conf.$TAP.disable_ipv6=1" &&
    ip addr add "$NET.1/24" dev "$TAP" &&
    ip link set "$TAP" up
}
if make_tap; then pass net_service_tap; else fail net_service_tap "could not set up $TAP with $NET.1/24"; exit 0; fi

# start NAME MODE [OPTIONS...]: the service in the background; waits for its
# ready line.
start() {
    local name=$1 mode=$2 i; shift 2
    timeout -k 5 120 "$UKVM" "$mode" "$@" --net:service="$TAP" "$SVC" "$NET.2" \
        >"$T/$name.out" 2>"$T/$name.err" &
    PID=$!
    for i in $(seq 100); do
        grep -q '^udpsvc: ready' "$T/$name.out" 2>/dev/null && { pass "${name}_ready"; return 0; }
        sleep 0.1
    done
    fail "${name}_ready" "no ready line in 10 s: $(head -c 300 "$T/$name.err")"
    return 1
}
# finish NAME: waits for the service to end; checks status 0 and that its
# summary counts the replies the load generator got ($1.load's "replies N").
finish() {
    local name=$1 st served replies
    wait "$PID"; st=$?; PID=""
    expect_status "${name}_status" 0 "$st" "$(head -c 300 "$T/$name.err")"
    served=$(sed -n 's/^udpsvc: served \([0-9]*\) requests.*/\1/p' "$T/$name.out")
    replies=$(sed -n 's/^requests [0-9]*, replies \([0-9]*\),.*/\1/p' "$T/$name.load")
    if [ -n "$served" ] && [ "$served" = "$replies" ] && [ "$served" -gt 0 ]; then
        pass "${name}_served_every_request ($served)"
    else
        fail "${name}_served_every_request" "guest served '${served}', load generator got '${replies}' replies"
    fi
}

# ---- ukvm run: ping and a short load
if start svc_run run; then
    if timeout 20 ping -c 3 -W 2 "$NET.2" >"$T/ping.out" 2>&1; then pass svc_run_ping; else
        fail svc_run_ping "$(tail -2 "$T/ping.out" | tr '\n' ' ')"; fi
    timeout 60 python3 "$LOAD" "$NET.2" --seconds 2 --quit >"$T/svc_run.load" 2>&1
    expect_status svc_run_load_all_replies_correct 0 $? "$(cat "$T/svc_run.load")"
    finish svc_run
    grep -q ', 3 pings,' "$T/svc_run.out" && pass svc_run_counts_pings || fail svc_run_counts_pings "$(tail -1 "$T/svc_run.out")"
fi

# ---- a recorded session under load
if ! start svc_rec record -o "$T/svc.trace"; then exit 0; fi
timeout 20 ping -c 2 -W 2 "$NET.2" >/dev/null 2>&1
timeout $(( ${NET_LOAD_SECONDS:-10} + 60 )) python3 "$LOAD" "$NET.2" --seconds "${NET_LOAD_SECONDS:-10}" \
    --quit >"$T/svc_rec.load" 2>&1
expect_status svc_rec_load_all_replies_correct 0 $? "$(cat "$T/svc_rec.load")"
finish svc_rec
echo "    load under record: $(cat "$T/svc_rec.load")"

ip link del "$TAP"
expect_run svc_replay_no_tap 0 - none "$UKVM" replay "$T/svc.trace"
same_file svc_replay_same_output "$T/svc_rec.out" "$T/svc_replay_no_tap.out"

# ---- debugging the recorded session
PORT=""
for _ in 1 2 3 4 5; do
    PORT=$((40000 + RANDOM % 20000))
    "$UKVM" replay --gdb="$PORT" "$T/svc.trace" >"$T/dbg.out" 2>"$T/dbg.err" &
    PID=$!
    for _ in $(seq 100); do grep -q "waiting for gdb" "$T/dbg.err" && break; sleep 0.05; done
    grep -q "waiting for gdb on 127.0.0.1:$PORT" "$T/dbg.err" && break
    kill -9 "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=""
done
if [ -z "$PID" ]; then fail svc_gdb_start "$(head -c 300 "$T/dbg.err")"; exit 0; fi
mkdir -p "$T/gdbcwd"
(cd "$T/gdbcwd" && timeout -k 5 "$GDB_TIMEOUT" gdb -batch -nx -ex 'set pagination off' \
    -ex 'set confirm off' -ex "file $SVC" -ex "target remote 127.0.0.1:$PORT" \
    -ex 'break serve_request' -ex continue -ex continue -ex continue -ex continue \
    -ex continue -ex continue \
    -ex 'printf "AT-6TH %d\n", requests_served' \
    -ex reverse-continue \
    -ex 'printf "AT-5TH %d\n", requests_served' \
    -ex 'delete' -ex 'watch requests_served' -ex reverse-continue \
    -ex 'printf "AT-WRITE %d\n", requests_served' -ex 'printf "WHERE "' -ex 'info symbol $pc' \
    -ex kill) >"$T/gdb.out" 2>&1 </dev/null
line() { grep -m1 "^$1 " "$T/gdb.out"; }
check "svc_gdb: 6th request has served 5" test "$(line AT-6TH)" = "AT-6TH 5"
check "svc_gdb: reverse-continue to the 5th request" test "$(line AT-5TH)" = "AT-5TH 4"
if [ "$(line AT-WRITE)" = "AT-WRITE 3" ] && line WHERE | grep -q '^WHERE serve_request + '; then
    pass "svc_gdb: watch + reverse-continue lands on the counter's last change"
else
    fail "svc_gdb: watch + reverse-continue lands on the counter's last change" \
        "got '$(line AT-WRITE)', '$(line WHERE)'; gdb: $(tail -8 "$T/gdb.out" | tr '\n' '|' | head -c 600)"
fi
wait "$PID" 2>/dev/null; PID=""

#!/usr/bin/env bash
# The net guest on a real tap device: frames sent from the host with
# tests/guests/net-echo-check.py (an AF_PACKET socket on the tap) come back
# with the guest's MAC as source. Taps that cannot be used are refused with
# one line. A recording with real frames replays with the tap deleted.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/common.sh"
require_kvm net || exit 0
if [ "$(id -u)" != 0 ]; then skip net "needs root to create tap devices"; exit 0; fi

TAP=ukvmt$$
TAP2=ukvmu$$
trap 'ip link del "$TAP" 2>/dev/null; ip link del "$TAP2" 2>/dev/null; rm -rf "$TMPDIR_TEST"' EXIT
ECHO=$TOP/tests/guests/net-echo-check.py
NET=$GUESTS/net.elf

# make_tap NAME: a tap with IPv6 off (else the host's router and multicast
# chatter reaches the guest and uses up its frame count), brought up.
make_tap() {
    ip tuntap add dev "$1" mode tap &&
    sysctl -q -w "net.ipv6.conf.$1.disable_ipv6=1" &&
    ip link set "$1" up
}
if make_tap "$TAP"; then pass net_tap_created; else fail net_tap_created "ip tuntap add dev $TAP mode tap failed"; exit 0; fi

# echo_session NAME MODE OUTFILE [UKVM OPTIONS...]: runs `ukvm MODE OPTIONS
# net.elf 3` in the background, sends 3 frames with the echo helper, waits
# for the guest. Sets $st (guest status), $helper_rc, and leaves the outputs
# in $T/NAME.{out,err,helper}.
echo_session() {
    local name=$1 mode=$2; shift 2
    timeout -k 5 40 "$UKVM" "$mode" "$@" "$NET" 3 >"$T/$name.out" 2>"$T/$name.err" &
    local pid=$!
    if ! wait_net_ready "$T/$name.out"; then
        fail "${name}_ready" "no 'net: ready' line within 10 s (stderr: $(head -c 200 "$T/$name.err"))"
    fi
    if [ -n "${BUSY_CHECK:-}" ]; then
        # While the guest holds the tap, a second monitor cannot attach it.
        expect_run net_tap_busy_refused 1 "" "$TAP" timeout -k 2 8 "$UKVM" run --net:service="$TAP" "$NET" 3
    fi
    timeout -k 5 30 python3 "$ECHO" "$TAP" 3 5 >"$T/$name.helper" 2>&1
    helper_rc=$?
    wait "$pid"
    st=$?
}

# ---- run, with a given MAC
MAC=02:11:22:33:44:55
BUSY_CHECK=1 echo_session net_run run --net:service="$TAP" --net-mac:service=$MAC
unset BUSY_CHECK
expect_status net_run_status 0 "$st" "stderr: $(head -c 200 "$T/net_run.err")"
frame_line() { echo "net: echoed frame $1: 78 bytes from 02:00:00:aa:bb:cc, ethertype 0x88b5"; }
want="net: ready, mac $MAC, mtu 1500, echoing 3 frames
$(frame_line 1)
$(frame_line 2)
$(frame_line 3)
net: done"
if printf '%s\n' "$want" | cmp -s - "$T/net_run.out"; then pass net_run_output; else
    fail net_run_output "got '$(head -c 400 "$T/net_run.out" | tr '\n' '|')'"; fi
msg=$(stderr_ok "$T/net_run.err" none) && pass net_run_stderr_empty || fail net_run_stderr_empty "$msg"
want_helper="frame 0: echoed by $MAC, 78 bytes
frame 1: echoed by $MAC, 78 bytes
frame 2: echoed by $MAC, 78 bytes
3/3 frames echoed"
if [ "$helper_rc" = 0 ] && printf '%s\n' "$want_helper" | cmp -s - "$T/net_run.helper"; then pass net_run_echoes; else
    fail net_run_echoes "helper status $helper_rc, output '$(head -c 300 "$T/net_run.helper" | tr '\n' '|')'"; fi

# ---- taps that cannot be opened
expect_run net_tap_is_loopback 1 "" "lo" "$UKVM" run --net:service=lo "$NET" 3
expect_run net_tap_name_too_long 1 "" "" "$UKVM" run --net:service=ukvm-tap-name-far-too-long "$NET" 3
expect_run net_tap_name_empty 1 "" "" "$UKVM" run --net:service= "$NET" 3
expect_run net_tap_name_with_slash 1 "" "" "$UKVM" run --net:service=a/b "$NET" 3

# ---- record with real frames (random MAC), then replay with the tap gone
echo_session net_rec record -o "$T/net.trace" --net:service="$TAP"
expect_status net_record_status 0 "$st" "stderr: $(head -c 200 "$T/net_rec.err")"
gmac=$(sed -n 's/^net: ready, mac \([0-9a-f:]*\), mtu 1500, echoing 3 frames$/\1/p' "$T/net_rec.out")
if [ -n "$gmac" ] && [ "$helper_rc" = 0 ] && [ "$(grep -c "echoed by $gmac, 78 bytes" "$T/net_rec.helper")" = 3 ]; then
    pass net_record_echoes_from_guest_mac
else
    fail net_record_echoes_from_guest_mac "guest mac '$gmac', helper status $helper_rc: $(head -c 300 "$T/net_rec.helper" | tr '\n' '|')"
fi
if [ "$(grep -c '^net: echoed frame' "$T/net_rec.out")" = 3 ] && [ "$(tail -1 "$T/net_rec.out")" = "net: done" ]; then
    pass net_record_output; else fail net_record_output "got '$(head -c 400 "$T/net_rec.out" | tr '\n' '|')'"; fi
run_capture "$T/net_info.out" "$T/net_info.err" "$UKVM_TRACE" info "$T/net.trace"
if [ $? = 0 ] && grep -Fxq "  [1] net service: mac $gmac, mtu 1500" "$T/net_info.out" &&
   [ "$(sed -n 's/^#[0-9]* \(net_read\|net_write\) rip=0x[0-9a-f]* handle=1 .* ret=0.*/\1/p' <("$UKVM_TRACE" dump "$T/net.trace") | sort | uniq -c | awk '{ print $1 }' | tr '\n' ' ')" = "3 3 " ]; then
    pass net_trace_lists_device_and_frames
else
    fail net_trace_lists_device_and_frames "info: $(grep -F 'net service' "$T/net_info.out"); dump: $("$UKVM_TRACE" dump "$T/net.trace" | grep -c 'net_')"
fi
ip link del "$TAP"
if ip link show "$TAP" >/dev/null 2>&1; then fail net_tap_deleted "$TAP still exists"; else pass net_tap_deleted; fi
for i in 1 2; do
    expect_run net_replay_$i 0 - none "$UKVM" replay "$T/net.trace"
    same_file net_replay_${i}_same_stdout "$T/net_rec.out" "$T/net_replay_$i.out"
done
if ip link show "$TAP" >/dev/null 2>&1; then fail net_replay_created_no_tap "replay re-created $TAP"; else pass net_replay_created_no_tap; fi

# ---- a second tap, name reused after deletion: run still works (no stale state)
if make_tap "$TAP2"; then
    TAP=$TAP2
    echo_session net_run2 run --net:service="$TAP2"
    expect_status net_second_tap_status 0 "$st" "helper status $helper_rc; stderr: $(head -c 200 "$T/net_run2.err")"
    [ "$helper_rc" = 0 ] && pass net_second_tap_echoes || fail net_second_tap_echoes "$(tail -1 "$T/net_run2.helper")"
else
    fail net_second_tap_created "ip tuntap add dev $TAP2 failed"
fi

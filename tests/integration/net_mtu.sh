#!/usr/bin/env bash
# The tap's MTU reaches the guest: on a tap with MTU 9000 the net guest is
# told "mtu 9000", echoes 9014-byte frames (MTU + the 14-byte Ethernet
# header) in both directions under run and record, and a net_write one byte
# longer fails with EINVAL (the guest runs on) and one line on stderr. The
# recording replays with the tap deleted: the same output, the recorded MTU.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/common.sh"
require_kvm net_mtu || exit 0
if [ "$(id -u)" != 0 ]; then skip net_mtu "needs root to create tap devices"; exit 0; fi
if [ ! -c /dev/net/tun ]; then skip net_mtu "no /dev/net/tun (no tap support)"; exit 0; fi

TAP=ukmtu$$
trap 'ip link del "$TAP" 2>/dev/null; rm -rf "$TMPDIR_TEST"' EXIT
ECHO=$TOP/tests/guests/net-echo-check.py
NET=$GUESTS/net.elf

if ip tuntap add dev "$TAP" mode tap 2>/dev/null &&
   sysctl -q -w "net.ipv6.conf.$TAP.disable_ipv6=1" &&
   ip link set dev "$TAP" up mtu 9000; then
    pass net_mtu_tap_created
else
    ip link del "$TAP" 2>/dev/null
    skip net_mtu "cannot create a tap with MTU 9000"; exit 0
fi

# session NAME MODE [OPTIONS...]: the guest echoes 2 frames of 9014 bytes
# sent by the helper, then tries one of 9015.
session() {
    local name=$1 mode=$2; shift 2
    timeout -k 5 40 "$UKVM" "$mode" "$@" "$NET" 2 1 >"$T/$name.out" 2>"$T/$name.err" &
    local pid=$!
    wait_net_ready "$T/$name.out" || fail "${name}_ready" "no 'net: ready' line within 10 s (stderr: $(head -c 200 "$T/$name.err"))"
    timeout -k 5 30 python3 "$ECHO" "$TAP" 2 5 9014 >"$T/$name.helper" 2>&1
    helper_rc=$?
    wait "$pid"
    st=$?
}

MAC=02:11:22:33:44:66
want="net: ready, mac $MAC, mtu 9000, echoing 2 frames
net: echoed frame 1: 9014 bytes from 02:00:00:aa:bb:cc, ethertype 0x88b5
net: echoed frame 2: 9014 bytes from 02:00:00:aa:bb:cc, ethertype 0x88b5
net: oversized frame of 9015 bytes refused (EINVAL)
net: done"
want_helper="frame 0: echoed by $MAC, 9014 bytes
frame 1: echoed by $MAC, 9014 bytes
2/2 frames echoed"
errmode='net_write of 9015 bytes .*refused \(EINVAL\).*MTU 9000'

for mode in run record; do
    opts=(--net:service="$TAP" --net-mac:service=$MAC)
    [ $mode = record ] && opts=(-o "$T/mtu.trace" "${opts[@]}")
    session mtu_$mode $mode "${opts[@]}"
    expect_status net_mtu_${mode}_status 0 "$st" "stderr: $(head -c 200 "$T/mtu_$mode.err")"
    if printf '%s\n' "$want" | cmp -s - "$T/mtu_$mode.out"; then pass net_mtu_${mode}_output; else
        fail net_mtu_${mode}_output "got '$(head -c 400 "$T/mtu_$mode.out" | tr '\n' '|')'"; fi
    if [ "$helper_rc" = 0 ] && printf '%s\n' "$want_helper" | cmp -s - "$T/mtu_$mode.helper"; then
        pass net_mtu_${mode}_jumbo_echoes
    else
        fail net_mtu_${mode}_jumbo_echoes "helper status $helper_rc, output '$(head -c 300 "$T/mtu_$mode.helper" | tr '\n' '|')'"
    fi
    msg=$(stderr_ok "$T/mtu_$mode.err" "$errmode") && pass net_mtu_${mode}_oversize_one_line ||
        fail net_mtu_${mode}_oversize_one_line "$msg"
done

run_capture "$T/info.out" "$T/info.err" "$UKVM_TRACE" info "$T/mtu.trace"
if grep -Fxq "  [1] net service: mac $MAC, mtu 9000" "$T/info.out"; then pass net_mtu_trace_records_mtu; else
    fail net_mtu_trace_records_mtu "info: $(grep -F 'net service' "$T/info.out")"; fi

ip link del "$TAP"
for i in 1 2; do
    run_capture "$T/rp$i.out" "$T/rp$i.err" "$UKVM" replay "$T/mtu.trace"
    expect_status net_mtu_replay_${i}_status 0 $? "stderr: $(head -c 300 "$T/rp$i.err")"
    same_file net_mtu_replay_${i}_same_stdout "$T/mtu_record.out" "$T/rp$i.out"
    same_file net_mtu_replay_${i}_same_stderr "$T/mtu_record.err" "$T/rp$i.err"
done

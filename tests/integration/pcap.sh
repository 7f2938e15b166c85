#!/usr/bin/env bash
# ukvm-trace pcap on a recorded session of the udpsvc guest (ARP, 2 pings,
# 2 UDP datagrams from Linux's own stack over a tap): tshark, the independent
# oracle, reads the pcapng and its frames, order, addresses, interface,
# direction and "ukvm event N, net_read" comments must match `ukvm-trace
# dump`; --from/--to and --net cut it down; a cut-short trace gives the
# frames before the cut, one line and exit 2.
# ukvm replay --pcap on the same trace: both directions, in event order,
# each frame byte for byte what a capture on the tap saw during the
# recording (tshark on the tap: the frames the guest really sent, which the
# trace holds only digests of); bad paths and a full disk: one line, exit 1.
. "$(dirname "$0")/../lib.sh"
require_kvm pcap || exit 0
if [ "$(id -u)" != 0 ]; then skip pcap "needs root to create tap devices"; exit 0; fi
for tool in tshark ping python3; do
    if ! command -v "$tool" >/dev/null; then skip pcap "$tool is not installed (apt-get install tshark)"; exit 0; fi
done
T=$TMPDIR_TEST
TAP=ukpcap$$
NET=10.214.$(( $$ % 250 + 1 ))
PID="" CAP=""
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; [ -n "$CAP" ] && kill -9 "$CAP" 2>/dev/null
    ip link del "$TAP" 2>/dev/null; rm -rf "$TMPDIR_TEST"' EXIT
ts() { tshark -r "$@" 2>/dev/null; }

if ip tuntap add dev "$TAP" mode tap && sysctl -q -w "net.ipv6.conf.$TAP.disable_ipv6=1" &&
    ip addr add "$NET.1/24" dev "$TAP" && ip link set "$TAP" up; then pass pcap_tap; else
    fail pcap_tap "could not set up $TAP"; exit 0; fi

# The oracle for the frames written: what the tap carried, captured by
# tshark (dumpcap) from before the guest starts until after it exits.
tshark -i "$TAP" -w "$T/tap.pcapng" >/dev/null 2>"$T/tap.err" &
CAP=$!
for i in $(seq 100); do grep -q "Capturing on" "$T/tap.err" 2>/dev/null && break; sleep 0.1; done
grep -q "Capturing on" "$T/tap.err" || { kill "$CAP" 2>/dev/null; wait "$CAP" 2>/dev/null; CAP=""; }

timeout -k 5 60 "$UKVM" record -o "$T/svc.trace" --net:service="$TAP" "$GUESTS/udpsvc.elf" "$NET.2" \
    >"$T/svc.out" 2>"$T/svc.err" &
PID=$!
for i in $(seq 100); do grep -q '^udpsvc: ready' "$T/svc.out" 2>/dev/null && break; sleep 0.1; done
timeout 20 ping -c 2 -W 2 "$NET.2" >/dev/null 2>&1 || fail pcap_ping "no reply"
timeout 20 python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
for m in [b'hello pcap', b'QUIT']:
    s.sendto(m, (sys.argv[1], 7)); s.recvfrom(100)" "$NET.2" || fail pcap_udp "no UDP reply"
wait "$PID"; st=$?; PID=""
expect_status pcap_record_status 0 "$st" "$(head -c 300 "$T/svc.err")"
MAC=$(sed -n 's/^udpsvc: ready, mac \([0-9a-f:]*\),.*/\1/p' "$T/svc.out")
HOST_MAC=$(cat "/sys/class/net/$TAP/address")
if [ -n "$CAP" ]; then
    sleep 0.5   # the guest's last reply reaches the capture
    kill -INT "$CAP"; wait "$CAP"; CAP=""
    tap_ok=1
else
    tap_ok=""
fi

"$UKVM_TRACE" pcap -o "$T/all.pcapng" "$T/svc.trace" 2>"$T/pcap.err"
expect_status pcap_status 0 $? "$(cat "$T/pcap.err")"
# What the trace says: event number and frame length of every frame read.
"$UKVM_TRACE" dump "$T/svc.trace" | sed -n 's/^#\([0-9]*\) net_read .* ret=0 len=\([0-9]*\) .*/\1 \2/p' >"$T/want"
nreads=$(wc -l <"$T/want"); nwrites=$("$UKVM_TRACE" dump "$T/svc.trace" | grep -c ' net_write ')
if grep -qx "ukvm-trace: $T/all.pcapng: $nreads frames read; $nwrites written not in it (a trace holds only their digests; ukvm replay --pcap has both)" "$T/pcap.err"
then pass pcap_says_written_absent; else fail pcap_says_written_absent "$(cat "$T/pcap.err")"; fi
ts "$T/all.pcapng" -T fields -e frame.comment -e frame.len | sed 's/^ukvm event \([0-9]*\), net_read\t/\1 /' >"$T/got"
if [ "$nreads" -ge 5 ] && cmp -s "$T/want" "$T/got"; then pass "pcap_frames_match_dump ($nreads)"; else
    fail pcap_frames_match_dump "dump '$(tr '\n' '|' <"$T/want")', tshark '$(tr '\n' '|' <"$T/got")'"; fi
# Addresses and protocols: ARP who-has, 2 pings and 2 UDP datagrams to the guest.
ts "$T/all.pcapng" -T fields -E separator=' ' -e frame.interface_name -e frame.packet_flags_direction \
    -e eth.dst -e ip.src -e ip.dst -e _ws.col.Protocol >"$T/addr"
want_addr="service 0x00000001 ff:ff:ff:ff:ff:ff   ARP
service 0x00000001 $MAC $NET.1 $NET.2 ICMP
service 0x00000001 $MAC $NET.1 $NET.2 ICMP
service 0x00000001 $MAC $NET.1 $NET.2 ECHO
service 0x00000001 $MAC $NET.1 $NET.2 ECHO"
if printf '%s\n' "$want_addr" | cmp -s - "$T/addr"; then pass pcap_addresses; else
    fail pcap_addresses "got '$(tr '\n' '|' <"$T/addr")'"; fi
if capinfos "$T/all.pcapng" 2>/dev/null | grep -q "Comment = MAC $MAC"; then pass pcap_interface_mac; else
    fail pcap_interface_mac "$(capinfos "$T/all.pcapng" 2>&1 | grep -i comment)"; fi

# --from/--to: only the frames of those events.
from=$(sed -n 2p "$T/want" | cut -d' ' -f1); to=$(sed -n 3p "$T/want" | cut -d' ' -f1)
"$UKVM_TRACE" pcap -o "$T/cut.pcapng" --from "$from" --to "$to" "$T/svc.trace" 2>/dev/null
got=$(ts "$T/cut.pcapng" -T fields -e frame.comment | tr '\n' '|')
[ "$got" = "ukvm event $from, net_read|ukvm event $to, net_read|" ] && pass pcap_from_to || fail pcap_from_to "got '$got'"
# one_line NAME STATUS TEXT CMD...: CMD exits STATUS with one stderr line holding TEXT.
one_line() {
    local name=$1 want=$2 text=$3 rc; shift 3
    "$@" >/dev/null 2>"$T/$name.err"; rc=$?
    if [ "$rc" = "$want" ] && [ "$(wc -l <"$T/$name.err")" = 1 ] && grep -qF -- "$text" "$T/$name.err"; then
        pass "$name"; else fail "$name" "status $rc, stderr '$(tr '\n' '|' <"$T/$name.err")'"; fi
}
one_line pcap_net_unknown 1 "no net device 'nope'" "$UKVM_TRACE" pcap -o "$T/x.pcapng" --net=nope "$T/svc.trace"
"$UKVM_TRACE" pcap -o "$T/one.pcapng" --net=service "$T/svc.trace" 2>/dev/null && pass pcap_net_named || fail pcap_net_named "status $?"
one_line pcap_exists_refused 1 "-f overwrites it" "$UKVM_TRACE" pcap -o "$T/all.pcapng" "$T/svc.trace"

# From a packet to its moment: the 4th frame's event number, given to
# `ukvm debug --goto`, stops just before that net_read, at its recorded rip.
if command -v gdb >/dev/null; then
    ev=$(ts "$T/all.pcapng" -T fields -e frame.comment | sed -n '4s/^ukvm event \([0-9]*\), net_read$/\1/p')
    rip=$("$UKVM_TRACE" dump --from "$ev" --count 1 "$T/svc.trace" | sed -n 's/^#[0-9]* net_read rip=\(0x[0-9a-f]*\) .*/\1/p')
    timeout -k 5 90 "$UKVM" debug --goto="$ev" "$T/svc.trace" -batch -ex "monitor when" -ex 'p/x $pc' >"$T/goto.out" 2>&1
    if [ -n "$ev" ] && grep -q "^event $ev of .*just before it (net_read)" "$T/goto.out" &&
        grep -q "= $rip\$" "$T/goto.out"; then pass "pcap_goto_frame_event ($ev at $rip)"; else
        fail pcap_goto_frame_event "event '$ev' rip '$rip': $(tail -4 "$T/goto.out" | tr '\n' '|')"; fi
else
    skip pcap_goto_frame_event "gdb is not installed"
fi

# A cut-short trace: the frames before the cut, one line, exit 2.
size=$(stat -c %s "$T/svc.trace")
head -c $(( size - 100 )) "$T/svc.trace" >"$T/short.trace"
"$UKVM_TRACE" pcap -o "$T/short.pcapng" "$T/short.trace" 2>"$T/short.err"; rc=$?
if [ "$rc" = 2 ] && [ "$(wc -l <"$T/short.err")" = 1 ] && grep -q "cut short after" "$T/short.err" &&
    ts "$T/short.pcapng" >/dev/null; then pass pcap_cut_short; else
    fail pcap_cut_short "status $rc, '$(tr '\n' '|' <"$T/short.err")'"; fi
head -c 1000 "$T/svc.trace" >"$T/hdr.trace"
"$UKVM_TRACE" pcap -o "$T/hdr.pcapng" "$T/hdr.trace" 2>"$T/hdr.err"; rc=$?
if [ "$rc" = 1 ] && [ "$(wc -l <"$T/hdr.err")" = 1 ]; then pass pcap_cut_header; else
    fail pcap_cut_header "status $rc, '$(tr '\n' '|' <"$T/hdr.err")'"; fi
# ---- ukvm replay --pcap: both directions.
"$UKVM" replay --pcap="$T/both.pcapng" "$T/svc.trace" >"$T/both.out" 2>"$T/both.err"
expect_status pcap_replay_status 0 $? "$(head -c 300 "$T/both.err")"
if cmp -s "$T/svc.out" "$T/both.out" &&
    grep -qx "ukvm: replay: $T/both.pcapng: $nreads frames read, $nwrites written" "$T/both.err"
then pass pcap_replay_says_both; else
    fail pcap_replay_says_both "stdout '$(head -c 200 "$T/both.out")', stderr '$(tr '\n' '|' <"$T/both.err")'"; fi
# The trace's own order: every net_read and net_write of `ukvm-trace dump`,
# with the host's MAC as source of what the guest read and as destination
# of what it wrote (the first frame read is the host's ARP broadcast).
"$UKVM_TRACE" dump "$T/svc.trace" | sed -n \
    -e 's/^#\([0-9]*\) net_read .* ret=0 .*/ukvm event \1, net_read 0x00000001 service in/p' \
    -e 's/^#\([0-9]*\) net_write .* ret=0.*/ukvm event \1, net_write 0x00000002 service out/p' |
    sed -e "s/ in\$/ $HOST_MAC $MAC/" -e "s/ out\$/ $MAC $HOST_MAC/" \
        -e "1s/ $HOST_MAC $MAC\$/ $HOST_MAC ff:ff:ff:ff:ff:ff/" >"$T/both.want"
ts "$T/both.pcapng" -T fields -E separator=' ' -e frame.comment -e frame.packet_flags_direction \
    -e frame.interface_name -e eth.src -e eth.dst >"$T/both.got"
if [ "$(wc -l <"$T/both.want")" = $((nreads + nwrites)) ] && [ "$nwrites" -ge 5 ] &&
    cmp -s "$T/both.want" "$T/both.got"; then pass "pcap_replay_both_directions_in_order ($nreads read, $nwrites written)"
else fail pcap_replay_both_directions_in_order "want '$(tr '\n' '|' <"$T/both.want")', got '$(tr '\n' '|' <"$T/both.got")'"; fi
got=$(ts "$T/both.pcapng" -T fields -e _ws.col.Protocol | tr '\n' ' ')
[ "$got" = "ARP ARP ICMP ICMP ICMP ICMP ECHO ECHO ECHO ECHO " ] && pass pcap_replay_protocols ||
    fail pcap_replay_protocols "got '$got'"
# The frames themselves, against the tap: the same bytes in the same order,
# and the outbound ones are exactly those with the guest's MAC as source.
if [ -n "$tap_ok" ]; then
    ts "$T/tap.pcapng" -x >"$T/tap.hex"; ts "$T/both.pcapng" -x >"$T/both.hex"
    ts "$T/tap.pcapng" -Y "eth.src == $MAC" -x >"$T/tap.out.hex"
    ts "$T/both.pcapng" -Y "frame.packet_flags_direction == 2" -x >"$T/both.out.hex"
    if [ -s "$T/tap.out.hex" ] && cmp -s "$T/tap.hex" "$T/both.hex" && cmp -s "$T/tap.out.hex" "$T/both.out.hex"
    then pass "pcap_replay_frames_equal_tap_capture ($(ts "$T/tap.pcapng" | wc -l) frames)"; else
        fail pcap_replay_frames_equal_tap_capture "diff: $(diff "$T/tap.hex" "$T/both.hex" | head -4 | tr '\n' '|')"; fi
else
    skip pcap_replay_frames_equal_tap_capture "tshark could not capture on $TAP: $(tail -1 "$T/tap.err")"
fi
# The guest's clock: the frames read are stamped as ukvm-trace pcap stamps
# them; udpsvc never reads walltime, so every frame has the recording's start.
ts "$T/both.pcapng" -Y "frame.packet_flags_direction == 1" -T fields -e frame.comment -e frame.time_epoch >"$T/both.time"
ts "$T/all.pcapng" -T fields -e frame.comment -e frame.time_epoch >"$T/all.time"
start=$("$UKVM_TRACE" info "$T/svc.trace" | sed -n 's/^start walltime: \([0-9]*\) ns$/\1/p')
stamps=$(ts "$T/both.pcapng" -T fields -e frame.time_epoch | sort -u)
if [ -s "$T/both.time" ] && cmp -s "$T/both.time" "$T/all.time" && [ "$stamps" = "${start%?????????}.${start: -9}" ]
then pass pcap_replay_guest_clock; else
    fail pcap_replay_guest_clock "start $start, stamps '$stamps', $(diff "$T/all.time" "$T/both.time" | head -2 | tr '\n' '|')"; fi
if capinfos "$T/both.pcapng" 2>/dev/null | grep -q "Comment = MAC $MAC" &&
    capinfos "$T/both.pcapng" 2>/dev/null | grep -q "ukvm replay --pcap"; then pass pcap_replay_interface; else
    fail pcap_replay_interface "$(capinfos "$T/both.pcapng" 2>&1 | grep -i 'comment\|appl' | tr '\n' '|')"; fi
# A cut-short trace: the replay ends at the cut (status 0), the file holds
# the frames before it, the first ones of the whole replay's.
"$UKVM" replay --pcap="$T/short2.pcapng" "$T/short.trace" >/dev/null 2>"$T/short2.err"; rc=$?
ts "$T/short2.pcapng" -T fields -e frame.comment >"$T/short2.got"
n=$(wc -l <"$T/short2.got")
if [ "$rc" = 0 ] && [ "$n" -ge 1 ] && ts "$T/both.pcapng" -T fields -e frame.comment | head -n "$n" |
    cmp -s - "$T/short2.got"; then pass "pcap_replay_cut_short ($n frames)"; else
    fail pcap_replay_cut_short "status $rc, $n frames, '$(tr '\n' '|' <"$T/short2.err")'"; fi

# The file: refused when it exists (unless --force; `--pcap FILE` also
# works), a directory that is not there, a full disk; a trace with no net
# device. Each: one line, exit 1.
one_line pcap_replay_exists_refused 1 "--force overwrites it" "$UKVM" replay --pcap="$T/both.pcapng" "$T/svc.trace"
"$UKVM" replay --force --pcap "$T/both.pcapng" "$T/svc.trace" >/dev/null 2>&1 &&
    ts "$T/both.pcapng" -x | cmp -s - "$T/both.hex" && pass pcap_replay_force_overwrites ||
    fail pcap_replay_force_overwrites "status $?"
one_line pcap_replay_bad_path 1 "$T/nodir/x.pcapng: No such file or directory" \
    "$UKVM" replay --pcap="$T/nodir/x.pcapng" "$T/svc.trace"
if [ -w /dev/full ]; then
    one_line pcap_replay_disk_full 1 "/dev/full: write error: No space left on device" \
        "$UKVM" replay --force --pcap=/dev/full "$T/svc.trace"
else
    skip pcap_replay_disk_full "no /dev/full"
fi
timeout -k 5 60 "$UKVM" record -o "$T/hello.trace" "$GUESTS/hello.elf" >/dev/null 2>&1
one_line pcap_replay_no_net 1 "the trace has no net devices" "$UKVM" replay --pcap="$T/h.pcapng" "$T/hello.trace"
[ ! -e "$T/h.pcapng" ] && [ ! -e "$T/nodir" ] && pass pcap_replay_no_file_left || fail pcap_replay_no_file_left "$(ls "$T")"
exit 0

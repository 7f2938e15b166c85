#!/usr/bin/env bash
# Hostile traces. Host side (no KVM): a decompression bomb is refused at
# once; a trace that shrinks while it is read is one error line, not SIGBUS.
# On KVM: recorded traces edited so that an event gives the guest outputs
# that do not fit its request (a net_read frame longer than the guest's
# buffer, a failed block_read with data, a result code outside the hvt set)
# stop the replay with one line naming the event, exit 1.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/common.sh"

require_trace_tools hostile_trace || exit 0

# ---- a decompression bomb: 200 frames of 2 KB that each expand to 64 MiB
"$SYNTH" --bomb 200 "$T/bomb.zst"
start=$(now_ms)
run_capture "$T/bomb.out" "$T/bomb.err" "$UKVM_TRACE" verify "$T/bomb.zst"
rc=$?
ms=$(( $(now_ms) - start ))
expect_status hostile_bomb_refused 1 $rc "stderr: $(head -c 200 "$T/bomb.err")"
check hostile_bomb_one_line sh -c "[ \"\$(grep -c . '$T/bomb.err')\" = 1 ] &&
    grep -q '^ukvm-trace: corrupt trace at byte [0-9]* (before event 0): .*decompression bomb' '$T/bomb.err'"
if [ "$ms" -lt 1000 ]; then pass hostile_bomb_within_a_second; else
    fail hostile_bomb_within_a_second "verify took $ms ms for a $(stat -c %s "$T/bomb.zst")-byte file"; fi

# ---- the trace shrinks while it is read: `dump` blocks on a full pipe after
# its first frames; the file is cut to a quarter meanwhile
"$SYNTH" --events 400000 "$T/big.zst"
size=$(stat -c %s "$T/big.zst")
{ timeout -k 5 60 "$UKVM_TRACE" dump "$T/big.zst" 2>"$T/shrink.err"; echo $? >"$T/shrink.rc"; } |
    { sleep 0.5; truncate -s $((size / 4)) "$T/big.zst"; cat >/dev/null; }
rc=$(cat "$T/shrink.rc")
expect_status hostile_shrink_exit_1 1 "$rc" "not signal 7 (135); stderr: $(head -c 200 "$T/shrink.err")"
check hostile_shrink_one_line sh -c "[ \"\$(grep -c . '$T/shrink.err')\" = 1 ] &&
    grep -q '^ukvm-trace: the trace file shrank while it was read' '$T/shrink.err'"

# ---- replayed outputs that do not fit the guest's request (KVM)
require_kvm hostile_replay || exit 0

# edit_replay NAME EVENT EDIT-ARGS... -- WANT-REGEX: edits event EVENT of
# $TRACE and replays it; expects exit 1 and the one line WANT-REGEX.
edit_replay() {
    local name=$1 ev=$2; shift 2
    local args=()
    while [ "$1" != -- ]; do args+=("$1"); shift; done
    shift
    rm -f "$T/$name.zst"
    if ! "$UKVM_TRACE" edit "$TRACE" "$T/$name.zst" --event "$ev" "${args[@]}" 2>"$T/$name.edit"; then
        fail "$name" "edit failed: $(head -c 200 "$T/$name.edit")"
        return
    fi
    expect_run "$name" 1 - "^ukvm: $1\$" "$UKVM" replay "$T/$name.zst"
}

# first_event REGEX: number of the first event of `dump $TRACE` matching REGEX.
first_event() { "$UKVM_TRACE" dump "$TRACE" | grep -E -m1 "$1" | sed 's/^#\([0-9]*\) .*/\1/'; }

# blk: a block read that fails but carries data; one with a bogus result
IMG=$T/blk.img
head -c 32768 /dev/zero >"$IMG"
TRACE=$T/blk.trace
expect_run hostile_blk_record 0 - none "$UKVM" record -o "$TRACE" --block:storage="$IMG" "$GUESTS/blk.elf"
n=$(first_event ' block_read .* ret=0 data=[0-9]+ bytes')
len=$("$UKVM_TRACE" dump --from "$n" --count 1 "$TRACE" | sed -n 's/.* data=\([0-9]*\) bytes.*/\1/p')
if [ -z "$n" ] || [ -z "$len" ]; then
    fail hostile_blk_find_read "no successful block_read in the trace"
else
    edit_replay hostile_blk_read_fails_with_data "$n" --arg 3=3 -- \
        "trace event $n: block_read fails \(3\) but carries $len bytes of data"
    edit_replay hostile_blk_read_bad_result "$n" --arg 3=-9 -- \
        "trace event $n: block_read returns -9, not an hvt result code"
fi
n=$(first_event ' block_write .* ret=0')
[ -n "$n" ] && edit_replay hostile_blk_write_bad_result "$n" --arg 4=4 -- \
    "trace event $n: block_write returns 4, not an hvt result code"

# net: a frame length past the guest's 2048-byte buffer (the length was
# written back and marked dirty as given); needs a tap (root)
if [ "$(id -u)" != 0 ]; then skip hostile_net "needs root to create a tap device"; exit 0; fi
TAP=ukvmh$$
trap 'ip link del "$TAP" 2>/dev/null; rm -rf "$TMPDIR_TEST"' EXIT
if ! { ip tuntap add dev "$TAP" mode tap && sysctl -q -w "net.ipv6.conf.$TAP.disable_ipv6=1" &&
        ip link set "$TAP" up; }; then
    fail hostile_net_tap "could not create tap $TAP"
    exit 0
fi
TRACE=$T/net.trace
# No frame comes: the guest polls and reads AGAIN until it is interrupted.
timeout -k 5 40 "$UKVM" record -o "$TRACE" --net:service="$TAP" "$GUESTS/net.elf" 1 \
    >"$T/net_rec.out" 2>"$T/net_rec.err" &
pid=$!
wait_net_ready "$T/net_rec.out"
sleep 1
kill -INT "$pid"
wait "$pid"
n=$(first_event ' net_read .* ret=1 len=0$')
if [ -z "$n" ]; then
    fail hostile_net_find_read "no net_read in the recording (stderr: $(head -c 200 "$T/net_rec.err"))"
    exit 0
fi
# The buffer a net_read offers is at most MTU + 14 bytes (1500 + 14 here).
edit_replay hostile_net_read_past_buffer "$n" --arg 2=0 --arg 3=9000 -- \
    "trace event $n: net_read length 9000 exceeds the guest's buffer of 1514 bytes"
edit_replay hostile_net_read_length_wraps "$n" --arg 2=0 --arg 3=-1 -- \
    "trace event $n: net_read length 18446744073709551615 exceeds the guest's buffer of 1514 bytes"
edit_replay hostile_net_read_again_with_length "$n" --arg 3=60 -- \
    "trace event $n: net_read fails \(1\) but gives a frame of 60 bytes"
n=$(first_event ' poll .* ret=0$')
[ -n "$n" ] && edit_replay hostile_poll_not_a_net_device "$n" --arg 1=0x20 --arg 2=1 -- \
    "trace event $n: poll's ready set 0x20 names a handle that is not a network device"

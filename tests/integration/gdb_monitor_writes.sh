#!/usr/bin/env bash
# A write watchpoint on a buffer that a hypercall fills (block_read) fires
# right after the hypercall, under run and under replay, with the value the
# device (or the trace) put there. In replay, gdb then overwrites the byte
# (a diversion: docs/reverse-execution.md), and reverse-stepi + stepi shows
# the trace's value again: the recording was not changed.
source "$(dirname "$0")/../lib.sh"
require_kvm gdb_monitor_writes || exit 0
T=$TMPDIR_TEST
G=$GUESTS/blk.elf
dd if=/dev/zero of="$T/disk.img" bs=512 count=64 2>/dev/null
run_capture "$T/rec.out" "$T/rec.err" "$UKVM" record -o "$T/blk.zst" --block:storage="$T/disk.img" "$G"
expect_status monitor_writes_record 0 $?

session() { # MODE SUBCOMMAND ARGS...: serve, run gdb, leave gdb's output in $T/MODE.log
    local mode=$1 sub=$2; shift 2
    local port pid
    for try in 1 2 3 4 5; do
        port=$(( ${UKVM_TEST_PORT_BASE:-20000} + RANDOM % ${UKVM_TEST_PORT_SPAN:-30000} ))
        "$UKVM" "$sub" --gdb=$port "$@" >"$T/$mode.out" 2>"$T/$mode.err" &
        pid=$!
        sleep 0.3
        kill -0 $pid 2>/dev/null && break
    done
    (cd "$T" && timeout 120 gdb -batch -nx -ex "target remote 127.0.0.1:$port" \
        -ex 'watch rbuf[0]' -ex 'continue' -ex 'p rbuf[0]' -ex 'info symbol $pc' "${EXTRA[@]}" -ex 'kill' \
        >"$T/$mode.log" 2>&1)
    wait $pid 2>/dev/null
}

for mode in run replay; do
    EXTRA=()
    [ $mode = replay ] && EXTRA=(-ex 'delete' -ex 'set var rbuf[0] = 7' -ex 'printf "DIVERTED=%d\n", rbuf[0]'
        -ex 'reverse-stepi' -ex 'stepi' -ex 'printf "RECORDED=%d\n", rbuf[0]')
    if [ $mode = run ]; then
        dd if=/dev/zero of="$T/disk2.img" bs=512 count=64 2>/dev/null
        session run run --block:storage="$T/disk2.img" "$G"
    else
        session replay replay "$T/blk.zst"
    fi
    # the guest wrote its pattern (first byte 0x5a) to sector 0 and reads it back
    check "monitor_writes_${mode}_new_value" grep -q '^New value = 90 ' "$T/$mode.log"
    check "monitor_writes_${mode}_in_block_read" grep -q 'hc_block_read' "$T/$mode.log"
    check "monitor_writes_${mode}_value" grep -q "^\$1 = 90 'Z'" "$T/$mode.log"
done
check monitor_writes_replay_diverted grep -q '^DIVERTED=7$' "$T/replay.log"
check monitor_writes_replay_recorded_again grep -q '^RECORDED=90$' "$T/replay.log"

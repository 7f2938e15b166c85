#!/usr/bin/env bash
# What a guest can read without a hypercall (README, "What a guest must do to
# stay replayable"):
#  - det_cpuid: no KVM signature in CPUID, kvmclock and the other paravirtual
#    MSRs fault, rdpmc faults (or, on a KVM that cannot turn its PMU off,
#    reads a counter that never counts); recorded and replayed identically;
#  - det_rdtsc_gen: an rdtsc built at run time (or hidden from the scan) is
#    not recorded: the replay stops at the first puts that depends on it,
#    with one line naming that event's number and rip;
#  - det_bigread: a block_read longer than a trace event can hold is served
#    by `run`, and stops `record` before anything is read, with one line.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/common.sh"
require_kvm determinism || exit 0

# ---- CPUID and MSRs
# One KVM shows RDRAND/RDSEED whatever the CPUID table says (kvm-probe
# cpuid-hides-rdrand): there the guest checks instead that rdrand replays.
cpuid_arg=
if [ "$("$TOP/tools/kvm-probe" --check cpuid-hides-rdrand 2>/dev/null | sed 's/^[^:]*: \([a-z-]*\).*/\1/')" = shown ]; then
    cpuid_arg=rdrand-may-show
    echo "note: this KVM shows RDRAND/RDSEED despite the CPUID table; checking that rdrand replays"
fi
expect_run det_cpuid_run 0 - none "$UKVM" run "$GUESTS/det_cpuid.elf" $cpuid_arg
check det_cpuid_run_ok test "$(tail -1 "$T/det_cpuid_run.out")" = "det_cpuid: OK"
if grep -q FAIL "$T/det_cpuid_run.out"; then
    fail det_cpuid_run_checks "$(grep FAIL "$T/det_cpuid_run.out" | head -5 | tr '\n' '|')"
else
    pass det_cpuid_run_checks
fi
expect_run det_cpuid_record 0 - none "$UKVM" record -o "$T/cpuid.trace" "$GUESTS/det_cpuid.elf" $cpuid_arg
# (rdrand's value differs between run and record; replay must repeat it)
grep -v 'rdrand gave' "$T/det_cpuid_run.out" >"$T/det_cpuid_run.cmp"
grep -v 'rdrand gave' "$T/det_cpuid_record.out" >"$T/det_cpuid_record.cmp"
same_file det_cpuid_record_same_as_run "$T/det_cpuid_run.cmp" "$T/det_cpuid_record.cmp"
for i in 1 2; do
    expect_run det_cpuid_replay$i 0 - none "$UKVM" replay "$T/cpuid.trace"
    same_file det_cpuid_replay${i}_same_stdout "$T/det_cpuid_record.out" "$T/det_cpuid_replay$i.out"
done
# The one rdmsr that works, IA32_TSC, is an event of the trace.
if "$UKVM_TRACE" dump "$T/cpuid.trace" | grep -q ' rdmsr_tsc '; then pass det_cpuid_rdmsr_tsc_recorded; else
    fail det_cpuid_rdmsr_tsc_recorded "no rdmsr_tsc event in the trace"; fi

# ---- rdtsc that the load-time scan cannot see
for mode in heap hidden; do
    n=det_rdtsc_$mode
    expect_run "${n}_record" 0 - none "$UKVM" record -o "$T/$n.trace" "$GUESTS/det_rdtsc_gen.elf" "$mode"
    check "${n}_record_prints_value" grep -Eq "^det_rdtsc_gen: $mode tsc [0-9]+ " "$T/${n}_record.out"
    # The value line is the guest's second puts.
    ev_line=$("$UKVM_TRACE" dump "$T/$n.trace" | awk '$2 == "puts" && ++k == 2 { print; exit }')
    ev=$(sed -n 's/^#\([0-9]*\) .*/\1/p' <<<"$ev_line")
    rip=$(sed -n 's/.* rip=\(0x[0-9a-f]*\).*/\1/p' <<<"$ev_line")
    if [ -z "$ev" ] || [ -z "$rip" ]; then fail "${n}_find_event" "no second puts in the trace"; continue; fi
    # The unpatched rdtsc is not in the patch table: nothing to record.
    if "$UKVM_TRACE" info "$T/$n.trace" | grep -q ' rdtsc '; then
        fail "${n}_not_patched" "the trace lists a patched rdtsc: $("$UKVM_TRACE" info "$T/$n.trace" | grep ' rdtsc ' | head -2 | tr '\n' '|')"
    else
        pass "${n}_not_patched"
    fi
    expect_run "${n}_replay" 125 - "diverged at event $ev: .*puts at rip $rip.*data differs" "$UKVM" replay "$T/$n.trace"
    # Only the line before the divergence reached the console.
    check "${n}_replay_stdout_is_first_line" test "$(cat "$T/${n}_replay.out")" = "$(head -1 "$T/${n}_record.out")"
done

# The same divergence under gdb: the report says what the debugger was doing
# and does not blame the guest alone (the debugger's own state could be why).
if command -v gdb >/dev/null; then
    mkdir -p "$T/gdbcwd"
    (cd "$T/gdbcwd" && timeout -k 5 90 "$UKVM" debug "$T/det_rdtsc_heap.trace" -nx --batch \
        -ex continue) >"$T/dbg.out" 2>"$T/dbg.err" </dev/null
    if grep -q "diverged at event .* (under the debugger, during gdb's continue, breakpoints and watchpoints set: 0: the debugger may have changed what the guest saw" "$T/dbg.err" &&
            ! grep -q "does not intercept" "$T/dbg.err"; then
        pass det_divergence_under_gdb_names_the_debugger
    else
        fail det_divergence_under_gdb_names_the_debugger "$(grep -m1 diverged "$T/dbg.err" || head -c 300 "$T/dbg.err")"
    fi
else
    skip det_divergence_under_gdb_names_the_debugger "gdb is not installed"
fi

# ---- a block_read longer than one trace event
IMG=$T/big.img
truncate -s 96M "$IMG"
printf 'B' | dd of="$IMG" conv=notrunc status=none
expect_run det_bigread_run 0 "det_bigread: reading 83886080 bytes
det_bigread: ret 0, first byte 66" none "$UKVM" run --block:storage="$IMG" "$GUESTS/det_bigread.elf" 80
expect_run det_bigread_record 1 "det_bigread: reading 83886080 bytes" \
    "recording stopped: block_read of 83886080 bytes at rip 0x[0-9a-f]+ .*nothing was read" \
    "$UKVM" record -o "$T/big.trace" --block:storage="$IMG" "$GUESTS/det_bigread.elf" 80
expect_run det_bigread_verify 0 - none "$UKVM_TRACE" verify "$T/big.trace"
check det_bigread_verify_status grep -Eq '^complete: [0-9]+ events, exit status 1$' "$T/det_bigread_verify.out"
if "$UKVM_TRACE" dump "$T/big.trace" | grep -q ' block_read '; then
    fail det_bigread_not_recorded "the trace has a block_read event"
else
    pass det_bigread_not_recorded
fi
expect_run det_bigread_replay 1 "det_bigread: reading 83886080 bytes" "end of the recording" \
    "$UKVM" replay "$T/big.trace"
# 4 GiB into guest-physical 0: a length of 0 as a u32; refused unread.
rm -f "$IMG"
truncate -s 4G "$T/big4.img"
expect_run det_bigread_4g_record 1 "det_bigread: reading 4294967296 bytes" \
    "block_read of 4294967296 bytes .*nothing was read" \
    "$UKVM" record -o "$T/big4.trace" --mem=4096 --block:storage="$T/big4.img" "$GUESTS/det_bigread.elf" 4g
rm -f "$T/big4.img"

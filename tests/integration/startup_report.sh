#!/usr/bin/env bash
# UKVM_REPORT_STARTUP=1 (not timed): under run and record, one line per
# phase in a fixed order, the CPU line, the total, which equals the sum of
# the phases, and the first KVM_RUN; only record spends time on the trace
# header; without the variable, none of it; the guest's output unchanged.
. "$(dirname "$0")/../lib.sh"
require_kvm startup_report || exit 0
T=$TMPDIR_TEST
PHASES="cli read_kernel elf_parse devices kvm_open memory vcpu_create cpuid_msr elf_load scan_patch boot_info vcpu_state trace_header other"

# check_report NAME ERR-FILE: the lines are there and add up.
check_report() {
    local name=$1 err=$2 got
    got=$(sed -n 's/^ukvm: startup phase \([a-z_]*\) [0-9]* ns$/\1/p' "$err" | tr '\n' ' ')
    if [ "$got" = "$PHASES " ]; then pass "${name}_phase_lines"; else
        fail "${name}_phase_lines" "phases '$got', expected '$PHASES '"; fi
    local sum total
    sum=$(awk '/^ukvm: startup phase / {s += $5} END {printf "%.0f", s}' "$err")
    total=$(sed -n 's/^ukvm: startup \([0-9]*\) ns to the first guest instruction$/\1/p' "$err")
    # The total is the phases' sum by construction (each mark charges the
    # time since the previous one); allow nothing else.
    if [ -n "$total" ] && [ "$total" -gt 0 ] && [ "$sum" = "$total" ]; then pass "${name}_phases_sum_to_total"; else
        fail "${name}_phases_sum_to_total" "sum $sum, total '${total}'"; fi
    if grep -Eq '^ukvm: startup cpu [0-9]+ ns \(user [0-9]+ sys [0-9]+, before main [0-9]+\)$' "$err"; then
        pass "${name}_cpu_line"; else fail "${name}_cpu_line" "$(grep 'startup cpu' "$err")"; fi
    if grep -Eq '^ukvm: startup first_kvm_run [0-9]+ ns ' "$err"; then pass "${name}_first_kvm_run"; else
        fail "${name}_first_kvm_run" "no first_kvm_run line"; fi
    # in that order: phases, cpu, total, first KVM_RUN
    local order
    order=$(sed -n -e 's/^ukvm: startup phase .*/phase/p' -e 's/^ukvm: startup cpu .*/cpu/p' \
        -e 's/^ukvm: startup [0-9]* ns to the first guest instruction$/total/p' \
        -e 's/^ukvm: startup first_kvm_run .*/first/p' "$err" | uniq | tr '\n' ' ')
    if [ "$order" = "phase cpu total first " ]; then pass "${name}_line_order"; else
        fail "${name}_line_order" "'$order'"; fi
}

run_capture "$T/run.out" "$T/run.err" env UKVM_REPORT_STARTUP=1 "$UKVM" run --mem=64 "$GUESTS/hello.elf" a b
rc=$?
expect_status startup_run_status 0 "$rc" "$(head -c 300 "$T/run.err")"
check startup_run_output_unchanged grep -qx 'Hello, world! args: a b' "$T/run.out"
check_report run "$T/run.err"
th=$(sed -n 's/^ukvm: startup phase trace_header \([0-9]*\) ns$/\1/p' "$T/run.err")
check startup_run_no_trace_header [ "$th" = 0 ]

run_capture "$T/rec.out" "$T/rec.err" env UKVM_REPORT_STARTUP=1 "$UKVM" record -o "$T/t.zst" \
    "$GUESTS/hello.elf" a b
rc=$?
expect_status startup_record_status 0 "$rc" "$(head -c 300 "$T/rec.err")"
check_report record "$T/rec.err"
th=$(sed -n 's/^ukvm: startup phase trace_header \([0-9]*\) ns$/\1/p' "$T/rec.err")
check startup_record_trace_header_timed [ "${th:-0}" -gt 0 ]
run_capture "$T/rep.out" "$T/rep.err" "$UKVM" replay "$T/t.zst"
rc=$?
expect_status startup_record_replays 0 "$rc" "$(head -c 300 "$T/rep.err")"
check startup_record_replay_same_output cmp -s "$T/rec.out" "$T/rep.out"

# Without the variable: not a word on stderr.
run_capture "$T/q.out" "$T/q.err" env -u UKVM_REPORT_STARTUP "$UKVM" run --mem=2048 "$GUESTS/hello.elf"
rc=$?
expect_status startup_quiet_status 0 "$rc"
if [ ! -s "$T/q.err" ]; then pass startup_quiet_without_variable; else
    fail startup_quiet_without_variable "stderr: $(head -c 200 "$T/q.err")"; fi

#!/usr/bin/env bash
# tools/kvm-probe measures the KVM behaviours that differ between KVMs
# (docs/kvms.md). Every probe must give one of its known values, what
# ukvm cannot do without must hold (single-step works, a store into a
# read-only slot exits as MMIO), and `--check NAME` must print the same value
# and exit with the status that value implies.
source "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST
PROBE=${KVM_PROBE:-$TOP/tools/kvm-probe}

if [ ! -x "$PROBE" ]; then
    fail kvm_probe_built "$PROBE is missing (run make)"
    exit 0
fi

# Without KVM the program says so in one line and exits 2.
if ! kvm_usable; then
    run_capture "$T/nokvm.out" "$T/nokvm.err" "$PROBE"
    expect_status kvm_probe_no_kvm_status 2 $?
    check kvm_probe_no_kvm_one_line one_line "$T/nokvm.err"
    skip kvm_probe "/dev/kvm is not usable"
    exit 0
fi

names=(out-rip singlestep singlestep-after-setregs singlestep-after-out hlt-under-singlestep
    dr-exec-breakpoint dr-data-watchpoint sw-bp-int3 mxcsr-get-fpu cpl0-sse readonly-slot-write
    immediate-exit-completes-mmio cpuid-hides-rdrand)
# The values each probe may report; anything else ("other", "unknown") fails.
declare -A known=(
    [out-rip]="on-out past-out"
    [singlestep]="works late runs-free no-exit"
    [singlestep-after-setregs]="steps runs-free no-exit"
    [singlestep-after-out]="exact late runs-free no-exit"
    [hlt-under-singlestep]="hlt-exit debug-exit no-exit"
    [dr-exec-breakpoint]="fires never no-exit"
    [dr-data-watchpoint]="fires never no-exit"
    [sw-bp-int3]="debug-exit internal-error guest-handler no-exit"
    [mxcsr-get-fpu]="agree fpu-reports-0 disagree"
    [cpl0-sse]="runs emulation-error no-exit"
    [cpuid-hides-rdrand]="hidden shown"
    [readonly-slot-write]="mmio-exit written dropped efault internal-error no-exit"
    [immediate-exit-completes-mmio]="completes not-completed no-exit"
)
# The values --check holds a probe to (the others pass whenever measured).
declare -A relied=(
    [singlestep]=works [dr-exec-breakpoint]=fires [dr-data-watchpoint]=fires
    [sw-bp-int3]=debug-exit [readonly-slot-write]=mmio-exit
)

# value_of NAME FILE: the VALUE of the line "NAME: VALUE  (why)".
value_of() {
    local line
    line=$(grep -m1 "^$1: " "$2") || return 1
    line=${line#"$1: "}
    echo "${line%%  (*}"
}

run_capture "$T/all.out" "$T/all.err" "$PROBE"
expect_status kvm_probe_status 0 $? "$(head -1 "$T/all.err")"
check kvm_probe_line_count bash -c "[ \$(grep -c . '$T/all.out') = ${#names[@]} ]"

for name in "${names[@]}"; do
    v=$(value_of "$name" "$T/all.out")
    if [[ " ${known[$name]} " == *" $v "* ]]; then
        pass "kvm_probe_known_$name"
    else
        fail "kvm_probe_known_$name" "value '${v:-<missing>}': $(grep "^$name: " "$T/all.out")"
    fi
done

# ukvm cannot run or debug a guest without these.
check kvm_probe_singlestep_works [ "$(value_of singlestep "$T/all.out")" = works ]
check kvm_probe_readonly_mmio [ "$(value_of readonly-slot-write "$T/all.out")" = mmio-exit ]

# --check prints the one line and exits 0 (relied-on value, or any measured
# value), 1 (another value) or 2 (not measurable).
for name in "${names[@]}"; do
    run_capture "$T/one.out" "$T/one.err" "$PROBE" --check "$name"
    got=$?
    v=$(value_of "$name" "$T/one.out")
    if [ "$v" = unknown ] || [ -z "$v" ]; then want=2
    elif [ -n "${relied[$name]:-}" ] && [ "$v" != "${relied[$name]}" ]; then want=1
    else want=0
    fi
    if ! one_line "$T/one.out"; then
        fail "kvm_probe_check_$name" "expected one line, got: $(tr '\n' '|' <"$T/one.out")"
    elif [ "$v" != "$(value_of "$name" "$T/all.out")" ]; then
        fail "kvm_probe_check_$name" "value '$v' differs from the full run's"
    else
        expect_status "kvm_probe_check_$name" "$want" "$got" "value $v"
    fi
done

run_capture "$T/bad.out" "$T/bad.err" "$PROBE" --check no-such-probe
expect_status kvm_probe_check_unknown_name 2 $?

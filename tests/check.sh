#!/usr/bin/env bash
# `make check`, what CI runs (.ci/run): the whole suite on this machine
# (`make test`: unit tests, fuzz targets, and the integration tests on this
# machine's /dev/kvm, which print SKIP where there is none), then the
# integration tests again on the test VM's standard KVM (`make test-vm`),
# whether or not this machine has a /dev/kvm. The second part runs even when
# the first failed. Prints each part's summary line, then their total:
#   host: N passed, N failed, N skipped
#   vm: N passed, N failed, N skipped
#   N passed, N failed, N skipped
# Exits 0 when neither part failed. The knobs of run-tests.sh (INTEGRATION,
# ...) and run-vm.sh (VM_*) apply to both parts.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
LOG=$(mktemp -d /tmp/ukvm-check.XXXXXX)
trap 'rm -rf "$LOG"' EXIT
start=$(date +%s)

# NAME LOG STATUS: the part's summary line (the VM's console ends lines with
# \r); a part that printed none, or exited non-zero without counting a
# failure, gets one failure more.
part_line() {
    local line
    line=$(tr -d '\r' <"$2" | grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' | tail -1)
    if [ -z "$line" ]; then
        echo "FAIL: check: the $1 part printed no summary (exit $3)" >&2
        line="0 passed, 1 failed, 0 skipped"
    elif [ "$3" -ne 0 ] && [ "$(echo "$line" | cut -d' ' -f3)" = 0 ]; then
        echo "FAIL: check: the $1 part exited with status $3" >&2
        line=$(echo "$line" | awk '{print $1, "passed,", $3 + 1, "failed,", $5, "skipped"}')
    fi
    echo "$line"
}

echo "== check: the suite on this machine (make test)"
bash tests/run-tests.sh 2>&1 | tee "$LOG/host"
host_rc=${PIPESTATUS[0]}
echo "== check: the integration tests in the test VM (make test-vm)"
bash tests/vm/run-vm.sh bash tests/run-tests.sh integration 2>&1 | tee "$LOG/vm"
vm_rc=${PIPESTATUS[0]}

host_line=$(part_line host "$LOG/host" "$host_rc")
vm_line=$(part_line vm "$LOG/vm" "$vm_rc")
passed=0 failed=0 skipped=0
for line in "$host_line" "$vm_line"; do
    set -- $line
    passed=$((passed + $1)) failed=$((failed + $3)) skipped=$((skipped + $5))
done
echo "check time: $(( $(date +%s) - start )) s"
echo "host: $host_line"
echo "vm: $vm_line"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Runs the whole suite: cmocka unit tests (sanitized), fuzz targets for a
# bounded time, and the integration tests on /dev/kvm. Ends with one line:
#   N passed, N failed, N skipped
# Arguments name the parts to run (unit, fuzz, integration; default all);
# INTEGRATION="a.sh b.sh" picks integration scripts by name.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
LOG=$(mktemp /tmp/ukvm-suite.XXXXXX)
passed=0 failed=0 skipped=0
parts=${*:-unit fuzz integration}
want() { case " $parts " in *" $1 "*) return 0 ;; esac; return 1; }
suite_start=$(date +%s)

count_lines() { # from a log of PASS/FAIL/SKIP lines
    local p f s
    p=$(grep -c '^PASS: ' "$1"); f=$(grep -c '^FAIL: ' "$1"); s=$(grep -c '^SKIP: ' "$1")
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

want unit && echo "== unit tests"
want unit && for t in build/unit/test_*; do
    [ -x "$t" ] || continue
    out=$(mktemp)
    timeout -k 5 300 "$t" >"$out" 2>&1
    rc=$?
    cat "$out"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL: $(basename "$t"): exited with status $rc"
        failed=$((failed + 1))
    fi
    rm -f "$out"
done

want fuzz && echo "== fuzz targets (bounded)"
# Seed the trace reader's fuzzing with real recordings too (when KVM works).
if want fuzz && [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ -x ./ukvm ]; then
    rm -rf build/fuzz-corpus/trace_reader && mkdir -p build/fuzz-corpus/trace_reader
    for g in hello time; do
        timeout 60 ./ukvm record -o "build/fuzz-corpus/trace_reader/$g.zst" "build/guests/$g.elf" \
            >/dev/null 2>&1 || echo "note: could not record a $g trace for the fuzz corpus"
    done
fi
if want fuzz; then
    bash tests/fuzz/run-fuzz.sh | tee "$LOG.fuzz"
    count_lines "$LOG.fuzz"
fi

if want integration; then
    echo "== integration tests"
    if [ ! -e /dev/kvm ]; then
        echo "note: this machine has no /dev/kvm: the KVM tests below SKIP;" \
             "\`make test-vm\` runs them on a standard KVM inside a QEMU virtual machine"
    fi
fi
want integration && for s in ${INTEGRATION:-tests/integration/*.sh}; do
    case "$s" in */*) ;; *) s=tests/integration/$s ;; esac
    [ -f "$s" ] || continue
    echo "-- $(basename "$s")"
    script_start=$(date +%s)
    TOP="$TOP" timeout -k 10 900 bash "$s" 2>&1 | tee "$LOG"
    rc=${PIPESTATUS[0]}
    echo "-- $(basename "$s"): $(( $(date +%s) - script_start )) s"
    count_lines "$LOG"
    if [ "$rc" -ne 0 ]; then
        echo "FAIL: $(basename "$s"): script exited with status $rc"
        failed=$((failed + 1))
    fi
done
rm -f "$LOG" "$LOG.fuzz"

echo "suite time: $(( $(date +%s) - suite_start )) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

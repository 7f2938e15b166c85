# Shared helpers for the integration tests (bash). Each tests/integration/*.sh
# sources this file and reports every check with pass/fail/skip; the runner
# (tests/run-tests.sh) counts the lines they print:
#   PASS: <name>      FAIL: <name>: <why>      SKIP: <name>: <reason>

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
UKVM=${UKVM:-$TOP/ukvm}
UKVM_TRACE=${UKVM_TRACE:-$TOP/tools/ukvm-trace}
GUESTS=${GUESTS:-$TOP/build/guests}
TMPDIR_TEST=$(mktemp -d /tmp/ukvm-test.XXXXXX)
trap 'rm -rf "$TMPDIR_TEST"' EXIT

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }
skip() { echo "SKIP: $1: $2"; }

# kvm_usable: 0 when /dev/kvm can be opened read-write.
kvm_usable() { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }

# require_kvm NAME: prints SKIP and returns 1 when KVM is not usable.
require_kvm() {
    if ! kvm_usable; then skip "$1" "/dev/kvm is not usable"; return 1; fi
    return 0
}

# kvm_can PROBE: this KVM behaves as ukvm would like for PROBE
# (tools/kvm-probe --check PROBE; e.g. dr-exec-breakpoint: DR0-3 fire).
kvm_can() { "$TOP/tools/kvm-probe" --check "$1" >/dev/null 2>&1; }

# run_capture OUT ERR CMD...: runs CMD with a timeout (TEST_TIMEOUT seconds,
# default 60), stdout to OUT, stderr to ERR; returns CMD's exit status
# (124 on timeout).
run_capture() {
    local out=$1 err=$2; shift 2
    timeout -k 5 "${TEST_TIMEOUT:-60}" "$@" >"$out" 2>"$err"
}

# expect_status NAME WANT GOT [DETAILS]
expect_status() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "exit status $3, expected $2${4:+ ($4)}"; fi
}

# check NAME CONDITION-COMMAND...: pass when the command succeeds.
check() {
    local name=$1; shift
    if "$@"; then pass "$name"; else fail "$name" "check failed: $*"; fi
}

# one_line FILE: true when FILE holds exactly one non-empty line.
one_line() { [ "$(grep -c . "$1")" = 1 ]; }

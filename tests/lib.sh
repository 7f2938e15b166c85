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

# proc_alive PID: the process exists and is not a zombie.
proc_alive() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$st" != Z ]; }

# ukvm_gdb_start ERRFILE ARGS...: starts `ukvm ARGS` in the background (ARGS
# must include --gdb=0, so the kernel picks a free port), stdout to
# ERRFILE.out, stderr to ERRFILE; sets UKVM_PID and PORT. Returns 1, with
# PORT empty, when no port was announced within 10 s or ukvm died.
ukvm_gdb_start() {
    local err=$1 i; shift
    # the background job truncates ERRFILE only when it gets to it: until
    # then a previous session's port could be read
    rm -f "$err"
    PORT=""
    "$UKVM" "$@" >"$err.out" 2>"$err" &
    UKVM_PID=$!
    for i in $(seq 200); do
        PORT=$(sed -n 's/.*waiting for gdb on 127\.0\.0\.1:\([0-9]*\);.*/\1/p' "$err" 2>/dev/null | head -1)
        [ -n "$PORT" ] && return 0
        proc_alive "$UKVM_PID" || break
        sleep 0.05
    done
    return 1
}

# ukvm_gdb_stop [SECONDS]: waits up to SECONDS (default 5; 0: not at all)
# for the ukvm of ukvm_gdb_start to exit (gdb's detach or kill ends it),
# then kills it.
ukvm_gdb_stop() {
    local i
    [ -n "$UKVM_PID" ] || return 0
    for i in $(seq $(( ${1:-5} * 20 ))); do proc_alive "$UKVM_PID" || break; sleep 0.05; done
    kill -9 "$UKVM_PID" 2>/dev/null
    wait "$UKVM_PID" 2>/dev/null
    UKVM_PID=""
}

# Shared helpers for the integration tests (bash). Each tests/integration/*.sh
# sources this file and reports every check with pass/fail/skip; the runner
# (tests/run-tests.sh) counts the lines they print:
#   PASS: <name>      FAIL: <name>: <why>      SKIP: <name>: <reason>
# More helpers are in tests/lib/: common.sh (sourced after this file by many
# scripts), elfpatch.py, blkcheck.py, rsp_client.py (the raw gdb protocol
# client) and bench.sh (for tests/bench/).

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
UKVM=${UKVM:-$TOP/ukvm}
UKVM_TRACE=${UKVM_TRACE:-$TOP/tools/ukvm-trace}
SYNTH=${UKVM_TRACE_SYNTH:-$TOP/tools/ukvm-trace-synth}
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

# require_trace_tools NAME: prints SKIP and returns 1 when tools/ukvm-trace
# or tools/ukvm-trace-synth (SYNTH: synthetic traces) is not built.
require_trace_tools() {
    if [ ! -x "$UKVM_TRACE" ] || [ ! -x "$SYNTH" ]; then
        skip "$1" "tools/ukvm-trace or tools/ukvm-trace-synth not built"; return 1
    fi
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

# reap_ukvm [SECONDS]: waits up to SECONDS (default 10) for the ukvm in
# UKVM_PID to exit, sets UKVM_RC (its exit status, or "still-running" when it
# had to be killed) and empties UKVM_PID.
reap_ukvm() {
    local limit=$(( ${1:-10} * 20 )) i=0
    [ -n "$UKVM_PID" ] || return 0
    while proc_alive "$UKVM_PID" && [ $i -lt $limit ]; do sleep 0.05; i=$((i + 1)); done
    if proc_alive "$UKVM_PID"; then
        kill -9 "$UKVM_PID" 2>/dev/null
        wait "$UKVM_PID" 2>/dev/null
        UKVM_RC=still-running
    else
        wait "$UKVM_PID"
        UKVM_RC=$?
    fi
    UKVM_PID=""
}

# elf_sym ELF NAME [OFFSET]: NAME's address (+ OFFSET) from ELF's symbol
# table, as 0x%x; nothing when there is no such symbol.
elf_sym() {
    local a
    a=$(nm "$1" | awk -v s="$2" '$3 == s {print $1; exit}')
    [ -n "$a" ] && printf '0x%x' $((0x$a + ${3:-0}))
}

# elf_insn ELF FUNC ERE [NEXT]: the address of the first instruction of FUNC
# whose disassembly matches ERE (with NEXT: of the instruction after it).
elf_insn() {
    objdump -d --no-show-raw-insn "$1" 2>/dev/null | awk -v f="<$2>:" -v re="$3" -v nx="${4:-}" '
        $2 == f { inf = 1; next }
        inf && /^$/ { exit }
        inf && /^ +[0-9a-f]+:/ {
            a = $1; sub(/:$/, "", a)
            if (want) { print "0x" a; exit }
            if ($0 ~ re) { if (nx) want = 1; else { print "0x" a; exit } }
        }'
}

# machine_is_slow: UKVM_IN_VM is set, or a plain run of the compute guest
# (about 300k instructions; 0.3 s on a development machine) takes over 1.5 s.
machine_is_slow() {
    [ -n "${UKVM_IN_VM:-}" ] && return 0
    local t0 t1
    t0=$(date +%s%N)
    timeout 30 "$UKVM" run "$GUESTS/compute.elf" >/dev/null 2>&1
    t1=$(date +%s%N)
    [ $(( (t1 - t0) / 1000000 )) -gt 1500 ]
}

# record_compute_lasting MS TRACE OUT ERR: record the compute guest into
# TRACE with enough rounds that the recording takes at least MS ms on this
# KVM (how fast compute runs depends on the KVM by 10x or more, and a short
# run is mostly start-up, so each try at least doubles the rounds, until
# 5,000,000). Sets COMPUTE_ROUNDS and COMPUTE_MS; fails if a recording fails.
record_compute_lasting() {
    local want=$1 trace=$2 out=$3 err=$4 t0 r=100
    while :; do
        rm -f "$trace"
        t0=$(date +%s%N)
        run_capture "$out" "$err" "$UKVM" record -o "$trace" "$GUESTS/compute.elf" "$r" || return 1
        COMPUTE_ROUNDS=$r
        COMPUTE_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
        [ "$COMPUTE_MS" -ge "$want" ] || [ "$r" -ge 5000000 ] && return 0
        r=$(awk -v r="$r" -v ms="$COMPUTE_MS" -v w="$want" 'BEGIN {
            n = int(r * 1.5 * w / (ms > 1 ? ms : 1)); if (n < 2 * r) n = 2 * r
            print (n > 5000000) ? 5000000 : n }')
    done
}

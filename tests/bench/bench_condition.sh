#!/usr/bin/env bash
# Conditional breakpoints evaluated by ukvm vs by gdb, in reverse: the
# condloop guest calls visit(i) for i = 0 .. N-1 (BENCH_COND_N, default
# 10000); from the end of its replay, `break visit if i == 1` and
# `reverse-continue` to the only hit where the condition holds (N-2 false
# hits lie between), once with `set breakpoint condition-evaluation target`
# (ukvm skips the false hits while it scans) and once with `host` (every
# false hit is a stop reported to gdb, which evaluates it and reverse-
# continues again). Prints both times and their ratio, measured in this one
# run, and PASS/MISS against the target (host / target at least 10).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
UKVM=${UKVM:-$TOP/ukvm}
G=${G:-$TOP/build/guests}
N=${BENCH_COND_N:-10000}
. "$TOP/tests/lib.sh" # ukvm_gdb_start, ukvm_gdb_stop
T=$(mktemp -d /tmp/ukvm-bench-cond.XXXXXX)
UKVM_PID=
trap 'rm -rf "$T" "$TMPDIR_TEST"; [ -n "$UKVM_PID" ] && kill "$UKVM_PID" 2>/dev/null' EXIT

echo "== conditional breakpoints in reverse (condloop $N: reverse-continue to the only true hit of $((N - 1)))"
if ! "$UKVM" record -o "$T/c.trace" "$G/condloop.elf" "$N" >"$T/rec.out" 2>"$T/rec.err"; then
    echo "BUG: record condloop: $(head -c 200 "$T/rec.err")"; exit 1
fi

# session EVAL: prints "seconds i" for one reverse-continue.
session() {
    ukvm_gdb_start "$T/ukvm.$1.err" replay --gdb=0 "$T/c.trace"
    (cd "$T" && timeout 900 gdb -batch -nx -ex 'set pagination off' -ex 'set confirm off' \
        -ex "target remote 127.0.0.1:$PORT" -ex continue \
        -ex "set breakpoint condition-evaluation $1" -ex 'break visit if i == 1' \
        -ex 'python import time; t0 = time.monotonic(); gdb.execute("reverse-continue"); print("RC_S=%.6f" % (time.monotonic() - t0))' \
        -ex 'printf "I=%d\n", i' -ex kill >"$T/gdb.$1" 2>&1)
    ukvm_gdb_stop 0
    echo "$(sed -n 's/^RC_S=//p' "$T/gdb.$1") $(sed -n 's/^I=//p' "$T/gdb.$1")"
}

read -r t_target i_target < <(session target)
read -r t_host i_host < <(session host)
bad=0
for pair in "target:${i_target:-?}" "host:${i_host:-?}"; do
    if [ "${pair#*:}" != 1 ]; then
        echo "BUG: ${pair%%:*}-side evaluation stopped at i == ${pair#*:}, not 1"
        bad=1
    fi
done
[ -n "${t_target:-}" ] && [ -n "${t_host:-}" ] || { echo "BUG: no timing (see gdb output)"; exit 1; }
ratio=$(awk -v h="$t_host" -v t="$t_target" 'BEGIN {printf "%.1f", h / t}')
printf '%-58s %8.3f s\n' "reverse-continue, condition evaluated by ukvm" "$t_target"
printf '%-58s %8.3f s\n' "reverse-continue, condition evaluated by gdb" "$t_host"
printf '%-58s %8sx   (target >= 10: %s)\n' "gdb-side time / ukvm-side time" "$ratio" \
    "$(awk -v r="$ratio" 'BEGIN {print (r >= 10) ? "PASS" : "MISS"}')"
exit $bad

# Helpers shared by many tests/integration/*.sh scripts, sourced after
# tests/lib.sh. tests/lib/ holds the tests' helpers (this file, elfpatch.py,
# blkcheck.py, rsp_client.py, bench.sh); tests/lib.sh, which every script
# sources, is beside it.

export TEST_TIMEOUT=${TEST_TIMEOUT:-30}
T=$TMPDIR_TEST
PATCH=$TOP/tests/lib/elfpatch.py

# stderr_ok ERRFILE MODE: checks a captured stderr. MODE is "none" (must be
# empty) or an extended regex (case-insensitive) that the single line must
# match; that line must also start with "ukvm: ". Prints the problem and
# returns 1 when the check fails.
stderr_ok() {
    local err=$1 mode=$2
    if [ "$mode" = none ]; then
        if [ -s "$err" ]; then echo "stderr not empty: $(head -c 300 "$err" | tr '\n' '|')"; return 1; fi
        return 0
    fi
    if ! one_line "$err"; then
        echo "stderr has $(grep -c . "$err") lines, expected 1: $(head -c 400 "$err" | tr '\n' '|')"
        return 1
    fi
    if [ "$(head -c 6 "$err")" != "ukvm: " ]; then
        echo "stderr does not start with 'ukvm: ': $(head -c 200 "$err")"; return 1
    fi
    if [ -n "$mode" ] && ! grep -Eiq -- "$mode" "$err"; then
        echo "stderr does not match /$mode/: $(head -c 300 "$err")"; return 1
    fi
    return 0
}

# expect_run NAME STATUS STDOUT STDERR_MODE CMD...: runs CMD (with a timeout)
# and checks its exit status, that its stdout is exactly the text STDOUT
# followed by a newline (STDOUT may hold several lines; "-" skips the check,
# "" means empty stdout) and its stderr (see stderr_ok). The captured output
# stays in $T/NAME.out and $T/NAME.err.
expect_run() {
    local name=$1 want=$2 wantout=$3 errmode=$4; shift 4
    local out=$T/$name.out err=$T/$name.err rc why="" msg
    run_capture "$out" "$err" "$@"
    rc=$?
    [ "$rc" = "$want" ] || why="exit status $rc, expected $want"
    if [ "$wantout" != - ]; then
        if [ -z "$wantout" ]; then
            [ -s "$out" ] && why="${why:+$why; }stdout not empty: $(head -c 200 "$out" | tr '\n' '|')"
        elif ! printf '%s\n' "$wantout" | cmp -s - "$out"; then
            why="${why:+$why; }stdout differs: got '$(head -c 300 "$out" | tr '\n' '|')', expected '$(printf '%s' "$wantout" | head -c 300 | tr '\n' '|')'"
        fi
    fi
    msg=$(stderr_ok "$err" "$errmode") || why="${why:+$why; }$msg"
    if [ -z "$why" ]; then pass "$name"; else fail "$name" "$why"; fi
}

# same_file NAME A B: A and B are byte for byte identical.
same_file() {
    if cmp -s "$2" "$3"; then pass "$1"; else
        fail "$1" "$(basename "$2") and $(basename "$3") differ ($(wc -c <"$2") vs $(wc -c <"$3") bytes; first difference: $(cmp "$2" "$3" 2>&1 | head -1))"
    fi
}

# wait_net_ready FILE: waits up to 10 s for the net guest's "net: ready" line
# in FILE (its stdout).
wait_net_ready() {
    local i
    for i in $(seq 100); do
        grep -q '^net: ready' "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# now_ms: a monotonic-enough clock in milliseconds.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# KEEP_TMP=1 keeps the temporary directory for inspection.
if [ -n "${KEEP_TMP:-}" ]; then trap 'echo "# kept $TMPDIR_TEST" >&2' EXIT; fi

#!/usr/bin/env bash
# Runs every fuzz target (build/fuzz/fuzz_*) for FUZZ_SECONDS each (default
# 30) and prints one PASS:/FAIL: line per target with its execution count.
# Seeds: tests/fuzz/corpus/NAME/, build/fuzz-corpus/NAME/ (recordings made
# by the suite) and, for the loader, the test guests' ELF files.
# FUZZ_KEEP=1 (make fuzz) keeps each target's grown corpus in
# build/fuzz-work/NAME/ so that long runs build on each other; otherwise a
# temporary copy of the seeds is used. A crash leaves its input in
# build/fuzz-crashes/. FUZZ_TARGETS="elf_load trace_reader" picks targets.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
seconds=${FUZZ_SECONDS:-30}
status=0
mkdir -p build/fuzz-crashes
for f in build/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    short=${name#fuzz_}
    case " ${FUZZ_TARGETS:-$short} " in *" $short "*) ;; *) continue ;; esac
    if [ "${FUZZ_KEEP:-0}" = 1 ]; then
        corpus=build/fuzz-work/$short
        mkdir -p "$corpus"
    else
        corpus=$(mktemp -d)
    fi
    [ -d "tests/fuzz/corpus/$short" ] && cp -r "tests/fuzz/corpus/$short/." "$corpus/"
    [ -d "build/fuzz-corpus/$short" ] && cp -r "build/fuzz-corpus/$short/." "$corpus/"
    [ "$short" = elf_load ] && cp build/guests/*.elf "$corpus/" 2>/dev/null
    log=$(mktemp)
    # -timeout: one input running longer than 20 s is a hang, and a failure
    if timeout -k 5 $((seconds + 120)) "$f" -max_total_time="$seconds" -timeout=20 \
            -rss_limit_mb=2048 -artifact_prefix="build/fuzz-crashes/$name-" \
            "$corpus" >"$log" 2>&1; then
        echo "PASS: $name ($(grep -o 'Done [0-9]* runs' "$log" | tail -1) in ${seconds} s)"
    else
        tail -30 "$log"
        echo "FAIL: $name: crashed, hung or timed out (inputs in build/fuzz-crashes/)"
        status=1
    fi
    rm -f "$log"
    [ "${FUZZ_KEEP:-0}" = 1 ] || rm -rf "$corpus"
done
exit $status

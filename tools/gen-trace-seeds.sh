#!/usr/bin/env bash
# Regenerates the fuzzing seed corpus of the trace reader
# (tests/fuzz/corpus/trace_reader/) with tools/ukvm-trace-synth: a few tiny
# traces (under 4 KiB each) covering every event kind, several frames, a
# cut-short trace and an empty one (format 1.1, with the footer's frame
# summaries), and a 1.0 trace kept from before (v1.0-all-kinds.zst).
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
SYNTH=${SYNTH:-$TOP/tools/ukvm-trace-synth}
OUT=$TOP/tests/fuzz/corpus/trace_reader
mkdir -p "$OUT"
"$SYNTH" --force --events 26 --flush-every 7 --exit 3 "$OUT/all-kinds.zst"
"$SYNTH" --force --events 60 --clock --flush-every 25 "$OUT/clock.zst"
"$SYNTH" --force --events 15 --flush-every 5 --cut --seed 2 "$OUT/cut-short.zst"
"$SYNTH" --force --events 0 "$OUT/empty.zst"
rm -f "$OUT/bomb.zst" && "$SYNTH" --bomb 1 "$OUT/bomb.zst"   # a frame that expands 32768 times
ls -l "$OUT"

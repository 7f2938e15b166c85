#!/usr/bin/env bash
# tools/ukvm-trace on synthetic traces (tools/ukvm-trace-synth; no KVM needed):
# info, dump, stats, verify on complete / cut-short / corrupt traces,
# extract-kernel, edit, and one-line errors on bad input.
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST

require_trace_tools trace_tool || exit 0

# A kernel to embed: a real test guest when built, else some bytes.
KERNEL=$GUESTS/hello.elf
[ -f "$KERNEL" ] || { head -c 5000 /dev/urandom >"$T/kernel.bin"; KERNEL=$T/kernel.bin; }

"$SYNTH" --events 300 --flush-every 50 --exit 7 --kernel "$KERNEL" "$T/a.zst"
expect_status "synth writes a trace" 0 $?

run_capture "$T/out" "$T/err" "$UKVM_TRACE" verify "$T/a.zst"
expect_status "verify complete: exit 0" 0 $?
check "verify complete: says complete" grep -q '^complete: 300 events, exit status 7$' "$T/out"

run_capture "$T/info" "$T/err" "$UKVM_TRACE" info "$T/a.zst"
expect_status "info: exit 0" 0 $?
run_capture "$T/out" "$T/err" "$UKVM_TRACE" extract-kernel -o "$T/k.elf" "$T/a.zst"
expect_status "extract-kernel: exit 0" 0 $?
check "extract-kernel: same bytes" cmp -s "$T/k.elf" "$KERNEL"
sha=$(sha256sum "$KERNEL" | cut -d' ' -f1)
check "info: kernel sha256" grep -q "sha256 $sha" "$T/info"
check "info: devices and patches" grep -q '^patches: 2$' "$T/info"
check "info: end status" grep -q '^end: complete, 300 events, exit status 7' "$T/info"

run_capture "$T/dump" "$T/err" "$UKVM_TRACE" dump "$T/a.zst"
expect_status "dump: exit 0" 0 $?
check "dump: one line per event" [ "$(grep -c '^#' "$T/dump")" = 300 ]
check "dump: readable lines" grep -Eq '^#8 rdtsc rip=0x[0-9a-f]+ tsc=[0-9]+$' "$T/dump"
check "dump: data shown" grep -Eq '^#4 block_read .* data=512 bytes digest=[0-9a-f]{16}$' "$T/dump"

run_capture "$T/stats" "$T/err" "$UKVM_TRACE" stats "$T/a.zst"
expect_status "stats: exit 0" 0 $?
check "stats: per-kind and overall lines" grep -Eq '^all +300 ' "$T/stats"
check "stats: events per second" grep -q 'events/s' "$T/stats"

if command -v zstd >/dev/null; then
    check "plain zstd decompresses the trace" sh -c "zstd -dc '$T/a.zst' | head -c 8 | grep -q UKVMTR"
fi

# cut short: by the writer, and by truncating a complete file
"$SYNTH" --events 100 --flush-every 30 --cut "$T/cut.zst"
run_capture "$T/out" "$T/err" "$UKVM_TRACE" verify "$T/cut.zst"
expect_status "verify cut short: exit 2" 2 $?
check "verify cut short: message" grep -Eq '^cut short after event 99 at byte [0-9]+$' "$T/out"
size=$(stat -c %s "$T/a.zst")
head -c $((size - 10)) "$T/a.zst" >"$T/trunc.zst"
run_capture "$T/out" "$T/err" "$UKVM_TRACE" verify "$T/trunc.zst"
expect_status "verify truncated: exit 2" 2 $?
check "verify truncated: last frame dropped" grep -Eq '^cut short after event 299 at byte [0-9]+$' "$T/out"
head -c $((size - 2000)) "$T/a.zst" >"$T/half.zst"
run_capture "$T/out" "$T/err" "$UKVM_TRACE" dump "$T/half.zst"
expect_status "dump of a cut-short trace: exit 0" 0 $?
check "dump of a cut-short trace: says so" grep -q '^end: cut short after event' "$T/out"

# corrupt: a flipped byte in the middle of an event frame
cp "$T/a.zst" "$T/bad.zst"
printf '\377' | dd of="$T/bad.zst" bs=1 seek=$((size - 300)) conv=notrunc 2>/dev/null
run_capture "$T/out" "$T/err" "$UKVM_TRACE" verify "$T/bad.zst"
expect_status "verify corrupt: exit 1" 1 $?
check "verify corrupt: one line naming the byte" \
    sh -c "[ \"\$(grep -c . '$T/err')\" = 1 ] && grep -Eq '^ukvm-trace: corrupt trace at byte [0-9]+' '$T/err'"

# edit one event; everything else unchanged
run_capture "$T/out" "$T/err" "$UKVM_TRACE" edit "$T/a.zst" "$T/e.zst" --event 8 --arg 0=12345
expect_status "edit: exit 0" 0 $?
"$UKVM_TRACE" dump "$T/e.zst" >"$T/dump2"
check "edit: the event changed" grep -Eq '^#8 rdtsc rip=0x[0-9a-f]+ tsc=12345$' "$T/dump2"
# (event lines only: the end line's duration comes from the clock events)
check "edit: only that event changed" \
    [ "$(diff <(grep '^#' "$T/dump") <(grep '^#' "$T/dump2") | grep -c '^>')" = 1 ]
run_capture "$T/out" "$T/err" "$UKVM_TRACE" edit "$T/a.zst" "$T/e.zst" --event 9 --kind walltime
check "edit: refuses to overwrite" sh -c "[ $? = 1 ] && grep -q 'already exists' '$T/err'"
run_capture "$T/out" "$T/err" "$UKVM_TRACE" edit "$T/a.zst" "$T/k2.zst" --event 9 --kind walltime --arg 0=1
expect_status "edit --kind: exit 0" 0 $?
check "edit --kind: kind changed" grep -Eq '^#9 walltime rip=0x[0-9a-f]+ nsecs=1$' <("$UKVM_TRACE" dump "$T/k2.zst")

# bad input: one line and a clean non-zero exit
head -c 2000 /dev/urandom >"$T/junk"
for args in "verify $T/junk" "info $T/nonexistent" "dump $T/junk" "stats /" "bogus-command" \
        "edit $T/a.zst $T/x.zst --event 100000 --arg 0=1"; do
    run_capture "$T/out" "$T/err" "$UKVM_TRACE" $args
    rc=$?
    check "error, one line: ukvm-trace $(basename "${args%% *}") ${args#* }" \
        sh -c "[ $rc -ge 1 ] && [ $rc -lt 128 ] && [ \"\$(grep -c . '$T/err')\" = 1 ] && grep -q '^ukvm-trace: ' '$T/err'"
done

# strings from the trace (version, command line, device names) are printed
# with non-printable bytes as \xNN: a trace cannot drive the terminal
ESC=$(printf '\033')
"$SYNTH" --events 20 --version "v${ESC}]0;title${ESC}\\" --cmdline "a${ESC}[2Jb\\c$(printf '\t\302\233')" \
    --device-name "d${ESC}[31m" "$T/esc.zst"
run_capture "$T/info" "$T/err" "$UKVM_TRACE" info "$T/esc.zst"
expect_status "info with escapes in the trace: exit 0" 0 $?
check "info: no ESC byte printed" sh -c "! grep -q '$ESC' '$T/info'"
check "info: version escaped" grep -Fxq 'ukvm version: v\x1b]0;title\x1b\\' "$T/info"
check "info: command line escaped" grep -Fxq 'cmdline: a\x1b[2Jb\\c\x09\xc2\x9b' "$T/info"
check "info: device names escaped" sh -c "grep -Fq '  [1] block d\\x1b[31m: capacity' '$T/info' &&
    grep -Fq '  [2] net d\\x1b[31m2: mac' '$T/info'"

# extract-kernel writes untrusted bytes: not executable
(umask 022 && exec "$UKVM_TRACE" extract-kernel -o "$T/k644.elf" "$T/a.zst")
expect_status "extract-kernel (umask 022): exit 0" 0 $?
check "extract-kernel: mode 0644" [ "$(stat -c %a "$T/k644.elf")" = 644 ]

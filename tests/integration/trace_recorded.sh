#!/usr/bin/env bash
# tools/ukvm-trace on real recordings (trace_tool.sh covers synthetic
# traces): info, dump, stats, verify, extract-kernel and edit, checked
# against what the guests and the kernel files say.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/common.sh"
require_kvm trace_recorded || exit 0

# tool_ok NAME STATUS CMD...: runs ukvm-trace; exit STATUS; stderr empty when
# STATUS is 0, else exactly one line starting with "ukvm-trace: ".
tool_ok() {
    local name=$1 want=$2; shift 2
    local out=$T/$name.out err=$T/$name.err rc why=""
    run_capture "$out" "$err" "$UKVM_TRACE" "$@"
    rc=$?
    [ "$rc" = "$want" ] || why="exit status $rc, expected $want"
    if [ "$want" = 0 ] || [ "$want" = 2 ]; then
        [ -s "$err" ] && why="${why:+$why; }stderr: $(head -c 200 "$err" | tr '\n' '|')"
    elif ! one_line "$err" || [ "$(head -c 12 "$err")" != "ukvm-trace: " ]; then
        why="${why:+$why; }stderr is not one 'ukvm-trace: ' line: $(head -c 300 "$err" | tr '\n' '|')"
    fi
    if [ -z "$why" ]; then pass "$name"; else fail "$name" "$why"; fi
}
# has_line NAME FILE LINE: FILE holds exactly this line.
has_line() {
    if grep -Fxq -- "$3" "$2"; then pass "$1"; else fail "$1" "no line '$3' in: $(head -c 400 "$2" | tr '\n' '|')"; fi
}

HELLO=$GUESTS/hello.elf
TIME=$GUESTS/time.elf
run_capture "$T/rec_hello.out" "$T/rec_hello.err" "$UKVM" record -o "$T/hello.trace" "$HELLO" a b
expect_status tt_record_hello 0 $?
run_capture "$T/rec_time.out" "$T/rec_time.err" "$UKVM" record -o "$T/time.trace" --mem=64 "$TIME"
expect_status tt_record_time 0 $?
run_capture "$T/rec_abort.out" "$T/rec_abort.err" "$UKVM" record -o "$T/abort.trace" "$GUESTS/abort.elf"
expect_status tt_record_abort 255 $?
head -c $((32 * 512)) /dev/zero >"$T/blk.img"
run_capture "$T/rec_blk.out" "$T/rec_blk.err" "$UKVM" record -o "$T/blk.trace" --block:storage="$T/blk.img" "$GUESTS/blk.elf"
expect_status tt_record_blk 0 $?
run_capture "$T/rec_loop.out" "$T/rec_loop.err" "$UKVM" record -o "$T/loop.trace" "$GUESTS/loop.elf" 20000
expect_status tt_record_loop 0 $?

# ---- info
tool_ok tt_info_hello 0 info "$T/hello.trace"
I=$T/tt_info_hello.out
has_line tt_info_format_version "$I" "format version: 1"
has_line tt_info_ukvm_version "$I" "ukvm version: $("$UKVM" --version | awk '{ print $2 }')"
has_line tt_info_kernel_size_sha256 "$I" "kernel: $(stat -c %s "$HELLO") bytes, sha256 $(sha256sum <"$HELLO" | awk '{ print $1 }')"
has_line tt_info_cmdline "$I" "cmdline: a b"
has_line tt_info_memory_default "$I" "memory: 536870912 bytes (512 MiB)"
has_line tt_info_no_devices "$I" "devices: 0"
has_line tt_info_hello_no_patches "$I" "patches: 0"
has_line tt_info_hello_end "$I" "$(grep '^end: ' "$I" | grep -E '^end: complete, 2 events, exit status 0, [0-9.]+ s$')"
check tt_info_hello_end_line grep -Eq '^end: complete, 2 events, exit status 0, [0-9]+\.[0-9]+ s$' "$I"

tool_ok tt_info_time 0 info "$T/time.trace"
I=$T/tt_info_time.out
has_line tt_info_memory_64 "$I" "memory: 67108864 bytes (64 MiB)"
has_line tt_info_tsc_is_guest_freq "$I" "tsc: $(sed -n 's/^time: cpu_cycle_freq \([0-9]*\) Hz$/\1/p' "$T/rec_time.out") Hz"
# The patch table lists exactly the rdtsc/rdtscp/rdrand/rdseed instructions
# objdump finds in the kernel's text.
want_patches=$(objdump -d "$TIME" | awk -F'\t' '$3 ~ /^(rdtscp?|rdrand|rdseed)( |$)/ {
    addr = $1; sub(/^ */, "", addr); sub(/:$/, "", addr); bytes = $2; sub(/ *$/, "", bytes)
    split($3, m, " "); printf "  0x%s %s len %d: %s\n", addr, m[1], split(bytes, b, " "), bytes }')
got_patches=$(sed -n '/^patches: /,/^end: /p' "$I" | sed '1d;$d')
if [ -n "$want_patches" ] && [ "$got_patches" = "$want_patches" ] &&
   grep -Fxq "patches: $(printf '%s\n' "$want_patches" | grep -c .)" "$I"; then
    pass tt_info_patch_table_matches_objdump
else
    fail tt_info_patch_table_matches_objdump "objdump: '$(echo "$want_patches" | tr '\n' '|')', info: '$(echo "$got_patches" | tr '\n' '|')'"
fi
tool_ok tt_info_blk 0 info "$T/blk.trace"
# "storage" is manifest entry 1: entry 0 is the reserved entry, as in Solo5
has_line tt_info_blk_device "$T/tt_info_blk.out" "  [1] block storage: capacity 16384, block size 512"
has_line tt_info_blk_devices_1 "$T/tt_info_blk.out" "devices: 1"
tool_ok tt_dump_blk 0 dump "$T/blk.trace"
n_blk=$(grep -Ec '^#[0-9]+ block_(read|write) ' "$T/tt_dump_blk.out")
n_h1=$(grep -Ec '^#[0-9]+ block_(read|write) rip=0x[0-9a-f]+ handle=1 ' "$T/tt_dump_blk.out")
if [ "$n_blk" -gt 0 ] && [ "$n_blk" = "$n_h1" ]; then pass tt_dump_blk_handle_1; else
    fail tt_dump_blk_handle_1 "$n_blk block events, $n_h1 with handle=1"; fi

# dump --data: the bytes block_read gave the guest, hex and printable
tool_ok tt_dump_blk_data 0 dump --data --from "$(grep -m1 -Eo '^#[0-9]+ block_read' "$T/tt_dump_blk.out" | tr -dc 0-9)" --count 1 "$T/blk.trace"
if grep -Eq '^#[0-9]+ block_read ' "$T/tt_dump_blk_data.out" &&
   [ "$(grep -Ec '^    [0-9a-f]{6}  ([0-9a-f]{2} ){15}[0-9a-f]{2}  \|.{16}\|$' "$T/tt_dump_blk_data.out")" = 32 ]; then
    pass tt_dump_blk_data_bytes
else
    fail tt_dump_blk_data_bytes "$(head -c 400 "$T/tt_dump_blk_data.out" | tr '\n' '|')"
fi
# a bad option names itself; --help describes every command, option and exit status
tool_ok tt_dump_bad_option 1 dump --frm 3 "$T/hello.trace"
check tt_dump_bad_option_named grep -q "unknown option '--frm'" "$T/tt_dump_bad_option.err"
tool_ok tt_dump_option_without_value 1 dump "$T/hello.trace" --from
check tt_dump_option_without_value_named grep -q "option '--from' needs a value" "$T/tt_dump_option_without_value.err"
tool_ok tt_grep_bad_option 1 grep -x a "$T/hello.trace"
check tt_grep_bad_option_named grep -q "unknown option '-x'" "$T/tt_grep_bad_option.err"
tool_ok tt_help 0 --help
for w in info dump stats grep verify extract-kernel edit --from --count --data -F -i -o --event --arg \
        --rip --kind --force "extended regular expression" "exit status:" "cut short" "no line matched"; do
    grep -Fq -- "$w" "$T/tt_help.out" || { fail tt_help_describes "no '$w' in --help"; w=; break; }
done
[ -n "$w" ] && pass tt_help_describes
# grep -i: letters of either case alike, with and without -F
tool_ok tt_grep_icase 0 grep -i 'HELLO, W' "$T/hello.trace"
has_line tt_grep_icase_line "$T/tt_grep_icase.out" "#0 Hello, world! args: a b"
tool_ok tt_grep_icase_fixed 0 grep -F -i 'HELLO, W' "$T/hello.trace"
has_line tt_grep_icase_fixed_line "$T/tt_grep_icase_fixed.out" "#0 Hello, world! args: a b"
run_capture "$T/gc.out" "$T/gc.err" "$UKVM_TRACE" grep 'HELLO, W' "$T/hello.trace"
expect_status tt_grep_case_matters_no_match_3 3 $?

# ---- dump
tool_ok tt_dump_hello 0 dump "$T/hello.trace"
D=$T/tt_dump_hello.out
if [ "$(grep -c . "$D")" = 3 ] &&
   sed -n 1p "$D" | grep -Eq "^#0 puts rip=0x[0-9a-f]+ len=$(wc -c <"$T/rec_hello.out") digest=[0-9a-f]{16} text=\"Hello, world! args: a b\\\\x0a\"$" &&
   sed -n 2p "$D" | grep -Eq '^#1 halt rip=0x[0-9a-f]+ status=0 cookie=0x0$' &&
   sed -n 3p "$D" | grep -Eq '^end: complete, 2 events, exit status 0, '; then
    pass tt_dump_hello_exact
else
    fail tt_dump_hello_exact "got: $(head -c 400 "$D" | tr '\n' '|')"
fi
tool_ok tt_dump_abort 0 dump "$T/abort.trace"
check tt_dump_abort_halt_255 grep -Eq '^#1 halt rip=0x[0-9a-f]+ status=255 cookie=0x0$' "$T/tt_dump_abort.out"
tool_ok tt_dump_from_count 0 dump --from 1 --count 1 "$T/hello.trace"
if [ "$(grep -c '^#' "$T/tt_dump_from_count.out")" = 1 ] && grep -q '^#1 halt ' "$T/tt_dump_from_count.out"; then pass tt_dump_from_count_one_event; else
    fail tt_dump_from_count_one_event "got: $(head -c 300 "$T/tt_dump_from_count.out" | tr '\n' '|')"; fi
tool_ok tt_dump_time 0 dump "$T/time.trace"
D=$T/tt_dump_time.out
count_kind() { grep -c "^#[0-9]* $2 " "$1"; }
# time.c: one rdtscp, 2 rdtsc per iteration and one at the end; walltime
# likewise; one poll per iteration (5 iterations).
kinds="rdtscp=$(count_kind "$D" rdtscp) rdtsc=$(count_kind "$D" rdtsc) walltime=$(count_kind "$D" walltime) poll=$(count_kind "$D" poll) halt=$(count_kind "$D" halt)"
check tt_dump_time_event_kinds test "$kinds" = "rdtscp=1 rdtsc=11 walltime=12 poll=5 halt=1"
nums=$(sed -n 's/^#\([0-9]*\) .*/\1/p' "$D")
n=$(echo "$nums" | grep -c .)
check tt_dump_time_numbers_contiguous test "$(echo "$nums" | tr '\n' ' ')" = "$(seq 0 $((n - 1)) | tr '\n' ' ')"
check tt_dump_time_end_line grep -Eq "^end: complete, $n events, exit status 0, " "$D"
putsum=$(sed -n 's/^#[0-9]* puts rip=0x[0-9a-f]* len=\([0-9]*\) .*/\1/p' "$D" | awk '{ s += $1 } END { print s + 0 }')
check tt_dump_time_puts_bytes_equal_stdout test "$putsum" = "$(wc -c <"$T/rec_time.out")"
# the guest printed the rdtscp value it got: it is the first tsc in the dump
# (time.c prints first_tsc only through the totals, so compare iteration 0's
# rdtsc values instead: the 1st and 2nd rdtsc events).
tsc_dump=$(sed -n 's/^#[0-9]* rdtsc rip=0x[0-9a-f]* tsc=\([0-9]*\)$/\1/p' "$D" | head -2 | tr '\n' ' ')
tsc_out=$(sed -n 's/^time: iter 0 tsc \([0-9]*\) -> \([0-9]*\) .*/\1 \2 /p' "$T/rec_time.out")
check tt_dump_time_rdtsc_values_are_what_the_guest_saw test "$tsc_dump" = "$tsc_out"
wall_dump=$(sed -n 's/^#[0-9]* walltime rip=0x[0-9a-f]* nsecs=\([0-9]*\)$/\1/p' "$D" | sed -n '2,3p' | tr '\n' ' ')
wall_out=$(sed -n 's/^time: iter 0 .* wall \([0-9]*\) -> \([0-9]*\) .*/\1 \2 /p' "$T/rec_time.out")
check tt_dump_time_walltime_values_are_what_the_guest_saw test "$wall_dump" = "$wall_out"

# ---- stats
tool_ok tt_stats_time 0 stats "$T/time.trace"
S=$T/tt_stats_time.out
stat_count() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
check tt_stats_counts_match_dump test \
    "$(stat_count "$S" rdtsc) $(stat_count "$S" rdtscp) $(stat_count "$S" walltime) $(stat_count "$S" poll) $(stat_count "$S" halt) $(stat_count "$S" puts) $(stat_count "$S" all)" = \
    "11 1 12 5 1 $(count_kind "$D" puts) $n"
check tt_stats_file_size grep -Eq "^file: $(stat -c %s "$T/time.trace") bytes = header [0-9]+ \\(kernel $(stat -c %s "$TIME")\\)" "$S"
tool_ok tt_stats_loop 0 stats "$T/loop.trace"
check tt_stats_loop_counts test "$(stat_count "$T/tt_stats_loop.out" rdtsc) $(stat_count "$T/tt_stats_loop.out" walltime)" = "20000 20000"

# ---- verify
tool_ok tt_verify_complete 0 verify "$T/time.trace"
check tt_verify_complete_line test "$(cat "$T/tt_verify_complete.out")" = "complete: $n events, exit status 0"
tool_ok tt_verify_abort 0 verify "$T/abort.trace"
check tt_verify_abort_line test "$(cat "$T/tt_verify_abort.out")" = "complete: 2 events, exit status 255"
# A cut-short trace: the loop recording without its last quarter.
size=$(stat -c %s "$T/loop.trace")
head -c $((size * 3 / 4)) "$T/loop.trace" >"$T/cut.trace"
tool_ok tt_verify_cut_short 2 verify "$T/cut.trace"
tool_ok tt_dump_cut_short 0 dump "$T/cut.trace"
last=$(grep '^#' "$T/tt_dump_cut_short.out" | tail -1 | sed 's/^#\([0-9]*\) .*/\1/')
vline=$(cat "$T/tt_verify_cut_short.out")
vev=$(echo "$vline" | sed -n 's/^cut short after event \([0-9]*\) at byte \([0-9]*\)$/\1/p')
vbyte=$(echo "$vline" | sed -n 's/^cut short after event \([0-9]*\) at byte \([0-9]*\)$/\2/p')
if [ -n "$vbyte" ] && [ "$vbyte" -le $((size * 3 / 4)) ] && [ "$vbyte" -gt 0 ]; then pass tt_verify_cut_short_byte; else
    fail tt_verify_cut_short_byte "verify said '$vline' for a file of $((size * 3 / 4)) bytes"; fi
# "after event N" names the last readable event, as numbered by dump (and as
# `ukvm replay` words it: "reached the end of the trace after event N").
if [ -n "$vev" ] && [ "$vev" = "$last" ]; then pass tt_verify_cut_short_names_last_event; else
    fail tt_verify_cut_short_names_last_event "verify says 'after event $vev', the last event dump shows is #$last"; fi
run_capture "$T/cut_replay.out" "$T/cut_replay.err" "$UKVM" replay "$T/cut.trace"
if [ $? = 0 ] && grep -Eq "after event $last([^0-9]|$)" "$T/cut_replay.err"; then pass tt_replay_cut_short_agrees_with_dump; else
    fail tt_replay_cut_short_agrees_with_dump "dump's last event #$last, replay says: $(head -c 200 "$T/cut_replay.err")"; fi
tool_ok tt_info_cut_short 0 info "$T/cut.trace"
check tt_info_cut_short_end grep -Eq '^end: cut short after event [0-9]+ at byte [0-9]+ ' "$T/tt_info_cut_short.out"
# Corrupt: a bit flipped in the first event frame (right after the header).
hdr=$(sed -n 's/^file: [0-9]* bytes = header \([0-9]*\) .*/\1/p' "$T/tt_stats_loop.out")
cp "$T/loop.trace" "$T/flip.trace"
python3 -c 'import sys; p, o = sys.argv[1], int(sys.argv[2]); b = bytearray(open(p, "rb").read()); b[o] ^= 0x04; open(p, "wb").write(b)' "$T/flip.trace" $((hdr + 100))
tool_ok tt_verify_corrupt 1 verify "$T/flip.trace"
cp "$HELLO" "$T/notatrace"
tool_ok tt_verify_not_a_trace 1 verify "$T/notatrace"
: >"$T/empty"
tool_ok tt_verify_empty 1 verify "$T/empty"
tool_ok tt_verify_missing 1 verify "$T/missing.trace"
tool_ok tt_info_not_a_trace 1 info "$T/notatrace"
tool_ok tt_dump_corrupt 1 dump "$T/flip.trace"

# ---- extract-kernel
tool_ok tt_extract_hello 0 extract-kernel -o "$T/k.elf" "$T/hello.trace"
same_file tt_extract_hello_identical "$HELLO" "$T/k.elf"
tool_ok tt_extract_time 0 extract-kernel -o "$T/kt.elf" "$T/time.trace"
same_file tt_extract_time_identical "$TIME" "$T/kt.elf"
tool_ok tt_extract_cut_short 0 extract-kernel -o "$T/kc.elf" "$T/cut.trace"
same_file tt_extract_cut_short_identical "$GUESTS/loop.elf" "$T/kc.elf"
expect_run tt_extracted_kernel_runs 0 "Hello, world! args: again" none "$UKVM" run "$T/k.elf" again
echo "keep me" >"$T/exists.elf"
tool_ok tt_extract_refuses_overwrite 1 extract-kernel -o "$T/exists.elf" "$T/hello.trace"
check tt_extract_refused_file_unchanged test "$(cat "$T/exists.elf")" = "keep me"
tool_ok tt_extract_force 0 extract-kernel -f -o "$T/exists.elf" "$T/hello.trace"
same_file tt_extract_force_identical "$HELLO" "$T/exists.elf"
tool_ok tt_extract_corrupt_header 1 extract-kernel -o "$T/kx.elf" "$T/notatrace"
check tt_extract_corrupt_header_no_file test ! -e "$T/kx.elf"

# ---- edit
tool_ok tt_edit_halt 0 edit "$T/hello.trace" "$T/ed.trace" --event 1 --arg 0=3
"$UKVM_TRACE" dump "$T/hello.trace" >"$T/d0" 2>&1
"$UKVM_TRACE" dump "$T/ed.trace" >"$T/d1" 2>&1
# Exactly event 1 differs (and the footer's status stays the recording's).
if [ "$(diff "$T/d0" "$T/d1" | grep -c '^[<>]')" = 2 ] && grep -Eq '^#1 halt rip=0x[0-9a-f]+ status=3 cookie=0x0$' "$T/d1"; then
    pass tt_edit_changes_one_event
else
    fail tt_edit_changes_one_event "diff: $(diff "$T/d0" "$T/d1" | head -6 | tr '\n' '|')"
fi
tool_ok tt_edit_verify 0 verify "$T/ed.trace"
# the copy keeps the recording's duration (time.elf sleeps: tens of ms)
tool_ok tt_edit_time 0 edit "$T/time.trace" "$T/ed_time.trace" --event 2 --arg 0=7
if [ "$("$UKVM_TRACE" info "$T/time.trace" | grep '^end:')" = "$("$UKVM_TRACE" info "$T/ed_time.trace" | grep '^end:')" ]; then
    pass tt_edit_keeps_duration
else
    fail tt_edit_keeps_duration "$("$UKVM_TRACE" info "$T/time.trace" | grep '^end:') vs $("$UKVM_TRACE" info "$T/ed_time.trace" | grep '^end:')"
fi
tool_ok tt_edit_no_such_event 1 edit "$T/hello.trace" "$T/ed2.trace" --event 2 --arg 0=3
check tt_edit_no_such_event_no_file test ! -e "$T/ed2.trace"
tool_ok tt_edit_no_such_arg 1 edit "$T/hello.trace" "$T/ed3.trace" --event 1 --arg 4=3
check tt_edit_no_such_arg_no_file test ! -e "$T/ed3.trace"
cp "$T/abort.trace" "$T/ed_exist.trace"
tool_ok tt_edit_refuses_overwrite 1 edit "$T/hello.trace" "$T/ed_exist.trace" --event 1 --arg 0=3
same_file tt_edit_refused_file_unchanged "$T/abort.trace" "$T/ed_exist.trace"
tool_ok tt_edit_force 0 edit --force "$T/hello.trace" "$T/ed_exist.trace" --event 1 --arg 0=4
check tt_edit_force_result grep -Eq '^#1 halt .* status=4 ' <("$UKVM_TRACE" dump "$T/ed_exist.trace")
tool_ok tt_edit_cut_short 0 edit "$T/cut.trace" "$T/ed_cut.trace" --event 0 --arg 0=5
tool_ok tt_edit_cut_short_stays_cut 2 verify "$T/ed_cut.trace"

# ---- usage errors
run_capture "$T/u.out" "$T/u.err" "$UKVM_TRACE"; rc=$?
check tt_no_arguments_status_1 test "$rc" = 1
tool_ok tt_unknown_command 1 frobnicate "$T/hello.trace"
tool_ok tt_dump_bad_from 1 dump --from xyz "$T/hello.trace"
# Usage mistakes are errors too: one "ukvm-trace: " line, like ukvm's own
# "unknown option '--bogus' (see ukvm --help)".
tool_ok tt_dump_unknown_option_one_line 1 dump --bogus "$T/hello.trace"
tool_ok tt_extract_without_o_one_line 1 extract-kernel "$T/hello.trace"
tool_ok tt_edit_without_event_one_line 1 edit "$T/hello.trace" "$T/ed9.trace"
check tt_edit_without_event_no_file test ! -e "$T/ed9.trace"

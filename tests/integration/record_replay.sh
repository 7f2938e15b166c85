#!/usr/bin/env bash
# Record then replay every guest: same stdout byte for byte, same status,
# twice; clocks and block data come from the trace; an edited trace
# diverges at the edited event; killed and interrupted recordings; record's
# refusal to overwrite; broken trace files never crash or hang the replayer.
# (The net guest's record/replay is in net.sh.)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/common.sh"
require_kvm record_replay || exit 0

# rr NAME STATUS STDERR_MODE [RECORD OPTIONS...] -- KERNEL [ARGS...]:
# records into $T/NAME.trace, expecting STATUS and STDERR_MODE (see
# stderr_ok), then replays twice: same status, same stdout byte for byte,
# same stderr as the recording.
rr() {
    local name=$1 want=$2 errmode=$3; shift 3
    local opts=()
    while [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    expect_run "rr_${name}_record" "$want" - "$errmode" "$UKVM" record -o "$T/$name.trace" "${opts[@]}" "$@"
    local i
    for i in 1 2; do
        expect_run "rr_${name}_replay$i" "$want" - "$errmode" "$UKVM" replay "$T/$name.trace"
        same_file "rr_${name}_replay${i}_same_stdout" "$T/rr_${name}_record.out" "$T/rr_${name}_replay$i.out"
        same_file "rr_${name}_replay${i}_same_stderr" "$T/rr_${name}_record.err" "$T/rr_${name}_replay$i.err"
    done
}

COMPUTE_LINE="compute: fib=987 primes=303 hash=0xcad9b5e4 counter=20000 checksum=0xe22332fc3225d187"

rr hello 0 none -- "$GUESTS/hello.elf" one "two three"
check rr_hello_stdout test "$(cat "$T/rr_hello_record.out")" = "Hello, world! args: one two three"
rr compute 0 none -- "$GUESTS/compute.elf"
check rr_compute_stdout test "$(cat "$T/rr_compute_record.out")" = "$COMPUTE_LINE"
rr abort 255 none -- "$GUESTS/abort.elf"
check rr_abort_stdout test "$(cat "$T/rr_abort_record.out")" = "abort: halting with status 255"
rr fault 1 "translation fault" -- "$GUESTS/fault.elf"
rr nullptr 1 "triple fault|page fault" -- "$GUESTS/nullptr.elf"
rr badcall_port 1 "0x5ff" -- "$GUESTS/badcall.elf" port
rr mem2 0 none --mem=2 -- "$GUESTS/compute.elf"
rr loop 0 none -- "$GUESTS/loop.elf" 8192
rr badcall_ptr 1 "rip 0x" -- "$GUESTS/badcall.elf" ptr
rr mem4096 1 "0xfffffff8" --mem=4096 -- "$GUESTS/badcall.elf" struct
# replay needs no kernel file: record a copy, delete it, replay
cp "$GUESTS/hello.elf" "$T/gone.elf"
rr kernel_deleted 0 none -- "$T/gone.elf" gone
rm -f "$T/gone.elf"
expect_run rr_kernel_deleted_replay 0 "Hello, world! args: gone" none "$UKVM" replay "$T/kernel_deleted.trace"
check rr_loop_stdout_lines test "$(grep -c . "$T/rr_loop_record.out")" = 4

# ---- time: every clock value the guest prints comes from the trace
t0=$(now_ms)
rr time 0 none -- "$GUESTS/time.elf"
t1=$(now_ms)
rec_ms=$((t1 - t0))   # one recording and two replays
t0=$(now_ms); run_capture "$T/time_r3.out" "$T/time_r3.err" "$UKVM" replay "$T/time.trace"; t1=$(now_ms)
rep_ms=$((t1 - t0))
t0=$(now_ms); run_capture "$T/time_rec2.out" "$T/time_rec2.err" "$UKVM" record -o "$T/time2.trace" "$GUESTS/time.elf"; t1=$(now_ms)
rec2_ms=$((t1 - t0))
if [ "$rep_ms" -lt "$rec2_ms" ]; then pass rr_time_replay_faster_than_record; else
    fail rr_time_replay_faster_than_record "replay took $rep_ms ms, the recording $rec2_ms ms"; fi
# The iteration lines carry the raw TSC and walltime values.
vals() { grep -E '^time: iter' "$1" | sed -E 's/ \(\+[0-9]+ ns\)//g'; }
if [ "$(vals "$T/rr_time_record.out" | wc -l)" = 5 ] && [ "$(vals "$T/rr_time_record.out")" = "$(vals "$T/rr_time_replay1.out")" ] &&
   [ "$(vals "$T/rr_time_record.out")" = "$(vals "$T/rr_time_replay2.out")" ]; then
    pass rr_time_clock_values_identical
else
    fail rr_time_clock_values_identical "the rdtsc/walltime values differ between recording and replay"
fi
# ...and they are real: a second recording sees other values.
if [ "$(vals "$T/rr_time_record.out")" != "$(vals "$T/time_rec2.out")" ]; then pass rr_time_second_recording_differs; else
    fail rr_time_second_recording_differs "two recordings printed the same clock values"; fi
check rr_time_ok test "$(tail -1 "$T/rr_time_record.out")" = "time: OK"

# ---- blk: block data comes from the trace; the file is never touched
IMG=$T/blk.img
head -c $((64 * 512)) /dev/zero | tr '\0' '\356' >"$IMG"
cp "$IMG" "$T/blk.pristine"
expect_run rr_blk_record 0 "blk: OK (6 sectors verified, capacity 32768 bytes, block size 512)" none \
    "$UKVM" record -o "$T/blk.trace" --block:storage="$IMG" "$GUESTS/blk.elf"
if ! cmp -s "$IMG" "$T/blk.pristine"; then pass rr_blk_record_wrote_file; else fail rr_blk_record_wrote_file "the recording did not change the block file"; fi
rm -f "$IMG"
expect_run rr_blk_replay_file_deleted 0 - none "$UKVM" replay "$T/blk.trace"
same_file rr_blk_replay_file_deleted_same_stdout "$T/rr_blk_record.out" "$T/rr_blk_replay_file_deleted.out"
check rr_blk_replay_does_not_create_file test ! -e "$IMG"
cp "$T/blk.pristine" "$IMG"
sum_before=$(sha256sum <"$IMG")
expect_run rr_blk_replay_file_present 0 - none "$UKVM" replay "$T/blk.trace"
same_file rr_blk_replay_file_present_same_stdout "$T/rr_blk_record.out" "$T/rr_blk_replay_file_present.out"
check rr_blk_replay_leaves_file_unchanged test "$(sha256sum <"$IMG")" = "$sum_before"

# 4096-byte blocks: the block size is part of the trace
head -c $((16 * 4096)) /dev/zero >"$T/blk4k.img"
expect_run rr_blk4k_record 0 "blk: OK (6 sectors verified, capacity 65536 bytes, block size 4096)" none \
    "$UKVM" record -o "$T/blk4k.trace" --block:storage="$T/blk4k.img" --block-sector-size:storage=4096 "$GUESTS/blk.elf"
rm -f "$T/blk4k.img"
expect_run rr_blk4k_replay 0 "blk: OK (6 sectors verified, capacity 65536 bytes, block size 4096)" none \
    "$UKVM" replay "$T/blk4k.trace"

# ---- edited traces: replay diverges (125) at the edited event, one line
# dump_find TRACE KIND [NTH] [AFTER]: number of the NTH (default 1) event of
# KIND whose number is greater than AFTER (default -1).
dump_find() {
    "$UKVM_TRACE" dump "$1" | awk -v k="$2" -v nth="${3:-1}" -v after="${4:--1}" \
        '$2 == k { n = substr($1, 2) + 0; if (n > after && ++seen == nth) { print n; exit } }'
}
# edited NAME TRACE EVENT ARG=VALUE EXPECT_EVENT: edits TRACE's event EVENT and
# expects the replay to exit 125 with one line naming event EXPECT_EVENT, and
# to print a prefix of the original stdout.
edited() {
    local name=$1 trace=$2 ev=$3 arg=$4 want_ev=$5 orig_out=$6
    if [ -z "$ev" ] || [ -z "$want_ev" ]; then fail "$name" "could not find the event to edit in $(basename "$trace")"; return; fi
    run_capture "$T/$name.edit.out" "$T/$name.edit.err" "$UKVM_TRACE" edit "$trace" "$T/$name.trace" --event "$ev" --arg "$arg"
    local rc=$?
    if [ "$rc" != 0 ]; then fail "$name" "ukvm-trace edit failed ($rc): $(head -c 200 "$T/$name.edit.err")"; return; fi
    expect_run "$name" 125 - "event $want_ev([^0-9]|$)" "$UKVM" replay "$T/$name.trace"
    local n; n=$(wc -c <"$T/$name.out")
    if head -c "$n" "$orig_out" | cmp -s - "$T/$name.out"; then pass "${name}_stdout_is_prefix"; else
        fail "${name}_stdout_is_prefix" "replay printed output the recording did not"; fi
}
edited rr_edit_hello_puts_len "$T/hello.trace" 0 0=999 0 "$T/rr_hello_record.out"
check rr_edit_hello_stdout_empty test ! -s "$T/rr_edit_hello_puts_len.out"
halt=$(dump_find "$T/compute.trace" halt)
edited rr_edit_compute_halt_status "$T/compute.trace" "$halt" 0=7 "$halt" "$T/rr_compute_record.out"
poll=$(dump_find "$T/time.trace" poll 2)
edited rr_edit_time_poll_timeout "$T/time.trace" "$poll" 0=20000000 "$poll" "$T/rr_time_record.out"
# An output edited (a walltime result) is fed to the guest, which prints it:
# the replay then diverges at the next puts (its digest differs).
wall=$(dump_find "$T/time.trace" walltime 2)
puts=$(dump_find "$T/time.trace" puts 1 "$wall")
edited rr_edit_time_walltime_value "$T/time.trace" "$wall" 0=1234567890 "$puts" "$T/rr_time_record.out"
run_capture "$T/ed_bad.out" "$T/ed_bad.err" "$UKVM_TRACE" edit "$T/hello.trace" "$T/ed_bad.trace" --event 99 --arg 0=1
rc=$?
if [ "$rc" = 1 ] && one_line "$T/ed_bad.err" && [ ! -e "$T/ed_bad.trace" ]; then pass rr_edit_missing_event_refused; else
    fail rr_edit_missing_event_refused "status $rc, stderr '$(head -c 200 "$T/ed_bad.err")', output left: $([ -e "$T/ed_bad.trace" ] && echo yes || echo no)"; fi

# ---- SIGKILL during a recording: cut short, replays to where it ends
"$UKVM" record -o "$T/killed.trace" "$GUESTS/loop.elf" >"$T/killed.out" 2>"$T/killed.err" &
pid=$!
sleep 1.5
kill -9 "$pid"
{ wait "$pid"; } 2>/dev/null
expect_status rr_sigkill_record_died 137 $?
expect_run rr_sigkill_verify_cut_short 2 - none "$UKVM_TRACE" verify "$T/killed.trace"
if grep -Eq '^cut short after event [0-9]+ at byte [0-9]+$' "$T/rr_sigkill_verify_cut_short.out"; then pass rr_sigkill_verify_says_where; else
    fail rr_sigkill_verify_says_where "verify printed '$(head -c 200 "$T/rr_sigkill_verify_cut_short.out")'"; fi
expect_run rr_sigkill_replay 0 - "cut short|end of the trace" "$UKVM" replay "$T/killed.trace"
n=$(wc -c <"$T/rr_sigkill_replay.out")
if [ "$n" -gt 0 ] && head -c "$n" "$T/killed.out" | cmp -s - "$T/rr_sigkill_replay.out"; then pass rr_sigkill_replay_stdout_prefix; else
    fail rr_sigkill_replay_stdout_prefix "replay printed $n bytes, not a prefix of the recording's $(wc -c <"$T/killed.out")"; fi
if grep -Eq '^loop: iter [0-9]+ tsc' "$T/rr_sigkill_replay.out"; then pass rr_sigkill_replay_reached_frames; else
    fail rr_sigkill_replay_reached_frames "no 'loop: iter' line replayed after 1.5 s of recording (frames not flushed?)"; fi
# The replay ends at the event verify names.
ev=$(sed -n 's/^cut short after event \([0-9]*\) .*/\1/p' "$T/rr_sigkill_verify_cut_short.out")
if [ -n "$ev" ] && grep -Eq "event $((ev - 1))([^0-9]|$)|event $ev([^0-9]|$)" "$T/rr_sigkill_replay.err"; then pass rr_sigkill_replay_names_last_event; else
    fail rr_sigkill_replay_names_last_event "verify says $ev events; replay says '$(head -c 200 "$T/rr_sigkill_replay.err")'"; fi

# ---- SIGINT during a recording: the recorder writes a complete trace
"$UKVM" record -o "$T/int.trace" "$GUESTS/loop.elf" >"$T/int.out" 2>"$T/int.err" &
pid=$!
sleep 1
kill -INT "$pid"
for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then fail rr_sigint_record_stops "still running 10 s after SIGINT"; kill -9 "$pid"; fi
{ wait "$pid"; } 2>/dev/null
st=$?
expect_status rr_sigint_record_status_130 130 "$st"
msg=$(stderr_ok "$T/int.err" "signal") && pass rr_sigint_record_one_line || fail rr_sigint_record_one_line "$msg"
expect_run rr_sigint_verify_complete 0 - none "$UKVM_TRACE" verify "$T/int.trace"
if grep -Eq "^complete: [0-9]+ events, exit status $st\$" "$T/rr_sigint_verify_complete.out"; then pass rr_sigint_verify_status; else
    fail rr_sigint_verify_status "verify printed '$(head -c 200 "$T/rr_sigint_verify_complete.out")', recording status $st"; fi
# Replaying it reproduces the recording up to the signal, and ends as it did.
run_capture "$T/int_replay.out" "$T/int_replay.err" "$UKVM" replay "$T/int.trace"
rc=$?
same_file rr_sigint_replay_same_stdout "$T/int.out" "$T/int_replay.out"
if [ "$rc" = "$st" ] && one_line "$T/int_replay.err"; then pass rr_sigint_replay_ends_like_recording; else
    fail rr_sigint_replay_ends_like_recording "replay status $rc (recording $st), stderr '$(head -c 300 "$T/int_replay.err" | tr '\n' '|')'"; fi

# ---- record refuses to overwrite; --force overwrites
cp "$T/hello.trace" "$T/exist.trace"
cp "$T/hello.trace" "$T/exist.copy"
expect_run rr_record_refuses_overwrite 1 "" "exist\.trace" "$UKVM" record -o "$T/exist.trace" "$GUESTS/hello.elf" new
same_file rr_record_refused_file_unchanged "$T/exist.copy" "$T/exist.trace"
echo "precious text" >"$T/text.trace"
expect_run rr_record_refuses_overwrite_text 1 "" "text\.trace" "$UKVM" record -o "$T/text.trace" "$GUESTS/hello.elf"
check rr_record_refused_text_unchanged test "$(cat "$T/text.trace")" = "precious text"
expect_run rr_record_force 0 "Hello, world! args: forced" none "$UKVM" record --force -o "$T/exist.trace" "$GUESTS/hello.elf" forced
expect_run rr_record_force_replay 0 "Hello, world! args: forced" none "$UKVM" replay "$T/exist.trace"
expect_run rr_record_missing_dir 1 "" "" "$UKVM" record -o "$T/no/such/dir/x.trace" "$GUESTS/hello.elf"
mkdir "$T/cwd"
(cd "$T/cwd" && run_capture "$T/default.out" "$T/default.err" "$UKVM" record "$GUESTS/hello.elf" dflt)
check rr_record_default_trace_zst test -s "$T/cwd/trace.zst"
expect_run rr_replay_default_trace 0 "Hello, world! args: dflt" none "$UKVM" replay "$T/cwd/trace.zst"

# ---- broken trace files: status 1 (or a clean cut-short replay), one line,
# no crash, no hang; stdout only ever a prefix of the recorded one.
export TEST_TIMEOUT=20
broken() { # NAME FILE ORIG_STDOUT
    local name=$1 f=$2 orig=$3 out=$T/$1.out err=$T/$1.err rc why=""
    run_capture "$out" "$err" "$UKVM" replay "$f"
    rc=$?
    if [ "$rc" = 0 ] && [ ! -s "$err" ] && [ -n "$orig" ] && cmp -s "$orig" "$out"; then
        # The damage lies where the replay does not look (the footer, after
        # the halt) or changes nothing (zstd redundancy): a correct replay.
        pass "$name"
        return
    fi
    if [ "$rc" = 0 ]; then
        grep -Eiq 'cut short|end of the trace' "$err" || why="status 0 without a cut-short message"
    elif [ "$rc" != 1 ]; then
        why="exit status $rc, expected 1 or a cut-short replay"
        [ "$rc" = 124 ] && why="hung (timeout)"
        [ "$rc" -ge 128 ] && [ "$rc" != 124 ] && why="died of signal $((rc - 128))"
    fi
    local msg; msg=$(stderr_ok "$err" "") || why="${why:+$why; }$msg"
    local n; n=$(wc -c <"$out")
    if [ -n "$orig" ] && [ "$n" -gt 0 ] && ! head -c "$n" "$orig" | cmp -s - "$out"; then
        why="${why:+$why; }stdout is not a prefix of the recorded stdout"
    fi
    if [ -z "$why" ]; then pass "$name"; else fail "$name" "$why (stderr: $(head -c 200 "$err" | tr '\n' '|'))"; fi
}
# (loop's trace: only the damage past its first kilobyte, where its header
# and first frame are like hello's)
for src in hello loop; do
    f=$T/$src.trace
    size=$(wc -c <"$f")
    head_cuts="1 4 16 64 200 1000" head_offs="5 20 100 500"
    [ $src = loop ] && head_cuts="" head_offs=""
    for cut in $head_cuts $((size / 4)) $((size / 2)) $((size * 3 / 4)) $((size - 64)) $((size - 16)) $((size - 1)); do
        [ "$cut" -gt 0 ] && [ "$cut" -lt "$size" ] || continue
        head -c "$cut" "$f" >"$T/cut.trace"
        broken "rr_${src}_truncated_at_$cut" "$T/cut.trace" "$T/rr_${src}_record.out"
    done
    offs="$head_offs $((size / 3)) $((size / 2)) $((size - 40)) $((size - 8)) $((size - 2))"
    # one python for all the copies (a start costs about a second in the QEMU VM)
    python3 -c 'import sys
src, out = sys.argv[1], sys.argv[2]
for o in map(int, sys.argv[3:]):
    b = bytearray(open(src, "rb").read()); b[o] ^= 0x10; open(out % o, "wb").write(b)' "$f" "$T/flip.%d.trace" $offs
    for off in $offs; do
        broken "rr_${src}_bitflip_at_$off" "$T/flip.$off.trace" "$T/rr_${src}_record.out"
        rm -f "$T/flip.$off.trace"
    done
done
: >"$T/empty.trace"
broken rr_replay_empty_file "$T/empty.trace" ""
broken rr_replay_elf_file "$GUESTS/hello.elf" ""
echo "not a trace" >"$T/text2.trace"
broken rr_replay_text_file "$T/text2.trace" ""
broken rr_replay_missing_file "$T/missing.trace" ""
broken rr_replay_directory "$T" ""
broken rr_replay_dev_null /dev/null ""
mkfifo "$T/trace.fifo"    # no writer: refuse it, do not wait on it
TEST_TIMEOUT=5 broken rr_replay_fifo_no_hang "$T/trace.fifo" ""
head -c 100000 /dev/urandom >"$T/random.trace"
broken rr_replay_random_bytes "$T/random.trace" ""

# ---- a disk that fills during a recording: the recorder stops with one
# line (status 1) and leaves a cut-short trace that replays to its end.
trap 'umount "$T/small" 2>/dev/null; rm -rf "$TMPDIR_TEST"' EXIT
if [ "$(id -u)" = 0 ] && mkdir -p "$T/small" && mount -t tmpfs -o size=100k ukvm-test-tmpfs "$T/small" 2>/dev/null; then
    expect_run rr_disk_full_record 1 - "space|write" "$UKVM" record -o "$T/small/loop.trace" "$GUESTS/loop.elf"
    expect_run rr_disk_full_verify_cut_short 2 - none "$UKVM_TRACE" verify "$T/small/loop.trace"
    expect_run rr_disk_full_replay 0 - "cut short|end of the trace" "$UKVM" replay "$T/small/loop.trace"
    n=$(wc -c <"$T/rr_disk_full_replay.out")
    if [ "$n" -gt 0 ] && head -c "$n" "$T/rr_disk_full_record.out" | cmp -s - "$T/rr_disk_full_replay.out"; then
        pass rr_disk_full_replay_stdout_prefix
    else
        fail rr_disk_full_replay_stdout_prefix "replay printed $n bytes, not a prefix of the recording's"
    fi
    umount "$T/small"
else
    skip rr_disk_full "cannot mount a small tmpfs (needs root)"
fi
# --force onto /dev/full, through a symlink (so that a monitor that deletes
# the path on failure removes only the link, not the device): one line,
# status 1, and the path that existed before is still there.
ln -s /dev/full "$T/full.trace"
expect_run rr_record_to_dev_full 1 - "space|write" "$UKVM" record --force -o "$T/full.trace" "$GUESTS/hello.elf"
if [ -L "$T/full.trace" ]; then pass rr_record_failure_keeps_existing_path; else
    fail rr_record_failure_keeps_existing_path "a failed 'record --force -o PATH' deleted PATH, which it did not create (on /dev/full itself it deletes the device node)"; fi

# ---- SIGTERM during a replay: stops with one line, status 128+15
"$UKVM" record -o "$T/long.trace" "$GUESTS/loop.elf" 60000 >/dev/null 2>&1
"$UKVM" replay "$T/long.trace" >"$T/term_replay.out" 2>"$T/term_replay.err" &
pid=$!
sleep 0.3
kill -TERM "$pid"
{ wait "$pid"; } 2>/dev/null
expect_status rr_sigterm_replay_status_143 143 $?
msg=$(stderr_ok "$T/term_replay.err" "signal") && pass rr_sigterm_replay_one_line || fail rr_sigterm_replay_one_line "$msg"

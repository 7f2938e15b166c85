#!/usr/bin/env bash
# ukvm-trace diff on traces that differ by design: a copy with one event
# edited (`ukvm-trace edit`: a clock value, a byte of a packet), a longer
# trace, cut-short, corrupt and header-less ones (synthetic, no KVM); then on
# recordings (KVM): the clocks guest twice (only clocks differ: --ignore
# makes them the same), det_bigread on two block files that differ in one
# byte, and two different kernels. The expected answers come from `dump` of
# both traces compared line by line with diff(1), from the event and byte
# that were edited, and from `verify`.
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST

require_trace_tools trace_diff || exit 0

# diff_run NAME WANT A B [OPTIONS...]: ukvm-trace diff [OPTIONS] A B into
# $T/NAME.out and $T/NAME.err; checks the exit status.
diff_run() {
    local name=$1 want=$2 a=$3 b=$4; shift 4
    run_capture "$T/$name.out" "$T/$name.err" "$UKVM_TRACE" diff "$@" "$a" "$b"
    expect_status "$name: exit $want" "$want" $?
}
# first_parting A B [KINDS-RE]: from the dumps of A and B (the events of
# kinds matching KINDS-RE left out), compared line by line without their
# numbers: "NA NB", the numbers of the first events that differ ("end" for
# a side that has ended), or "same".
first_parting() {
    local re=${3:-^$}
    "$UKVM_TRACE" dump "$1" | grep '^#' | awk -v re="$re" '$2 !~ re' >"$T/fp.a"
    "$UKVM_TRACE" dump "$2" | grep '^#' | awk -v re="$re" '$2 !~ re' >"$T/fp.b"
    awk 'function rest(l) { return substr(l, index(l, " ")) }
         function num(l) { return substr(l, 2, index(l, " ") - 2) }
         NR == FNR { a[FNR] = $0; na = FNR; next }
         !found && (FNR > na || rest(a[FNR]) != rest($0)) {
             found = 1; print (FNR > na ? "end" : num(a[FNR])), num($0) }
         { nb = FNR }
         END { if (!found) print (na > nb ? num(a[nb + 1]) " end" : "same") }' "$T/fp.a" "$T/fp.b"
}
# has_line NAME FILE LINE: FILE holds exactly this line.
has_line() {
    if grep -Fxq -- "$3" "$2"; then pass "$1"; else fail "$1" "no line '$3' in: $(head -c 600 "$2" | tr '\n' '|')"; fi
}
# one_error NAME FILE: FILE is one "ukvm-trace: diff: " line.
one_error() {
    if one_line "$2" && grep -q '^ukvm-trace: diff: ' "$2"; then pass "$1"; else
        fail "$1" "stderr is not one 'ukvm-trace: diff: ' line: $(head -c 300 "$2" | tr '\n' '|')"; fi
}

KERNEL=$GUESTS/hello.elf
[ -f "$KERNEL" ] || { head -c 5000 /dev/urandom >"$T/kernel.bin"; KERNEL=$T/kernel.bin; }
"$SYNTH" --events 300 --flush-every 50 --kernel "$KERNEL" "$T/a.zst"
"$UKVM_TRACE" dump "$T/a.zst" >"$T/a.dump"

# ---- the same trace twice
diff_run td_same 0 "$T/a.zst" "$T/a.zst"
has_line td_same_says_so "$T/td_same.out" "the same: 300 events compared"
check td_same_summary grep -Eq '^  all +300 +300 +0$' "$T/td_same.out"
check td_same_stderr_empty test ! -s "$T/td_same.err"

# ---- one clock value edited: event 8 (an rdtsc in dump)
old=$(awk '$1 == "#8" && $2 == "rdtsc" { sub(/^tsc=/, "", $4); print $4 }' "$T/a.dump")
"$UKVM_TRACE" edit "$T/a.zst" "$T/tsc.zst" --event 8 --arg 0=12345
diff_run td_tsc 1 "$T/a.zst" "$T/tsc.zst"
check td_tsc_dump_agrees [ "$(first_parting "$T/a.zst" "$T/tsc.zst")" = "8 8" ]
has_line td_tsc_first_difference "$T/td_tsc.out" \
    "first difference: A event 8, B event 8 (rdtsc): tsc: $old vs 12345"
has_line td_tsc_a_line_as_dump "$T/td_tsc.out" "A $(grep '^#8 ' "$T/a.dump")"
has_line td_tsc_b_line_as_dump "$T/td_tsc.out" "B $("$UKVM_TRACE" dump --from 8 --count 1 "$T/tsc.zst" | head -1)"
for n in 5 6 7 9 10 11; do
    has_line "td_tsc_context_$n" "$T/td_tsc.out" "  $(grep "^#$n " "$T/a.dump")"
done
check td_tsc_no_more_context sh -c "! grep -q '^  #4 \|^  #12 ' '$T/td_tsc.out'"
n_rdtsc=$(grep -c '^#[0-9]* rdtsc ' "$T/a.dump")
check td_tsc_summary_rdtsc grep -Eq "^  rdtsc +$n_rdtsc +$n_rdtsc +1$" "$T/td_tsc.out"
check td_tsc_summary_all grep -Eq '^  all +300 +300 +1$' "$T/td_tsc.out"
diff_run td_tsc_context_0 1 "$T/a.zst" "$T/tsc.zst" --context 0
check td_tsc_context_0_only_the_pair [ "$(grep -c '#[0-9]' "$T/td_tsc_context_0.out")" = 2 ]
# ignoring rdtsc: the same
diff_run td_tsc_ignored 0 "$T/a.zst" "$T/tsc.zst" --ignore=rdtsc
has_line td_tsc_ignored_says_so "$T/td_tsc_ignored.out" "the same: $((300 - n_rdtsc)) events compared (ignoring rdtsc)"
check td_tsc_ignored_summary grep -Eq "^  rdtsc +$n_rdtsc +$n_rdtsc +ignored$" "$T/td_tsc_ignored.out"

# ---- a different packet: byte 14 of the first net_read's frame
ev=$(awk '$2 == "net_read" && / data=/ { sub(/^#/, "", $1); print $1; exit }' "$T/a.dump")
byte=$("$UKVM_TRACE" dump --data --from "$ev" --count 1 "$T/a.zst" | awk 'NR == 2 { print $(2 + 14) }')
new=$(printf '%02x' $(( (0x$byte + 1) & 255 )))
"$UKVM_TRACE" edit "$T/a.zst" "$T/pkt.zst" --event "$ev" --byte 14=0x$new
diff_run td_packet 1 "$T/a.zst" "$T/pkt.zst"
check td_packet_dump_agrees [ "$(first_parting "$T/a.zst" "$T/pkt.zst")" = "$ev $ev" ]
has_line td_packet_first_byte "$T/td_packet.out" \
    "first difference: A event $ev, B event $ev (net_read): data: first differing byte at offset 14: 0x$byte vs 0x$new"
n_net=$(grep -c '^#[0-9]* net_read ' "$T/a.dump")
check td_packet_summary grep -Eq "^  net_read +$n_net +$n_net +1$" "$T/td_packet.out"

# ---- a longer trace: the shorter one ends first
"$SYNTH" --events 310 --kernel "$KERNEL" "$T/long.zst"
diff_run td_longer 1 "$T/a.zst" "$T/long.zst"
fp=$(first_parting "$T/a.zst" "$T/long.zst")
check td_longer_dump_agrees grep -q "^first difference: A event ${fp% *}, B event ${fp#* }" "$T/td_longer.out"
check td_longer_counts grep -Eq '^  all +300 +310 +[0-9]+$' "$T/td_longer.out"

# ---- a cut-short copy: the same up to the cut, exit 2
size=$(stat -c %s "$T/a.zst")
head -c $((size - 2000)) "$T/a.zst" >"$T/half.zst"
last=$("$UKVM_TRACE" verify "$T/half.zst" | sed -n 's/^cut short after event \([0-9]*\) at byte .*/\1/p')
diff_run td_cut 2 "$T/a.zst" "$T/half.zst"
check td_cut_says_where grep -Eq "^the same: $((last + 1)) events compared; B is cut short after event $last at byte [0-9]+, compared up to there$" "$T/td_cut.out"
check td_cut_stderr_empty test ! -s "$T/td_cut.err"
diff_run td_cut_edited 1 "$T/half.zst" "$T/tsc.zst"
check td_cut_edited_parts_first grep -q '^first difference: A event 8, B event 8 (rdtsc)' "$T/td_cut_edited.out"

# ---- bad input: one line, exit 1
cp "$T/a.zst" "$T/bad.zst"
printf '\377' | dd of="$T/bad.zst" bs=1 seek=$((size - 300)) conv=notrunc 2>/dev/null
diff_run td_corrupt 1 "$T/a.zst" "$T/bad.zst"
one_error td_corrupt_one_line "$T/td_corrupt.err"
check td_corrupt_names_it grep -q "^ukvm-trace: diff: B ($T/bad.zst): corrupt trace at byte" "$T/td_corrupt.err"
head -c 100 "$T/a.zst" >"$T/head.zst"
diff_run td_no_header 1 "$T/head.zst" "$T/a.zst"
one_error td_no_header_one_line "$T/td_no_header.err"
"$SYNTH" --events 300 "$T/other.zst"     # its kernel: 64 synthetic bytes
diff_run td_other_kernel 1 "$T/a.zst" "$T/other.zst"
one_error td_other_kernel_one_line "$T/td_other_kernel.err"
check td_other_kernel_says_so grep -q 'are recordings of different kernels' "$T/td_other_kernel.err"
check td_other_kernel_stdout_empty test ! -s "$T/td_other_kernel.out"
diff_run td_bad_kind 1 "$T/a.zst" "$T/a.zst" --ignore=walltime,clock
one_error td_bad_kind_one_line "$T/td_bad_kind.err"
check td_bad_kind_named grep -q "unknown event kind 'clock'" "$T/td_bad_kind.err"
run_capture "$T/one.out" "$T/one.err" "$UKVM_TRACE" diff "$T/a.zst"
expect_status "td_one_operand: exit 1" 1 $?

# ---- recordings (KVM)
require_kvm trace_diff_recorded || exit 0
rec() { # rec NAME ARGS...: ukvm record -o $T/NAME.trace ARGS
    local name=$1; shift
    run_capture "$T/rec_$name.out" "$T/rec_$name.err" "$UKVM" record -o "$T/$name.trace" "$@"
    expect_status "td_record_$name" 0 $?
}
CLOCKS=(walltime rdtsc rdtscp)
rec clocks1 "$GUESTS/clocks.elf"
rec clocks2 "$GUESTS/clocks.elf"
diff_run td_clocks 1 "$T/clocks1.trace" "$T/clocks2.trace"
fp=$(first_parting "$T/clocks1.trace" "$T/clocks2.trace")
check td_clocks_dump_agrees grep -Eq "^first difference: A event ${fp% *}, B event ${fp#* } \((walltime|rdtsc|rdtscp)\): " "$T/td_clocks.out"
check td_clocks_only_clocks_in_dump [ "$(first_parting "$T/clocks1.trace" "$T/clocks2.trace" '^(walltime|rdtsc|rdtscp)$')" = same ]
diff_run td_clocks_ignored 0 "$T/clocks1.trace" "$T/clocks2.trace" --ignore="$(IFS=,; echo "${CLOCKS[*]}")"
check td_clocks_ignored_says_so grep -Eq '^the same: [0-9]+ events compared \(ignoring walltime, rdtsc, rdtscp\)$' "$T/td_clocks_ignored.out"

# a different block: det_bigread reads 1 MiB of a file that differs in byte 1000
head -c $((1 << 20)) /dev/zero >"$T/zero.img"
cp "$T/zero.img" "$T/one.img"
printf 'A' | dd of="$T/one.img" bs=1 seek=1000 conv=notrunc 2>/dev/null
rec blk1 --block:storage="$T/zero.img" "$GUESTS/det_bigread.elf" 1
rec blk2 --block:storage="$T/one.img" "$GUESTS/det_bigread.elf" 1
diff_run td_block 1 "$T/blk1.trace" "$T/blk2.trace" --ignore="$(IFS=,; echo "${CLOCKS[*]}")"
ev=$("$UKVM_TRACE" dump "$T/blk1.trace" | awk '$2 == "block_read" { sub(/^#/, "", $1); print $1; exit }')
has_line td_block_first_byte "$T/td_block.out" \
    "first difference: A event $ev, B event $ev (block_read): data: first differing byte at offset 1000: 0x00 vs 0x41"

# different kernels; a recording cut short
rec hello "$GUESTS/hello.elf"
diff_run td_kernels 1 "$T/hello.trace" "$T/clocks1.trace"
one_error td_kernels_one_line "$T/td_kernels.err"
check td_kernels_says_so grep -q 'are recordings of different kernels' "$T/td_kernels.err"
size=$(stat -c %s "$T/clocks1.trace")
head -c $((size - 100)) "$T/clocks1.trace" >"$T/clocks_cut.trace"
run_capture "$T/cut.out" "$T/cut.err" "$UKVM_TRACE" diff "$T/clocks1.trace" "$T/clocks_cut.trace"
rc=$?
if { [ $rc = 2 ] && grep -q '; B is cut short ' "$T/cut.out" && [ ! -s "$T/cut.err" ]; } ||
   { [ $rc = 1 ] && one_line "$T/cut.err" && grep -q '^ukvm-trace: diff: B ' "$T/cut.err"; }; then
    pass td_recording_cut_short
else
    fail td_recording_cut_short "exit $rc, stdout: $(grep -v '^ ' "$T/cut.out" | head -c 300 | tr '\n' '|'), stderr: $(head -c 300 "$T/cut.err")"
fi

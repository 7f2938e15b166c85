#!/usr/bin/env bash
# Every test guest under `ukvm run`: exact output, exit status, stderr; the
# block device's effect on its file; --mem; --help and --version.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/common.sh"
require_kvm run_guests || exit 0

# ---- help and version (no KVM needed, but cheap)
run_capture "$T/help.out" "$T/help.err" "$UKVM" --help; rc=$?
if [ "$rc" = 0 ] && [ ! -s "$T/help.err" ] && head -1 "$T/help.out" | grep -q '^usage: ukvm run ' &&
   grep -q 'ukvm record' "$T/help.out" && grep -q 'ukvm replay' "$T/help.out" && grep -q -- '--mem=MB' "$T/help.out"; then
    pass help
else
    fail help "status $rc, stdout '$(head -c 200 "$T/help.out" | tr '\n' '|')', stderr '$(head -c 200 "$T/help.err")'"
fi
run_capture "$T/h.out" "$T/h.err" "$UKVM" -h; rc=$?
if [ "$rc" = 0 ] && cmp -s "$T/h.out" "$T/help.out" && [ ! -s "$T/h.err" ]; then pass help_short; else fail help_short "status $rc or output differs from --help"; fi
run_capture "$T/rh.out" "$T/rh.err" "$UKVM" run --help; rc=$?
if [ "$rc" = 0 ] && cmp -s "$T/rh.out" "$T/help.out" && [ ! -s "$T/rh.err" ]; then pass help_after_run; else fail help_after_run "status $rc or output differs from --help"; fi
run_capture "$T/noargs.out" "$T/noargs.err" "$UKVM"; rc=$?
if [ "$rc" = 1 ] && [ ! -s "$T/noargs.out" ] && grep -q '^usage: ukvm' "$T/noargs.err"; then pass no_arguments_usage_status_1; else
    fail no_arguments_usage_status_1 "status $rc, expected 1 with the usage on stderr"; fi
run_capture "$T/ver.out" "$T/ver.err" "$UKVM" --version; rc=$?
if [ "$rc" = 0 ] && one_line "$T/ver.out" && [ ! -s "$T/ver.err" ] &&
   grep -Eq '^ukvm [0-9]+\.[0-9]+\.[0-9]+[^ ]* \(Solo5 hvt ABI 2, trace format 1\)$' "$T/ver.out"; then
    pass version
else
    fail version "status $rc, stdout '$(head -c 200 "$T/ver.out" | tr '\n' '|')'"
fi

# ---- hello: prints its arguments joined by single spaces
expect_run hello_args 0 "Hello, world! args: one two three" none "$UKVM" run "$GUESTS/hello.elf" one two three
expect_run hello_no_args 0 "Hello, world! args: " none "$UKVM" run "$GUESTS/hello.elf"
expect_run hello_arg_with_space 0 "Hello, world! args: a b  c" none "$UKVM" run "$GUESTS/hello.elf" "a b" " c"
expect_run hello_options_after_kernel_are_guest_args 0 "Hello, world! args: --mem=4 -x --bogus" none \
    "$UKVM" run "$GUESTS/hello.elf" --mem=4 -x --bogus
expect_run hello_double_dash 0 "Hello, world! args: --help" none "$UKVM" run --mem=4 -- "$GUESTS/hello.elf" --help

# ---- memory sizes: the guest runs; badcall struct names the end of memory
for m in 2 4 1024 4096; do
    expect_run "hello_mem_$m" 0 "Hello, world! args: m$m" none "$UKVM" run --mem=$m "$GUESTS/hello.elf" "m$m"
done
for pair in 2:0x200000 64:0x4000000 default:0x20000000 4096:0xfffffff8; do
    m=${pair%%:*} end=${pair#*:}
    opt=(); [ "$m" = default ] || opt=(--mem=$m)
    expect_run "badcall_struct_mem_$m" 1 "badcall: struct" "${end}[^0-9a-f]" "$UKVM" run "${opt[@]}" "$GUESTS/badcall.elf" struct
done
# every value option also takes its value as the next argument
expect_run hello_mem_space_64 0 "Hello, world! args: m64" none "$UKVM" run --mem 64 "$GUESTS/hello.elf" m64
expect_run badcall_struct_mem_space_64 1 "badcall: struct" "0x4000000[^0-9a-f]" "$UKVM" run --mem 64 "$GUESTS/badcall.elf" struct
expect_run compute_mem_2 0 "compute: fib=987 primes=303 hash=0xcad9b5e4 counter=20000 checksum=0xe22332fc3225d187" none \
    "$UKVM" run --mem=2 "$GUESTS/compute.elf"

# ---- compute: a fixed checksum
expect_run compute 0 "compute: fib=987 primes=303 hash=0xcad9b5e4 counter=20000 checksum=0xe22332fc3225d187" none \
    "$UKVM" run "$GUESTS/compute.elf"

# ---- abort: status 255 and its message
expect_run abort 255 "abort: halting with status 255" none "$UKVM" run "$GUESTS/abort.elf"

# ---- loop with a bound: ends by itself
expect_run loop_4096 0 - none "$UKVM" run "$GUESTS/loop.elf" 4096
if [ "$(head -1 "$T/loop_4096.out")" = "loop: starting, 4096 iterations" ] &&
   grep -Eq '^loop: iter 4096 tsc [0-9]+ wall [0-9]+$' "$T/loop_4096.out" &&
   grep -Eq '^loop: done 4096 iterations \(mix [0-9]+\)$' "$T/loop_4096.out" && [ "$(grep -c . "$T/loop_4096.out")" = 3 ]; then
    pass loop_4096_output
else
    fail loop_4096_output "unexpected output: $(head -c 300 "$T/loop_4096.out" | tr '\n' '|')"
fi

# ---- fault: a store into its own text -> translation fault, status 1
target=$(nm "$GUESTS/fault.elf" | awk '$3 == "target" { print $1 }' | sed 's/^0*/0x/')
expect_run fault 1 "fault: writing into text at $target" "translation fault" "$UKVM" run "$GUESTS/fault.elf"

# ---- nullptr: a read of address 0 -> triple fault (no IDT), status 1
expect_run nullptr 1 "nullptr: reading address 0" "triple fault|page fault" "$UKVM" run "$GUESTS/nullptr.elf"

# ---- badcall: each abuse of the hypercall interface -> one line, status 1
expect_run badcall_ptr 1 "badcall: ptr" "rip 0x" "$UKVM" run "$GUESTS/badcall.elf" ptr
expect_run badcall_len 1 "badcall: len" "rip 0x" "$UKVM" run "$GUESTS/badcall.elf" len
expect_run badcall_struct 1 "badcall: struct" "rip 0x" "$UKVM" run "$GUESTS/badcall.elf" struct
expect_run badcall_port 1 "badcall: port" "0x5ff" "$UKVM" run "$GUESTS/badcall.elf" port
expect_run badcall_size 1 "badcall: size" "0x502" "$UKVM" run "$GUESTS/badcall.elf" size
expect_run badcall_in 1 "badcall: in" "0x502" "$UKVM" run "$GUESTS/badcall.elf" in
expect_run badcall_unknown_mode_status_3 3 "badcall: bogus
badcall: usage: badcall ptr|len|struct|port|size|in" none "$UKVM" run "$GUESTS/badcall.elf" bogus

# ---- blk: writes sectors 0, 1, 7, N/2, N-2, N-1 and checks them; the file
# must hold the guest's pattern there and its old content elsewhere.
blk_case() { # NAME BLOCK_SIZE NSECTORS SECTORS...
    local name=$1 bs=$2 n=$3; shift 3
    local img=$T/$name.img
    head -c $((bs * n)) /dev/zero | tr '\0' '\356' >"$img"    # every byte 0xee
    local opt=(); [ "$bs" = 512 ] || opt=(--block-sector-size:storage=$bs)
    expect_run "$name" 0 "blk: OK ($# sectors verified, capacity $((bs * n)) bytes, block size $bs)" none \
        "$UKVM" run "${opt[@]}" --block:storage="$img" "$GUESTS/blk.elf"
    local msg
    if msg=$(python3 "$TOP/tests/lib/blkcheck.py" "$img" "$bs" 0xee "$@" 2>&1); then
        pass "${name}_file_content"
    else
        fail "${name}_file_content" "$(echo "$msg" | head -5 | tr '\n' '|')"
    fi
}
blk_case blk_64_sectors 512 64 0 1 7 32 62 63
blk_case blk_1_sector 512 1 0
blk_case blk_3_sectors 512 3 0 1 2
blk_case blk_4096_bytes_16_sectors 4096 16 0 1 7 8 14 15

# ---- time: clocks move forward, 10 ms sleeps take about 10 ms by both clocks
expect_run time 0 - none "$UKVM" run "$GUESTS/time.elf"
host_ns=$(date +%s%N)
if msg=$(python3 - "$T/time.out" "$host_ns" <<'EOF'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
host = int(sys.argv[2])
errs = []
m = re.fullmatch(r"time: cpu_cycle_freq (\d+) Hz", lines[0]) if lines else None
if not m or not (100e6 <= int(m.group(1)) <= 10e9):
    errs.append("bad first line %r" % (lines[:1],))
it = [re.fullmatch(r"time: iter (\d) tsc (\d+) -> (\d+) \(\+(\d+) ns\) wall (\d+) -> (\d+) \(\+(\d+) ns\)", l)
      for l in lines[1:6]]
if len(lines) != 8 or not all(it):
    errs.append("expected 8 lines with 5 iterations, got %d lines" % len(lines))
else:
    prev_tsc = prev_wall = 0
    for i, m in enumerate(it):
        n, t0, t1, tns, w0, w1, wns = map(int, m.groups())
        if n != i: errs.append("iteration %d numbered %d" % (i, n))
        if not (prev_tsc <= t0 < t1 and prev_wall <= w0 < w1): errs.append("iteration %d: a clock went backwards" % i)
        if w1 - w0 != wns: errs.append("iteration %d: wall difference misprinted" % i)
        if not (5e6 <= wns <= 1e9 and 5e6 <= tns <= 1e9): errs.append("iteration %d: a 10 ms sleep took %d/%d ns" % (i, tns, wns))
        if abs(tns - wns) > 2e6 + 0.1 * wns: errs.append("iteration %d: TSC says %d ns, wall clock %d ns" % (i, tns, wns))
        if abs(w0 - host) > 60e9: errs.append("iteration %d: wall clock %d is far from the host's %d" % (i, w0, host))
        prev_tsc, prev_wall = t1, w1
    if not re.fullmatch(r"time: total tsc \+\d+ ns, wall \+\d+ ns", lines[6]): errs.append("bad total line")
    if lines[7] != "time: OK": errs.append("last line %r" % lines[7])
print("; ".join(errs))
sys.exit(1 if errs else 0)
EOF
); then pass time_output_sane; else fail time_output_sane "$msg; output: $(head -c 300 "$T/time.out" | tr '\n' '|')"; fi

# ---- SIGTERM / SIGINT stop a running guest with one line, status 128+N
for sig in TERM INT; do
    "$UKVM" run "$GUESTS/loop.elf" >"$T/sig$sig.out" 2>"$T/sig$sig.err" &
    pid=$!
    sleep 0.5
    kill -$sig "$pid"
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { fail "run_sig${sig}_stops" "still running 5 s after SIG$sig"; kill -9 "$pid"; }
    { wait "$pid"; } 2>/dev/null
    st=$?
    expect_status "run_sig${sig}_status" $((128 + $(kill -l $sig))) "$st"
    msg=$(stderr_ok "$T/sig$sig.err" "signal") && pass "run_sig${sig}_one_line" || fail "run_sig${sig}_one_line" "$msg"
done

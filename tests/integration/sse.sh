#!/usr/bin/env bash
# A guest built with SSE enabled (as Solo5's toolchain builds unikernels):
# its output must equal the same computation compiled for the host, under
# run, record and replay. On KVMs that emulate CPL-0 code this exercises the
# monitor's completion of SSE instructions KVM cannot emulate.
source "$(dirname "$0")/../lib.sh"
require_kvm sse || exit 0
T=$TMPDIR_TEST
G=$GUESTS/sse.elf

cat >"$T/host.c" <<'EOC'
#include <stdio.h>
#include "sse_work.h"
int main(void)
{
    struct sse_results r;
    sse_work(&r);
    printf("sse: vec=0x%lx dot=%ld sqrt=%ld float=%ld zeroed=%lu x87=%ld\n", r.vec_sum, r.dot_milli,
           r.sqrt_milli, r.float_milli, r.zeroed, r.x87_milli);
    return 0;
}
EOC
if ! gcc -O2 -msse2 -fno-math-errno -I"$TOP/tests/guests" -o "$T/host" "$T/host.c" 2>"$T/cc.err"; then
    fail sse_host_build "$(head -1 "$T/cc.err")"
    exit 0
fi
"$T/host" >"$T/expected"

check sse_guest_uses_sse bash -c "objdump -d '$G' | grep -qE 'paddd|pxor|mulsd'"

run_capture "$T/run.out" "$T/run.err" "$UKVM" run "$G"
expect_status sse_run_status 0 $?
check sse_run_output cmp -s "$T/expected" "$T/run.out"
check sse_run_quiet bash -c "[ ! -s '$T/run.err' ]"

run_capture "$T/rec.out" "$T/rec.err" "$UKVM" record -o "$T/sse.zst" "$G"
expect_status sse_record_status 0 $?
check sse_record_output cmp -s "$T/expected" "$T/rec.out"
run_capture "$T/rep.out" "$T/rep.err" "$UKVM" replay "$T/sse.zst"
expect_status sse_replay_status 0 $?
check sse_replay_output cmp -s "$T/expected" "$T/rep.out"

# Single-stepping through SSE code under gdb ends on the same result.
port=$(( 30000 + RANDOM % 20000 ))
"$UKVM" run --gdb=$port "$G" >"$T/gdb.out" 2>"$T/gdb.err" &
pid=$!
sleep 0.3
(cd "$T" && timeout 120 gdb -batch -nx -ex "target remote 127.0.0.1:$port" \
    -ex 'break sse_vec_sum' -ex 'continue' -ex 'stepi 300' -ex 'delete' -ex 'continue' \
    >"$T/gdb.log" 2>&1)
wait $pid
expect_status sse_gdb_status 0 $?
check sse_gdb_stepped_output cmp -s "$T/expected" "$T/gdb.out"

# sse_cost (make bench's guest): its SSE loop's results equal the host
# CPU's for the same instructions, under run, record and replay (a compare
# leaves the x87/SSE state as it was: ukvm then writes nothing back).
C=$GUESTS/sse_cost.elf
cat >"$T/cost.c" <<'EOC'
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
static const double growth = 1.0001, limit = 1.5;
int main(int argc, char **argv)
{
    double x = 1.0;
    uint64_t above = 0, gt;
    int n = argc > 1 ? atoi(argv[1]) : 5000;
    for (int i = 0; i < n; i++) {
        __asm__ __volatile__("mulsd %[g], %[x]\n\tcomisd %[l], %[x]\n\tseta %b[gt]\n\t"
                             "movzbl %b[gt], %k[gt]"
                             : [x] "+x"(x), [gt] "=&q"(gt) : [g] "m"(growth), [l] "m"(limit)
                             : "cc");
        above += gt;
    }
    uint64_t micro = (uint64_t)(x * 1e6);
    printf("above=%lu x=%lu.%06lu\n", above, micro / 1000000, micro % 1000000);
    return 0;
}
EOC
if ! gcc -O2 -o "$T/cost" "$T/cost.c" 2>"$T/cc.err"; then
    fail sse_cost_host_build "$(head -1 "$T/cc.err")"
    exit 0
fi
"$T/cost" >"$T/cost.expected"
for mode in run record replay; do
    case $mode in
        run) run_capture "$T/cost.$mode" "$T/cost.$mode.err" "$UKVM" run "$C" 5000 ;;
        record) run_capture "$T/cost.$mode" "$T/cost.$mode.err" "$UKVM" record -o "$T/cost.zst" "$C" 5000 ;;
        replay) run_capture "$T/cost.$mode" "$T/cost.$mode.err" "$UKVM" replay "$T/cost.zst" ;;
    esac
    expect_status "sse_cost_${mode}_status" 0 $?
    got=$(sed -n 's/^sse_cost: n=5000 base_ns=[0-9]* sse_ns=[0-9]* hypercall_ns=[0-9]* //p' "$T/cost.$mode")
    check "sse_cost_${mode}_results" [ "$got" = "$(cat "$T/cost.expected")" ]
done
check sse_cost_replay_equals_recording cmp -s "$T/cost.record" "$T/cost.replay"

# A read watch on the compare's operand: on every KVM (the watched page is
# taken out of the guest's memory), each mulsd and comisd reading it is an
# exit whose instruction ukvm completes. gdb stops after every comisd; the
# results still equal the host CPU's.
"$T/cost" 40 >"$T/cost40.expected"
port=$(( 30000 + RANDOM % 20000 ))
"$UKVM" run --gdb=$port "$C" 40 >"$T/cost.gdb.out" 2>"$T/cost.gdb.err" &
pid=$!
sleep 0.3
(cd "$T" && timeout 300 gdb -batch -nx -ex "target remote 127.0.0.1:$port" \
    -ex 'rwatch limit' -ex 'continue' -ex 'x/i $pc' \
    -ex 'ignore 1 1000' -ex 'continue' -ex 'info watchpoints' >"$T/cost.gdb.log" 2>&1)
wait $pid
expect_status sse_cost_rwatch_status 0 $?
got=$(sed -n 's/^sse_cost: n=40 base_ns=[0-9]* sse_ns=[0-9]* hypercall_ns=[0-9]* //p' "$T/cost.gdb.out")
check sse_cost_rwatch_results [ "$got" = "$(cat "$T/cost40.expected")" ]
# the first stop is just after the first comisd (on seta), and gdb saw all 40
check sse_cost_rwatch_stop_after_compare grep -q 'seta' "$T/cost.gdb.log"
check sse_cost_rwatch_every_compare grep -q 'already hit 40 times' "$T/cost.gdb.log"
grep -q 'already hit 40 times' "$T/cost.gdb.log" || sed 's/^/    | /' "$T/cost.gdb.log" | tail -20

# The same in reverse, in a replay: from the stop after the third comisd,
# reverse-continue lands on that comisd, before it ran (as gdb's own record
# full would), and a stepi from there gives the forward stop's state again.
run_capture "$T/cost40.rec" "$T/cost40.rec.err" "$UKVM" record -o "$T/cost40.zst" "$C" 40
expect_status sse_cost_rwatch_record_status 0 $?
if ukvm_gdb_start "$T/cost.rep.err" replay --gdb=0 "$T/cost40.zst"; then
    (cd "$T" && timeout 300 gdb -batch -nx -ex "target remote 127.0.0.1:$PORT" \
        -ex 'rwatch limit' -ex 'continue' -ex 'continue' -ex 'continue' \
        -ex 'printf "FWD %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx\n", $pc, $rax, $rbx, $rcx, $rdx, $rsi, $rdi, $r8, $r9, $r10, $r11, $r12, $r13, $r14, $r15, $eflags, $xmm0.v2_int64[0]' \
        -ex 'reverse-continue' -ex 'x/i $pc' -ex 'stepi' \
        -ex 'printf "BACK %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx %lx\n", $pc, $rax, $rbx, $rcx, $rdx, $rsi, $rdi, $r8, $r9, $r10, $r11, $r12, $r13, $r14, $r15, $eflags, $xmm0.v2_int64[0]' \
        -ex kill >"$T/cost.rev.log" 2>&1)
    ukvm_gdb_stop 5
    fwd=$(sed -n 's/^FWD //p' "$T/cost.rev.log")
    back=$(sed -n 's/^BACK //p' "$T/cost.rev.log")
    check sse_cost_reverse_rwatch_on_comisd grep -q '=> .*comisd' "$T/cost.rev.log"
    check sse_cost_reverse_rwatch_then_stepi [ "${fwd:-none}" = "${back:-missing}" ]
    grep -q '=> .*comisd' "$T/cost.rev.log" || sed 's/^/    | /' "$T/cost.rev.log" | tail -20
else
    fail sse_cost_reverse_server "no port: $(head -c 300 "$T/cost.rep.err")"
fi

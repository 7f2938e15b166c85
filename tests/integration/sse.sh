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

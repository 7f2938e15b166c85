#!/usr/bin/env bash
# Going to a position with plain gdb (no extension): over extended-remote,
# `starti POSITION` (the vRun packet with an argument, as rr's `run N`)
# moves the replay to an event, the end, a relative position or a bookmark,
# and gdb re-reads its registers (a `monitor goto` needs the extension's
# cache flush for that). A bad position fails that one command; a malformed
# vRun packet is answered with an error and the session goes on.
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST
GDB=${GDB:-gdb}
require_kvm gdb_starti || exit 0
if ! command -v "$GDB" >/dev/null; then skip gdb_starti "$GDB is not installed"; exit 0; fi
G=$GUESTS/time.elf

run_capture "$T/rec.out" "$T/rec.err" "$UKVM" record -o "$T/t.trace" --mem=64 "$G"
expect_status "record time" 0 $?
# rip_of N [TRACE]: the rip of event N (of time's trace by default)
rip_of() { "$UKVM_TRACE" dump --from "$1" --count 1 "${2:-$T/t.trace}" | sed -n 's/^#[0-9]* [a-z]* rip=\(0x[0-9a-f]*\).*/\1/p'; }
last=$(( $(sed -n 's/^end: complete, \([0-9]*\) events.*/\1/p' <("$UKVM_TRACE" info "$T/t.trace")) - 1 ))
START=0x$(nm "$G" | awk '$3 == "_start" {sub(/^0+/, "", $1); print $1}')

if ! ukvm_gdb_start "$T/ukvm.err" replay --gdb=0 "$T/t.trace"; then
    fail "start replay --gdb" "$(head -c 300 "$T/ukvm.err")"; exit 0
fi
(cd "$T" && timeout -k 5 120 "$GDB" -batch -nx -ex 'set confirm off' -ex 'set pagination off' \
    -ex "file $G" -ex "target extended-remote 127.0.0.1:$PORT" \
    -ex 'starti 20' -ex 'printf "PC20 %#lx\n", $pc' -ex 'monitor when' \
    -ex 'monitor bookmark here' \
    -ex 'starti end' -ex 'printf "PCEND %#lx\n", $pc' \
    -ex 'starti -3' -ex 'printf "PCREL %#lx\n", $pc' \
    -ex 'starti here' -ex 'printf "PCMARK %#lx\n", $pc' \
    -ex 'starti start' -ex 'printf "PCSTART %#lx\n", $pc' \
    -ex 'starti nosuch' -ex 'printf "AFTER-BAD\n"' \
    -ex 'starti 5' -ex 'printf "PC5 %#lx\n", $pc' \
    -ex 'kill') >"$T/gdb.out" 2>&1 </dev/null
ukvm_gdb_stop

want() { # NAME TAG VALUE
    if grep -qx "$2 $3" "$T/gdb.out"; then pass "$1"; else
        fail "$1" "expected '$2 $3'"; grep -v '^time:' "$T/gdb.out" | tail -n 20 | sed 's/^/    | /'; fi
}
want "starti 20: pc at event 20's instruction" PC20 "$(rip_of 20)"
check "starti 20: the replay is just before event 20" grep -q '^event 20 of .*just before it' "$T/gdb.out"
want "starti end: pc at the final halt" PCEND "$(rip_of "$last")"
want "starti -3: three events back from the end" PCREL "$(rip_of $((last - 3)))"
want "starti BOOKMARK: back at the bookmark" PCMARK "$(rip_of 20)"
want "starti start: pc at _start" PCSTART "$START"
check "starti nosuch: the command fails in gdb" grep -q 'on the remote target failed' "$T/gdb.out"
check "starti nosuch: ukvm says why on stderr, in one line" \
    test "$(grep -c "run nosuch: ukvm: goto: no bookmark 'nosuch'" "$T/ukvm.err")" -ge 1
want "starti 5 after a failed one: the session goes on" PC5 "$(rip_of 5)"

# `ukvm debug --goto` past the end: the replay's one-line refusal and its
# status, at once (gdb is not started on a replay that will never serve)
t0=$(date +%s%N)
TEST_TIMEOUT=30 run_capture "$T/dbg.out" "$T/dbg.err" "$UKVM" debug --goto=99 "$T/t.trace" -batch
st=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "debug --goto=99: non-zero status" test "$st" != 0 -a "$st" != 124
check "debug --goto=99: the replay's one line says where the trace ends" \
    grep -q "^ukvm: --goto=99: goto 99: the trace ends at event $last" "$T/dbg.err"
check "debug --goto=99: no gdb started (answered in ${ms} ms)" test "$(grep -c 'Connection\|timed out' "$T/dbg.err" "$T/dbg.out" | awk -F: '{s += $2} END {print s}')" = 0 -a "$ms" -lt 5000

# a malformed vRun packet (odd hex, a control byte): E01, and '?' still answered
if ! ukvm_gdb_start "$T/ukvm2.err" replay --gdb=0 "$T/t.trace"; then
    fail "start replay --gdb (raw)" "$(head -c 300 "$T/ukvm2.err")"; exit 0
fi
timeout -k 2 20 python3 - "$PORT" "$TOP/tests/lib" >"$T/raw.out" 2>&1 <<'PY'
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[2])
from rsp_client import Client
c = Client(int(sys.argv[1]))
for name, p in (("odd", b"vRun;;323"), ("control", b"vRun;;3209"), ("trailing", b"vRun;;32x0")):
    print(name, c.command(p).decode())
print("query", c.command(b"?").decode()[:3])
c.send(b"$k#6b")
PY
ukvm_gdb_stop
check "vRun with odd hex: E01" grep -qx 'odd E01' "$T/raw.out"
check "vRun with a control byte: E01" grep -qx 'control E01' "$T/raw.out"
check "vRun with bad hex: E01" grep -qx 'trailing E01' "$T/raw.out"
check "after bad vRun packets the session answers '?'" grep -qx 'query T05' "$T/raw.out"

# a monitor goto that takes more than a second says how far it is, once a
# second, on ukvm's stderr; with gdb's reply timeout at 1 s, gdb gives up
# waiting every 3 s ("Ignoring packet error"), sends '-' and waits on: no
# reply may be resent for that '-' (in no-ack mode), or every later reply
# would answer the packet before
# compute's rounds scaled to this KVM's speed: a recording of 3 s or more
record_compute_lasting 3000 "$T/c.trace" "$T/c.out" "$T/c.err"
expect_status "record compute ($COMPUTE_ROUNDS rounds, $COMPUTE_MS ms)" 0 $?
if ! ukvm_gdb_start "$T/ukvm3.err" replay --gdb=0 "$T/c.trace"; then
    fail "start replay --gdb (compute)" "$(head -c 300 "$T/ukvm3.err")"; exit 0
fi
rip0=$(rip_of 0 "$T/c.trace")
(cd "$T" && timeout -k 5 300 "$GDB" -batch -nx -ex 'set remotetimeout 1' -ex "target remote 127.0.0.1:$PORT" \
    -ex 'python import time; t0 = time.time()' -ex 'monitor goto 0' \
    -ex 'python print("GOTO-S %.1f" % (time.time() - t0))' -ex 'echo WHEN2=' -ex 'monitor when' \
    -ex 'maintenance flush register-cache' -ex 'printf "PCG %#lx\n", $pc' -ex kill) >"$T/long.out" 2>&1 </dev/null
ukvm_gdb_stop
secs=$(sed -n 's/^GOTO-S //p' "$T/long.out")
check "a long goto's progress line is on ukvm's stderr ($secs s)" grep -q '^ukvm: goto: event 0 of 2, going to event 0 (1.0 s)' "$T/ukvm3.err"
check "after a long goto with a 1 s reply timeout, when answers in step" grep -q '^WHEN2=event 0 of 2 (0%), just before it' "$T/long.out"
check "... and the registers are event 0's" grep -qx "PCG $rip0" "$T/long.out"

# the same long way by `starti 0` with gdb's reply timeout at 1 s: gdb would
# give up after three timeouts (3 s) were ukvm silent; its keepalive
# notifications hold it until the stop reply
if ! ukvm_gdb_start "$T/ukvm4.err" replay --gdb=0 "$T/c.trace"; then
    fail "start replay --gdb (compute, starti)" "$(head -c 300 "$T/ukvm4.err")"; exit 0
fi
(cd "$T" && timeout -k 5 300 "$GDB" -batch -nx -ex 'set confirm off' -ex "file $GUESTS/compute.elf" \
    -ex 'set remotetimeout 1' -ex "target extended-remote 127.0.0.1:$PORT" \
    -ex 'python import time; t0 = time.time()' -ex 'starti 0' \
    -ex 'python print("STARTI-S %.1f" % (time.time() - t0))' \
    -ex 'printf "PCLONG %#lx\n", $pc' -ex kill) >"$T/long2.out" 2>&1 </dev/null
ukvm_gdb_stop
if grep -qx "PCLONG $rip0" "$T/long2.out"; then
    pass "starti 0 over $(sed -n 's/^STARTI-S //p' "$T/long2.out") s with a 1 s reply timeout: at event 0"
else
    fail "starti 0 over a long way with a 1 s reply timeout" "$(grep -v '^Reading\|^warning' "$T/long2.out" | tail -5 | tr '\n' '|')"
fi
check "... without a packet error" test "$(grep -c 'Ignoring packet error' "$T/long2.out")" = 0

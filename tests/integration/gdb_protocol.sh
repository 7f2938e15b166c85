#!/usr/bin/env bash
# The GDB server against a real gdb, with no KVM: build/unit/test_gdb_session
# --serve PORT --exec ELF serves a fake in-memory target (the ELF's segments
# loaded at 0x100000) and Debian's gdb talks to it in batch mode. This proves
# that gdb accepts the target description, reads the kernel over vFile, and
# that registers, memory, breakpoints, watchpoints, stepping, Ctrl-C, detach
# and kill work end to end.
source "$(dirname "$0")/../lib.sh"

SERVER=$TOP/build/unit/test_gdb_session
T=$TMPDIR_TEST

if ! command -v gdb >/dev/null; then
    skip "gdb protocol" "gdb is not installed"
    exit 0
fi
if [ ! -x "$SERVER" ]; then
    skip "gdb protocol" "$SERVER is not built (make unit-tests)"
    exit 0
fi

# A tiny x86-64 kernel-like ELF with symbols, linked at 0x100000.
cat >"$T/k.S" <<'EOF'
    .text
    .globl _start
_start:
    mov $1, %eax
    nop
    .globl marker
marker:
    add $2, %eax
    hlt
    jmp _start
EOF
ELF=$T/kernel.elf
if ! gcc -nostdlib -static -no-pie -Wl,-Ttext=0x100000 -Wl,--build-id=none \
        -o "$ELF" "$T/k.S" 2>"$T/gcc.err"; then
    skip "gdb protocol" "cannot build the test ELF: $(head -1 "$T/gcc.err")"
    exit 0
fi

# Start the server on a random high port, retrying when it is taken.
SRV_PID=
PORT=
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    try=$((20000 + RANDOM % 40000))
    : >"$T/srv.out"
    GDB_LOG=1 "$SERVER" --serve "$try" --exec "$ELF" >"$T/srv.out" 2>"$T/srv.err" &
    SRV_PID=$!
    for _ in $(seq 50); do
        grep -q '^listening on' "$T/srv.out" && break
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    if grep -q '^listening on' "$T/srv.out"; then PORT=$try; break; fi
    kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null
    SRV_PID=
done
if [ -z "$PORT" ]; then
    fail "gdb server starts" "no free port found ($(head -1 "$T/srv.err"))"
    exit 0
fi
pass "gdb server starts (port $PORT)"
cleanup() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; rm -rf "$TMPDIR_TEST"; }
trap cleanup EXIT

# run_gdb OUT "TIMEOUT-ARGS" GDB-ARGS...: one batch gdb session.
run_gdb() {
    local out=$1 targs=$2; shift 2
    # shellcheck disable=SC2086
    (cd "$T" && timeout -k 5 $targs gdb -batch -nx -iex 'set debuginfod enabled off' \
        -iex 'set confirm off' -ex "target remote 127.0.0.1:$PORT" "$@") >"$out" 2>&1
}

# has NAME FILE REGEX: pass when FILE has a line matching REGEX.
has() {
    if grep -Eq -- "$3" "$2"; then pass "$1"; else fail "$1" "no /$3/ in $(basename "$2"): $(tr '\n' '|' <"$2" | cut -c1-400)"; fi
}

# Session 1: inspection, breakpoints, stepping, watchpoints, detach.
O1=$T/s1.out
run_gdb "$O1" 60 \
    -ex 'info registers rip' \
    -ex 'x/4xb 0x100000' \
    -ex 'info registers cr3' \
    -ex 'info registers efer' \
    -ex 'info registers eflags' \
    -ex 'p/x $fs_base' \
    -ex 'p $xmm1.v4_int32' \
    -ex 'p $st0' \
    -ex 'p/x $mxcsr' \
    -ex 'x/2i $pc' \
    -ex 'break marker' \
    -ex 'continue' \
    -ex 'stepi' \
    -ex 'p/x $pc' \
    -ex 'set $rax = 0x1234' \
    -ex 'p/x $rax' \
    -ex 'set {char}0x100100 = 0x55' \
    -ex 'x/1xb 0x100100' \
    -ex 'hbreak *0x100009' \
    -ex 'continue' \
    -ex 'delete' \
    -ex 'watch *(int*)0x100200' \
    -ex 'continue' \
    -ex 'delete' \
    -ex 'rwatch *(int*)0x100300' \
    -ex 'continue' \
    -ex 'delete' \
    -ex 'detach' -ex 'echo DETACHED-OK\n'
has "gdb reads the kernel over vFile" "$O1" 'Reading symbols from target:'
has "gdb: rip from the target description" "$O1" '^rip +0x100000 +0x100000 <_start>'
has "gdb: memory read" "$O1" '^0x100000 <_start>:[[:space:]]+0xb8[[:space:]]+0x01[[:space:]]+0x00[[:space:]]+0x00'
has "gdb: cr3 by name" "$O1" '^cr3 +0x2000 +8192'
has "gdb: efer by name" "$O1" '^efer +0xd01'
has "gdb: eflags flags type" "$O1" '^eflags +0x202 +\[ IF \]'
has "gdb: fs_base" "$O1" '^\$[0-9]+ = 0x7000$'
has "gdb: xmm vector type" "$O1" '= \{0, 0, 0, 0\}'
has "gdb: mxcsr" "$O1" '^\$[0-9]+ = 0x1f80$'
has "gdb: disassembly of served memory" "$O1" '<_start>:[[:space:]]+mov +\$0x1,%eax'
has "gdb: software breakpoint hit" "$O1" '^Breakpoint 1, 0x0000000000100006 in marker'
has "gdb: stepi" "$O1" '^\$[0-9]+ = 0x100007$'
has "gdb: register write" "$O1" '^\$[0-9]+ = 0x1234$'
has "gdb: memory write" "$O1" '^0x100100:[[:space:]]+0x55'
has "gdb: hardware breakpoint hit" "$O1" '^Breakpoint 2, 0x0000000000100009 in marker'
has "gdb: write watchpoint" "$O1" '^New value = '
has "gdb: read watchpoint" "$O1" '^Value = '
has "gdb: detach" "$O1" '\[Inferior 1 \(Remote target\) detached\]'
sleep 0.3
has "server: session 1 ended detached" "$T/srv.out" '^session ended: detached'

# Session 2: Ctrl-C while the target runs, then kill. gdb runs in the
# background; once the server has logged the resume packet, gdb gets SIGINT
# (as from a terminal) and must send 0x03.
O2=$T/s2.out
resumes_before=$(grep -c '<- vCont;c' "$T/srv.err")
(cd "$T" && exec timeout -k 5 60 gdb -batch -nx -iex 'set debuginfod enabled off' \
    -iex 'set confirm off' -ex "target remote 127.0.0.1:$PORT" \
    -ex 'continue' -ex 'p/x $pc' -ex 'kill') >"$O2" 2>&1 &
GDB_PID=$!
for _ in $(seq 100); do
    [ "$(grep -c '<- vCont;c' "$T/srv.err")" -gt "$resumes_before" ] && break
    sleep 0.1
done
sleep 0.3
pkill -INT -P "$GDB_PID" -x gdb 2>/dev/null || kill -INT "$GDB_PID"
wait "$GDB_PID"
has "gdb: Ctrl-C interrupts a running target" "$O2" 'Program received signal SIGINT'
has "server: the interrupt arrived as 0x03" "$T/srv.err" '<- interrupt \(0x03\)'
has "gdb: kill" "$O2" 'killed'
sleep 0.3
has "server: session 2 ended killed" "$T/srv.out" '^session ended: killed'

# Session 3: the client goes away without detaching; the server notices.
O3=$T/s3.out
run_gdb "$O3" 30 -ex 'p/x $pc' -ex 'disconnect'
has "gdb: third session works" "$O3" '^\$[0-9]+ = 0x10000[0-9a-f]$'
sleep 0.3
has "server: session 3 ended disconnected" "$T/srv.out" '^session ended: disconnected'

# Session 4: the guest exits (the fake exits when continued from 0x10fff0,
# with status rax).
O4=$T/s4.out
run_gdb "$O4" 30 -ex 'set $rax = 3' -ex 'set $pc = 0x10fff0' -ex 'continue'
has "gdb: guest exit reported" "$O4" 'exited with code 03'
sleep 0.3
has "server: session 4 ended with the guest's exit" "$T/srv.out" '^session ended: guest exited'

# Session 5: reverse execution packets (the fake serves can_reverse).
O5=$T/s5.out
run_gdb "$O5" 30 -ex 'set $pc = 0x100008' -ex 'reverse-stepi' -ex 'p/x $pc' \
    -ex 'reverse-continue' -ex 'detach'
has "gdb: reverse-stepi (bs)" "$O5" '^\$[0-9]+ = 0x100007$'
has "gdb: reverse-continue reaches the start (replaylog:begin)" "$O5" 'No more reverse-execution history'

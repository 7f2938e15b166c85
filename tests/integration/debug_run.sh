#!/usr/bin/env bash
# `ukvm debug` starts over with gdb's `run` (issue 20 item 3), as an rr
# session does: gdb is connected in extended mode, so once the guest has
# exited `monitor` still works, gdb shows no thread of the dead guest, and
# `run` replays again from the start, stopping at the same breakpoint hit
# with the same values as the first pass (the oracle). A restart also
# leaves a diversion, `starti` and `starti N` go to the start and to event
# N, gdb never asks whether to start over, and it never says the kernel
# "has disappeared" (it reads a local copy, removed at the end), and the
# extension's ukvm-goto works after the exit too. `--port` picks the port;
# kill, detach and quit at the end all end cleanly.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/common.sh"
GDB=${GDB:-gdb}
require_kvm debug_run || exit 0
command -v "$GDB" >/dev/null || { skip debug_run "$GDB is not installed"; exit 0; }
command -v python3 >/dev/null || { skip debug_run "python3 is not installed"; exit 0; }
GDBT=${GDB_TIMEOUT:-120}
C=$GUESTS/compute.elf
if ! run_capture "$T/rec.out" "$T/rec.err" "$UKVM" record -o "$T/c.trace" "$C"; then
    fail debug_run_record "$(head -c 300 "$T/rec.err")"; exit 0
fi
HALT=$("$UKVM_TRACE" dump "$T/c.trace" | sed -n 's/^#1 halt rip=\(0x[0-9a-f]*\) .*/\1/p')
mkdir -p "$T/tmp" "$T/cwd"
# a port nothing listens on now
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# dbg OUT UKVM-OPTION... -- GDB-ARGS...: ukvm debug in batch mode; sets RC
dbg() {
    local out=$1; shift
    local opts=()
    while [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    (cd "$T/cwd" && TMPDIR=$T/tmp timeout -k 5 "$GDBT" "$UKVM" debug "${opts[@]}" "$T/c.trace" \
        -nx --batch -ex 'set pagination off' "$@") >"$out" 2>&1 </dev/null
    RC=$?
}
has() { grep -Eq -- "$2" "$1"; }
report() { # NAME FILE ERE
    if has "$2" "$3"; then pass "$1"; else
        fail "$1" "no /$3/ in: $(tail -30 "$2" | tr '\n' '|' | head -c 1500)"; fi
}
lacks() { # NAME FILE ERE
    if has "$2" "$3"; then fail "$1" "$(grep -E -m2 -- "$3" "$2" | tr '\n' '|')"; else pass "$1"; fi
}
value() { sed -n "s/^$2 //p" "$1" | head -1; }

# The 40th call of mix(h, v): its arguments on the first pass are the
# oracle for every later pass.
P=$(free_port)
dbg "$T/run.out" --port="$P" -- \
    -ex 'break mix' -ex 'ignore 1 39' -ex continue -ex 'printf "FIRST %u %u\n", h, v' \
    -ex 'disable 1' -ex continue -ex continue -ex 'echo WHEN-EXITED=' -ex 'monitor when' \
    -ex 'info threads' \
    -ex 'enable 1' -ex 'ignore 1 39' -ex run -ex 'printf "SECOND %u %u\n", h, v' \
    -ex 'echo WHEN-RUN=' -ex 'monitor when' \
    -ex 'set var table[0] = 12345' -ex 'echo DIVERSION=' -ex 'monitor diversion' \
    -ex 'ignore 1 39' -ex run -ex 'printf "THIRD %u %u\n", h, v' \
    -ex 'delete' -ex starti -ex 'printf "STARTI %d\n", $pc == _start' \
    -ex 'starti 1' -ex 'printf "STARTI1 %#lx\n", $pc' \
    -ex 'info inferiors' -ex 'printf "BEFORE-KILL\n"' -ex kill
F=$T/run.out
first=$(value "$F" FIRST)
check "first pass: stopped at the 40th call of mix ($first)" test -n "$first"
report "continue at the end: the guest exits" "$F" '^\[Inferior 1 \(Remote target\) exited normally\]'
report "after the exit: monitor answers" "$F" '^WHEN-EXITED=event 2 of 2 \(100%\): the guest has exited'
report "after the exit: gdb sees no thread of the dead guest" "$F" '^No threads\.$'
check "run: the same breakpoint hit with the same values as the first pass" \
    test -n "$first" -a "$(value "$F" SECOND)" = "$first"
report "run: monitor works after the restart" "$F" '^WHEN-RUN=event 0 of 2 \(0%\)'
report "set var diverted the replay" "$F" '^DIVERSION=diverted'
check "run from a diversion: back on the recording, same values" \
    test -n "$first" -a "$(value "$F" THIRD)" = "$first"
report "starti: at _start" "$F" '^STARTI 1$'
report "starti 1: just before event 1 (the halt)" "$F" "^STARTI1 $HALT\$"
report "--port=$P: gdb is connected there, in extended mode" "$F" "extended-remote 127\.0\.0\.1:$P\)"
report "gdb reads the kernel from a local copy" "$F" "extended-remote 127\.0\.0\.1:$P\) $T/tmp/ukvm-debug\.[A-Za-z0-9]+/kernel\.elf"
lacks "no 'has disappeared' on restart" "$F" 'has disappeared'
lacks "gdb never asks (y or n)" "$F" '\(y or n\)'
lacks "no command 'not supported by this target'" "$F" 'not supported by this target'
lacks "gdb does not start a local program" "$F" 'No such file|During startup program exited'
report "kill at the end" "$F" '^\[Inferior 1 \(Remote target\) killed\]'
check "kill at the end: status 0 (got $RC)" test "$RC" = 0
check "the kernel's local copy is removed at the end" test -z "$(ls -A "$T/tmp")"

# the other endings, and --port with its value as the next argument
for end in detach quit continue; do
    dbg "$T/end-$end.out" --port "$(free_port)" -- -ex 'break mix' -ex continue -ex "$end"
    check "ukvm debug --port N, ending with $end: status 0 (got $RC)" test "$RC" = 0
    report "... and the replay ends with gdb" "$T/end-$end.out" 'ukvm: gdb (detached|disconnected); ending the replay'
done
# the extension's ukvm-goto once the guest has exited: gdb sees the place
if "$GDB" -batch -nx -ex 'python print("py-ok")' 2>/dev/null | grep -q py-ok; then
    PUTS=$("$UKVM_TRACE" dump "$T/c.trace" | sed -n 's/^#0 puts rip=\(0x[0-9a-f]*\) .*/\1/p')
    dbg "$T/goto.out" -- -ex continue -ex continue -ex 'ukvm-goto 0' -ex 'printf "GOTO0 %#lx\n", $pc'
    report "ukvm-goto after the exit: gdb is just before event 0" "$T/goto.out" "^GOTO0 $PUTS\$"
else
    skip "ukvm-goto after the exit" "gdb has no python"
fi
check "no ukvm debug process is left" test -z "$(pgrep -f "ukvm debug .*$T/c.trace")"
check "no local kernel copy is left" test -z "$(ls -A "$T/tmp")"

# --port refusals: one line, status 1, before gdb starts
expect_run debug_port_bad 1 "" "--port: 'x' is not a TCP port" "$UKVM" debug --port=x "$T/c.trace"
expect_run debug_port_range 1 "" "--port: '65536' is not a TCP port" "$UKVM" debug --port 65536 "$T/c.trace"
if ukvm_gdb_start "$T/busy.err" replay --gdb=0 "$T/c.trace"; then
    TMPDIR=$T/tmp expect_run debug_port_busy 1 "" "cannot listen on 127\.0\.0\.1:$PORT" \
        "$UKVM" debug --port="$PORT" "$T/c.trace"
    ukvm_gdb_stop 0
else
    fail debug_port_busy "could not start a replay to hold a port: $(head -c 300 "$T/busy.err")"
fi
check "a refused --port leaves no local kernel copy" test -z "$(ls -A "$T/tmp")"

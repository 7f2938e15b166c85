#!/usr/bin/env bash
# gdb's `gcore` on a ukvm guest, live (`ukvm run --gdb`) and replayed
# (`ukvm replay --gdb`), through the gdb extension (tools/gdb/ukvm.py, whose
# `gcore` switches to a description with orig_rax for its length): stopped
# in give_up() of the dumpcore guest, a few calls deep, the core read by a
# fresh gdb shows the backtrace, rip, rsp and the global the live session
# showed (the live session is the oracle). A replay's core at one moment is
# the same file whichever way the replay got there (forward, back with
# reverse-stepi, from the start again). Plain gdb still cannot (its error
# comes before any packet); the extension adds nothing to what a session
# prints at connect, and `info registers` keeps fs_base and gs_base, before
# and after a gcore. GDB_GCORE_KEEP=1 keeps the outputs in build/gcore-keep.
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST
require_kvm gcore || exit 0
if ! command -v gdb >/dev/null; then skip gcore "gdb is not installed"; exit 0; fi
if ! gdb -batch -nx -ex 'python print("py-ok")' 2>/dev/null | grep -q py-ok; then
    skip gcore "gdb has no python"; exit 0
fi
G=$GUESTS/dumpcore.elf
EXT=$TOP/tools/gdb/ukvm.py
GDB_TIMEOUT=${GDB_TIMEOUT:-120}
UKVM_PID=""
finish() {
    ukvm_gdb_stop 0
    if [ -n "${GDB_GCORE_KEEP:-}" ]; then
        rm -rf "$TOP/build/gcore-keep"; cp -r "$T" "$TOP/build/gcore-keep"
    fi
    rm -rf "$T"
}
trap finish EXIT

# gdb_on NAME [-x]: gdb in batch mode on the ukvm at $PORT (with the
# extension when -x), running the commands on stdin; stdout to $T/NAME.out,
# stderr to $T/NAME.err.
gdb_on() {
    local name=$1 src=() cmds
    [ "${2:-}" = -x ] && src=(-ex "source $EXT")
    cmds=$T/$name.gdb
    cat >"$cmds"
    timeout -k 5 "$GDB_TIMEOUT" gdb -batch -nx "${src[@]}" "$G" \
        -ex "target remote 127.0.0.1:$PORT" -x "$cmds" >"$T/$name.out" 2>"$T/$name.err" </dev/null
}

# part NAME FILE: the lines of FILE after "==NAME" up to the next "==" line
part() { awk -v m="==$1" '$0 == m { on = 1; next } /^==/ { on = 0 } on' "$2"; }
# reg NAME FILE: the value of a register in `info registers` output
reg() { awk -v r="$1" '$1 == r { print $2; exit }' "$2"; }
# frames FILE: the function of each backtrace line, in order
frames() { sed -nE 's/^#[0-9]+ +(0x[0-9a-f]+ in )?([A-Za-z_0-9]+) \(.*/\2/p' "$1" | paste -sd' '; }
# noise FILE: gdb's warnings and remote file reads (not the debug log)
noise() { grep -E 'warning|Reading .* from remote target' "$1" | grep -v '^\[remote\]'; }

start_live() {
    ukvm_gdb_start "$T/ukvm.$1" run --gdb=0 "$G" ||
        { fail "gcore_$1_start" "no gdb port: $(head -c 300 "$T/ukvm.$1")"; return 1; }
}

STOP='break give_up
continue
'
SHOW='echo ==BT\n
bt
echo ==REGS\n
info registers
echo ==TOKEN\n
print/x dumpcore_token
echo ==END\n
'

# ---- plain gdb: gcore fails before it sends a packet
if start_live plain; then
    gdb_on plain <<EOF
$STOP$SHOW
set debug remote 1
gcore $T/plain.core
set debug remote 0
kill
EOF
    ukvm_gdb_stop
    check gcore_plain_says_cannot grep -q "Can't create a corefile" "$T/plain.err"
    check gcore_plain_no_packet sh -c "! sed -n '/gcore/,\$p' '$T/plain.err' | grep -q 'Sending packet'"
    check gcore_plain_no_file test ! -e "$T/plain.core"
fi

# ---- the extension, live: the core is what the session showed
if start_live live; then
    gdb_on live -x <<EOF
$STOP$SHOW
up
set debug remote 1
gcore $T/live.core
set debug remote 0
echo ==FRAME\n
frame
down
echo ==AFTER\n
info registers
echo ==AFTERBT\n
bt
echo ==END\n
kill
EOF
    ukvm_gdb_stop
    check gcore_live_saved grep -q "^Saved corefile $T/live.core" "$T/live.out"
    check gcore_live_elf_core sh -c "readelf -h '$T/live.core' | grep -q 'CORE (Core file)'"
    # nothing new at connect, nor from the gcore: same stderr as plain gdb
    # (outside its gcore error and debug log), no warning at all
    noise "$T/live.err" >"$T/live.noise"
    check gcore_live_no_noise test ! -s "$T/live.noise"
    rest() { grep -v -e '^\[remote\]' -e "Can't create a corefile" -e 'Error in sourced command' "$1"; }
    rest "$T/plain.err" >"$T/plain.rest"
    rest "$T/live.err" >"$T/live.rest"
    check gcore_live_stderr_as_plain cmp -s "$T/plain.rest" "$T/live.rest"
    # what gdb asked while it wrote the core: registers, memory, no file
    check gcore_live_packets_regs grep -q 'Sending packet: \$p41#' "$T/live.err"
    check gcore_live_packets_mem grep -q 'Sending packet: \$m' "$T/live.err"
    part REGS "$T/live.out" >"$T/live.regs"
    part AFTER "$T/live.out" >"$T/live.after"
    part REGS "$T/plain.out" >"$T/plain.regs"
    check gcore_regs_as_plain_gdb test "$(awk '{print $1}' "$T/live.regs")" = \
        "$(awk '{print $1}' "$T/plain.regs")"
    check gcore_regs_fs_gs_base sh -c "grep -q '^fs_base ' '$T/live.regs' && grep -q '^gs_base ' '$T/live.regs'"
    check gcore_regs_after_same cmp -s "$T/live.regs" "$T/live.after"
    part BT "$T/live.out" >"$T/live.bt"
    part AFTERBT "$T/live.out" >"$T/live.afterbt"
    check gcore_bt_after_same cmp -s "$T/live.bt" "$T/live.afterbt"
    part FRAME "$T/live.out" >"$T/live.frame"
    check gcore_frame_kept grep -q '^#1 ' "$T/live.frame"
    check gcore_live_bt_depth test "$(frames "$T/live.bt")" = "give_up depth depth depth main"

    # a fresh gdb on the core
    # (a core's `info registers` leaves out fs_base and gs_base: ask for them)
    gdb -batch -nx "$G" "$T/live.core" -ex 'echo ==BT\n' -ex bt -ex 'echo ==REGS\n' \
        -ex 'info registers' -ex 'info registers fs_base gs_base' -ex 'echo ==TOKEN\n' \
        -ex 'print/x dumpcore_token' -ex 'echo ==END\n' >"$T/core.out" 2>"$T/core.err"
    part BT "$T/core.out" >"$T/core.bt"
    part REGS "$T/core.out" >"$T/core.regs"
    check gcore_core_bt test "$(frames "$T/core.bt")" = "$(frames "$T/live.bt")"
    for r in rip rsp rbp rdi eflags fs_base gs_base; do
        v=$(reg $r "$T/live.regs")
        check "gcore_core_$r" test -n "$v" -a "$(reg $r "$T/core.regs")" = "$v"
    done
    # the text as in the kernel file: no breakpoint byte of the session
    taddr=$(readelf -SW "$G" | awk '{ for (i = 1; i < NF; i++) if ($i == ".text") { print $(i + 2); exit } }')
    read -r toff tsize < <(readelf -lW "$T/live.core" |
        awk -v a="0x$taddr" '$1 == "LOAD" && $3 == a { print $2, $5 }')
    objcopy -O binary --only-section=.text "$G" "$T/kernel.text"
    dd if="$T/live.core" of="$T/core.text" bs=1 skip=$((toff)) count=$((tsize)) status=none
    check gcore_core_text_as_kernel cmp -s "$T/kernel.text" "$T/core.text"
    tok=$(part TOKEN "$T/live.out" | sed -n 's/^\$[0-9]* = //p')
    check gcore_core_global test -n "$tok" -a \
        "$(part TOKEN "$T/core.out" | sed -n 's/^\$[0-9]* = //p')" = "$tok"
fi

# ---- the extension, replay: one core per moment, whatever the path
if ! run_capture "$T/rec.out" "$T/rec.err" "$UKVM" record -o "$T/d.trace" "$G" &&
        [ ! -s "$T/d.trace" ]; then
    fail gcore_record "$(head -c 300 "$T/rec.err")"; exit 0
fi
if ukvm_gdb_start "$T/ukvm.rep" replay --gdb=0 --once "$T/d.trace"; then
    gdb_on rep -x <<EOF
$STOP$SHOW
gcore $T/rep1.core
stepi 2
reverse-stepi 2
gcore $T/rep2.core
monitor goto start
continue
gcore $T/rep3.core
kill
EOF
    ukvm_gdb_stop
    check gcore_replay_saved test -f "$T/rep1.core" -a -f "$T/rep2.core" -a -f "$T/rep3.core"
    check gcore_replay_same_after_reverse cmp -s "$T/rep1.core" "$T/rep2.core"
    check gcore_replay_same_from_start cmp -s "$T/rep1.core" "$T/rep3.core"
    noise "$T/rep.err" >"$T/rep.noise"
    check gcore_replay_no_noise test ! -s "$T/rep.noise"
    gdb -batch -nx "$G" "$T/rep1.core" -ex 'echo ==BT\n' -ex bt -ex 'echo ==REGS\n' \
        -ex 'info registers' -ex 'echo ==TOKEN\n' -ex 'print/x dumpcore_token' \
        -ex 'echo ==END\n' >"$T/repcore.out" 2>"$T/repcore.err"
    part BT "$T/rep.out" >"$T/rep.bt"
    part REGS "$T/rep.out" >"$T/rep.regs"
    part REGS "$T/repcore.out" >"$T/repcore.regs"
    part BT "$T/repcore.out" >"$T/repcore.bt"
    check gcore_replay_bt_depth test "$(frames "$T/rep.bt")" = "give_up depth depth depth main"
    check gcore_replay_core_bt test "$(frames "$T/repcore.bt")" = "$(frames "$T/rep.bt")"
    for r in rip rsp; do
        v=$(reg $r "$T/rep.regs")
        check "gcore_replay_core_$r" test -n "$v" -a "$(reg $r "$T/repcore.regs")" = "$v"
    done
    tok=$(part TOKEN "$T/rep.out" | sed -n 's/^\$[0-9]* = //p')
    check gcore_replay_core_global test -n "$tok" -a \
        "$(part TOKEN "$T/repcore.out" | sed -n 's/^\$[0-9]* = //p')" = "$tok"
    # ukvm debug (extended-remote, the extension loaded by ukvm): the same core
    (cd "$T" && timeout -k 5 "$GDB_TIMEOUT" "$UKVM" debug "$T/d.trace" -nx --batch \
        -ex 'break give_up' -ex continue -ex "gcore $T/dbg.core") >"$T/dbg.out" 2>"$T/dbg.err" </dev/null
    check gcore_debug_same_core cmp -s "$T/rep1.core" "$T/dbg.core"
else
    fail gcore_replay_start "no gdb port: $(head -c 300 "$T/ukvm.rep")"
fi

#!/usr/bin/env bash
# Debian's lldb against `ukvm replay --gdb` (issue 10 item 7): `gdb-remote
# PORT`, registers, memory, a breakpoint by name, continue to it (three
# times), variables and a backtrace, and lldb's kill ending the replay. On
# a recording of `condloop.elf 5` (visit(i) for i = 0..4).
#
# lldb 14 (Debian 12's) has no reverse-execution commands: no
# reverse-continue, no reverse step. Its raw packets reach the replay all
# the same: `process plugin packet send bc` runs it backwards and
# `process plugin packet monitor goto start` moves it (qRcmd), but lldb
# keeps showing its cached registers until its next stop (here a
# `thread step-inst`, which then starts from the replay's real position).
# Those are checked too. What lldb needs beyond gdb's packets (qHostInfo,
# qOffsets): src/rsp/gdb_lldb.c.
. "$(dirname "$0")/../lib.sh"
require_kvm lldb || exit 0
command -v lldb >/dev/null || { skip lldb "lldb is not installed"; exit 0; }
W=$TMPDIR_TEST
G=$GUESTS/condloop.elf
if ! run_capture "$W/rec.out" "$W/rec.err" "$UKVM" record -o "$W/t.trace" "$G" 5; then
    fail lldb_record "$(head -c 300 "$W/rec.err")"; exit 0
fi
ENTRY=$(readelf -h "$G" | sed -n 's/.*Entry point address: *0x\([0-9a-f]*\).*/\1/p')
VISIT=$(nm "$G" | sed -n 's/^0*\([0-9a-f]*\) T visit$/\1/p')
# the four bytes at the entry point, from the ELF (as "0xfc 0x48 ...")
BYTES=$(objdump -d --start-address=0x$ENTRY --stop-address=$((0x$ENTRY + 4)) "$G" |
        sed -n 's/^ *[0-9a-f]*:\t\(\([0-9a-f][0-9a-f] \)*\).*/\1/p' | tr -s ' \n' ' ' |
        sed 's/\([0-9a-f][0-9a-f]\)/0x\1/g; s/ *$//')
if [ -z "$ENTRY" ] || [ -z "$VISIT" ] || [ -z "$BYTES" ]; then
    fail lldb_setup "entry '$ENTRY', visit '$VISIT', bytes '$BYTES' not found"; exit 0
fi
if ! ukvm_gdb_start "$W/u.err" replay --gdb=0 "$W/t.trace"; then
    fail lldb_server "$(tail -3 "$W/u.err")"; ukvm_gdb_stop; exit 0
fi
cat >"$W/cmds" <<EOF
gdb-remote 127.0.0.1:$PORT
register read rip
memory read --format x --size 1 --count 4 0x$ENTRY
breakpoint set --name visit
continue
continue
continue
frame variable i
register read rdi
p visited
memory read --format x --size 8 --count 1 &visited
bt
process plugin packet send bc
process plugin packet monitor goto start
thread step-inst
register read rip
EOF
# lldb quits at the end of the file (-b), killing the process: the replay ends
timeout -k 5 60 lldb -b -s "$W/cmds" "$G" >"$W/out" 2>&1 </dev/null
RC=$?
ukvm_gdb_stop
# cmd_out CMD: what lldb printed for the command line CMD (up to the next)
cmd_out() { awk -v c="(lldb) $1" '$0 == c { on = 1; next } /^\(lldb\) / { on = 0 } on' "$W/out"; }
expect() { # NAME CMD ERE
    if cmd_out "$2" | grep -Eq -- "$3"; then pass "$1"; else
        fail "$1" "no /$3/ after '$2': $(cmd_out "$2" | head -8 | tr '\n' '|' | head -c 600)"; fi
}
expect_status lldb_batch 0 "$RC" "$(tail -5 "$W/out" | tr '\n' '|')"
expect lldb_connect "gdb-remote 127.0.0.1:$PORT" "stop reason = signal SIGTRAP"
expect lldb_connect_pc "gdb-remote 127.0.0.1:$PORT" "frame #0: 0x0*$ENTRY condloop.elf\`_start"
expect lldb_register "register read rip" "rip = 0x0*$ENTRY .*_start"
expect lldb_memory "memory read --format x --size 1 --count 4 0x$ENTRY" "^0x0*$ENTRY: $BYTES\$"
expect lldb_break_set "breakpoint set --name visit" "Breakpoint 1: where = condloop.elf\`visit .*address = 0x0*$VISIT\$"
# the third continue stops in visit(2): visited = 0 + 1 so far
expect lldb_break_hit "frame variable i" "^\(int\) i = 2\$"
expect lldb_rdi "register read rdi" "rdi = 0x0*2\$"
expect lldb_expr "p visited" "= 1\$"
expect lldb_memory_var "memory read --format x --size 8 --count 1 &visited" ": 0x0*1\$"
expect lldb_bt "bt" "frame #1: .*condloop.elf\`main"
# bc from visit(2) stops at visit(1): the stop reply carries rip (LE hex)
RIP_HEX=$(printf '%016x' "0x$VISIT" | sed 's/\(..\)/\1 /g' | awk '{for (i = NF; i; i--) printf "%s", $i}')
expect lldb_raw_reverse "process plugin packet send bc" "response: T05.*10:$RIP_HEX;"
expect lldb_raw_monitor "process plugin packet monitor goto start" "at the start of the trace"
expect lldb_step_after_goto "register read rip" "rip = 0x0*$(printf '%x' $((0x$ENTRY + 1))) "
if grep -q "guest killed from gdb" "$W/u.err"; then pass lldb_kill; else
    fail lldb_kill "ukvm did not report the kill: $(tail -3 "$W/u.err" | tr '\n' '|')"; fi

#!/usr/bin/env bash
# A replay driven through gdb/MI (issue 10 item 7), the way VS Code's C/C++
# extension (cppdbg, MIMode gdb, miDebuggerServerAddress) drives gdb: mi-async
# on, its setupCommands through -interpreter-exec console (the ukvm extension
# loaded), -file-exec-and-symbols, -target-select remote, then breakpoints,
# -exec-continue, the reverse commands, and the queries its panes make at a
# stop (threads, frames, variables, memory). On a recording of
# `condloop.elf 5` (visit(i) for i = 0..4). Every command's records are kept
# apart and checked: *stopped reason, frame func/addr, values.
. "$(dirname "$0")/../lib.sh"
require_kvm gdb_mi || exit 0
command -v gdb >/dev/null || { skip gdb_mi "gdb is not installed"; exit 0; }
W=$TMPDIR_TEST
G=$GUESTS/condloop.elf
if ! run_capture "$W/rec.out" "$W/rec.err" "$UKVM" record -o "$W/t.trace" "$G" 5; then
    fail gdb_mi_record "$(head -c 300 "$W/rec.err")"; exit 0
fi
ENTRY=$(readelf -h "$G" | sed -n 's/.*Entry point address: *0x\([0-9a-f]*\).*/\1/p')
VISIT=$(nm "$G" | sed -n 's/^0*\([0-9a-f]*\) T visit$/\1/p')
CALL=$(objdump -d "$G" | sed -n 's/^ *\([0-9a-f]*\):.*call .*<visit>$/\1/p' | head -1)
if [ -z "$ENTRY" ] || [ -z "$VISIT" ] || [ -z "$CALL" ]; then
    fail gdb_mi_setup "entry '$ENTRY', visit '$VISIT', call '$CALL' not found"; exit 0
fi
if ! ukvm_gdb_start "$W/u.err" replay --gdb=0 "$W/t.trace"; then
    fail gdb_mi_server "$(tail -3 "$W/u.err")"; ukvm_gdb_stop; exit 0
fi
coproc MI { exec timeout -k 5 60 gdb -nx -q -i=mi 2>&1; }
N=0
# mi CMD: sends CMD with token N+1 and keeps gdb's records in $W/r.N up to
# its result record; when that is ^running, on to the next *stopped.
mi() {
    local line run=0
    N=$((N + 1))
    : >"$W/r.$N"
    printf '%s%s\n' "$N" "$1" >&"${MI[1]}" 2>/dev/null || return 1
    while IFS= read -r -t 30 line <&"${MI[0]}"; do
        line=${line%$'\r'}
        printf '%s\n' "$line" >>"$W/r.$N"
        case $line in
        "$N^running"*) run=1 ;;
        "$N^"*) return 0 ;;
        "*stopped"*) [ $run = 1 ] && return 0 ;;
        esac
    done
    echo "(no answer)" >>"$W/r.$N"; return 1
}
# expect NAME ERE...: each ERE is in the records of the last command
expect() {
    local name=$1 re; shift
    for re in "$@"; do
        if ! grep -Eq -- "$re" "$W/r.$N"; then
            fail "$name" "no /$re/ in: $(grep -v '^(gdb)' "$W/r.$N" | head -6 | tr '\n' '|' | head -c 700)"
            return
        fi
    done
    pass "$name"
}
HIT='^\*stopped,reason="breakpoint-hit",.*frame=\{addr="0x0*'$VISIT'",func="visit",args=\[\{name="i",value='

# what cppdbg sends first: mi-async, the setupCommands, the program, the server
mi '-gdb-set mi-async on'; expect mi_async '^1\^done'
mi "-interpreter-exec console \"source $TOP/tools/gdb/ukvm.py\""; expect mi_setup_source '\^done'
mi "-file-exec-and-symbols $G"; expect mi_file '\^done'
mi "-target-select remote 127.0.0.1:$PORT"
expect mi_connect '\^connected' '^\*stopped,frame=\{addr="0x0*'$ENTRY'",func="_start"'
mi '-list-target-features'; expect mi_target_features '\^done,features=\[.*"reverse"'
mi '-break-insert -f visit'
expect mi_break_insert '\^done,bkpt=\{number="1",type="breakpoint",.*addr="0x0*'$VISIT'",func="visit"'
mi '-exec-continue'; expect mi_continue "$HIT"'"0"'
mi '-data-evaluate-expression i'; expect mi_eval_i0 '\^done,value="0"'
mi '-exec-continue'; expect mi_continue_2 "$HIT"'"1"'
mi '-exec-continue'; expect mi_continue_3 "$HIT"'"2"'
mi '-data-evaluate-expression "i * 10 + visited"'; expect mi_eval_expr '\^done,value="21"'
# the panes of a front end at a stop
mi '-thread-info'; expect mi_thread_info '\^done,threads=\[\{id="1",.*func="visit"' 'current-thread-id="1"'
mi '-stack-list-frames'
expect mi_frames '\^done,stack=\[frame=\{level="0",addr="0x0*'$VISIT'",func="visit"' 'frame=\{level="1",addr="0x[0-9a-f]*",func="main"'
mi '-stack-list-variables --simple-values'; expect mi_variables '\^done,variables=\[\{name="i",arg="1",type="int",value="2"\}'
mi '-var-create - * visited'; expect mi_var_create '\^done,name="var1",numchild="0",value="1",type="volatile uint64_t"'
mi '-data-read-memory-bytes &visited 8'; expect mi_memory '\^done,memory=\[\{begin="0x[0-9a-f]*",offset="0x0+",end="0x[0-9a-f]*",contents="0100000000000000"\}'
mi '-data-list-register-values x 5'; expect mi_register '\^done,register-values=\[\{number="5",value="0x2"\}'
# backwards
mi '-exec-continue --reverse'; expect mi_reverse_continue "$HIT"'"1"'
mi '-data-evaluate-expression i'; expect mi_reverse_eval '\^done,value="1"'
mi '-var-update 1 var1'; expect mi_var_update '\^done,changelist=\[\{name="var1",value="0",in_scope="true"'
mi '-exec-step-instruction --reverse'
expect mi_reverse_stepi '^\*stopped,reason="end-stepping-range",frame=\{addr="0x0*'$CALL'",func="main"'
# (a step onto a breakpoint's address is that breakpoint's hit, for gdb)
mi '-exec-step-instruction'; expect mi_stepi "$HIT"'"1"'
mi '-exec-next --reverse'
expect mi_reverse_next '^\*stopped,reason="end-stepping-range",frame=\{addr="0x[0-9a-f]*",func="main"'
# ukvm's commands as a VS Code user types them in the debug console
mi '-interpreter-exec console "monitor when"'; expect mi_monitor '^@"event [0-9]+ of [0-9]+' '\^done'
mi '-interpreter-exec console "ukvm-when"'; expect mi_extension '"event [0-9]+ of [0-9]+' '\^done'
mi '-exec-continue --reverse'; expect mi_reverse_continue_2 "$HIT"'"0"'
# the ends of the recording: gdb 13 gives that *stopped no reason= field,
# only the console line (and the frame)
NOHIST='^~"\\nNo more reverse-execution history\.'
mi '-exec-continue --reverse'
expect mi_reverse_start "$NOHIST" '^\*stopped,frame=\{addr="0x0*'$ENTRY'",func="_start"'
mi '-break-delete 1'; expect mi_break_delete '\^done'
mi '-exec-continue'; expect mi_to_end "$NOHIST" '^\*stopped,frame=\{addr="0x[0-9a-f]*",func="hvt_hypercall"'
mi '-exec-continue'; expect mi_exit '^\*stopped,reason="exited-normally"'
mi '-gdb-exit'; expect mi_gdb_exit '\^exit'
wait "$MI_PID" 2>/dev/null
ukvm_gdb_stop
if grep -q "^condloop: 5 calls, sum 10" "$W/u.err.out"; then pass mi_replay_output; else
    fail mi_replay_output "the replay did not print its line: $(tail -3 "$W/u.err.out" | tr '\n' '|')"; fi

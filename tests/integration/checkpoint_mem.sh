#!/usr/bin/env bash
# --checkpoint-mem is kept during a long `continue`, not only when it ends
# (issue 9 item 8), and the checkpoints kept still serve reverse execution.
#   dirty: a guest that writes 8 MiB of pages over and over (20 rounds:
#          160 MiB of page copies if every checkpoint were kept); continuing over
#          the whole recording under a 16 MiB budget keeps the replay's peak
#          resident size within the budget (plus a fixed slack), checkpoints
#          are dropped while it runs (pushed=, dropped= of UKVM_REPLAY_STATS),
#          and reverse-continue back to a breakpoint at the start, then
#          forward to the end again, still land where they must.
#   spin:  a guest that only computes: its checkpoints hold no pages, but
#          their fixed cost counts, so they are thinned too; reverse-stepi at
#          the end answers, and reverse-continue reaches the start.
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST
GDB=${GDB:-gdb}
require_kvm checkpoint_mem || exit 0
for tool in "$GDB" nm; do
    command -v "$tool" >/dev/null || { skip checkpoint_mem "$tool is not installed"; exit 0; }
done
G=$GUESTS/ckpt_dirty.elf
[ -e "$G" ] || { skip checkpoint_mem "$G is not built (run make)"; exit 0; }
UKVM_PID=
cleanup() { [ -n "$UKVM_PID" ] && kill -9 "$UKVM_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

sym() { printf '0x%s' "$(nm "$G" | awk -v s="$1" '$3 == s {print $1; exit}')"; }
MARK_START=$(sym mark_start)
MARK_END=$(sym mark_end)

# session NAME BUDGET_MB TRACE: runs $T/NAME.gdb against a fresh replay
# server; the script can read the server's /proc status via $UKVM_PID.
session() {
    local name=$1 budget=$2 trace=$3
    if ! UKVM_REPLAY_STATS=1 ukvm_gdb_start "$T/$name.err" replay --gdb=0 \
            --checkpoint-mem="$budget" "$trace"; then
        fail "checkpoint_mem_${name}_server" "no port: $(head -c 300 "$T/$name.err")"
        return 1
    fi
    export UKVM_PID
    timeout -k 5 300 "$GDB" -nx -batch -ex "target remote 127.0.0.1:$PORT" -x "$T/$name.gdb" \
        >"$T/$name.gdbout" 2>&1
    ukvm_gdb_stop 0
}
hwm_kib() { # FILE TAG: the VmHWM printed after "TAG"
    awk -v t="$2" '$0 ~ "^" t { on = 1; next } on && /^VmHWM:/ { print $2; exit }' "$1"
}
stat_field() { # FILE FIELD: FIELD= of the last stats line
    grep 'ukvm: stats:' "$1" | tail -1 | sed -n "s/.* $2=\([0-9]*\).*/\1/p"
}

# ---- dirty: 20 rounds over 8 MiB: unbounded, over a hundred MiB of checkpoints
ROUNDS=20
if ! run_capture "$T/dirty.rec.out" "$T/dirty.rec.err" "$UKVM" record -o "$T/dirty.trace" "$G" dirty $ROUNDS 2048; then
    fail checkpoint_mem_dirty_record "$(head -c 300 "$T/dirty.rec.err")"; exit 0
fi
BUDGET=16
cat >"$T/dirty.gdb" <<GDB
shell echo before-continue; grep VmHWM /proc/\$UKVM_PID/status
break *$MARK_END
continue
shell echo after-continue; grep VmHWM /proc/\$UKVM_PID/status
print/x \$pc
print rounds_done
delete
break *$MARK_START
reverse-continue
print/x \$pc
print rounds_done
delete
break *$MARK_END
continue
print/x \$pc
print rounds_done
GDB
session dirty "$BUDGET" "$T/dirty.trace" || exit 0
before=$(hwm_kib "$T/dirty.gdbout" before-continue)
after=$(hwm_kib "$T/dirty.gdbout" after-continue)
if [ -z "$before" ] || [ -z "$after" ]; then
    fail checkpoint_mem_dirty_rss "no VmHWM read: $(head -c 400 "$T/dirty.gdbout")"
else
    grew=$(( (after - before) / 1024 ))
    echo "    dirty: peak RSS before continue $((before / 1024)) MiB, after $((after / 1024)) MiB (+$grew MiB, budget $BUDGET MiB)"
    # the budget, the guest's own 8 MiB it writes, and slack for the page
    # copies in flight at one push or merge and the trace reader's buffers
    # (without the bound: hundreds of MiB)
    check checkpoint_mem_dirty_rss_bounded [ "$grew" -le $((BUDGET + 8 + 24)) ]
fi
pushed=$(stat_field "$T/dirty.err" pushed)
dropped=$(stat_field "$T/dirty.err" dropped)
bytes=$(grep 'ukvm: stats: op=continue' "$T/dirty.err" | head -1 | sed -n 's/.* checkpoint_bytes=\([0-9]*\).*/\1/p')
echo "    dirty: checkpoints pushed $pushed, dropped $dropped, held after the continue ${bytes:-?} bytes"
check checkpoint_mem_dirty_thinned [ "${dropped:-0}" -gt 0 ]
check checkpoint_mem_dirty_within_budget [ "${bytes:-999999999999}" -le $((BUDGET << 20)) ]
check checkpoint_mem_dirty_says_thinning grep -q 'thinning old checkpoints' "$T/dirty.err"
# three stops: at mark_end ($ROUNDS rounds), back at mark_start (0), mark_end again
pcs=$(grep -E '^\$[0-9]+ = 0x' "$T/dirty.gdbout" | awk '{print $3}' | tr '\n' ' ')
rounds=$(grep -E '^\$[0-9]+ = [0-9]+$' "$T/dirty.gdbout" | awk '{print $3}' | tr '\n' ' ')
expect="$(printf '0x%x' "$MARK_END") $(printf '0x%x' "$MARK_START") $(printf '0x%x' "$MARK_END") "
if [ "$pcs" = "$expect" ] && [ "$rounds" = "$ROUNDS 0 $ROUNDS " ]; then
    pass checkpoint_mem_dirty_reverse_and_forward
else
    fail checkpoint_mem_dirty_reverse_and_forward "pcs '$pcs' (want '$expect'), rounds '$rounds' (want '$ROUNDS 0 $ROUNDS '): $(grep -m3 -iE 'error|warning|ukvm' "$T/dirty.gdbout" "$T/dirty.err" | head -c 400)"
fi

# ---- spin: checkpoints with no pages still cost memory
if ! run_capture "$T/spin.rec.out" "$T/spin.rec.err" "$UKVM" record -o "$T/spin.trace" "$G" spinms 300; then
    fail checkpoint_mem_spin_record "$(head -c 300 "$T/spin.rec.err")"; exit 0
fi
cat >"$T/spin.gdb" <<GDB
break *$MARK_END
continue
print/x \$pc
stepi
stepi
reverse-stepi
reverse-stepi
print/x \$pc
delete
break *$MARK_START
reverse-continue
print/x \$pc
print rounds_done
GDB
# The boot checkpoint holds about 2 MiB: a 3 MiB budget leaves room for
# very few others.
# 300 ms of spinning with a checkpoint every 500 us: about 600 checkpoints
# of about 6 KiB each (3.5 MiB), on any KVM.
UKVM_TICK_US=500 session spin 3 "$T/spin.trace" || exit 0
dropped=$(stat_field "$T/spin.err" dropped)
echo "    spin: checkpoints pushed $(stat_field "$T/spin.err" pushed), dropped $dropped"
check checkpoint_mem_spin_thinned [ "${dropped:-0}" -gt 0 ]
pcs=$(grep -E '^\$[0-9]+ = 0x' "$T/spin.gdbout" | awk '{print $3}' | tr '\n' ' ')
rounds=$(grep -E '^\$[0-9]+ = [0-9]+$' "$T/spin.gdbout" | awk '{print $3}' | tr '\n' ' ')
expect="$(printf '0x%x' "$MARK_END") $(printf '0x%x' "$MARK_END") $(printf '0x%x' "$MARK_START") "
if [ "$pcs" = "$expect" ] && [ "$rounds" = "0 " ]; then
    pass checkpoint_mem_spin_reverse
else
    fail checkpoint_mem_spin_reverse "pcs '$pcs' (want '$expect'), rounds '$rounds': $(grep -m3 -iE 'error|ukvm' "$T/spin.gdbout" "$T/spin.err" | head -c 400)"
fi
rc=$(grep "op=reverse-continue " "$T/spin.err" | sed -n "s/.* runs=\([0-9]*\).*/\1/p" | tail -1)
echo "    spin: reverse-continue to the start took ${rc:-?} KVM runs"
rs=$(grep 'op=reverse-step ' "$T/spin.err" | sed -n 's/.* total_ns=\([0-9]*\).*/\1/p' | sort -n | tail -1)
echo "    spin: slowest reverse-stepi at the end took $(( ${rs:-0} / 1000000 )) ms"

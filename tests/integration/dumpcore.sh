#!/usr/bin/env bash
# --dumpcore: a guest that aborts leaves an ELF core gdb can read (registers
# at the abort site, globals), the exit status is the one without the
# option, the core's name is one line on stderr; a fatal trap's frame (halt
# cookie) and a fault the monitor stops write one too; a replay's core equals
# the recording's outside the NT_PRPSINFO note (docs/dumpcore.md); SIGTERM
# writes one; a bad directory is refused in one line before the guest runs.
. "$(dirname "$0")/../lib.sh"
require_kvm dumpcore || exit 0
if ! command -v gdb >/dev/null; then skip dumpcore "gdb is not installed"; exit 0; fi

T=$TMPDIR_TEST
G=$GUESTS/dumpcore.elf

# core_of ERRFILE: the file named by the one "guest core written to" line
core_of() { sed -n 's/^ukvm: guest core written to //p' "$1"; }

# ---- run: status, one stderr line, gdb's reading of the core
mkdir -p "$T/run"
run_capture "$T/plain.out" "$T/plain.err" "$UKVM" run "$G"
plain=$?
run_capture "$T/run.out" "$T/run.err" "$UKVM" run --dumpcore="$T/run" "$G"
expect_status dc_run_status "$plain" $?
check dc_run_status_is_abort test "$plain" = 255
check dc_run_one_line one_line "$T/run.err"
core=$(core_of "$T/run.err")
check dc_run_core_named test -n "$core"
check dc_run_core_exists test -f "$core"
check dc_run_core_pid_name test "$(basename "$core")" = "$(ls "$T/run")"
check dc_run_elf_core sh -c "readelf -h '$core' | grep -q 'CORE (Core file)'"

token=$(sed -n 's/^dumpcore: token=//p' "$T/run.out")
gdb -batch -nx "$G" "$core" -ex bt -ex 'info registers rip' -ex 'print/x dumpcore_token' \
    >"$T/gdb.out" 2>&1
rip=$(awk '$1 == "rip" { print $2 }' "$T/gdb.out")
read -r lo hi < <(nm -n "$G" | awk '$3 == "hc_halt" { f = 1; print "0x" $1; next }
    f { print "0x" $1; exit }' | paste -sd' ')
check dc_gdb_signal grep -q 'terminated with signal SIGABRT' "$T/gdb.out"
check dc_gdb_rip_in_hc_halt test -n "$rip" -a $((rip)) -ge $((lo)) -a $((rip)) -lt $((hi))
check dc_gdb_rip_is_out test "$(objdump -d --start-address=$((rip)) --stop-address=$((rip + 1)) "$G" |
    grep -c 'out ')" = 1
check dc_gdb_bt_give_up grep -q ' give_up () ' "$T/gdb.out"
check dc_gdb_bt_depth grep -q 'depth (n=n@entry=2' "$T/gdb.out"
check dc_gdb_bt_main grep -q ' main (' "$T/gdb.out"
check dc_gdb_global test -n "$token" -a "$(sed -n 's/^\$1 = //p' "$T/gdb.out")" = "$token"

# ---- the bundled abort guest: same status, bt down to main
mkdir -p "$T/abort"
run_capture "$T/abort.out" "$T/abort.err" "$UKVM" run --dumpcore="$T/abort" "$GUESTS/abort.elf"
expect_status dc_abort_status 255 $?
check dc_abort_one_line one_line "$T/abort.err"
gdb -batch -nx "$GUESTS/abort.elf" "$(core_of "$T/abort.err")" -ex bt -ex 'info registers rip' \
    >"$T/gdb_abort.out" 2>&1
check dc_abort_bt_main grep -q ' main (' "$T/gdb_abort.out"
check dc_abort_rip_hc_halt grep -Eq '^rip .*<hc_halt\+[0-9]+>' "$T/gdb_abort.out"

# ---- record and replay: the same core outside the header region
mkdir -p "$T/rec" "$T/rep"
run_capture "$T/rec.out" "$T/rec.err" "$UKVM" record -o "$T/t.trace" --dumpcore="$T/rec" "$G"
expect_status dc_record_status 255 $?
run_capture "$T/rep.out" "$T/rep.err" "$UKVM" replay --dumpcore="$T/rep" "$T/t.trace"
expect_status dc_replay_status 255 $?
rec=$(core_of "$T/rec.err"); rep=$(core_of "$T/rep.err")
check dc_record_one_line one_line "$T/rec.err"
check dc_replay_one_line one_line "$T/rep.err"
# The NT_PRPSINFO descriptor: 20 bytes into the PT_NOTE segment, 136 long.
noff=$(readelf -lW "$rec" | awk '$1 == "NOTE" { print $2 }')
lo=$((noff + 20)); hi=$((noff + 20 + 136))
cmp -l "$rec" "$rep" >"$T/cmp.out"
outside=$(awk -v lo=$lo -v hi=$hi '$1 - 1 < lo || $1 - 1 >= hi' "$T/cmp.out" | wc -l)
check dc_record_replay_same_body test -n "$noff" -a "$outside" = 0
check dc_record_replay_same_size test "$(stat -c %s "$rec")" = "$(stat -c %s "$rep")"
gdb -batch -nx "$G" "$rep" -ex 'info registers rip' >"$T/gdb_rep.out" 2>&1
check dc_replay_rip_same test "$(awk '$1 == "rip" { print $2 }' "$T/gdb_rep.out")" = "$rip"
# the trace says where the halt was
"$UKVM_TRACE" dump "$T/t.trace" >"$T/dump.out" 2>&1
check dc_rip_is_recorded_halt grep -Eq "halt rip=$rip " "$T/dump.out"

# ---- a trap frame as halt's cookie: rip and rsp from it
mkdir -p "$T/trap"
run_capture "$T/trap.out" "$T/trap.err" "$UKVM" run --dumpcore="$T/trap" "$G" trap
expect_status dc_trap_status 255 $?
gdb -batch -nx "$G" "$(core_of "$T/trap.err")" -ex 'info registers rip' >"$T/gdb_trap.out" 2>&1
check dc_trap_rip grep -q '<trap_site>' "$T/gdb_trap.out"

# ---- a fault the monitor stops the guest for: status 1 and a core
mkdir -p "$T/fault"
run_capture "$T/fault.out" "$T/fault.err" "$UKVM" run --dumpcore="$T/fault" "$G" fault
expect_status dc_fault_status 1 $?
check dc_fault_core test -f "$(core_of "$T/fault.err")"
gdb -batch -nx "$G" "$(core_of "$T/fault.err")" -ex bt >"$T/gdb_fault.out" 2>&1
check dc_fault_bt grep -q 'depth (n=n@entry=0' "$T/gdb_fault.out"
check dc_fault_signal grep -q 'signal SIGSEGV' "$T/gdb_fault.out"

# ---- a signal that stops ukvm: status 128+15 and a core saying SIGTERM
mkdir -p "$T/sig"
"$UKVM" run --dumpcore="$T/sig" "$GUESTS/loop.elf" >"$T/sig.out" 2>"$T/sig.err" &
pid=$!
for _ in $(seq 100); do [ -s "$T/sig.out" ] && break; sleep 0.05; done
kill -TERM "$pid"
wait "$pid"
expect_status dc_signal_status 143 $?
sigcore=$(core_of "$T/sig.err")
check dc_signal_core test -n "$sigcore" -a -f "$sigcore"
gdb -batch -nx "$GUESTS/loop.elf" "$sigcore" -ex bt >"$T/gdb_sig.out" 2>&1
check dc_signal_gdb grep -q 'terminated with signal SIGTERM' "$T/gdb_sig.out"
check dc_signal_bt_main grep -q ' main (' "$T/gdb_sig.out"

# ---- a guest that exits normally: no core
mkdir -p "$T/ok"
run_capture "$T/ok.out" "$T/ok.err" "$UKVM" run --dumpcore="$T/ok" "$GUESTS/hello.elf"
expect_status dc_ok_status 0 $?
check dc_ok_no_core test -z "$(ls "$T/ok")"

# ---- a bad directory: one line, status 1, the guest never runs
run_capture "$T/bad.out" "$T/bad.err" "$UKVM" run --dumpcore="$T/nonexistent" "$G"
expect_status dc_bad_dir_status 1 $?
check dc_bad_dir_one_line one_line "$T/bad.err"
check dc_bad_dir_says grep -q -- "--dumpcore: cannot write core files in '$T/nonexistent'" "$T/bad.err"
check dc_bad_dir_no_run test ! -s "$T/bad.out"
run_capture "$T/gdbo.out" "$T/gdbo.err" "$UKVM" run --gdb=0 --dumpcore "$G"
expect_status dc_with_gdb_refused 1 $?
check dc_with_gdb_one_line one_line "$T/gdbo.err"

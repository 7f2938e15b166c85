#!/usr/bin/env bash
# x87/SSE instructions on a page a debugger watches: every KVM gives up
# emulating them and the monitor completes them (src/monitor/fpu_exec.c).
# What the guest's CPU would do must happen, never a signal in the monitor:
#   ldmxcsr of reserved MXCSR bits: #GP(0) in the guest (without an IDT the
#     monitor says so in one line and exits 1; with a handler, it runs);
#   movsd / fstp into a write-watched variable: the watchpoint fires, with
#     the stored value, and the run goes on;
#   movsd into the kernel's own text: a host/guest translation fault
#     (exit 1), as for any store there.
# (A store into a page the guest maps read-only never reaches the monitor
# here: the CPU's own page walk raises #PF first. The unit tests cover it.)
source "$(dirname "$0")/../lib.sh"
require_kvm fpu_hostile || exit 0
T=$TMPDIR_TEST
G=$GUESTS/fpu_hostile.elf

session() { # NAME WATCH-COMMAND GUEST-ARG: gdb's output in $T/NAME.log, ukvm's status in $T/NAME.rc
    local name=$1 watch=$2 arg=$3 port pid
    for try in 1 2 3 4 5; do
        port=$(( 20000 + RANDOM % 30000 ))
        "$UKVM" run --gdb=$port "$G" "$arg" >"$T/$name.out" 2>"$T/$name.err" &
        pid=$!
        sleep 0.3
        kill -0 $pid 2>/dev/null && break
    done
    (cd "$T" && timeout 120 gdb -batch -nx -ex "target remote 127.0.0.1:$port" \
        -ex "$watch" -ex 'continue' -ex 'continue' >"$T/$name.log" 2>&1)
    wait $pid
    echo $? >"$T/$name.rc"
}

one_line_err() { # NAME REGEX: besides the gdb server's own lines, ukvm's stderr is one line matching REGEX
    local e
    e=$(grep -v -e '^ukvm: waiting for gdb' -e '^ukvm: gdb ' "$T/$1.err")
    [ "$(printf '%s' "$e" | grep -c .)" = 1 ] && printf '%s' "$e" | grep -Eq "$2" && return 0
    echo "# $1: ukvm's stderr: $(head -c 400 "$T/$1.err" | tr '\n' '|')"
    echo "# $1: gdb: $(grep -v '^$' "$T/$1.log" | tail -5 | tr '\n' '|')"
    return 1
}

session ldmxcsr 'rwatch mx' ldmxcsr
check fpu_hostile_ldmxcsr_exit_1 grep -qx 1 "$T/ldmxcsr.rc"
check fpu_hostile_ldmxcsr_gp_named one_line_err ldmxcsr '^ukvm: guest fault at rip 0x[0-9a-f]+: #GP\(0\): ldmxcsr loads reserved MXCSR bits'
check fpu_hostile_ldmxcsr_not_loaded bash -c "! grep -q 'went through' '$T/ldmxcsr.out'"

session ldmxcsr_idt 'rwatch mx' ldmxcsr-idt
check fpu_hostile_ldmxcsr_idt_handler_ran grep -q '^fpu_hostile: #GP error code 0 at the ldmxcsr$' "$T/ldmxcsr_idt.out"
check fpu_hostile_ldmxcsr_idt_exit_3 grep -qx 3 "$T/ldmxcsr_idt.rc"

for insn in movsd fstp; do
    session $insn 'watch out' $insn
    check fpu_hostile_${insn}_watch_fires grep -q '^New value = 2.5$' "$T/$insn.log"
    check fpu_hostile_${insn}_exit_0 grep -qx 0 "$T/$insn.rc"
    check fpu_hostile_${insn}_stored grep -q "^fpu_hostile: $insn stored 25/10$" "$T/$insn.out"
done

session text 'watch *(double *)&target' text
check fpu_hostile_text_exit_1 grep -qx 1 "$T/text.rc"
check fpu_hostile_text_translation_fault one_line_err text '^ukvm: host/guest translation fault: guest wrote to protected memory'
check fpu_hostile_text_not_stored bash -c "! grep -q 'went through' '$T/text.out'"


#!/usr/bin/env bash
# Real gdb (batch mode) against `ukvm run --gdb` and `ukvm replay --gdb` on
# /dev/kvm. Every check runs in both modes (the mode is the first argument of
# each check_* function); each gdb session gets a fresh ukvm on a random port,
# and gdb runs from an empty directory, so it must fetch the kernel and its
# symbols from the server. A session checks as much as one guest run allows
# (each session costs a ukvm and a gdb start-up, seconds in an emulated VM).
#
# Checks: symbols with no local file; breakpoints by name, backtrace, locals
# and globals; stepi flow against the disassembly, `stepi 5` vs five stepi's,
# nexti over a call, stepping over a hypercall (`out`) and over a patched
# rdtsc; registers (general, segment, fs/gs_base, control) and memory;
# writing a global; hardware breakpoints (four, a fifth refused); watch,
# rwatch, awatch, and a 64-byte watch; tbreak, until, advance, finish; kill,
# detach, disconnect; interrupting a running guest (gdb and raw 0x03); a
# second client turned away; malformed packets; listening on 127.0.0.1 only.
#
# Helpers: gdb/stepcheck.py (gdb python commands), tests/lib/rsp_client.py (a raw
# protocol client). Environment: GDB_TIMEOUT (seconds per gdb session,
# default 40); GDB_KVM_CHECKS / GDB_KVM_MODES (a subset of the check names
# and modes, for debugging); GDB_KVM_KEEP=1 keeps the outputs.
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST
HELPERS=$(cd "$(dirname "$0")/gdb" && pwd)
GDB=${GDB:-gdb}
GDB_TIMEOUT=${GDB_TIMEOUT:-40}
GDBCWD=$T/gdbcwd                 # empty: no local kernel for gdb to find
mkdir -p "$GDBCWD"

UKVM_PID=""
UKVM_RC=""
PORT=""

cleanup() {
    if [ -n "$UKVM_PID" ]; then
        kill -9 "$UKVM_PID" 2>/dev/null
        wait "$UKVM_PID" 2>/dev/null
        UKVM_PID=""
    fi
    if [ -n "${GDB_KVM_KEEP:-}" ]; then echo "gdb_kvm: outputs kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- prerequisites
require_kvm "gdb_kvm" || exit 0
for need in "$UKVM" "$GUESTS/compute.elf" "$GUESTS/loop.elf"; do
    if [ ! -e "$need" ]; then skip "gdb_kvm" "$need is not built (run make)"; exit 0; fi
done
if ! command -v "$GDB" >/dev/null; then skip "gdb_kvm" "gdb is not installed"; exit 0; fi
if ! command -v python3 >/dev/null; then skip "gdb_kvm" "python3 is not installed"; exit 0; fi
if ! "$GDB" -batch -nx -ex 'python print("py-ok")' 2>/dev/null | grep -q py-ok; then
    skip "gdb_kvm" "gdb has no python"; exit 0
fi

# The traces replayed in replay mode (recorded once).
if ! run_capture "$T/rec.out" "$T/rec.err" "$UKVM" record -o "$T/compute.trace" "$GUESTS/compute.elf"; then
    fail "gdb_kvm: record compute" "$(head -c 300 "$T/rec.err")"
    exit 0
fi
COMPUTE_LINE=$(grep '^compute: ' "$T/rec.out")
# loop: about 2 s of replay here; gdb interrupts it after a quarter of the
# time the recording took (replay runs at about the recording's speed)
t0=$(date +%s%N)
if ! run_capture "$T/rec.out" "$T/rec.err" "$UKVM" record -o "$T/loop.trace" "$GUESTS/loop.elf" 60000; then
    fail "gdb_kvm: record loop" "$(head -c 300 "$T/rec.err")"
    exit 0
fi
INTR_DELAY=$(awk -v ns=$(( $(date +%s%N) - t0 )) 'BEGIN { d = ns / 4e9; if (d < 0.1) d = 0.1; if (d > 1) d = 1; printf "%.2f", d }')

# Expected values computed independently of ukvm.
read -r TABLE0 TABLE1 TABLE_BYTES < <(python3 -c '
x = 0x12345678
out = []
for i in range(4):
    x ^= (x << 13) & 0xffffffff; x ^= x >> 17; x ^= (x << 5) & 0xffffffff
    out.append(x)
print(out[0], out[1], " ".join("0x%02x" % b for v in out for b in v.to_bytes(4, "little")))')
COUNTER_ADDR=$(printf '0x%x' "0x$(nm "$GUESTS/compute.elf" | awk '$3 == "counter" {print $1}')")
read -r RDTSC_PREV RDTSC_ADDR < <(objdump -d "$GUESTS/loop.elf" 2>/dev/null |
    awk -F: '/^ +[0-9a-f]+:\t/ { a = $1; gsub(/ /, "", a); if ($0 ~ /\trdtsc *$/) { print "0x" prev, "0x" a; exit } prev = a }')

# Source lines in compute.c: main's call of fib, and of bump_counter.
FIB_LINE=$(grep -n 'uint64_t f = fib(' "$TOP/tests/guests/compute.c" | cut -d: -f1)
BUMP_LINE=$(grep -n 'uint64_t c = bump_counter(' "$TOP/tests/guests/compute.c" | cut -d: -f1)
AFTER_BUMP_LINE=$((BUMP_LINE + 1))

# The address of the instruction after the first one in compute.elf's FUNC
# whose disassembly matches ERE (elf_insn ... next): a data watchpoint reports
# its stop right after the accessing instruction, as x86 debug registers do.
COUNTER_STORE_NEXT=$(elf_insn "$GUESTS/compute.elf" bump_counter 'mov +%rax,.*<counter>' next)
COUNTER_LOAD_NEXT=$(elf_insn "$GUESTS/compute.elf" bump_counter 'mov +0x[0-9a-f]+\\(%rip\\),%rax.*<counter>' next)
TABLE_STORE_NEXT=$(elf_insn "$GUESTS/compute.elf" fill_table 'mov +%e[a-z]+,\\(%r[a-z0-9]+\\)' next)

# ------------------------------------------------------------------ helpers
show() { sed -n '1,60p' "$1" | sed 's/^/    | /'; }

# start_ukvm MODE GUEST: a fresh ukvm (MODE run or replay) serving gdb on a
# random port; GUEST compute or loop (run: the ELF; replay: its trace).
start_ukvm() {
    local mode=$1 guest=$2 target try i
    if [ "$mode" = run ]; then target=$GUESTS/$guest.elf; else target=$T/$guest.trace; fi
    for try in 1 2 3 4 5 6 7 8; do
        PORT=$((${UKVM_TEST_PORT_BASE:-40000} + RANDOM % ${UKVM_TEST_PORT_SPAN:-20000}))
        "$UKVM" "$mode" --gdb="$PORT" "$target" >"$T/ukvm.out" 2>"$T/ukvm.err" &
        UKVM_PID=$!
        for i in $(seq 100); do
            if grep -Eq "waiting for gdb on 127.0.0.1:$PORT; connect with: gdb( -ex 'source [^']*')? -ex 'target remote 127.0.0.1:$PORT'" "$T/ukvm.err"; then
                return 0
            fi
            proc_alive "$UKVM_PID" || break
            sleep 0.05
        done
        reap_ukvm 1
        # the port was taken: try another; anything else is a failure
        grep -q 'Address already in use' "$T/ukvm.err" || break
    done
    fail "[$mode] start ukvm --gdb" "could not start: $(head -c 300 "$T/ukvm.err")"
    return 1
}

# gdb_session OUT GDB-ARGS...: runs gdb in batch mode, connected to $PORT.
gdb_session() {
    local out=$1; shift
    (cd "$GDBCWD" && timeout -k 5 "$GDB_TIMEOUT" "$GDB" -batch -nx \
        -ex 'set pagination off' -ex 'set confirm off' -ex 'set width 0' \
        -ex "source $HELPERS/stepcheck.py" \
        -ex "target remote 127.0.0.1:$PORT" "$@") >"$out" 2>&1 </dev/null
    GDB_RC=$?
    if [ "$GDB_RC" = 124 ] || [ "$GDB_RC" = 137 ]; then
        echo "(gdb timed out after ${GDB_TIMEOUT}s)" >>"$out"
    fi
}

# expect NAME FILE ERE: a line of FILE matches ERE.
expect() {
    if grep -Eq -- "$3" "$2"; then pass "$1"; else
        fail "$1" "no line matching /$3/ in the output"; show "$2"; fi
}
# expect_not NAME FILE ERE
expect_not() {
    if ! grep -Eq -- "$3" "$2"; then pass "$1"; else
        fail "$1" "unexpected line matching /$3/: $(grep -E -m1 -- "$3" "$2")"; fi
}
# expect_seq NAME FILE ERE...: lines matching each ERE appear in this order.
expect_seq() {
    local name=$1 file=$2; shift 2
    if awk -v n=$# 'BEGIN { for (i = 1; i < ARGC; i++) p[i] = ARGV[i]; ARGC = 1; k = 1 }
                    k <= n && $0 ~ p[k] { k++ }
                    END { exit k <= n }' "$@" <"$file"; then
        pass "$name"
    else
        fail "$name" "lines matching $(printf '/%s/ ' "$@")not found in this order"; show "$file"
    fi
}
# ukvm_status NAME WANT: ukvm's exit status (after waiting for it).
ukvm_status() {
    reap_ukvm "${3:-10}"
    if [ "$UKVM_RC" = "$2" ]; then pass "$1"; else
        fail "$1" "ukvm exit status $UKVM_RC, expected $2 (stderr: $(tr '\n' ' ' <"$T/ukvm.err" | head -c 300))"
    fi
}
# ukvm_killed M: the session ended with gdb's kill (silent when fine).
ukvm_killed() {
    reap_ukvm 10
    if [ "$UKVM_RC" != 1 ] || ! grep -q 'guest killed from gdb' "$T/ukvm.err"; then
        fail "[$1] ukvm ends after kill" "exit status $UKVM_RC (stderr: $(tr '\n' ' ' <"$T/ukvm.err" | head -c 300))"
    fi
}

# ------------------------------------------------------------------ checks
# symbols with no local file, then kill at a breakpoint (before any console output)
check_symbols() {
    local M=$1 o=$T/$1.symbols
    start_ukvm "$M" compute || return
    gdb_session "$o" -ex 'info functions mix' -ex 'break mix' -ex 'info line fib' -ex 'p &counter' \
        -ex continue -ex kill -ex 'info inferiors'
    expect "[$M] gdb reads the kernel from the target" "$o" '^Reading symbols from target:'
    expect "[$M] stopped before the first instruction (_start)" "$o" '^_start \(\) at tests/guests/rt/start\.S'
    expect "[$M] info functions mix: tests/guests/compute.c" "$o" '^File tests/guests/compute\.c:'
    expect "[$M] info functions mix: the prototype" "$o" 'uint32_t mix\(uint32_t, uint32_t\);'
    expect "[$M] break mix resolves to compute.c" "$o" '^Breakpoint 1 at 0x[0-9a-f]+: file tests/guests/compute\.c, line [0-9]+\.'
    expect "[$M] p &counter" "$o" "^\\\$1 = \\(volatile uint64_t \\*\\) $COUNTER_ADDR <counter>\$"
    expect "[$M] kill: inferior killed" "$o" '^\[Inferior 1 \(Remote target\) killed\]$'
    ukvm_status "[$M] kill: ukvm exits with status 1" 1
    expect "[$M] kill: 'guest killed from gdb'" "$T/ukvm.err" '^ukvm: guest killed from gdb$'
    expect_not "[$M] kill: no console output" "$T/ukvm.out" '^compute: '
}

# breakpoints, backtrace, locals and globals; at hash_table the registers and
# memory, then `stepi 5` (compared with check_stepi's five stepi's); then
# writing a global (set var) and, last, a register
check_break() {
    local M=$1 o=$T/$1.break r
    start_ukvm "$M" compute || return
    gdb_session "$o" -ex 'break fib' -ex continue -ex bt -ex 'p n' -ex 'p counter' -ex 'p result' \
        -ex continue -ex 'p n' -ex continue -ex 'p n' -ex 'info breakpoints' \
        -ex 'delete' -ex 'break hash_table' -ex continue -ex 'p table[0]' -ex 'p/x table[1]' \
        -ex 'p table[63] != 0' -ex 'bt' \
        -ex 'info registers' -ex 'info registers cr3' \
        -ex 'p $cr0' -ex 'p/x $cr0' -ex 'x/16xb &table' -ex 'p $sp' -ex 'p/x $cs' -ex 'info registers xmm0' \
        -ex 'stepi 5' -ex 'ukvm-pc' -ex 'x/i $pc' -ex 'delete' \
        -ex 'break bump_counter' -ex continue -ex 'p counter' -ex 'set var counter = 1000' \
        -ex 'p counter' -ex 'break checksum' -ex continue -ex 'p counter' -ex 'info args' \
        -ex 'set $r13 = 0x1122334455667788' -ex 'p/x $r13' -ex kill
    expect "[$M] break fib: Breakpoint 1, fib (n=16)" "$o" '^Breakpoint 1, fib \(n=n@entry=16\) at tests/guests/compute\.c:[0-9]+'
    expect "[$M] backtrace shows main" "$o" '^#1  0x[0-9a-f]+ in main \(.*\) at tests/guests/compute\.c:'"$FIB_LINE"
    expect "[$M] p n = 16" "$o" '^\$1 = 16$'
    expect "[$M] p counter = 0" "$o" '^\$2 = 0$'
    expect "[$M] p result = 0" "$o" '^\$3 = 0$'
    expect_seq "[$M] breakpoint hit again: fib(15), fib(14)" "$o" \
        '^Breakpoint 1, fib \(n=n@entry=15\)' '^\$4 = 15$' '^Breakpoint 1, fib \(n=n@entry=14\)' '^\$5 = 14$'
    expect "[$M] info breakpoints: hit 3 times" "$o" 'breakpoint already hit 3 times'
    expect "[$M] break hash_table after fill_table" "$o" '^Breakpoint 2, hash_table \(\) at tests/guests/compute\.c'
    expect "[$M] p table[0] = $TABLE0" "$o" "^\\\$6 = $TABLE0\$"
    expect "[$M] p/x table[1]" "$o" "^\\\$7 = $(printf '0x%x' "$TABLE1")\$"
    expect "[$M] p table[63] != 0" "$o" '^\$8 = 1$'

    for r in rax rbx rcx rdx rsi rdi rbp rsp r8 r15 rip eflags cs ss ds es fs gs fs_base gs_base; do
        expect "[$M] info registers: $r" "$o" "^$r +(0x[0-9a-f]+|\\[)"
    done
    expect "[$M] info registers: rip is in hash_table" "$o" '^rip +0x[0-9a-f]+ +0x[0-9a-f]+ <hash_table>'
    expect "[$M] info registers cr3 = 0x2000" "$o" '^cr3 +0x2000 +8192$'
    expect "[$M] p \$cr0" "$o" '^\$9 = [0-9]+$'
    local cr0
    cr0=$(sed -n 's/^\$10 = \(0x[0-9a-f]*\)$/\1/p' "$o")
    if [ -n "$cr0" ] && (( (cr0 & 0x80000001) == 0x80000001 )); then pass "[$M] cr0 has PG and PE ($cr0)"; else
        fail "[$M] cr0 has PG and PE" "p/x \$cr0 gave '$cr0'"; fi
    local b
    b=($TABLE_BYTES)
    expect "[$M] x/16xb &table (first row)" "$o" "^0x[0-9a-f]+ <table>:$(printf '\t%s' "${b[@]:0:8}")\$"
    expect "[$M] x/16xb &table (second row)" "$o" "^0x[0-9a-f]+ <table\+8>:$(printf '\t%s' "${b[@]:8:8}")\$"
    expect "[$M] p/x \$cs = 0x8" "$o" '^\$12 = 0x8$'
    expect "[$M] info registers xmm0" "$o" '^xmm0 +\{'

    # stepi 5 from hash_table's entry: where check_stepi's five stepi's went
    if [ -s "$T/$M.stepi" ]; then
        local want got
        want=$(awk '/^PCS / {print $NF}' "$T/$M.stepi")
        got=$(awk '/^PC / {print $2}' "$o")
        if [ -n "$want" ] && [ "$want" = "$got" ]; then pass "[$M] stepi 5 lands where five stepi's do ($got)"; else
            fail "[$M] stepi 5 lands where five stepi's do" "stepi 5 -> '$got', five stepi -> '$want'"; show "$o"; fi
    fi

    expect "[$M] break bump_counter" "$o" '^Breakpoint 3, bump_counter \(n=n@entry=20000\)'
    expect_seq "[$M] set var counter = 1000 reads back" "$o" '^\$13 = 0$' '^\$14 = 1000$'
    expect "[$M] break checksum after bump_counter" "$o" '^Breakpoint 4, checksum \('
    expect "[$M] p counter = 21000 after set var 1000 + 20000 increments" "$o" '^\$15 = 21000$'
    expect "[$M] checksum's argument d = 21000" "$o" '^d = 21000$'
    expect "[$M] set \$r13 and read it back" "$o" '^\$16 = 0x1122334455667788$'
    ukvm_killed "$M"
}

check_stepi() {
    local M=$1 o=$T/$1.stepi
    start_ukvm "$M" compute || return
    gdb_session "$o" -ex 'break hash_table' -ex continue -ex 'ukvm-pcs 5' -ex 'ukvm-stepcheck 60' \
        -ex 'ukvm-nexti-call 40' -ex 'nexti' -ex 'ukvm-pc' -ex 'x/i $pc' -ex kill
    expect "[$M] stepi: 5 single steps" "$o" '^PCS( 0x[0-9a-f]+){5}$'
    expect "[$M] stepi: 60 steps follow the disassembly (incl. call mix, jne, ret)" "$o" '^STEPCHECK OK 60$'
    expect_not "[$M] stepi: no step off the instruction flow" "$o" 'STEPCHECK BAD'
    expect "[$M] stepi: the steps include a call" "$o" '^STEP [0-9]+ 0x[0-9a-f]+ call '
    expect "[$M] stepi: the steps include a ret" "$o" '^STEP [0-9]+ 0x[0-9a-f]+ ret'
    expect "[$M] nexti steps over a call" "$o" '^NEXTI call at 0x[0-9a-f]+ len [0-9]+ -> 0x[0-9a-f]+ OK$'
    ukvm_killed "$M"
    grep -E '^STEP ' "$o" | awk '{print $3}' >"$T/$M.steppcs"
}

check_step_hypercall() {
    local M=$1 o
    if [ -n "$RDTSC_ADDR" ] && [ -n "$RDTSC_PREV" ]; then
        # loop: `call hc_walltime; mov %rax,%rcx; rdtsc; ...`; ukvm patches
        # the rdtsc into a trap (its result is recorded / replayed); then a
        # software breakpoint on it (and one just after it, so that a missed
        # one cannot hang the session) in the next iteration
        o=$T/$M.steprdtsc
        start_ukvm "$M" loop || return
        gdb_session "$o" -ex "break *$RDTSC_PREV" -ex continue -ex "x/i $RDTSC_ADDR" -ex 'ukvm-stepcheck 3' \
            -ex delete -ex "break *$RDTSC_ADDR" -ex "break *($RDTSC_ADDR + 2)" -ex continue -ex 'ukvm-pc' -ex kill
        expect "[$M] stepi over a rdtsc (patched site) lands on the next instruction" "$o" '^STEPCHECK OK 3$'
        expect "[$M] stepi went through the rdtsc" "$o" "^STEP [0-9]+ $RDTSC_ADDR rdtsc"
        expect "[$M] x/i shows the rdtsc unpatched" "$o" "^ +$RDTSC_ADDR <main\\+[0-9]+>:[[:space:]]+rdtsc\$"
        expect "[$M] software breakpoint on a rdtsc (patched site) is hit" "$o" "^PC $RDTSC_ADDR\$"
        ukvm_killed "$M"
    fi
}

check_hbreak() {
    local M=$1 o=$T/$1.hbreak
    if [ -z "${DR_FIRES:-}" ]; then
        DR_FIRES=no; kvm_can dr-exec-breakpoint && DR_FIRES=yes
    fi
    if [ "$DR_FIRES" != yes ]; then
        skip "[$M] hardware breakpoints" "this KVM's debug-register breakpoints never fire ($("$TOP/tools/kvm-probe" --check dr-exec-breakpoint 2>&1 | head -1))"
        return
    fi
    # four hardware breakpoints and a fifth refused; at hash_table (mix's
    # first call comes next) two of them freed for `hbreak mix`, hit twice
    start_ukvm "$M" compute || return
    gdb_session "$o" -ex 'hbreak count_primes' -ex 'hbreak fill_table' -ex 'hbreak hash_table' \
        -ex 'hbreak checksum' -ex 'hbreak bump_counter' -ex continue -ex 'echo AFTER-FIFTH\n' \
        -ex 'delete 5' -ex continue -ex continue -ex continue -ex 'delete 2 3' \
        -ex 'hbreak mix' -ex continue -ex 'p/x h' -ex continue -ex 'p/x h' -ex 'bt 2' -ex 'delete 6' \
        -ex continue -ex kill
    expect "[$M] a fifth hardware breakpoint is refused" "$o" \
        'Could not insert hardware breakpoint 5|You may have requested too many hardware breakpoints'
    expect_seq "[$M] four hardware breakpoints all hit" "$o" 'AFTER-FIFTH' \
        '^(Hardware assisted b|B)reakpoint 1, count_primes \(' '^(Hardware assisted b|B)reakpoint 2, fill_table \(' \
        '^(Hardware assisted b|B)reakpoint 3, hash_table \(' '^(Hardware assisted b|B)reakpoint 4, checksum \('
    expect "[$M] hbreak mix" "$o" '^Hardware assisted breakpoint 6 at 0x[0-9a-f]+: file tests/guests/compute\.c'
    expect_seq "[$M] hbreak mix hit twice (first h = 0x811c9dc5)" "$o" \
        '^(Hardware assisted b|B)reakpoint 6, mix \(' '^\$1 = 0x811c9dc5$' \
        '^(Hardware assisted b|B)reakpoint 6, mix \(' '^\$2 = 0x[0-9a-f]+$'
    expect "[$M] bt from mix shows hash_table" "$o" '^#1  0x[0-9a-f]+ in hash_table \(\)'
    ukvm_killed "$M"
}

check_watch() {
    local M=$1 o=$T/$1.watch
    start_ukvm "$M" compute || return
    # a 64-byte watch on table (fill_table's first writes), a watch on
    # table[40]; then, from there, `watch counter`: fill_table's remaining
    # writes to table[] (same page) must not stop
    gdb_session "$o" -ex 'watch -location *(uint32_t (*)[16])&table[0]' -ex continue -ex 'ukvm-pc' -ex 'bt 1' \
        -ex continue -ex 'watch -location table[40]' -ex 'delete 1' -ex continue -ex 'p table[40]' -ex 'delete' \
        -ex 'echo WATCH-COUNTER\n' -ex 'watch counter' -ex continue -ex 'ukvm-pc' -ex 'bt 2' -ex continue -ex 'ukvm-pc' \
        -ex 'p counter' -ex 'p table[0]' -ex kill
    expect "[$M] watch on 64 bytes of table" "$o" '^Hardware watchpoint 1: -location \*\(uint32_t \(\*\)\[16\]\)&table\[0\]$'
    expect_seq "[$M] 64-byte watch fires at the first write (table[0]), then table[1]" "$o" \
        '^Old value = \{0 <repeats 16 times>\}$' "^New value = \\{$TABLE0, 0 <repeats 15 times>\\}\$" \
        "^New value = \\{$TABLE0, $TABLE1, 0 <repeats 14 times>\\}\$"
    expect "[$M] 64-byte watch stops in fill_table" "$o" '^#0  (0x[0-9a-f]+ in )?fill_table \(seed=[a-z@=]*305419896\)'
    [ -n "$TABLE_STORE_NEXT" ] && expect_seq "[$M] 64-byte watch: stops right after the store to table[0] ($TABLE_STORE_NEXT)" "$o" \
        "^New value = \\{$TABLE0, 0 <repeats 15 times>\\}\$" "^PC $TABLE_STORE_NEXT\$"
    expect_seq "[$M] watch on table[40] (outside the first range) fires" "$o" \
        '^Hardware watchpoint 2: -location table\[40\]$' '^Old value = 0$' '^New value = [1-9][0-9]*$'
    expect "[$M] watch counter" "$o" '^Hardware watchpoint 3: counter$'
    expect_seq "[$M] watch: Old value = 0 / New value = 1, then 1 / 2" "$o" 'WATCH-COUNTER' \
        '^Old value = 0$' '^New value = 1$' '^Old value = 1$' '^New value = 2$'
    expect "[$M] watch stops in bump_counter" "$o" '^#0  (0x[0-9a-f]+ in )?bump_counter \(n=n@entry=20000\) at tests/guests/compute\.c'
    expect "[$M] watch: p counter = 2 at the second stop" "$o" '^\$2 = 2$'
    expect "[$M] watch: no false stop in fill_table (table already filled)" "$o" "^\\\$3 = [1-9]"
    [ -n "$COUNTER_STORE_NEXT" ] && expect_seq "[$M] watch: stops right after the store to counter ($COUNTER_STORE_NEXT)" "$o" \
        'WATCH-COUNTER' '^New value = 1$' "^PC $COUNTER_STORE_NEXT\$" '^New value = 2$' "^PC $COUNTER_STORE_NEXT\$"
    ukvm_killed "$M"

    o=$T/$M.awatch
    start_ukvm "$M" compute || return
    # the .bss clear in _start writes counter (rep stosb: it may stop once per
    # byte); then from bump_counter on: read, write, read; then rwatch: the
    # next reads (the write between them does not stop)
    gdb_session "$o" -ex 'awatch counter' -ex continue -ex 'echo AT-START\n' -ex 'delete' \
        -ex 'break bump_counter' -ex continue -ex 'delete' -ex 'awatch counter' \
        -ex continue -ex 'ukvm-pc' -ex 'bt 1' -ex continue -ex 'ukvm-pc' -ex continue -ex 'ukvm-pc' -ex 'p counter' \
        -ex 'delete' -ex 'echo RWATCH\n' -ex 'rwatch counter' -ex continue -ex 'ukvm-pc' -ex 'bt 1' -ex continue -ex 'ukvm-pc' -ex kill
    expect "[$M] awatch counter" "$o" '^Hardware access \(read/write\) watchpoint 1: counter$'
    expect_seq "[$M] awatch fires on the .bss clear in _start (Value = 0)" "$o" \
        '^Value = 0$' '^_start \(\) at tests/guests/rt/start\.S:' 'AT-START'
    expect_seq "[$M] awatch in bump_counter: read (Value = 0), write (0 -> 1), read (Value = 1)" "$o" \
        '^Breakpoint 2, bump_counter' '^Value = 0$' '^Old value = 0$' '^New value = 1$' '^Value = 1$' '^\$1 = 1$'
    expect "[$M] awatch stops in bump_counter" "$o" '^#0  (0x[0-9a-f]+ in )?bump_counter \('
    [ -n "$COUNTER_LOAD_NEXT" ] && expect_seq "[$M] awatch read: stops right after the load ($COUNTER_LOAD_NEXT)" "$o" \
        '^Breakpoint 2, bump_counter' '^Value = 0$' "^PC $COUNTER_LOAD_NEXT\$"
    [ -n "$COUNTER_STORE_NEXT" ] && expect_seq "[$M] awatch write: stops right after the store ($COUNTER_STORE_NEXT)" "$o" \
        '^New value = 1$' "^PC $COUNTER_STORE_NEXT\$"
    expect "[$M] rwatch counter" "$o" '^Hardware read watchpoint 4: counter$'
    expect_seq "[$M] rwatch fires with Value = 2 then 3 (the write between does not stop)" "$o" 'RWATCH' \
        '^Hardware read watchpoint 4: counter$' '^Value = 2$' '^Hardware read watchpoint 4: counter$' '^Value = 3$'
    expect_seq "[$M] rwatch stops in bump_counter" "$o" 'RWATCH' '^#0  (0x[0-9a-f]+ in )?bump_counter \('
    [ -n "$COUNTER_LOAD_NEXT" ] && expect_seq "[$M] rwatch: stops right after the load of counter ($COUNTER_LOAD_NEXT)" "$o" \
        'RWATCH' '^Value = 2$' "^PC $COUNTER_LOAD_NEXT\$" '^Value = 3$' "^PC $COUNTER_LOAD_NEXT\$"
    ukvm_killed "$M"
}

check_flow() {
    local M=$1 o=$T/$1.flow
    start_ukvm "$M" compute || return
    # then stepping over a hypercall: hc_puts is a few instructions, the
    # `out` hypercall, then the epilogue
    gdb_session "$o" -ex 'tbreak fib' -ex continue -ex finish -ex 'advance count_primes' -ex finish \
        -ex "until $BUMP_LINE" -ex 'p counter' -ex next -ex 'p counter' -ex 'info breakpoints' \
        -ex 'break hc_puts' -ex continue -ex 'ukvm-stepcheck 14' -ex 'p counter' -ex kill
    expect "[$M] tbreak fib: Temporary breakpoint 1, fib (n=16)" "$o" '^Temporary breakpoint 1, fib \(n=n@entry=16\)'
    expect "[$M] finish from fib(16) returns to main" "$o" '^0x[0-9a-f]+ in main \(.*\) at tests/guests/compute\.c:'"$FIB_LINE\$"
    expect "[$M] finish: fib(16) returned 987" "$o" '^Value returned is \$1 = 987$'
    expect "[$M] advance count_primes" "$o" '^count_primes \(limit=limit@entry=2000\) at tests/guests/compute\.c'
    expect "[$M] finish: count_primes(2000) returned 303" "$o" '^Value returned is \$2 = 303$'
    expect "[$M] until $BUMP_LINE (bump_counter's call) stops in main there" "$o" "^main \\(.*\\) at tests/guests/compute\\.c:$BUMP_LINE\$"
    expect_seq "[$M] next over bump_counter: counter 0 -> 20000" "$o" '^\$3 = 0$' "^$AFTER_BUMP_LINE[[:space:]]" '^\$4 = 20000$'
    expect "[$M] tbreak was deleted" "$o" '^No breakpoints or watchpoints\.$'
    expect "[$M] stepi over the puts hypercall (out) lands on the next instruction" "$o" '^STEPCHECK OK 14$'
    expect "[$M] stepi went through the out" "$o" '^STEP [0-9]+ 0x[0-9a-f]+ out '
    expect "[$M] the stepped hypercall printed the compute line" "$T/ukvm.out" "^$COMPUTE_LINE\$"
    ukvm_killed "$M"
}

check_detach() {
    local M=$1 o=$T/$1.detach
    start_ukvm "$M" compute || return
    gdb_session "$o" -ex 'break fib' -ex 'watch counter' -ex continue -ex detach
    expect "[$M] detach: gdb detached" "$o" '^\[Inferior 1 \(Remote target\) detached\]$'
    if [ "$M" = run ]; then
        ukvm_status "[$M] detach: the guest finishes, ukvm exits 0" 0
        expect "[$M] detach: the compute line (breakpoint and watchpoint removed)" "$T/ukvm.out" "^$COMPUTE_LINE\$"
        return
    fi
    sleep 0.3
    if proc_alive "$UKVM_PID"; then pass "[$M] detach: ukvm waits for the next client"; else
        fail "[$M] detach: ukvm waits for the next client" "ukvm exited: $(tr '\n' ' ' <"$T/ukvm.err" | head -c 300)"; return; fi
    expect "[$M] detach: 'waiting for the next client'" "$T/ukvm.err" 'gdb detached; waiting for the next client'
    o=$T/$M.detach2
    gdb_session "$o" -ex 'bt 1' -ex 'info breakpoints' -ex continue -ex continue
    expect "[$M] reconnect after detach: still in fib(16)" "$o" '^#0  fib \(n=n@entry=16\)'
    expect "[$M] reconnect after detach: continue: exited normally" "$o" '^\[Inferior 1 \(Remote target\) exited normally\]$'
    ukvm_status "[$M] reconnect after detach: ukvm exits 0" 0
    expect "[$M] reconnect after detach: the compute line" "$T/ukvm.out" "^$COMPUTE_LINE\$"
}

check_disconnect() {
    local M=$1 o=$T/$1.disc
    start_ukvm "$M" compute || return
    gdb_session "$o" -ex 'break mix' -ex continue -ex disconnect
    if [ "$M" = run ]; then
        ukvm_status "[$M] disconnect: ukvm ends the guest (status 1)" 1
        expect "[$M] disconnect: message" "$T/ukvm.err" 'gdb disconnected: ending the guest'
        return
    fi
    sleep 0.3
    if proc_alive "$UKVM_PID"; then pass "[$M] disconnect: ukvm waits for the next client"; else
        fail "[$M] disconnect: ukvm waits for the next client" "ukvm exited: $(tr '\n' ' ' <"$T/ukvm.err" | head -c 300)"; return; fi
    o=$T/$M.disc2
    gdb_session "$o" -ex 'bt 1' -ex kill
    expect "[$M] reconnect after disconnect: still in mix" "$o" '^#0  (0x[0-9a-f]+ in )?mix \('
    ukvm_killed "$M"
}

check_interrupt() {
    local M=$1 o=$T/$1.intr
    start_ukvm "$M" loop || return
    gdb_session "$o" \
        -ex "python import threading; threading.Timer($INTR_DELAY, lambda: gdb.post_event(lambda: gdb.execute('interrupt'))).start()" \
        -ex continue -ex 'info registers rip' -ex 'bt 1' -ex kill
    expect "[$M] interrupt: Program received signal SIGINT" "$o" '^Program received signal SIGINT, Interrupt\.$'
    expect "[$M] interrupt: info registers rip" "$o" '^rip +0x[0-9a-f]+ +0x[0-9a-f]+ <[a-z_]+(\+[0-9]+)?>$'
    expect_not "[$M] interrupt: the guest did not run to its end" "$o" 'exited normally'
    ukvm_killed "$M"

    o=$T/$M.intr-raw
    start_ukvm "$M" loop || return
    timeout -k 5 30 python3 "$TOP/tests/lib/rsp_client.py" interrupt "$PORT" "$INTR_DELAY" >"$o" 2>&1
    rsp_checks "$M" "$o"
    ukvm_status "[$M] raw interrupt: ukvm ends after k" 1
}

# rsp_checks M FILE: turns rsp_client.py's CHECK lines into PASS/FAIL.
rsp_checks() {
    local line name
    if ! grep -q '^CHECK ' "$2"; then fail "[$1] rsp client" "no result: $(head -c 300 "$2")"; return; fi
    while IFS= read -r line; do
        case $line in
            "CHECK "*" OK") name=${line#CHECK }; pass "[$1] ${name% OK}" ;;
            "CHECK "*" BAD "*) name=${line#CHECK }; fail "[$1] ${name%% BAD *}" "${name#* BAD }" ;;
        esac
    done < <(grep '^CHECK ' "$2")
}

# a second client turned away; then the first one continues to the end (a
# replay may first stop at the end of the trace, just before the guest
# halts, "No more reverse-execution history.": a second continue exits)
check_second_client() {
    local M=$1 o=$T/$1.second
    start_ukvm "$M" compute || return
    gdb_session "$o" -ex 'break fib' -ex continue \
        -ex "shell timeout -k 2 15 python3 $TOP/tests/lib/rsp_client.py second $PORT" \
        -ex "shell cd $GDBCWD && timeout -k 2 15 $GDB -batch -nx -ex 'target remote 127.0.0.1:$PORT' -ex 'info registers rip' 2>&1 | sed 's/^/second-gdb: /'" \
        -ex 'p n' -ex continue -ex 'p n' -ex delete -ex continue -ex continue -ex 'p $_exitcode'
    rsp_checks "$M" "$o"
    expect "[$M] a second gdb is turned away" "$o" '^second-gdb: .*(Remote connection closed|Connection reset|Connection refused|Remote communication error)'
    expect_not "[$M] a second gdb does not get the target" "$o" '^second-gdb: rip +0x'
    expect "[$M] a second gdb is told why" "$o" '^second-gdb: .*ukvm: another gdb client is connected \(from 127\.0\.0\.1:[0-9]+\); one client at a time'
    expect "[$M] the server says it refused a client" "$T/ukvm.err" '^ukvm: refused a gdb client from 127\.0\.0\.1:[0-9]+: another one is connected \(from 127\.0\.0\.1:[0-9]+\)$'
    expect_seq "[$M] the first client still works" "$o" '^\$1 = 16$' '^Breakpoint 1, fib \(n=n@entry=15\)' '^\$2 = 15$'
    expect "[$M] continue to the end: exited normally" "$o" '^\[Inferior 1 \(Remote target\) exited normally\]$'
    ukvm_status "[$M] continue to the end: ukvm exits 0" 0
    expect "[$M] continue to the end: the compute line" "$T/ukvm.out" "^$COMPUTE_LINE\$"
}

# listening on 127.0.0.1 only; then malformed packets on that connection
check_listen() {
    local M=$1 o=$T/$1.ss
    start_ukvm "$M" compute || return
    ss -ltnpH "sport = :$PORT" >"$o" 2>&1
    expect "[$M] listens on 127.0.0.1:$PORT" "$o" "^LISTEN .* 127\\.0\\.0\\.1:$PORT .*pid=$UKVM_PID,"
    expect_not "[$M] listens on no other address" "$o" "(0\\.0\\.0\\.0|\\*|\\[::\\]):$PORT "
    o=$T/$M.malformed
    timeout -k 5 30 python3 "$TOP/tests/lib/rsp_client.py" malformed "$PORT" >"$o" 2>&1
    rsp_checks "$M" "$o"
    ukvm_status "[$M] malformed packets: ukvm still ends on k" 1
}

# (stepi before break: break compares its `stepi 5` with stepi's five stepi's)
CHECKS=${GDB_KVM_CHECKS:-symbols stepi break step_hypercall hbreak watch flow
    detach disconnect interrupt second_client listen}
for mode in ${GDB_KVM_MODES:-run replay}; do
    for c in $CHECKS; do "check_$c" "$mode"; done
done

# The live run and the replay step through the same instructions.
case " $CHECKS " in *" stepi "*) ;; *) exit 0 ;; esac
if [ -s "$T/run.steppcs" ] && cmp -s "$T/run.steppcs" "$T/replay.steppcs"; then
    pass "stepi: run and replay give the same pc sequence"
else
    fail "stepi: run and replay give the same pc sequence" \
        "run: $(head -c 200 "$T/run.steppcs" | tr '\n' ' ') replay: $(head -c 200 "$T/replay.steppcs" 2>/dev/null | tr '\n' ' ')"
fi
exit 0

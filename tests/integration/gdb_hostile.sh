#!/usr/bin/env bash
# A gdb client that pushes the KVM target's limits (raw protocol,
# gdb/hostile_client.py), under `ukvm run --gdb` and `ukvm replay --gdb`:
# - 300 watches on adjacent pages and 300 on every other page: with the
#   slot limit lowered to 512 (UKVM_MAX_MEMSLOTS) exactly the watches that
#   fit are accepted and the rest get E; with KVM's own limit the guest
#   runs with them; either way the guest then runs to its end with its
#   normal output;
# - the same Z2 over 1 GiB 200 times: the monitor's peak RSS stays small,
#   and one z2 removes it;
# - with a watch set, a store into text is still a translation fault;
# - a client that hangs up leaves no breakpoint for the next client.
source "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST
HELPERS=$(cd "$(dirname "$0")/gdb" && pwd)
CLIENT=$HELPERS/hostile_client.py
require_kvm gdb_hostile || exit 0
for need in "$UKVM" "$GUESTS/hello.elf" "$GUESTS/fault.elf"; do
    if [ ! -e "$need" ]; then skip "gdb_hostile" "$need is not built (run make)"; exit 0; fi
done
command -v python3 >/dev/null || { skip "gdb_hostile" "python3 is not installed"; exit 0; }

UKVM_PID=
cleanup() {
    [ -n "$UKVM_PID" ] && kill -9 "$UKVM_PID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

# serve NAME ARGS...: ukvm ARGS with --gdb on a free port (sets PORT, UKVM_PID).
serve() {
    local name=$1; shift
    local sub=$1; shift
    local try i
    for try in 1 2 3 4 5 6; do
        PORT=$((20000 + RANDOM % 40000))
        "$UKVM" "$sub" --gdb="$PORT" "$@" >"$T/$name.out" 2>"$T/$name.err" &
        UKVM_PID=$!
        for i in $(seq 200); do
            grep -q "waiting for gdb on 127.0.0.1:$PORT" "$T/$name.err" && return 0
            kill -0 "$UKVM_PID" 2>/dev/null || break
            sleep 0.05
        done
        kill -9 "$UKVM_PID" 2>/dev/null; wait "$UKVM_PID" 2>/dev/null; UKVM_PID=
        grep -q 'Address already in use' "$T/$name.err" || break
    done
    fail "$name: ukvm --gdb starts" "$(head -c 300 "$T/$name.err")"
    return 1
}

# reap NAME: waits (20 s) for ukvm to end; its status in RC.
reap() {
    local i
    for i in $(seq 400); do kill -0 "$UKVM_PID" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$UKVM_PID" 2>/dev/null
    wait "$UKVM_PID" 2>/dev/null
    RC=$?
    UKVM_PID=
}

# checks NAME FILE: turns the client's CHECK lines into PASS/FAIL.
checks() {
    local line n
    if ! grep -q '^CHECK ' "$2"; then fail "$1: client" "no result: $(head -c 300 "$2")"; return; fi
    while IFS= read -r line; do
        case $line in
            "CHECK "*" OK") n=${line#CHECK }; pass "$1: ${n% OK}" ;;
            "CHECK "*" BAD "*) n=${line#CHECK }; fail "$1: ${n%% BAD *}" "${n#* BAD }" ;;
        esac
    done < <(grep '^CHECK ' "$2")
}

hello_ok() { # NAME: hello printed its line and ukvm ended with 0
    check "$1: the guest's output is complete" grep -q '^Hello, world! args: *$' "$T/$1.out"
    expect_status "$1: ukvm exits 0" 0 "$RC"
    check "$1: no memory-slot error" sh -c "! grep -q 'MEMORY_REGION\|memory slots exhausted' '$T/$1.err'"
}

if ! run_capture "$T/rec.out" "$T/rec.err" "$UKVM" record -o "$T/hello.trace" "$GUESTS/hello.elf"; then
    fail "gdb_hostile: record hello" "$(head -c 300 "$T/rec.err")"
    exit 0
fi

for mode in run replay; do
    if [ $mode = run ]; then target=$GUESTS/hello.elf; else target=$T/hello.trace; fi

    # watches past the slot limit (lowered to 512: the old fixed table size)
    n=$mode.slots512
    if UKVM_MAX_MEMSLOTS=512 serve "$n" "$mode" "$target"; then
        timeout -k 5 300 python3 "$CLIENT" slots "$PORT" 254 >"$T/$n.log" 2>&1
        reap "$n"; checks "$n" "$T/$n.log"; hello_ok "$n"
        if [ $mode = run ]; then
            check "$n: the refusal is said once" test "$(grep -c 'watchpoint refused' "$T/$n.err")" = 1
        fi
    fi
    # the same with KVM's own slot count
    n=$mode.slots
    if serve "$n" "$mode" "$target"; then
        timeout -k 5 300 python3 "$CLIENT" slots "$PORT" any >"$T/$n.log" 2>&1
        reap "$n"; checks "$n" "$T/$n.log"; hello_ok "$n"
        grep '^slots:' "$T/$n.log" | sed "s/^/$n: /"
    fi

    # the same huge watch 200 times
    n=$mode.dup
    if [ $mode = run ]; then args=(--mem=1024 "$GUESTS/hello.elf"); else args=("$target"); fi
    if serve "$n" "$mode" "${args[@]}"; then
        if [ $mode = run ]; then len=$(( (1024 << 20) - 0x200000 )); else len=$(( (512 << 20) - 0x200000 )); fi
        timeout -k 5 300 python3 "$CLIENT" dup "$PORT" "$UKVM_PID" 0x200000 "$len" >"$T/$n.log" 2>&1
        reap "$n"; checks "$n" "$T/$n.log"; hello_ok "$n"
        grep '^dup:' "$T/$n.log" | sed "s/^/$n: /"
    fi
done

# a store into text under a watch elsewhere, and under a write watch on the
# stored-to text itself (a read-only slot there: an MMIO exit on every KVM)
TARGET=$(printf '0x%x' "0x$(nm "$GUESTS/fault.elf" | awk '$3 == "target" {print $1}')")
for where in data text; do
    n=run.textstore-$where
    if [ $where = data ]; then addr=0x10000000; else addr=$TARGET; fi
    if serve "$n" run "$GUESTS/fault.elf"; then
        timeout -k 5 60 python3 "$CLIENT" textstore "$PORT" "$addr" >"$T/$n.log" 2>&1
        reap "$n"; checks "$n" "$T/$n.log"
        check "$n: translation fault reported" grep -q 'translation fault' "$T/$n.err"
        check "$n: the store did not go through" sh -c "! grep -q 'went through' '$T/$n.out'"
    fi
done

# a client that hangs up with a breakpoint set (replay waits for the next)
MAIN=$(printf '0x%x' "0x$(nm "$GUESTS/hello.elf" | awk '$3 == "main" {print $1}')")
n=replay.disconnect
if serve "$n" replay "$T/hello.trace"; then
    timeout -k 5 60 python3 "$CLIENT" arm "$PORT" "$MAIN" >"$T/$n.log" 2>&1
    timeout -k 5 120 python3 "$CLIENT" after "$PORT" "$MAIN" >>"$T/$n.log" 2>&1
    reap "$n"; checks "$n" "$T/$n.log"
fi
exit 0

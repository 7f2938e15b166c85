# Sourced by tests/integration/reverse_oracle.sh (its helpers, $T, $SEED,
# $SCALE, $GDB): gdb's reverse-stepi/next/step/finish, ukvm-last and
# `watch` + reverse-continue against a forward stepi log (oracle_gdb.py).
GDB_POINTS=${REV_ORACLE_GDB_N:-$([ -n "${UKVM_IN_VM:-}" ] && echo 3 || echo 8)}
mkdir -p "$T/gdbcwd"                 # empty: gdb gets the kernel from ukvm

# gdb_stretch NAME TRACE PYTHON-DICT-ITEMS: one replay server, one gdb
gdb_stretch() {
    local name=$1 trace=$2 items=$3
    want "$name" || return 0
    if ! ukvm_gdb_start "$T/$name.err" replay --gdb=0 "$trace"; then
        fail "reverse_oracle: $name: start ukvm replay --gdb=0" "$(head -c 300 "$T/$name.err")"; return
    fi
    (cd "$T/gdbcwd" && timeout -k 5 $(( 300 * SCALE )) "$GDB" -batch -nx \
        -ex 'set pagination off' -ex 'set confirm off' -ex 'set width 0' \
        -ex "source $TOP/tools/gdb/ukvm.py" -ex "source $HELPERS/oracle_gdb.py" \
        -ex "target remote 127.0.0.1:$PORT" \
        -ex "python OG = dict(name='$name', seed=$SEED, points=$GDB_POINTS, logfile='$T/$name.stop', $items)" \
        -ex 'python main(OG)' -ex kill) >"$T/$name.oracle" 2>&1 </dev/null
    ukvm_gdb_stop 2
    if grep -q '^Traceback' "$T/$name.oracle"; then
        fail "reverse_oracle: $name: the gdb helper" "$(grep -A12 '^Traceback' "$T/$name.oracle" | tail -3 | tr '\n' ' ')"
    fi
    report "$name" "$T/$name.oracle" gdb
}

gdb_stretch gdb-compute-table "$T/compute.trace" \
    "base=$(elf_sym "$C" fill_table), steps=$((3700 / SCALE)), exprs=['table[5]', 'table[63]'], zero_before=['table[5]', 'table[63]']"
gdb_stretch gdb-compute-counter "$T/compute.trace" \
    "base=$(elf_sym "$C" bump_counter), steps=$((400 / SCALE)), exprs=['counter'], zero_before=['counter']"
gdb_stretch gdb-loop "$T/loop.trace" "base=$(elf_sym "$L" main), steps=$((2500 / SCALE)), exprs=[]"

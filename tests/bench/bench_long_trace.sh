#!/usr/bin/env bash
# Long traces (issue 11, section 2): clockstorm.elf records N walltime
# hypercalls (N + 3 events) for N = LONG_SMALL and LONG_BIG (default 1M and
# 10M: at about 25 us per event on this machine's KVM that is 4-5 minutes
# each for record and replay); then, on the big trace, the wall time of
# `ukvm-trace info`, `stats` and `dump --from` (the last events) against 1 s,
# and the peak RSS of `ukvm replay` of the big trace over the small one
# against 1.2. Prints "  LABEL<TAB>VALUE<TAB>TARGET<TAB>PASS|MISS" lines.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
UKVM=${UKVM:-$TOP/ukvm}
TRACE_TOOL=${TRACE_TOOL:-$TOP/tools/ukvm-trace}
G=${G:-$TOP/build/guests}
SMALL=${LONG_SMALL:-1000000}
BIG=${LONG_BIG:-10000000}
T=$(mktemp -d "$TOP/build/bench-long.XXXXXX")      # traces of hundreds of MB: not tmpfs
trap 'rm -rf "$T"' EXIT

. "$TOP/tests/lib/bench.sh" # now_ns, le
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", (b - a) / 1e6}'; }
row() { printf '  %-88s %12s  %-7s %s\n' "$1" "$2" "$3" "$4"; }
verdict() { if le "$1" "$2"; then echo PASS; else echo MISS; fi; }

# runs a command under GNU time: its peak RSS in KiB in RSS, its status in RC
peak_rss() {
    /usr/bin/time -f '%M' -o "$T/rss" "$@" >"$T/cmd.out" 2>"$T/cmd.err"
    RC=$?
    RSS=$(tail -1 "$T/rss")
}

for n in "$SMALL" "$BIG"; do
    t0=$(now_ns)
    peak_rss "$UKVM" record -o "$T/cs$n.zst" "$G/clockstorm.elf" "$n"
    rss_rec=$RSS
    [ "$RC" = 0 ] && grep -q "^clockstorm: done $n calls" "$T/cmd.out" ||
        { echo "BUG: record clockstorm $n: status $RC"; exit 1; }
    t1=$(now_ns)
    cp "$T/cmd.out" "$T/rec$n.out"
    peak_rss "$UKVM" replay "$T/cs$n.zst"
    rss=$RSS
    t2=$(now_ns)
    cmp -s "$T/cmd.out" "$T/rec$n.out" || { echo "BUG: replay clockstorm $n: output differs"; exit 1; }
    eval "RSS_$n=$rss"
    size=$(stat -c %s "$T/cs$n.zst")
    row "clockstorm $n: record $(ms "$t0" "$t1") ms (peak RSS $rss_rec KiB), replay $(ms "$t1" "$t2") ms, $size bytes" \
        "$(awk -v s="$size" -v n="$n" 'BEGIN {printf "%.2f B/ev", s / (n + 3)}')" "-" info
done

big=$T/cs$BIG.zst
for cmd in info stats; do
    t0=$(now_ns)
    "$TRACE_TOOL" "$cmd" "$big" >"$T/$cmd.out" || { echo "BUG: ukvm-trace $cmd failed"; exit 1; }
    t1=$(now_ns)
    grep -q "^end: complete, $((BIG + 3)) events" "$T/$cmd.out" || { echo "BUG: $cmd: wrong end line"; exit 1; }
    v=$(ms "$t0" "$t1")
    row "ukvm-trace $cmd on $((BIG + 3)) events" "$v ms" "< 1000" "$(verdict "$v" 1000)"
done
t0=$(now_ns)
"$TRACE_TOOL" dump --from "$BIG" "$big" >"$T/dump.out" || { echo "BUG: dump --from failed"; exit 1; }
t1=$(now_ns)
grep -q "^#$((BIG + 2)) halt " "$T/dump.out" || { echo "BUG: dump --from: no final halt"; exit 1; }
v=$(ms "$t0" "$t1")
row "ukvm-trace dump --from $BIG (the last 3 events)" "$v ms" "< 1000" "$(verdict "$v" 1000)"
# the same trace cut short at two thirds: the index is rebuilt from frame headers
head -c $(( $(stat -c %s "$big") * 2 / 3 )) "$big" >"$T/cut.zst"
t0=$(now_ns)
"$TRACE_TOOL" info "$T/cut.zst" >"$T/cutinfo.out" || { echo "BUG: info on a cut trace failed"; exit 1; }
t1=$(now_ns)
v=$(ms "$t0" "$t1")
row "ukvm-trace info, the same trace cut short at 2/3 (index rebuilt)" "$v ms" "< 1000" "$(verdict "$v" 1000)"
eval "small=\$RSS_$SMALL big=\$RSS_$BIG"
r=$(awk -v a="$big" -v b="$small" 'BEGIN {printf "%.3f", a / b}')
row "ukvm replay peak RSS, $BIG vs $SMALL events: $big KiB / $small KiB" "${r}x" "< 1.2" "$(verdict "$r" 1.19999)"

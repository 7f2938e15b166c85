# Helpers shared by the tests/bench/*.sh scripts (sourced; safe under set -u).

# bug TEXT...: prints a BUG line and counts it in $bugs.
bugs=0
bug() { echo "BUG: $*"; bugs=$((bugs + 1)); }
# ratio A B: A/B with 3 decimals ("nan" when B is not positive)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.3f", a/b; else print "nan"}'; }
# le A B: true when A <= B (floats)
le() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a <= b)}'; }
# now_ns: the time in nanoseconds
now_ns() { date +%s%N; }

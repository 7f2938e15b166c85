#!/usr/bin/env bash
# The source tree's layers (README.md, "Layout"): every #include runs
# downward, every call too, and no two source files lean on each other.
#   cli -> rsp -> replay -> vcpu -> record -> monitor -> include/ukvm
# A file may include its own layer's headers and those of the layers below,
# never one above. And no include cycle between files: a file (its .c and
# its .h) that includes another's header makes it depend on that file; those
# dependencies must not loop (a.c uses b.h while b.c uses a.h).
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1

LAYERS="cli rsp replay vcpu record monitor ukvm"     # top first; ukvm is include/ukvm
rank() {
    local i=0 l
    for l in $LAYERS; do
        [ "$l" = "$1" ] && { echo $i; return 0; }
        i=$((i + 1))
    done
    return 1
}

T=$(mktemp -d /tmp/ukvm-layering.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT

# Every source directory must have a place in the order.
bad=""
for d in src/*/; do
    d=${d%/}; d=${d#src/}
    rank "$d" >/dev/null || bad="$bad $d"
done
if [ -z "$bad" ]; then
    pass "layering: every directory of src/ has a layer ($LAYERS)"
else
    fail "layering: every directory of src/ has a layer" "not in the order:$bad"
fi

# file -> included file (resolved to a path in the tree), one per line.
: >"$T/edges"
for f in src/*/*.[ch] include/ukvm/*.h; do
    dir=$(dirname "$f")
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
    while read -r inc; do
        case "$inc" in
        ../*) target=$(realpath -m --relative-to=. "$dir/$inc") ;;
        */*)  if [ -e "src/$inc" ]; then target=src/$inc
              elif [ -e "include/$inc" ]; then target=include/$inc
              else target=$inc; fi ;;
        *)    target=$dir/$inc ;;
        esac
        echo "$f $target"
    done >>"$T/edges"
done

layer_of() {
    case "$1" in
    include/ukvm/*) echo ukvm ;;
    src/*/*) local d=${1#src/}; echo "${d%%/*}" ;;
    *) echo "?" ;;
    esac
}

# 1. Includes run downward.
up=0
while read -r from to; do
    lf=$(layer_of "$from"); lt=$(layer_of "$to")
    rf=$(rank "$lf") || continue           # reported above
    if ! rt=$(rank "$lt"); then
        fail "layering: $from includes $to" "not a file of any layer"
        up=$((up + 1))
    elif [ "$rt" -lt "$rf" ]; then
        fail "layering: $from includes $to" "$lt/ is above $lf/"
        up=$((up + 1))
    fi
done <"$T/edges"
[ "$up" -eq 0 ] && pass "layering: every include runs downward ($(wc -l <"$T/edges") includes)"

# 2. No cycle between files: unit a (a.c and a.h) depends on unit b when it
# includes b.h and b.c exists (a header of its own is not a dependency).
while read -r from to; do
    a=${from%.[ch]}; b=${to%.h}
    [ "$a" = "$b" ] && continue
    [ -e "$b.c" ] || continue
    echo "$a $b"
done <"$T/edges" | sort -u >"$T/deps"
if tsort "$T/deps" >/dev/null 2>"$T/tsort.err"; then
    pass "layering: no include cycle between files ($(wc -l <"$T/deps") dependencies)"
else
    fail "layering: no include cycle between files" \
        "$(grep -v 'input contains a loop' "$T/tsort.err" | sed 's/^tsort: //' | tr '\n' ' ')"
fi

# 3. Calls run downward too: every function or object a layer's object files
# use from ukvm must be defined in its own layer or one below (nm on the
# objects of the last build, build/obj/src/<layer>/*.o, of the sources there
# are now: an object left behind by a moved file is not looked at).
OBJ=${BUILD:-build}/obj/src
objs=""
for f in src/*/*.c; do
    o=$OBJ/${f#src/}; o=${o%.c}.o
    [ -e "$o" ] && objs="$objs $o"
done
if [ -z "$objs" ]; then
    skip "layering: every call runs downward" "no objects under $OBJ (run make first)"
else
    for o in $objs; do
        r=${o#"$OBJ"/}
        nm --defined-only -g "$o" | awk -v r="$r" 'NF >= 3 { print $3, r }'
    done | sort -k1,1 >"$T/defs"
    for o in $objs; do
        r=${o#"$OBJ"/}
        nm -u "$o" | awk -v r="$r" '{ print $2, r }'
    done | sort -k1,1 >"$T/uses"
    # symbol user definer, for the symbols ukvm defines (not libc's)
    join "$T/uses" "$T/defs" >"$T/calls"
    upc=0
    while read -r sym user def; do
        lu=${user%%/*}; ld=${def%%/*}
        ru=$(rank "$lu") || continue
        rd=$(rank "$ld") || continue
        if [ "$rd" -lt "$ru" ]; then
            fail "layering: src/${user%.o}.c uses $sym" "defined in src/${def%.o}.c ($ld/ is above $lu/)"
            upc=$((upc + 1))
        fi
    done <"$T/calls"
    [ "$upc" -eq 0 ] && pass "layering: every call runs downward ($(wc -l <"$T/calls") uses of ukvm symbols)"
    # The timeline drives the vCPU only through its engine (vcpu/engine.h,
    # an operations table): no src/replay file calls a vcpu function,
    # except the monitor-command parser.
    awk '$2 ~ /^replay\// && $3 ~ /^vcpu\// && $3 != "vcpu/gdb_monitor_cmd.o"' "$T/calls" >"$T/engine"
    if [ -s "$T/engine" ]; then
        fail "layering: src/replay reaches the vCPU only through its engine" \
            "$(awk '{ printf "%s calls %s (%s); ", $2, $1, $3 }' "$T/engine")"
    else
        pass "layering: src/replay reaches the vCPU only through its engine"
    fi
fi

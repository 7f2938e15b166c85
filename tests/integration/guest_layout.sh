#!/usr/bin/env bash
# The test guests have the segment and note layout of a real Solo5 0.12 hvt
# kernel (docs/hvt-abi.md, "The kernel file"; tests/guests/rt/guest.ld).
# Host only, no KVM: readelf, od and file on every build/guests/*.elf.
#
# Per guest: the program header types in order, the LOAD flags, the empty
# LOAD and TLS headers, the interpreter, the notes (OpenBSD, Solo5 ABI1,
# Solo5 MFT1, one per PT_NOTE), the manifest's 4 bytes of padding before
# its version, its entry 0 (the reserved entry that Solo5's bindings put
# first: type 0x40000000, empty name, not attached), and what `file` says.
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST

if ! command -v readelf >/dev/null || ! command -v od >/dev/null; then
    skip guest_layout "readelf or od is not installed"
    exit 0
fi
shopt -s nullglob
elfs=("$GUESTS"/*.elf)
if [ ${#elfs[@]} = 0 ]; then
    skip guest_layout "no guests in $GUESTS (make guests)"
    exit 0
fi

# In readelf -lW order: TYPE:FLAGS, "-" where the flags do not matter.
EXPECTED="INTERP:R LOAD:RE LOAD:R LOAD:RW LOAD:- TLS:- LOAD:RW NOTE:R NOTE:R NOTE:R"
# The sections of the three PT_NOTE segments, in order.
NOTE_SECTIONS=".note.solo5.not_openbsd .note.solo5.abi .note.solo5.manifest"
# readelf -nW: owner, data size, description of each note, in order.
NOTES_RE=(
    '^ +OpenBSD +0x00000004[[:space:]]+NT_VERSION'
    '^ +Solo5 +0x00000010[[:space:]]+Unknown note type: \(0x31494241\)'
    '^ +Solo5 +0x[0-9a-f]{8}[[:space:]]+Unknown note type: \(0x3154464d\)'
)

# This script ran dozens of small tools per guest, each start tens of
# milliseconds in the QEMU test VM: each guest's readelf -lW, nm, and the
# u32 words of its notes are read once.
# load_words FILE PHDRS: FILE's little-endian u32 words over its PT_NOTE
# segments (PHDRS: the lines of phdrs), for u32.
U32_FILE="" U32_BASE=0 U32_WORDS=()
load_words() {
    local type off va fsz msz flg al lo="" hi=0
    while read -r type off va fsz msz flg al; do
        [ "$type" = NOTE ] || continue
        { [ -z "$lo" ] || [ $((off)) -lt "$lo" ]; } && lo=$((off))
        [ $((off + fsz)) -gt "$hi" ] && hi=$((off + fsz))
    done <"$2"
    U32_FILE="" U32_WORDS=()
    [ -n "$lo" ] || return 0
    lo=$((lo / 4 * 4))
    U32_WORDS=($(od -An -v -tu4 -j "$lo" -N "$((hi - lo + 4))" "$1"))
    U32_FILE=$1 U32_BASE=$lo
}

# u32 FILE OFFSET: the little-endian u32 at OFFSET.
u32() {
    local i=$((($2 - U32_BASE) / 4))
    if [ "$1" = "$U32_FILE" ] && [ $(($2 % 4)) = 0 ] && [ "$2" -ge "$U32_BASE" ] && [ -n "${U32_WORDS[i]:-}" ]; then
        echo "${U32_WORDS[i]}"
    else
        od -An -tu4 -N4 -j "$2" "$1" | tr -d ' '
    fi
}

# phdrs READELF-LW-OUTPUT: one line per program header: type offset vaddr
# filesz memsz flags (spaces removed, "none" when empty) align.
phdrs() {
    awk '
        /^Program Headers:/ { on = 1; getline; next }
        on && /^ *$/ { exit }
        on && /^  [A-Z]/ {
            f = ""; for (i = 7; i < NF; i++) f = f $i
            print $1, $2, $3, $5, $6, (f == "" ? "none" : f), $NF
        }' "$1"
}

check_guest() {
    local elf=$1 g why="" got="" i
    g=$(basename "$elf" .elf)
    local P=$T/$g.phdrs RL=$T/$g.readelf-l
    readelf -lW "$elf" >"$RL"
    phdrs "$RL" >"$P"

    # ---- program header types and LOAD flags, in order
    local exp_list=($EXPECTED) n=0 type off va fsz msz flg al
    while read -r type off va fsz msz flg al; do
        got="$got $type:$flg"
        local want=${exp_list[$n]:-none}
        if [ "${want%%:*}" != "$type" ]; then
            why="${why:+$why; }header $n is $type, expected ${want%%:*}"
        elif [ "${want#*:}" != - ] && [ "${want#*:}" != "$flg" ]; then
            why="${why:+$why; }header $n ($type) has flags $flg, expected ${want#*:}"
        fi
        n=$((n + 1))
    done <"$P"
    [ "$n" = ${#exp_list[@]} ] || why="${why:+$why; }$n program headers, expected ${#exp_list[@]}"
    if [ -z "$why" ]; then pass "layout_${g}_phdr_order_and_flags"; else
        fail "layout_${g}_phdr_order_and_flags" "$g.elf: $why (readelf -lW types:flags:$got; expected $EXPECTED)"
        fail "layout_${g}_segments_and_interp" "$g.elf: not checked: the program headers differ"
        check_notes "$elf" "$g" ""
        return
    fi

    # ---- the segments themselves
    why=""
    local interp text ro data empty tls bss
    local PH
    mapfile -t PH <"$P"
    interp=${PH[0]}; text=${PH[1]}; ro=${PH[2]}; data=${PH[3]}
    empty=${PH[4]}; tls=${PH[5]}; bss=${PH[6]}
    read -r _ off va fsz msz _ _ <<<"$interp"
    [ "$((va))" = $((0x100000)) ] && [ "$((fsz))" = 24 ] && [ "$((msz))" = 24 ] ||
        why="${why:+$why; }PT_INTERP is at $va with filesz $fsz memsz $msz, expected 0x100000 and 0x18"
    local toff tva
    read -r _ toff tva _ _ _ _ <<<"$text"
    [ "$((tva))" = $((0x100000)) ] && [ "$((toff))" = "$((off))" ] ||
        why="${why:+$why; }the text LOAD (offset $toff, vaddr $tva) does not start with .interp (offset $off)"
    read -r _ _ va fsz msz _ _ <<<"$data"
    [ "$((fsz))" -gt 0 ] || why="${why:+$why; }the .data LOAD has no file bytes"
    read -r _ _ va fsz msz _ _ <<<"$empty"
    [ "$((va))" = 0 ] && [ "$((fsz))" = 0 ] && [ "$((msz))" = 0 ] ||
        why="${why:+$why; }the empty LOAD has vaddr $va filesz $fsz memsz $msz, expected 0 0 0"
    read -r _ off va fsz msz _ _ <<<"$tls"
    [ "$((off))" = 0 ] && [ "$((va))" = 0 ] && [ "$((fsz))" = 0 ] && [ "$((msz))" = 0 ] ||
        why="${why:+$why; }PT_TLS has offset $off vaddr $va filesz $fsz memsz $msz, expected all 0"
    read -r _ _ va fsz msz _ _ <<<"$bss"
    [ "$((fsz))" = 0 ] && [ "$((msz))" -gt 0 ] ||
        why="${why:+$why; }the .bss LOAD has filesz $fsz memsz $msz, expected 0 and more than 0"
    if command -v nm >/dev/null; then
        local bs be
        read -r bs be < <(nm "$elf" | awk '$3 == "__bss_start" {s = "0x" $1} $3 == "__bss_end" {e = "0x" $1}
                                          END {print (s == "" ? "-" : s), (e == "" ? "-" : e)}')
        [ "$bs" = - ] && bs=""; [ "$be" = - ] && be=""
        [ -n "$bs" ] && [ -n "$be" ] && [ "$((bs))" = "$((va))" ] && [ "$((be))" -le "$((va + msz))" ] ||
            why="${why:+$why; }__bss_start..__bss_end ($bs..$be) is not the .bss LOAD ($va, memsz $msz)"
    fi
    if grep -q '^ *\[Requesting program interpreter: /nonexistent/solo5/\]$' "$RL"; then :; else
        why="${why:+$why; }interpreter is not /nonexistent/solo5/: $(grep -o 'interpreter: [^]]*' "$RL" | head -1)"
    fi
    read -r _ off _ _ _ _ _ <<<"$interp"
    if [ "$(od -An -c -N24 -j "$((off))" "$elf" | tr -d ' \n')" != '/nonexistent/solo5/\0\0\0\0\0' ]; then
        why="${why:+$why; }.interp is not \"/nonexistent/solo5/\" NUL padded to 24 bytes"
    fi
    if [ -z "$why" ]; then pass "layout_${g}_segments_and_interp"; else
        fail "layout_${g}_segments_and_interp" "$g.elf: $why"
    fi

    check_notes "$elf" "$g" ok
}

# check_notes ELF NAME ORDER_OK: the notes, the manifest and file(1).
check_notes() {
    local elf=$1 g=$2 order_ok=$3 why="" i type off va fsz msz flg al
    local P=$T/$g.phdrs RL=$T/$g.readelf-l
    load_words "$elf" "$P"
    # ---- notes: one per PT_NOTE, in order; each segment holds exactly one
    local secs
    secs=$(awk '/Section to Segment mapping/ { on = 1; getline; next }
                on && NF && ++n >= 8 && n <= 10 { $1 = ""; sub(/^ /, ""); out = out (out == "" ? "" : " ") $0 }
                END { print out }' "$RL")
    [ -z "$order_ok" ] || [ "$secs" = "$NOTE_SECTIONS" ] ||
        why="${why:+$why; }the PT_NOTE segments hold '$secs', expected one each of '$NOTE_SECTIONS'"
    i=0
    while read -r type off va fsz msz flg al; do
        [ "$type" = NOTE ] || continue
        local namesz descsz size
        namesz=$(u32 "$elf" "$((off))"); descsz=$(u32 "$elf" "$((off + 4))")
        size=$((12 + (namesz + 3) / 4 * 4 + (descsz + 3) / 4 * 4))
        [ "$size" = "$((fsz))" ] ||
            why="${why:+$why; }PT_NOTE $i: filesz $((fsz)) is not one note ($size bytes)"
        i=$((i + 1))
    done <"$P"
    readelf -nW "$elf" 2>"$T/$g.nerr" | grep -E '^ +[A-Za-z]' | grep -v '^ *Owner' >"$T/$g.notes"
    [ -s "$T/$g.nerr" ] && why="${why:+$why; }readelf -nW warns: $(head -c 200 "$T/$g.nerr" | tr '\n' '|')"
    [ "$(wc -l <"$T/$g.notes")" = 3 ] || why="${why:+$why; }readelf -nW shows $(wc -l <"$T/$g.notes") notes, expected 3"
    local NL
    mapfile -t NL <"$T/$g.notes"
    for i in 0 1 2; do
        grep -Eq "${NOTES_RE[$i]}" <<<"${NL[$i]:-}" ||
            why="${why:+$why; }note $i is '$(sed -n "$((i + 1))p" "$T/$g.notes" | tr -s ' \t' ' ' | cut -c1-80)', expected /${NOTES_RE[$i]}/"
    done
    if [ -z "$why" ]; then pass "layout_${g}_notes"; else fail "layout_${g}_notes" "$g.elf: $why"; fi

    # ---- the manifest: content at offset 24, after 4 zero bytes counted in
    # descsz (found through its PT_NOTE: type MFT1 at the start of a segment)
    why=""
    local moff="" mdesc pad ver
    while read -r type off _; do
        [ "$type" = NOTE ] && [ "$(u32 "$elf" "$((off + 8))")" = $((0x3154464d)) ] && moff=$off
    done <"$P"
    if [ -z "$moff" ]; then
        why="no PT_NOTE segment starts with the manifest note"
    else
        mdesc=$(u32 "$elf" "$((moff + 4))")
        pad=$(u32 "$elf" "$((moff + 20))"); ver=$(u32 "$elf" "$((moff + 24))")
        [ "$((mdesc % 8))" = 4 ] || why="${why:+$why; }descsz $mdesc: descsz % 8 is not 4"
        [ "$pad" = 0 ] && [ "$ver" = 1 ] ||
            why="${why:+$why; }desc starts with$(od -An -tx1 -N8 -j "$((moff + 20))" "$elf" | tr -s ' '), expected 00 00 00 00 01 00 00 00"
    fi
    if [ -z "$why" ]; then pass "layout_${g}_manifest_padded"; else fail "layout_${g}_manifest_padded" "$g.elf: $why"; fi

    # ---- manifest entry 0: the reserved entry (entries from content byte 8,
    # 104 bytes each: name[68], u32 type, ..., u8 attached at 96), as in every
    # real Solo5 kernel (test_hello.hvt has only that one: descsz 0x74)
    why=""
    if [ -z "$moff" ]; then
        why="no manifest note"
    else
        local nent e0=$((moff + 32)) etype ename attached
        nent=$(u32 "$elf" "$((moff + 28))")
        etype=$(u32 "$elf" "$((e0 + 68))")
        ename=$(od -An -v -tx1 -N68 -j "$e0" "$elf" | tr -d ' \n' | sed 's/^0*$//')
        attached=$(od -An -tu1 -N1 -j "$((e0 + 96))" "$elf" | tr -d ' ')
        if [ "$nent" -lt 1 ]; then
            why="the manifest has $nent entries"
        else
            [ "$mdesc" = $((4 + 8 + 104 * nent)) ] ||
                why="${why:+$why; }descsz $mdesc is not 4 + 8 + 104 * $nent entries"
            [ "$etype" = $((0x40000000)) ] ||
                why="${why:+$why; }entry 0 has type $(printf 0x%x "$etype"), expected 0x40000000"
            [ -z "$ename" ] || why="${why:+$why; }entry 0 has a name (first bytes ${ename:0:32})"
            [ "$attached" = 0 ] || why="${why:+$why; }entry 0 has attached $attached"
        fi
    fi
    if [ -z "$why" ]; then pass "layout_${g}_manifest_reserved_entry_0"; else
        fail "layout_${g}_manifest_reserved_entry_0" "$g.elf: $why"; fi

    # ---- what file(1) says
    if command -v file >/dev/null; then
        local f
        f=$(file -b "$elf")
        case $f in
            *"statically linked, interpreter /nonexistent/solo5/, for OpenBSD"*) pass "layout_${g}_file_says_solo5" ;;
            *) fail "layout_${g}_file_says_solo5" "$g.elf: file says '$f'" ;;
        esac
    fi
}

for elf in "${elfs[@]}"; do
    check_guest "$elf"
done

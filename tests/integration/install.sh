#!/usr/bin/env bash
# make install / uninstall into a DESTDIR (no KVM needed): programs, man
# pages made from --help (every option documented), bash completion that
# offers the commands and options the programs' --help names.
. "$(dirname "$0")/../lib.sh"
T=$TMPDIR_TEST
D=$T/dest
cd "$TOP" || exit 1

make -s install DESTDIR="$D" PREFIX=/usr >"$T/out" 2>&1
expect_status "make install: exit 0" 0 $? "$(tail -1 "$T/out")"
for f in bin/ukvm bin/ukvm-trace; do
    check "install: $f is executable" test -x "$D/usr/$f"
done
for f in share/man/man1/ukvm.1 share/man/man1/ukvm-trace.1 share/bash-completion/completions/ukvm share/ukvm/gdb/ukvm.py; do
    check "install: $f (0644)" test "$(stat -c %a "$D/usr/$f")" = 644
done

# README's Usage says where the build leaves the programs, and how to install
usage=$(sed -n '/^## Usage/,/^## /p' README.md)
for f in ./ukvm tools/ukvm-trace; do
    if grep -Fq "\`$f\`" <<<"$usage" && [ -x "$TOP/$f" ]; then pass "README Usage names $f, which make leaves"
    else fail "README Usage names $f, which make leaves" "not named in Usage, or not built"; fi
done
check "README Usage: make install PREFIX=" grep -Fq 'make install PREFIX=' <<<"$usage"

# Every option and command in --help appears in the rendered man page.
for p in ukvm ukvm-trace; do
    if ! command -v man >/dev/null; then skip "man $p" "man is not installed"; continue; fi
    MANWIDTH=200 man -l "$D/usr/share/man/man1/$p.1" 2>/dev/null | sed "s/.\x08//g" >"$T/$p.txt"
    missing=$("$D/usr/bin/$p" --help | grep -o -- '--[a-z][a-z-]*' | sort -u |
        while read -r o; do grep -q -- "$o" "$T/$p.txt" || echo "$o"; done)
    if [ -s "$T/$p.txt" ] && [ -z "$missing" ] && grep -q "^NAME" "$T/$p.txt"; then
        pass "man $p: renders, names every option"
    else
        fail "man $p" "missing: ${missing:-the page did not render}"
    fi
done

# Completion: what bash would offer for a few command lines.
complete_line() { # PROGRAM WORDS...: prints the completions for the last word
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _ukvm; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$D/usr/share/bash-completion/completions/ukvm" "$@"
}
PATH=$D/usr/bin:$PATH
got=$(complete_line ukvm r | tr '\n' ' ')
check "completion: ukvm r -> record replay run" test "$got" = "record replay run "
got=$(complete_line ukvm replay --checkpoint | tr '\n' ' ')
check "completion: --checkpoint -> --checkpoint-mem=" test "$got" = "--checkpoint-mem= "
got=$(complete_line ukvm-trace ex | tr '\n' ' ')
check "completion: ukvm-trace ex -> extract-kernel" test "$got" = "extract-kernel "
check "completion: ukvm-trace uses the same file" test -L "$D/usr/share/bash-completion/completions/ukvm-trace"

make -s uninstall DESTDIR="$D" PREFIX=/usr >"$T/out" 2>&1
expect_status "make uninstall: exit 0" 0 $?
left=$(find "$D" -type f -o -type l)
check "uninstall removes every file" test -z "$left"

#!/usr/bin/env bash
# Host only, no KVM: the documentation lives in this repository, and the
# README's first lines stay true to CI.
# - Every docs/NAME.md that a source file, script, makefile or doc names
#   exists, and none of them points at a document outside the repository
#   (a design or ABI text kept elsewhere, a path into another checkout).
# - The README's install command installs every package .ci/run installs,
#   and its test command is the one .ci/run runs.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1

files=$(git ls-files src include tools tests Makefile README.md docs .ci 2>/dev/null)
[ -n "$files" ] || files=$(find src include tools tests docs .ci Makefile README.md -type f \
    ! -path 'tests/fuzz/corpus/*' 2>/dev/null)
# Not this script, whose patterns would match themselves; grep -I passes
# over binary files (the fuzz corpus, test data).
files=$(echo "$files" | grep -v '^tests/integration/docs\.sh$')

missing=""
for d in $(grep -hoI 'docs/[A-Za-z0-9_-]*\.md' $files | sort -u); do
    [ -f "$d" ] || missing="$missing $d"
done
# Links between docs: [text](name.md) is relative to docs/.
for l in $(grep -ho '](\([a-z0-9_-]*\.md\))' docs/*.md | sed 's/](\(.*\))/\1/' | sort -u); do
    [ -f "docs/$l" ] || missing="$missing docs/$l"
done
if [ -z "$missing" ]; then
    pass "docs: every docs/*.md named in the tree exists"
else
    fail "docs: every docs/*.md named in the tree exists" "missing:$missing"
fi

# design.md is not in this repository; hvt-abi.md only as docs/hvt-abi.md
# (or a link from another doc); no path into a shared/ folder or /work.
outside=$(grep -nI 'design\.md\|hvt-abi\.md\|shared/docs\|/work/' $files |
    grep -v 'docs/hvt-abi\.md\|](hvt-abi\.md)')
if [ -z "$outside" ]; then
    pass "docs: nothing points at a document outside the repository"
else
    fail "docs: nothing points at a document outside the repository" "$(echo "$outside" | head -5 | tr '\n' ' ')"
fi

# The packages: the words after `apt-get install -y` up to the next `&&`
# (README) or the next command line (.ci/run, with its continuation lines).
ci_pkgs=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' .ci/run | grep 'apt-get install' |
    sed 's/.*apt-get install -y//' | tr ' ' '\n' | grep -v '^$' | sort -u)
readme_pkgs=$(grep -m1 'apt-get install' README.md | sed 's/.*apt-get install -y//; s/&&.*//' |
    tr ' ' '\n' | grep -v '^$' | sort -u)
lacking=$(comm -23 <(echo "$ci_pkgs") <(echo "$readme_pkgs") | tr '\n' ' ')
if [ -n "$ci_pkgs" ] && [ -z "$lacking" ]; then
    pass "docs: the README installs every package CI installs ($(echo "$ci_pkgs" | wc -l))"
else
    fail "docs: the README installs every package CI installs" "not in the README: ${lacking:-<no packages found in .ci/run>}"
fi

# The README's second command (the second indented line) is CI's last line.
readme_test=$(grep -m2 '^    ' README.md | sed -n 2p | sed 's/^ *//')
ci_test=$(grep -v '^\s*\(#\|$\)' .ci/run | tail -1)
if [ -n "$readme_test" ] && [ "$readme_test" = "$ci_test" ]; then
    pass "docs: the README's test command is CI's ($ci_test)"
else
    fail "docs: the README's test command is CI's" "README: '$readme_test', .ci/run: '$ci_test'"
fi

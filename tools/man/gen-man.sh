#!/usr/bin/env bash
# Writes a man page (troff) for PROGRAM from its own --help text, the one
# source of its usage: "usage:" lines become the synopsis, the paragraph
# after them the description, "  --option   text" lines the options (with
# any "options:"/"commands:" heading as a subsection), the rest as it is.
#   gen-man.sh PROGRAM NAME SECTION-TITLE > NAME.1
set -euo pipefail
prog=$1 name=$2 title=$3
help=$("$prog" --help)
version=$("$prog" --version 2>/dev/null | head -1 || true)
esc() { sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/' -e 's/-/\\-/g'; }
upper=$(tr '[:lower:]' '[:upper:]' <<<"$name")
echo ".TH $upper 1 \"\" \"${version:-$name}\" \"$title\""
echo ".SH NAME"
echo "$name \\- $title"
echo ".SH SYNOPSIS"
state=synopsis
while IFS= read -r line; do
    case $state in
    synopsis)
        if [ -z "$line" ]; then state=description; echo ".SH DESCRIPTION"; continue; fi
        line=${line#usage: }
        printf '%s\n.br\n' "$(sed 's/^ *//' <<<"$line" | esc)"
        ;;
    *)
        if [ -z "$line" ]; then echo ".PP"; continue; fi
        if [[ $line =~ ^[a-z][a-z\ ]*:$ ]]; then
            echo ".SH $(tr '[:lower:]' '[:upper:]' <<<"${line%:}")"
            continue
        fi
        if [[ $line =~ ^\ +([^ ]|[^ ].*[^ ])\ \ +([^ ].*)$ ]]; then
            echo ".TP"
            printf '.B %s\n' "$(esc <<<"${BASH_REMATCH[1]}")"
            esc <<<"${BASH_REMATCH[2]}"
            continue
        fi
        sed 's/^ *//' <<<"$line" | esc
        ;;
    esac
done <<<"$help"

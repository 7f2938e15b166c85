# bash completion for ukvm and ukvm-trace. Options and commands are read
# from the programs' own --help text, so they never fall out of step.

_ukvm_help_words() { # PROGRAM: the commands and --options its --help names
    "$1" --help 2>/dev/null | sed -n 's/^\(usage:\)\{0,1\} *ukvm[a-z-]* \([a-z][a-z-]*\).*/\2/p' | sort -u
}

_ukvm_help_options() {
    "$1" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*[:=]\{0,1\}' | sort -u
}

_ukvm() {
    local cur=${COMP_WORDS[COMP_CWORD]} prog=${COMP_WORDS[0]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_ukvm_help_words "$prog") --help --version" -- "$cur")
        return
    fi
    local cmd=${COMP_WORDS[1]}
    case $cur in
    --*)
        compopt -o nospace 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -W "$(_ukvm_help_options "$prog")" -- "$cur")
        # an option that takes no value gets its space back
        [ ${#COMPREPLY[@]} -eq 1 ] && case ${COMPREPLY[0]} in *[=:]) ;; *) COMPREPLY[0]+=" " ;; esac
        return ;;
    --*=*) ;;
    esac
    case $cmd in
    run|record) mapfile -t COMPREPLY < <(compgen -f -X '!*.elf' -- "$cur"; compgen -d -- "$cur") ;;
    *) mapfile -t COMPREPLY < <(compgen -f -X '!*.zst' -- "$cur"; compgen -d -- "$cur") ;;
    esac
}

complete -F _ukvm ukvm ukvm-trace

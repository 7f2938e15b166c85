#!/usr/bin/env bash
# Bad inputs to `ukvm run` (and a few to record/replay): every one must be
# refused with exit status 1, exactly one line on stderr starting with
# "ukvm: ", nothing on stdout (the guest never ran), and no signal death.
#
# Broken kernels are copies of build/guests/hello.elf (or blk.elf) edited by
# tests/integration/data/elfpatch.py; each case says which field it changes.
. "$(dirname "$0")/../lib.sh"
require_kvm bad_input || exit 0
export TEST_TIMEOUT=${TEST_TIMEOUT:-20}

T=$TMPDIR_TEST
HELLO=$GUESTS/hello.elf
BLK=$GUESTS/blk.elf
PATCH=$TOP/tests/integration/data/elfpatch.py

# refused NAME REGEX CMD...: CMD must exit 1 with one stderr line that starts
# with "ukvm: " and matches the extended regex REGEX (case-insensitive; "" for
# any), and print nothing on stdout.
refused() {
    local name=$1 re=$2; shift 2
    local out=$T/$name.out err=$T/$name.err rc why=""
    run_capture "$out" "$err" "$@"
    rc=$?
    [ "$rc" = 1 ] || why="exit status $rc, expected 1"
    if ! one_line "$err"; then
        why="${why:+$why; }stderr has $(grep -c . "$err") lines, expected 1"
    elif [ "$(head -c 6 "$err")" != "ukvm: " ]; then
        why="${why:+$why; }stderr does not start with 'ukvm: '"
    elif [ -n "$re" ] && ! grep -Eiq -- "$re" "$err"; then
        why="${why:+$why; }message does not match /$re/"
    fi
    [ -s "$out" ] && why="${why:+$why; }the guest ran (stdout: $(head -c 80 "$out" | tr '\n' '|'))"
    if [ -z "$why" ]; then
        pass "$name"
        [ -n "${VERBOSE:-}" ] && echo "      $(cat "$err")"
    else
        fail "$name" "$why; stderr: $(head -c 300 "$err" | tr '\n' '|')"
    fi
}

# mk NAME [BASE] EDIT...: writes $T/NAME.elf, a copy of BASE (default hello)
# with elfpatch.py edits applied.
mk() {
    local name=$1; shift
    local base=$HELLO
    case "${1:-}" in /*) base=$1; shift ;; esac
    python3 "$PATCH" "$base" "$T/$name.elf" "$@" || echo "elfpatch failed for $name" >&2
}

# ---- files that are not kernels
refused bad_nonexistent_file "nope\.elf" "$UKVM" run "$T/nope.elf"
echo "this is not an ELF file" >"$T/text.elf"
refused bad_text_file "text\.elf" "$UKVM" run "$T/text.elf"
: >"$T/empty.elf"
refused bad_empty_file "empty\.elf" "$UKVM" run "$T/empty.elf"
mkdir "$T/dir.elf"
refused bad_directory_as_kernel "dir\.elf" "$UKVM" run "$T/dir.elf"
printf '\177ELF' >"$T/magic.elf"
refused bad_elf_magic_only "" "$UKVM" run "$T/magic.elf"

# ---- truncated copies of hello.elf, at several cut points:
#   inside e_ident, inside the ELF header, inside the first and the last
#   program header, inside the ABI note (name and descriptor), inside the
#   manifest note, inside the text segment's bytes
for cut in 8 40 63 'phoff+20' 'phoff+3*56+30' 'phoff+4*56-1' \
           'note_solo5_abi_off+6' 'note_solo5_abi_off+30' \
           'note_solo5_manifest_off+14' '0x1000+0x200'; do
    tag=$(echo "$cut" | tr -c 'a-z0-9\n' '_')
    mk "trunc_$tag" "truncate=$cut"
    refused "bad_truncated_at_$tag" "" "$UKVM" run "$T/trunc_$tag.elf"
done

# ---- ELF header fields
mk class32 ehdr.ei_class=1            # EI_CLASS = ELFCLASS32
refused bad_elf_32bit "" "$UKVM" run "$T/class32.elf"
mk bigendian ehdr.ei_data=2           # EI_DATA = ELFDATA2MSB
refused bad_elf_big_endian "" "$UKVM" run "$T/bigendian.elf"
mk em386 ehdr.e_machine=3             # EM_386
refused bad_elf_machine_i386 "" "$UKVM" run "$T/em386.elf"
mk emarm ehdr.e_machine=183           # EM_AARCH64
refused bad_elf_machine_aarch64 "" "$UKVM" run "$T/emarm.elf"
mk etdyn ehdr.e_type=3                # ET_DYN (a PIE / shared object)
refused bad_elf_type_dyn "" "$UKVM" run "$T/etdyn.elf"
mk etrel ehdr.e_type=1                # ET_REL (an object file)
refused bad_elf_type_rel "" "$UKVM" run "$T/etrel.elf"
mk phoff_out ehdr.e_phoff=0x7fffffff  # program headers past the end of the file
refused bad_elf_phoff_past_end "" "$UKVM" run "$T/phoff_out.elf"
mk phnum0 ehdr.e_phnum=0                # no program headers at all
refused bad_elf_no_program_headers "" "$UKVM" run "$T/phnum0.elf"
mk phentsize ehdr.e_phentsize=32        # program header size 32 instead of 56
refused bad_elf_phentsize_32 "" "$UKVM" run "$T/phentsize.elf"
refused bad_kernel_dev_null "" "$UKVM" run /dev/null
# A FIFO with no writer: must be refused as not a regular file, not waited on
# (opening it for reading blocks until a writer comes).
mkfifo "$T/kernel.fifo"
TEST_TIMEOUT=5 refused bad_kernel_fifo_no_hang "fifo" "$UKVM" run "$T/kernel.fifo"
TEST_TIMEOUT=5 refused bad_block_file_fifo_no_hang "fifo" "$UKVM" run --block:storage="$T/kernel.fifo" "$BLK"

# ---- the ABI note
mk noabi 'note:.note.solo5.abi:name=Solo6'          # note name "Solo6": no ABI note
refused bad_abi_note_missing "abi|note|solo5" "$UKVM" run "$T/noabi.elf"
mk abitype 'note:.note.solo5.abi:type=0x31494242'   # type "BBI1" instead of "ABI1"
refused bad_abi_note_wrong_type "abi|note|solo5" "$UKVM" run "$T/abitype.elf"
mk target2 'note:.note.solo5.abi:desc32:0=2'        # abi_target 2 (not hvt)
refused bad_abi_target_2 "target|abi" "$UKVM" run "$T/target2.elf"
mk version1 'note:.note.solo5.abi:desc32:1=1'       # abi_version 1
refused bad_abi_version_1 "version|abi" "$UKVM" run "$T/version1.elf"
mk version3 'note:.note.solo5.abi:desc32:1=3'       # abi_version 3
refused bad_abi_version_3 "version|abi" "$UKVM" run "$T/version3.elf"
mk abinamesz 'note:.note.solo5.abi:namesz=0xfffffff0'  # namesz runs far past the section
refused bad_abi_note_huge_namesz "" "$UKVM" run "$T/abinamesz.elf"
mk abidescsz 'note:.note.solo5.abi:descsz=0xfffffff0'  # descsz runs far past the section
refused bad_abi_note_huge_descsz "" "$UKVM" run "$T/abidescsz.elf"
mk abidesc4 'note:.note.solo5.abi:descsz=4'            # a 4-byte descriptor (needs 16)
refused bad_abi_note_short_desc "" "$UKVM" run "$T/abidesc4.elf"
mk mftdescsz "$BLK" 'note:.note.solo5.manifest:descsz=0xfffffff0'
refused bad_manifest_note_huge_descsz "" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftdescsz.elf"

# ---- the manifest note (blk.elf: one block entry "storage"; descriptor =
# u32 version, u32 entries, then 104-byte entries; attached at entry byte 96)
mk mftattached "$BLK" 'note:.note.solo5.manifest:desc8:104=1'   # entry 0 attached = 1 in the file
echo -n >"$T/blk1.img"; truncate -s 4096 "$T/blk1.img"
refused bad_manifest_attached_in_file "" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftattached.elf"
mk mftversion "$BLK" 'note:.note.solo5.manifest:desc32:0=2'     # manifest version 2
refused bad_manifest_version_2 "" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftversion.elf"
mk mftentries "$BLK" 'note:.note.solo5.manifest:desc32:1=65'    # 65 entries (more than 64, and past the note)
refused bad_manifest_65_entries "" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftentries.elf"
mk mftmanyentries "$BLK" 'note:.note.solo5.manifest:desc32:1=5' # 5 entries in a note that holds 1
refused bad_manifest_entries_past_note "" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftmanyentries.elf"

# ---- segments (hello: phdr 0 text R E at 0x100000, phdr 1 rodata+notes R at
# 0x101000, phdr 2 bss RW at 0x102000, phdr 3 PT_NOTE)
mk below1m phdr.0.p_vaddr=0xff000 phdr.0.p_paddr=0xff000    # text at 0xff000, below 1 MiB
refused bad_segment_below_1mib "" "$UKVM" run "$T/below1m.elf"
mk atzero phdr.0.p_vaddr=0 phdr.0.p_paddr=0                 # text at 0 (over the page tables)
refused bad_segment_at_zero "" "$UKVM" run "$T/atzero.elf"
mk overlap phdr.1.p_vaddr=0x100800 phdr.1.p_paddr=0x100800  # rodata overlaps text
refused bad_segments_overlap "" "$UKVM" run "$T/overlap.elf"
mk order phdr.0.p_vaddr=0x200000 phdr.0.p_paddr=0x200000    # text above rodata and bss: not ascending
refused bad_segments_not_ascending "" "$UKVM" run "$T/order.elf"
mk bigbss phdr.2.p_memsz=0x200000                           # bss ends at 0x302000 (above 2 MiB)
refused bad_segment_outside_mem_2 "" "$UKVM" run --mem=2 "$T/bigbss.elf"
mk hugebss phdr.2.p_memsz=0xfffffffffff00000                # bss end overflows 64 bits
refused bad_segment_memsz_overflow "" "$UKVM" run "$T/hugebss.elf"
mk highseg phdr.2.p_vaddr=0x1ff00000 phdr.2.p_paddr=0x1ff00000 phdr.2.p_memsz=0x200000  # runs past 512 MiB
refused bad_segment_past_512mib "" "$UKVM" run "$T/highseg.elf"
mk filesz phdr.1.p_filesz=0x2000                            # p_filesz > p_memsz
refused bad_segment_filesz_gt_memsz "" "$UKVM" run "$T/filesz.elf"
mk fileoff phdr.0.p_offset=0x7fff0000                       # segment bytes past the end of the file
refused bad_segment_offset_past_eof "" "$UKVM" run "$T/fileoff.elf"
mk wx phdr.0.p_flags=7                                      # text R W X
refused bad_segment_wx "" "$UKVM" run "$T/wx.elf"
# The bigbss kernel itself is fine with enough memory.
run_capture "$T/bigbss4.out" "$T/bigbss4.err" "$UKVM" run --mem=4 "$T/bigbss.elf" x
rc=$?
if [ "$rc" = 0 ] && [ "$(cat "$T/bigbss4.out")" = "Hello, world! args: x" ] && [ ! -s "$T/bigbss4.err" ]; then
    pass bad_segment_control_bigbss_fits_in_4mib
else
    fail bad_segment_control_bigbss_fits_in_4mib "status $rc, stdout '$(head -c 100 "$T/bigbss4.out")', stderr '$(head -c 200 "$T/bigbss4.err")'"
fi

# ---- the entry point
mk entry1g ehdr.e_entry=0x40000000                          # 1 GiB, outside 512 MiB
refused bad_entry_outside_memory "entry" "$UKVM" run "$T/entry1g.elf"
mk entryend ehdr.e_entry=0x20000000                         # exactly the end of 512 MiB
refused bad_entry_at_end_of_memory "entry" "$UKVM" run "$T/entryend.elf"
mk entryhuge ehdr.e_entry=0xffffffff80100000                # a higher-half address
refused bad_entry_higher_half "entry" "$UKVM" run "$T/entryhuge.elf"
refused bad_entry_outside_mem_2 "entry" "$UKVM" run --mem=2 "$T/entry1g.elf"

# ---- devices
refused bad_manifest_device_not_given "storage" "$UKVM" run "$BLK"
refused bad_net_device_not_given "service" "$UKVM" run "$GUESTS/net.elf"
truncate -s 4096 "$T/ok.img"
refused bad_device_not_in_manifest "nope" "$UKVM" run --block:nope="$T/ok.img" "$HELLO"
refused bad_device_extra_beside_manifest "other" "$UKVM" run --block:storage="$T/ok.img" --block:other="$T/ok.img" "$BLK"
refused bad_device_wrong_kind "storage" "$UKVM" run --net:storage=lo "$BLK"
refused bad_device_given_twice "storage|twice" "$UKVM" run --block:storage="$T/ok.img" --block:storage="$T/ok.img" "$BLK"
head -c 1000 /dev/zero >"$T/odd.img"
refused bad_block_size_not_multiple_of_512 "" "$UKVM" run --block:storage="$T/odd.img" "$BLK"
truncate -s 6144 "$T/odd4k.img"   # a multiple of 512 but not of 4096
refused bad_block_size_not_multiple_of_4096 "" "$UKVM" run --block:storage="$T/odd4k.img" --block-sector-size:storage=4096 "$BLK"
refused bad_block_file_missing "missing\.img" "$UKVM" run --block:storage="$T/missing.img" "$BLK"
refused bad_block_file_directory "" "$UKVM" run --block:storage="$T" "$BLK"
refused bad_block_sector_size_1000 "" "$UKVM" run --block:storage="$T/ok.img" --block-sector-size:storage=1000 "$BLK"
refused bad_block_empty_name "" "$UKVM" run --block:="$T/ok.img" "$BLK"
refused bad_block_no_file "" "$UKVM" run --block:storage= "$BLK"
refused bad_block_name_68_chars "" "$UKVM" run --block:"$(printf 'n%.0s' $(seq 68))"="$T/ok.img" "$BLK"
refused bad_net_mac_syntax "" "$UKVM" run --net:service=lo --net-mac:service=zz:00:00:00:00:00 "$GUESTS/net.elf"

# ---- memory sizes
for m in 0 3 8192 abc -2 4097 ''; do
    refused "bad_mem_${m:-empty}" "mem" "$UKVM" run --mem="$m" "$HELLO"
done
refused bad_mem_4098 "mem" "$UKVM" run --mem=4098 "$HELLO"
refused bad_mem_2pow64 "mem" "$UKVM" run --mem=18446744073709551616 "$HELLO"

# ---- the guest command line: at most 8191 bytes (8192 with its NUL)
a4000=$(printf 'a%.0s' $(seq 4000))
b4190=$(printf 'b%.0s' $(seq 4190))
refused bad_cmdline_8192_bytes "command line|long" "$UKVM" run "$HELLO" "$a4000" "${b4190}x"   # 4000+1+4191 = 8192
run_capture "$T/cmd8191.out" "$T/cmd8191.err" "$UKVM" run "$HELLO" "$a4000" "$b4190"           # 8191 bytes: fits
rc=$?
# hello's printf truncates its output to 511 bytes: compare that much.
want=$(printf 'Hello, world! args: %s %s' "$a4000" "$b4190" | head -c 511)
if [ "$rc" = 0 ] && [ "$(cat "$T/cmd8191.out")" = "$want" ] && [ ! -s "$T/cmd8191.err" ]; then
    pass cmdline_8191_bytes_accepted
else
    fail cmdline_8191_bytes_accepted "status $rc, $(wc -c <"$T/cmd8191.out") bytes of stdout, stderr '$(head -c 200 "$T/cmd8191.err")'"
fi
refused bad_cmdline_100k_bytes "command line|long" "$UKVM" run "$HELLO" "$(printf 'c%.0s' $(seq 100000))"

# ---- options and commands
refused bad_unknown_option "bogus" "$UKVM" run --bogus "$HELLO"
refused bad_unknown_short_option "" "$UKVM" run -x "$HELLO"
refused bad_mem_without_value "mem" "$UKVM" run --mem "$HELLO"
refused bad_unknown_command "frobnicate" "$UKVM" frobnicate "$HELLO"
refused bad_run_no_kernel "kernel" "$UKVM" run
refused bad_run_only_options "kernel" "$UKVM" run --mem=4
refused bad_force_outside_record "force" "$UKVM" run --force "$HELLO"
refused bad_record_o_without_file "" "$UKVM" record -o
refused bad_replay_with_mem "" "$UKVM" replay --mem=4 "$T/x.trace"
refused bad_replay_no_trace "trace" "$UKVM" replay
refused bad_replay_extra_args "" "$UKVM" replay "$T/x.trace" extra
refused bad_gdb_port "gdb" "$UKVM" run --gdb=99999 "$HELLO"

# ---- record refuses the same bad inputs, and leaves no trace file behind
refused bad_record_wrong_abi "version|abi" "$UKVM" record -o "$T/bad.trace" "$T/version1.elf"
check bad_record_leaves_no_trace test ! -e "$T/bad.trace"
refused bad_record_missing_device "storage" "$UKVM" record -o "$T/bad2.trace" "$BLK"
check bad_record_missing_device_leaves_no_trace test ! -e "$T/bad2.trace"

#!/usr/bin/env bash
# Bad inputs to `ukvm run` (and a few to record/replay): every one must be
# refused with exit status 1, exactly one line on stderr starting with
# "ukvm: ", nothing on stdout (the guest never ran), and no signal death.
#
# Broken kernels are copies of build/guests/hello.elf (or blk.elf) edited by
# tests/lib/elfpatch.py; each case says which field it changes.
# The guests have Solo5's layout (tests/guests/rt/guest.ld): program headers
#   0 INTERP  1 LOAD R E (text, 0x100000)  2 LOAD R (notes, rodata, 0x101000)
#   3 LOAD RW (data)  4 LOAD (empty)  5 TLS  6 LOAD RW (bss, filesz 0)
#   7 NOTE (OpenBSD)  8 NOTE (Solo5 ABI)  9 NOTE (Solo5 manifest)
#
# A bad kernel file is refused while the kernel is parsed, before /dev/kvm is
# opened: those cases run on any host. The rest needs KVM.
. "$(dirname "$0")/../lib.sh"
export TEST_TIMEOUT=${TEST_TIMEOUT:-20}

T=$TMPDIR_TEST
HELLO=$GUESTS/hello.elf
BLK=$GUESTS/blk.elf
PATCH=$TOP/tests/lib/elfpatch.py

if [ ! -x "$UKVM" ] || [ ! -f "$HELLO" ] || [ ! -f "$BLK" ]; then
    skip bad_input "ukvm or the test guests are not built"
    exit 0
fi

# refused NAME REGEX CMD...: CMD must exit 1 with one stderr line that starts
# with "ukvm: " and matches the extended regex REGEX (case-insensitive; "" for
# any), and print nothing on stdout. The line must not be about /dev/kvm:
# none of these inputs may get that far (and on a host without KVM a kernel
# that was wrongly accepted stops there).
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
    elif grep -q '/dev/kvm' "$err"; then
        why="${why:+$why; }the input was not refused before KVM"
    fi
    [ -s "$out" ] && why="${why:+$why; }the guest ran (stdout: $(head -c 80 "$out" | tr '\n' '|'))"
    if [ -z "$why" ]; then
        pass "$name"
        [ -n "${VERBOSE:-}" ] && echo "      $(cat "$err")"
    else
        fail "$name" "$why; stderr: $(head -c 300 "$err" | tr '\n' '|')"
    fi
}

# accepted NAME KERNEL: an edited hello.elf that must still load. With KVM it
# runs and prints its greeting; without, it must get past the kernel checks
# to the point where ukvm opens /dev/kvm.
accepted() {
    local name=$1 kernel=$2 out=$T/$1.out err=$T/$1.err rc
    run_capture "$out" "$err" "$UKVM" run "$kernel" x
    rc=$?
    if kvm_usable; then
        if [ "$rc" = 0 ] && [ "$(cat "$out")" = "Hello, world! args: x" ] && [ ! -s "$err" ]; then
            pass "$name"
        else
            fail "$name" "status $rc, stdout '$(head -c 100 "$out")', stderr '$(head -c 200 "$err")'"
        fi
    elif [ "$rc" = 1 ] && one_line "$err" && grep -q '/dev/kvm' "$err" && [ ! -s "$out" ]; then
        pass "$name"    # the kernel passed every check; only the VM is missing
    else
        fail "$name" "refused before KVM: status $rc, stderr '$(head -c 300 "$err")'"
    fi
}

# accepted_blk NAME KERNEL: the same for an edited blk.elf, run with
# --block:storage: with KVM it must end with "blk: OK (...)".
accepted_blk() {
    local name=$1 kernel=$2 out=$T/$1.out err=$T/$1.err rc
    truncate -s 4096 "$T/$name.img"
    run_capture "$out" "$err" "$UKVM" run --block:storage="$T/$name.img" "$kernel"
    rc=$?
    if kvm_usable; then
        if [ "$rc" = 0 ] && grep -q '^blk: OK (' "$out" && [ ! -s "$err" ]; then
            pass "$name"
        else
            fail "$name" "status $rc, stdout '$(head -c 200 "$out" | tr '\n' '|')', stderr '$(head -c 200 "$err")'"
        fi
    elif [ "$rc" = 1 ] && one_line "$err" && grep -q '/dev/kvm' "$err" && [ ! -s "$out" ]; then
        pass "$name"
    else
        fail "$name" "refused before KVM: status $rc, stderr '$(head -c 300 "$err")'"
    fi
}

# mk NAME [BASE] EDIT...: writes $T/NAME.elf, a copy of BASE (default hello)
# with elfpatch.py edits applied (by one elfpatch.py --serve for all: a
# python start is slow in the QEMU VM).
coproc ELFPATCH { exec python3 "$PATCH" --serve; }
mk() {
    local name=$1; shift
    local base=$HELLO reply=""
    case "${1:-}" in /*) base=$1; shift ;; esac
    local IFS=$'\t'
    echo "$base$IFS$T/$name.elf${*:+$IFS$*}" >&"${ELFPATCH[1]}"
    read -r reply <&"${ELFPATCH[0]}"
    [ "$reply" = ok ] || echo "elfpatch failed for $name" >&2
}

echo -n >"$T/blk1.img"; truncate -s 4096 "$T/blk1.img"

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
refused bad_kernel_dev_null "" "$UKVM" run /dev/null
# A FIFO with no writer: must be refused as not a regular file, not waited on
# (opening it for reading blocks until a writer comes).
mkfifo "$T/kernel.fifo"
TEST_TIMEOUT=5 refused bad_kernel_fifo_no_hang "fifo" "$UKVM" run "$T/kernel.fifo"

# ---- truncated copies of hello.elf, at several cut points:
#   inside e_ident, inside the ELF header, inside the first and the last
#   program header, one byte short of the program headers, inside the
#   OpenBSD note, the ABI note (name and content) and the manifest note,
#   inside .interp and inside the text segment's code
for cut in 8 40 63 'phoff+20' 'phoff+9*56+30' 'phoff+10*56-1' \
           'note_openbsd_off+14' 'note_abi_off+6' 'note_abi_off+30' \
           'note_manifest_off+14' 'note_manifest_off+22' 'interp_off+10' '0x1000+0x200'; do
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
mk dynamic phdr.5.p_type=2              # the PT_TLS header becomes PT_DYNAMIC
refused bad_elf_pt_dynamic "dynamically linked" "$UKVM" run "$T/dynamic.elf"

# ---- what a Solo5 kernel has and ukvm must accept (hello.elf already has
# PT_INTERP, PT_TLS, an empty PT_LOAD and the OpenBSD note)
accepted kernel_accepted_as_built "$HELLO"
mk nosections strip-sections=1          # no section headers: notes come from PT_NOTE
accepted kernel_accepted_without_section_headers "$T/nosections.elf"
mk badsections ehdr.e_shoff=0x7fffffff ehdr.e_shnum=0xfff0   # section headers past the end
accepted kernel_accepted_with_bogus_section_headers "$T/badsections.elf"
mk unpadded mft-unpad=1                 # the manifest unpadded (content at 20), as older ukvm guests had it
accepted kernel_accepted_unpadded_manifest "$T/unpadded.elf"
mk tlsjunk phdr.5.p_vaddr=0x40000000 phdr.5.p_memsz=0x1000   # PT_TLS pointing anywhere: ignored
accepted kernel_accepted_pt_tls_ignored "$T/tlsjunk.elf"
mk gnustack phdr.4.p_type=0x6474e551 phdr.4.p_flags=7        # the empty PT_LOAD as PT_GNU_STACK RWX: ignored
accepted kernel_accepted_pt_gnu_stack_ignored "$T/gnustack.elf"

# ---- the ABI note (found through its PT_NOTE, phdr 8)
mk noabi 'note:abi:name=Solo6'          # note name "Solo6": no ABI note
refused bad_abi_note_missing "abi|note|solo5" "$UKVM" run "$T/noabi.elf"
mk abiphdr phdr.8.p_type=0              # the ABI note's PT_NOTE gone (the section is still there)
refused bad_abi_note_no_pt_note "no Solo5 ABI note" "$UKVM" run "$T/abiphdr.elf"
mk abitype 'note:abi:type=0x31494242'   # type "BBI1" instead of "ABI1"
refused bad_abi_note_wrong_type "abi|note|solo5" "$UKVM" run "$T/abitype.elf"
mk target2 'note:abi:desc32:0=2'        # abi_target 2 (not hvt)
refused bad_abi_target_2 "target|abi" "$UKVM" run "$T/target2.elf"
mk version1 'note:abi:desc32:1=1'       # abi_version 1
refused bad_abi_version_1 "version|abi" "$UKVM" run "$T/version1.elf"
mk version3 'note:abi:desc32:1=3'       # abi_version 3
refused bad_abi_version_3 "version|abi" "$UKVM" run "$T/version3.elf"
mk abinamesz 'note:abi:namesz=0xfffffff0'  # namesz runs far past the segment
refused bad_abi_note_huge_namesz "" "$UKVM" run "$T/abinamesz.elf"
mk abidescsz 'note:abi:descsz=0xfffffff0'  # descsz far larger than the ABI content
refused bad_abi_note_huge_descsz "" "$UKVM" run "$T/abidescsz.elf"
mk abidesc4 'note:abi:descsz=4'            # a 4-byte descriptor (needs 16)
refused bad_abi_note_short_desc "" "$UKVM" run "$T/abidesc4.elf"
mk abidesc0 'note:abi:descsz=0'            # an empty descriptor
refused bad_abi_note_descsz_0 "empty" "$UKVM" run "$T/abidesc0.elf"
mk abiseg phdr.8.p_filesz=32               # the PT_NOTE ends 4 bytes into the content
refused bad_abi_note_past_segment "past the end" "$UKVM" run "$T/abiseg.elf"

# ---- the manifest note (blk.elf: two entries, as in a real Solo5 kernel:
# entry 0 the reserved one (type 0x40000000, empty name) and entry 1 the
# block device "storage"; content = u32 version, u32 entries, then 104-byte
# entries from content byte 8 on, type at entry byte 68, attached at entry
# byte 96; Solo5 puts the content at offset 24 of the note, after 4 bytes of
# padding; the note is 0xf0 bytes)
mk mftdescsz "$BLK" 'note:manifest:descsz=0xfffffff4'
refused bad_manifest_note_huge_descsz "too large" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftdescsz.elf"
mk mftdesc0 "$BLK" 'note:manifest:descsz=0'                  # descsz 0
refused bad_manifest_descsz_0 "empty" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftdesc0.elf"
mk mftbig "$BLK" 'note:manifest:descsz=4+8+104*65'           # more than the largest manifest (64 entries)
refused bad_manifest_descsz_too_large "too large" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftbig.elf"
mk mftpast "$BLK" 'note:manifest:descsz=4+8+104*3'           # three entries' worth in a segment that holds two
refused bad_manifest_descsz_past_segment "past the end" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftpast.elf"
mk mftparity "$BLK" 'note:manifest:descsz=4+8+104*2-2'       # descsz % 8 == 2: neither padded nor unpadded
refused bad_manifest_descsz_parity "neither" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftparity.elf"
mk mftseg "$BLK" phdr.9.p_filesz=0xe8                        # the PT_NOTE ends 8 bytes early
refused bad_manifest_note_past_segment "past the end" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftseg.elf"
mk mftattached "$BLK" 'note:manifest:desc8:208=1'    # entry 1 ("storage"): byte 8+104+96, attached = 1 in the file
refused bad_manifest_attached_in_file "entry 1 'storage' is marked attached" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftattached.elf"
mk mftrsvattached "$BLK" 'note:manifest:desc8:104=1' # entry 0 (the reserved one): byte 8+96, attached = 1 in the file
refused bad_manifest_reserved_attached_in_file "entry 0 '' is marked attached" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftrsvattached.elf"
mk mftversion "$BLK" 'note:manifest:desc32:0=2'     # manifest version 2
refused bad_manifest_version_2 "version" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftversion.elf"
mk mftentries "$BLK" 'note:manifest:desc32:1=65'    # 65 entries (more than 64, and past the note)
refused bad_manifest_65_entries "" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftentries.elf"
mk mftmanyentries "$BLK" 'note:manifest:desc32:1=5' # 5 entries in a note that holds 2
refused bad_manifest_entries_past_note "truncated" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftmanyentries.elf"
mk mftpadver "$BLK" 'note:manifest:raw8:4=0' 'note:manifest:raw8:0=1'  # version read at 20 would be 1, at 24 is 0
refused bad_manifest_version_at_24 "version 0" "$UKVM" run --block:storage="$T/blk1.img" "$T/mftpadver.elf"
mk nomft phdr.9.p_type=0                            # the manifest's PT_NOTE gone
refused bad_manifest_note_missing "manifest" "$UKVM" run "$T/nomft.elf"
mk twomft phdr.7.p_offset=note_manifest_off phdr.7.p_filesz=0x88   # the OpenBSD PT_NOTE points at the manifest too (hello's: 0x88 bytes)
refused bad_manifest_twice "more than one" "$UKVM" run "$T/twomft.elf"

# ---- the reserved manifest entry (entry 0 of a Solo5 manifest) is no
# device: never asked for, never named by a device option, whatever its name
# and reserved type (>= 0x40000000). Devices are matched with the manifest
# before /dev/kvm is opened, so the refusals need no KVM.
mk rsvdname "$BLK" 'note:manifest:descstr:8=rsvd'          # the reserved entry named "rsvd"
refused bad_device_names_reserved_entry_block "'rsvd'.*not in the kernel's manifest" \
    "$UKVM" run --block:rsvd="$T/blk1.img" --block:storage="$T/blk1.img" "$T/rsvdname.elf"
refused bad_device_names_reserved_entry_net "'rsvd'.*not in the kernel's manifest" \
    "$UKVM" run --net:rsvd=lo --block:storage="$T/blk1.img" "$T/rsvdname.elf"
accepted_blk kernel_accepted_named_reserved_entry "$T/rsvdname.elf"
mk rsvdstorage "$BLK" 'note:manifest:descstr:8=storage'    # named like the device: --block:storage is still entry 1
accepted_blk kernel_accepted_reserved_entry_named_like_device "$T/rsvdstorage.elf"
mk rsvdtop 'note:manifest:desc32:19=0xffffffff'            # hello's entry 0 with the highest reserved type
accepted kernel_accepted_reserved_type_ffffffff "$T/rsvdtop.elf"
mk rsvdbelow 'note:manifest:desc32:19=0x3fffffff'          # just below the reserved range: no such device type
refused bad_manifest_unknown_device_type "unknown device type" "$UKVM" run "$T/rsvdbelow.elf"

# ---- other notes and PT_NOTE segments
mk obsddesc 'note:openbsd:descsz=0x1000'            # the OpenBSD note runs past its segment
refused bad_foreign_note_past_segment "past the end" "$UKVM" run "$T/obsddesc.elf"
mk nhdrcut phdr.7.p_filesz=8                        # a PT_NOTE too short for a note header
refused bad_note_header_past_segment "note header" "$UKVM" run "$T/nhdrcut.elf"
mk noteoff phdr.9.p_offset=0x7fff0000               # a PT_NOTE past the end of the file
refused bad_note_segment_past_eof "outside the file" "$UKVM" run "$T/noteoff.elf"
mk notesz phdr.8.p_filesz=0xffffffffffffff00        # a PT_NOTE far larger than the file
refused bad_note_segment_huge_filesz "outside the file" "$UKVM" run "$T/notesz.elf"

# ---- segments
mk below1m phdr.1.p_vaddr=0xff000 phdr.1.p_paddr=0xff000    # text at 0xff000, below 1 MiB
refused bad_segment_below_1mib "" "$UKVM" run "$T/below1m.elf"
mk atzero phdr.1.p_vaddr=0 phdr.1.p_paddr=0                 # text at 0 (over the page tables)
refused bad_segment_at_zero "" "$UKVM" run "$T/atzero.elf"
mk overlap phdr.2.p_vaddr=0x100800 phdr.2.p_paddr=0x100800  # rodata overlaps text
refused bad_segments_overlap "" "$UKVM" run "$T/overlap.elf"
mk order phdr.1.p_vaddr=0x200000 phdr.1.p_paddr=0x200000    # text above rodata and bss: not ascending
refused bad_segments_not_ascending "" "$UKVM" run "$T/order.elf"
mk bigbss phdr.6.p_memsz=0x200000                           # bss ends at 0x303000 (above 2 MiB)
refused bad_segment_outside_mem_2 "" "$UKVM" run --mem=2 "$T/bigbss.elf"
mk hugebss phdr.6.p_memsz=0xfffffffffff00000                # bss end overflows 64 bits
refused bad_segment_memsz_overflow "" "$UKVM" run "$T/hugebss.elf"
mk highseg phdr.6.p_vaddr=0x1ff00000 phdr.6.p_paddr=0x1ff00000 phdr.6.p_memsz=0x200000  # runs past 512 MiB
refused bad_segment_past_512mib "" "$UKVM" run "$T/highseg.elf"
mk filesz phdr.2.p_filesz=0x2000                            # p_filesz > p_memsz
refused bad_segment_filesz_gt_memsz "" "$UKVM" run "$T/filesz.elf"
mk fileoff phdr.1.p_offset=0x7fff0000                       # segment bytes past the end of the file
refused bad_segment_offset_past_eof "" "$UKVM" run "$T/fileoff.elf"
mk wx phdr.1.p_flags=7                                      # text R W X
refused bad_segment_wx "" "$UKVM" run "$T/wx.elf"
mk bsswx phdr.6.p_flags=7                                   # bss R W X
refused bad_segment_bss_wx "writable and executable" "$UKVM" run "$T/bsswx.elf"
mk emptyfilesz phdr.4.p_filesz=0x10                         # the empty PT_LOAD with file bytes but memsz 0: still skipped
accepted kernel_accepted_empty_load_skipped "$T/emptyfilesz.elf"

# ---- the entry point
mk entry1g ehdr.e_entry=0x40000000                          # 1 GiB, outside 512 MiB
refused bad_entry_outside_memory "entry" "$UKVM" run "$T/entry1g.elf"
mk entryend ehdr.e_entry=0x20000000                         # exactly the end of 512 MiB
refused bad_entry_at_end_of_memory "entry" "$UKVM" run "$T/entryend.elf"
mk entryhuge ehdr.e_entry=0xffffffff80100000                # a higher-half address
refused bad_entry_higher_half "entry" "$UKVM" run "$T/entryhuge.elf"
refused bad_entry_outside_mem_2 "entry" "$UKVM" run --mem=2 "$T/entry1g.elf"

# ======== the rest needs KVM
require_kvm bad_input_with_kvm || exit 0

TEST_TIMEOUT=5 refused bad_block_file_fifo_no_hang "fifo" "$UKVM" run --block:storage="$T/kernel.fifo" "$BLK"
# The bigbss kernel itself is fine with enough memory.
run_capture "$T/bigbss4.out" "$T/bigbss4.err" "$UKVM" run --mem=4 "$T/bigbss.elf" x
rc=$?
if [ "$rc" = 0 ] && [ "$(cat "$T/bigbss4.out")" = "Hello, world! args: x" ] && [ ! -s "$T/bigbss4.err" ]; then
    pass bad_segment_control_bigbss_fits_in_4mib
else
    fail bad_segment_control_bigbss_fits_in_4mib "status $rc, stdout '$(head -c 100 "$T/bigbss4.out")', stderr '$(head -c 200 "$T/bigbss4.err")'"
fi

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
refused bad_mem_last_argument "'--mem' needs a value" "$UKVM" run --mem
refused bad_mem_space_odd "--mem: '3'" "$UKVM" run --mem 3 "$HELLO"
refused bad_block_space_no_file "'--block:disk' needs a value" "$UKVM" run --block:disk
refused bad_flag_with_value "'--force' takes no value" "$UKVM" record --force=yes "$HELLO"
refused bad_debug_goto_space "--goto: 'nowhere'" "$UKVM" debug --goto nowhere "$T/x.trace"
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

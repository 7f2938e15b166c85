#!/usr/bin/env bash
# Builds the tiny initramfs of the test VM: busybox-static and the modules
# needed to mount the host's root over virtio-9p. Everything else (bash,
# gdb, python3, the kvm modules) comes from the host's root once mounted.
#   make-initramfs.sh KERNEL_RELEASE OUT.cpio.gz
set -euo pipefail
kver=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
moddir=/lib/modules/$kver
busybox=$(command -v busybox || true)
[ -x /bin/busybox ] && busybox=/bin/busybox
if [ -z "$busybox" ] || ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
    echo "make-initramfs: busybox-static is needed (apt-get install busybox-static)" >&2
    exit 1
fi
[ -d "$moddir" ] || { echo "make-initramfs: no modules in $moddir (apt-get install linux-image-amd64)" >&2; exit 1; }

stage=$(mktemp -d /tmp/ukvm-initramfs.XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,newroot,modules}
cp "$busybox" "$stage/bin/busybox"

# The modules, in load order (dependencies first), from modules.dep.
want="virtio_pci 9pnet_virtio 9p"
order=()
add_module() { # NAME-or-path relative to $moddir
    local rel=$1 dep
    for m in "${order[@]:-}"; do [ "$m" = "$rel" ] && return 0; done
    for dep in $(grep "^$rel:" "$moddir/modules.dep" | cut -d: -f2); do
        add_module "$dep"
    done
    order+=("$rel")
}
for name in $want; do
    rel=$(grep -E "/${name}\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -1 | cut -d: -f1)
    [ -n "$rel" ] || { echo "make-initramfs: module $name not found in $moddir" >&2; exit 1; }
    add_module "$rel"
done
: >"$stage/modules/order"
for rel in "${order[@]}"; do
    base=$(basename "$rel")
    case "$rel" in
    *.ko) cp "$moddir/$rel" "$stage/modules/$base" ;;
    *.ko.xz) xz -dc "$moddir/$rel" >"$stage/modules/${base%.xz}"; base=${base%.xz} ;;
    *.ko.zst) zstd -qdc "$moddir/$rel" >"$stage/modules/${base%.zst}"; base=${base%.zst} ;;
    *) echo "make-initramfs: cannot handle $rel" >&2; exit 1 ;;
    esac
    echo "$base" >>"$stage/modules/order"
done
cp "$here/initramfs-init" "$stage/init"
chmod 755 "$stage/init"
(cd "$stage" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"

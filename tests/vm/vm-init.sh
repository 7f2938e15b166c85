#!/bin/bash
# Runs inside the test VM as PID 1, on the host's root (read-only, over 9p):
# makes the writable places, loads kvm_amd (a standard KVM: AMD SVM with
# nested paging, as QEMU's `-cpu max` offers), runs build/vm/job.sh from the
# tree, writes its exit status to build/vm/status and powers off.
tree=$1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
export UKVM_IN_VM=1  # tests/lib.sh machine_is_slow, and what tests know of this CPU
# The tree (mounted by the initramfs at its host path) may lie under one of
# the folders covered below (a clone in /tmp): the tree's 9p tag cannot be
# mounted a second time, so move the mount aside to a private folder on the
# writable devtmpfs first and move it back once the tmpfs are in place.
aside=/dev/.ukvm-tree
mkdir -p "$aside"
mount -n --make-private / 2>/dev/null
mount -n --move "$tree" "$aside" || { echo "vm: cannot move the tree aside"; aside=; }
for d in /tmp /run /root /var/tmp /var/lib/dhcp /mnt /media; do
    [ -d "$d" ] && mount -t tmpfs -o mode=1777 tmpfs "$d"
done
if [ -n "$aside" ]; then
    mkdir -p "$tree" && mount -n --move "$aside" "$tree" ||
        echo "vm: cannot mount the tree back at $tree"
    rmdir "$aside" 2>/dev/null
fi
mkdir -p /dev/pts /dev/shm
# devtmpfs has no /dev/fd: bash's process substitution needs it
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
ip link set lo up
modprobe kvm_amd 2>&1 | head -3
modprobe tun 2>/dev/null
chmod 666 /dev/kvm 2>/dev/null
status=1
cd "$tree"
if [ -e /dev/kvm ]; then
    echo "vm: $(uname -r), /dev/kvm from $(basename "$(readlink -f /sys/class/misc/kvm/device/driver 2>/dev/null || echo kvm_amd)") " \
         "(npt=$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null))"
    bash build/vm/job.sh
    status=$?
else
    echo "vm: no /dev/kvm inside the VM (is SVM offered by the emulated CPU?)"
fi
echo "$status" >build/vm/status
sync
echo o >/proc/sysrq-trigger
sleep 10

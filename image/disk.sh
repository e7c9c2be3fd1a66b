#!/bin/bash
# disk.sh: lays out the kiosk's disk image from file system images, without
# loop devices or mounts (a file, sgdisk, mtools, dd), so it runs anywhere:
#
#   disk.sh [--esp MiB] [--slot MiB] [--state MiB] ROOT.ext4 STATE.ext4 OUT.img
#
# GPT, 1 MiB aligned:
#   1 esp       EFI system partition (FAT): EFI/BOOT/BOOTX64.EFI (GRUB, Debian 12's
#               grub-efi-amd64-bin), EFI/BOOT/grub.cfg (A/B with boot counting), EFI/BOOT/grubenv
#   2 rootfs.0  root slot A (Linux root x86-64 type): ROOT.ext4
#   3 rootfs.1  root slot B: empty until the first update
#   4 state     the rest: STATE.ext4 (/persist: enrolment, outbox, logs, RAUC's status)
# Slot A is marked good and first in ORDER; slot B not bootable.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
die() { echo "disk.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 not found: apt-get install $2"; }

# The partitions' GUIDs are fixed: GRUB names the root slot by them (root=PARTUUID=).
PARTUUID_ESP=5e55a000-0000-4000-8000-000000000001
PARTUUID_A=5e55a000-0000-4000-8000-00000000000a
PARTUUID_B=5e55a000-0000-4000-8000-00000000000b
PARTUUID_STATE=5e55a000-0000-4000-8000-000000000005
TYPE_ESP=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
TYPE_ROOT=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709
TYPE_LINUX=0FC63DAF-8483-4772-8E79-3D69D8477DE4

esp=64 slot=1536 state=256
while [ $# -gt 0 ]; do
	case $1 in
	--esp) esp=$2; shift 2 ;;
	--slot) slot=$2; shift 2 ;;
	--state) state=$2; shift 2 ;;
	--*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# = 3 ] || die "usage: disk.sh [--esp MiB] [--slot MiB] [--state MiB] ROOT.ext4 STATE.ext4 OUT.img"
root=$1 statefs=$2 out=$3
need sgdisk gdisk
need mkfs.vfat dosfstools
need mcopy mtools
need grub-mkimage grub-common
need grub-editenv grub-common
[ -d /usr/lib/grub/x86_64-efi ] || die "no GRUB EFI modules: apt-get install grub-efi-amd64-bin"

mib() { echo $(( ($(stat -c %s "$1") + 1048575) / 1048576 )); }
[ "$(mib "$root")" -le "$slot" ] || die "$root ($(mib "$root") MiB) does not fit a $slot MiB slot"
[ "$(mib "$statefs")" -le "$state" ] || die "$statefs ($(mib "$statefs") MiB) does not fit $state MiB"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# GRUB: one EFI binary with the modules it needs built in, reading its
# configuration and environment from EFI/BOOT on the partition it was loaded from.
grub-mkimage -O x86_64-efi -p /EFI/BOOT -o "$work/BOOTX64.EFI" \
	part_gpt fat ext2 normal linux loadenv test echo configfile regexp \
	all_video efi_gop gzio sleep reboot halt
sed -e "s/@PARTUUID_A@/$PARTUUID_A/; s/@PARTUUID_B@/$PARTUUID_B/" "$here/esp/grub.cfg" >"$work/grub.cfg"
grub-editenv "$work/grubenv" create
grub-editenv "$work/grubenv" set ORDER="A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0

rm -f "$work/esp.fat"
mkfs.vfat -n ESP -C "$work/esp.fat" $((esp * 1024)) >/dev/null
mmd -i "$work/esp.fat" ::/EFI ::/EFI/BOOT
mcopy -i "$work/esp.fat" "$work/BOOTX64.EFI" "$work/grub.cfg" "$work/grubenv" ::/EFI/BOOT/

# 1 MiB for the primary GPT, the partitions, 1 MiB for the backup GPT.
total=$((1 + esp + 2 * slot + state + 1))
rm -f "$out"
truncate -s "${total}M" "$out"
a=$((1 + esp)) b=$((1 + esp + slot)) s=$((1 + esp + 2 * slot))
sgdisk --clear \
	-n "1:1M:+${esp}M" -t "1:$TYPE_ESP" -c 1:esp -u "1:$PARTUUID_ESP" \
	-n "2:${a}M:+${slot}M" -t "2:$TYPE_ROOT" -c 2:rootfs.0 -u "2:$PARTUUID_A" \
	-n "3:${b}M:+${slot}M" -t "3:$TYPE_ROOT" -c 3:rootfs.1 -u "3:$PARTUUID_B" \
	-n "4:${s}M:+${state}M" -t "4:$TYPE_LINUX" -c 4:state -u "4:$PARTUUID_STATE" \
	"$out" >/dev/null
put() { dd if="$1" of="$out" bs=1M seek="$2" conv=notrunc,sparse status=none; }
put "$work/esp.fat" 1
put "$root" "$a"
put "$statefs" "$s"
echo "$out"

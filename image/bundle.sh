#!/bin/bash
# bundle.sh: a signed RAUC update bundle (verity format) of a root file system image.
#
#   bundle.sh --cert CERT --key KEY --version V [--compatible C] ROOT.ext4 OUT.raucb
#
# The bundle holds ROOT.ext4 for the slot class rootfs (image/rootfs/etc/rauc/system.conf);
# the compatible defaults to that file's. KEY may be a PKCS#11 URI (RAUC takes either).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
die() { echo "bundle.sh: $*" >&2; exit 1; }
command -v rauc >/dev/null || die "rauc not found: apt-get install rauc"
command -v mksquashfs >/dev/null || die "mksquashfs not found: apt-get install squashfs-tools"

cert= key= version= compatible=
compatible=$(sed -n 's/^compatible=//p' "$here/rootfs/etc/rauc/system.conf")
while [ $# -gt 0 ]; do
	case $1 in
	--cert) cert=$2; shift 2 ;;
	--key) key=$2; shift 2 ;;
	--version) version=$2; shift 2 ;;
	--compatible) compatible=$2; shift 2 ;;
	--*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# = 2 ] && [ -n "$cert" ] && [ -n "$key" ] && [ -n "$version" ] ||
	die "usage: bundle.sh --cert CERT --key KEY --version V [--compatible C] ROOT.ext4 OUT.raucb"
root=$1 out=$2
[ -f "$root" ] || die "$root: no such root image"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/content"
ln "$root" "$work/content/root.ext4" 2>/dev/null || cp --sparse=always "$root" "$work/content/root.ext4"
cat >"$work/content/manifest.raucm" <<MANIFEST
[update]
compatible=$compatible
version=$version

[bundle]
format=verity

[image.rootfs]
filename=root.ext4
MANIFEST
rm -f "$out"
# zstd (the Debian kernel's squashfs reads it): several times faster to build than the default
# gzip -9, for about the same size.
rauc bundle --mksquashfs-args="-comp zstd -Xcompression-level ${SSU_BUNDLE_ZSTD_LEVEL:-6}" \
	--cert="$cert" --key="$key" "$work/content" "$out" >&2
echo "$out"

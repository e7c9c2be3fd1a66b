#!/bin/bash
# build.sh: builds the kiosk image. Steps, each usable alone:
#
#   build.sh deb    OUT           bin: ssu-kiosk, ssu-ctl; OUT/ssu-kiosk_VERSION_amd64.deb (nfpm)
#   build.sh rootfs OUT [--small] the deb + Debian 12 (mmdebstrap, host's mirror) + customize.sh → OUT/rootfs
#                                 (--small: only the packages the lock-down touches, no kernel, for tests)
#   build.sh image  OUT           deb + rootfs → OUT/{vmlinuz,initrd.img,root.ext4,state.ext4}, qemu-bootable:
#                                 see image/README.md for the qemu command line (--prebuilt: use the
#                                 deb already in OUT, as `build.sh package OUT` made it)
#   build.sh package OUT          OUT/bin/{ssu-kiosk,ssu-ctl} → the deb (no go build)
#
# Needs root (mmdebstrap's root mode, file ownership), mmdebstrap, e2fsprogs, Go.
# The Debian mirror is the host's: every enabled apt sources file naming bookworm.
set -euo pipefail

NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.44.0
SUITE=bookworm

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

die() { echo "build.sh: $*" >&2; exit 1; }
say() { echo "build.sh: $*" >&2; }
need() { command -v "$1" >/dev/null || die "$1 not found: apt-get install $2"; }

# The packages of the full image, besides the project's own deb and its dependencies.
IMAGE_PACKAGES=(
	systemd-sysv udev dbus kmod linux-image-amd64 initramfs-tools e2fsprogs
	systemd-resolved systemd-timesyncd nftables
	unattended-upgrades ca-certificates openssh-server
	xserver-xorg-core xserver-xorg-input-libinput xauth mesa-utils
	libgl1-mesa-dri fonts-dejavu-core pcscd libccid
)
# The small root for tests: what the lock-down configures, nothing that boots.
SMALL_PACKAGES=(
	systemd systemd-resolved systemd-timesyncd nftables unattended-upgrades openssh-server
)

host_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && grep -qE "(^|[[:space:]])$SUITE([[:space:]]|$)" "$f" && echo "$f"
	done
	return 0
}

# version: what the binaries and the .deb say they are; make passes SSU_VERSION, else version.sh (the
# one place it is computed).
version() {
	echo "${SSU_VERSION:-$("$here/version.sh")}"
}

cmd_deb() {
	local out=$1
	need go golang
	mkdir -p "$out/bin"
	say "building ssu-kiosk and ssu-ctl"
	(cd "$repo" && CGO_ENABLED=1 go build -trimpath \
		-ldflags "-X ssu-kiosk/provisioning/version.value=$(version)" \
		-o "$out/bin/" ./kiosk/cmd/ssu-kiosk ./provisioning/cmd/ssu-ctl)
	package "$out"
}

# package OUT: OUT/bin/{ssu-kiosk,ssu-ctl} → OUT/ssu-kiosk_VERSION_amd64.deb
package() {
	local out stage
	out=$(cd "$1" && pwd)
	stage=$(mktemp -d)
	mkdir -p "$stage/bin" "$stage/image"
	cp "$out/bin/ssu-kiosk" "$out/bin/ssu-ctl" "$stage/bin/"
	cp -R "$here/package" "$here/README.md" "$stage/image/"
	rm -f "$out"/ssu-kiosk_*.deb
	say "packaging with nfpm ($NFPM)"
	(cd "$stage" && SSU_VERSION=$(version) GOTOOLCHAIN=local GOFLAGS= go run "$NFPM" package \
		--config "$here/nfpm.yaml" --packager deb --target "$out/" >&2)
	rm -rf "$stage"
	ls "$out"/ssu-kiosk_*.deb
}

cmd_rootfs() {
	local out=$1 small=${2:-} deb pkgs sources variant
	[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap's root mode, file ownership)"
	need mmdebstrap mmdebstrap
	deb=$(ls "$out"/ssu-kiosk_*.deb 2>/dev/null | head -1)
	[ -n "$deb" ] || deb=$(cmd_deb "$out")
	mapfile -t sources < <(host_sources)
	[ "${#sources[@]}" -gt 0 ] || die "no apt sources file for $SUITE in /etc/apt: mmdebstrap uses the host's mirror"
	if [ "$small" = --small ]; then
		pkgs=$(IFS=,; echo "${SMALL_PACKAGES[*]}")
	else
		pkgs=$(IFS=,; echo "${IMAGE_PACKAGES[*]}")
	fi
	rm -rf "$out/rootfs"
	say "mmdebstrap $SUITE ${small:-(full)} from ${sources[*]}"
	mmdebstrap --mode=root --variant=minbase \
		--include="$pkgs" \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-include=/usr/share/locale/locale.alias' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/ssu-kiosk/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--essential-hook='echo "ssu-kiosk" >"$1/etc/hostname"' \
		--customize-hook="cp \"$deb\" \"\$1/tmp/ssu-kiosk.deb\"" \
		--customize-hook='rm -f "$1/etc/resolv.conf" && cp -L /etc/resolv.conf "$1/etc/resolv.conf"' \
		--customize-hook='chroot "$1" apt-get install -y -q --no-install-recommends /tmp/ssu-kiosk.deb && rm "$1/tmp/ssu-kiosk.deb"' \
		--customize-hook="\"$here/customize.sh\" \"\$1\"" \
		--customize-hook='rm -f "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/*_Packages "$1"/var/lib/apt/lists/*_Translation-*' \
		"$SUITE" "$out/rootfs" "${sources[@]}" >&2
}

cmd_image() {
	local out=$1 root size kiosk
	[ "${2:-}" = --prebuilt ] || cmd_deb "$out" >/dev/null
	cmd_rootfs "$out"
	root=$out/rootfs
	need mkfs.ext4 e2fsprogs
	say "kernel and initrd"
	cp -L "$root/vmlinuz" "$out/vmlinuz"
	cp -L "$root/initrd.img" "$out/initrd.img"
	say "root file system (ext4, read-only at boot)"
	size=$(du -sm "$root" | cut -f1)
	size=$((size + size / 5 + 64))
	rm -f "$out/root.ext4"
	mkfs.ext4 -q -L SSU-ROOT -d "$root" "$out/root.ext4" "${size}M"
	say "state file system (ext4, /persist: the kiosk's /var/lib/ssu and SSH)"
	kiosk=$(awk -F: '$1 == "ssu-kiosk" { print $3 ":" $4 }' "$root/etc/passwd")
	local state
	state=$(mktemp -d)
	install -d -m 0700 -o "${kiosk%:*}" -g "${kiosk#*:}" "$state/ssu" "$state/ssu/enrol"
	install -d -m 0700 -o 0 -g 0 "$state/ssh"
	rm -f "$out/state.ext4"
	mkfs.ext4 -q -L SSU-STATE -d "$state" "$out/state.ext4" 256M
	rm -rf "$state"
	du -sh --apparent-size "$out/root.ext4" "$out/state.ext4" "$out/vmlinuz" "$out/initrd.img" >&2
}

[ $# -ge 2 ] || die "usage: build.sh deb|package|rootfs|image OUT [--small]"
step=$1 out=$2
shift 2
mkdir -p "$out"
out=$(cd "$out" && pwd)
case $step in
deb) cmd_deb "$out" ;;
package) package "$out" ;;
rootfs) cmd_rootfs "$out" "$@" ;;
image) cmd_image "$out" "$@" ;;
*) die "unknown step $step" ;;
esac

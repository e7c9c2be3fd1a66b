#!/bin/bash
# build.sh: builds the kiosk image. Steps, each usable alone:
#
#   build.sh deb    OUT           bin: ssu-kiosk, ssu-ctl; OUT/ssu-kiosk_VERSION_amd64.deb (nfpm)
#   build.sh rootfs OUT [--small] the deb + Debian 12 (mmdebstrap, host's mirror) + customize.sh → OUT/rootfs
#                                 (--small: only the packages the lock-down touches, no kernel, for tests)
#   build.sh image  OUT           deb + rootfs → OUT/ssu-kiosk-VERSION.img (GPT: ESP with GRUB, root
#                                 slots A and B, state; image/disk.sh) and .img.zst, bootable by UEFI
#                                 (--prebuilt: use the deb already in OUT, as `build.sh package OUT` made it)
#   build.sh disk   OUT           OUT/rootfs (as `rootfs` left it) → the disk image, no mmdebstrap
#   build.sh bundle OUT           OUT/root.ext4 (as `image` left it) → OUT/ssu-kiosk-VERSION.raucb
#   build.sh keys   OUT           the development update signing key, made on first use
#   build.sh package OUT          OUT/bin/{ssu-kiosk,ssu-ctl} → the deb (no go build)
#
# VERSION is $SSU_VERSION, else image/version.sh (the one place it is computed; see provisioning/version).
# The update signing key: $SSU_RAUC_CERT and $SSU_RAUC_KEY (a file or a PKCS#11 URI), the keyring the
# image trusts $SSU_RAUC_KEYRING (default: the certificate). Without them a development key is made
# once in bin/rauc-dev/ (never committed; see image/README.md).
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
	rauc rauc-service grub-common ca-certificates openssh-server
	xserver-xorg-core xserver-xorg-input-libinput xauth mesa-utils
	libgl1-mesa-dri fonts-dejavu-core pcscd libccid
)
# The small root for tests: what the lock-down configures, nothing that boots.
SMALL_PACKAGES=(
	systemd systemd-resolved systemd-timesyncd nftables openssh-server
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

# image_version: the version of the image and bundle, the same as the binaries'.
image_version() {
	version
}

# signing_key sets cert, key and keyring: the production ones given by path, or the development
# key in bin/rauc-dev/, made on first use.
signing_key() {
	local dev=$repo/bin/rauc-dev
	if [ -n "${SSU_RAUC_CERT:-}" ]; then
		cert=$SSU_RAUC_CERT key=${SSU_RAUC_KEY:?SSU_RAUC_CERT needs SSU_RAUC_KEY}
	else
		cert=$dev/cert.pem key=$dev/key.pem
		if [ ! -f "$cert" ] || [ ! -f "$key" ]; then
			need openssl openssl
			say "making a development update signing key in $dev (never ship it)"
			mkdir -p "$dev"
			(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
				-days 3650 -subj "/O=ssu-kiosk/CN=ssu-kiosk development update signing" \
				-keyout "$key" -out "$cert" 2>/dev/null)
			chmod 0644 "$cert"
		fi
	fi
	keyring=${SSU_RAUC_KEYRING:-$cert}
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
	local out=$1 small=${2:-} deb pkgs sources variant cert key keyring
	signing_key
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
		--customize-hook="install -m 0644 \"$keyring\" \"\$1/etc/rauc/keyring.pem\"" \
		--customize-hook="echo IMAGE_VERSION=$(image_version) >>\"\$1/usr/lib/os-release\"" \
		--customize-hook='rm -f "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/*_Packages "$1"/var/lib/apt/lists/*_Translation-*' \
		"$SUITE" "$out/rootfs" "${sources[@]}" >&2
}

cmd_image() {
	local out=$1
	[ "${2:-}" = --prebuilt ] || cmd_deb "$out" >/dev/null
	cmd_rootfs "$out"
	cmd_disk "$out"
}

# cmd_disk OUT: OUT/rootfs → OUT/root.ext4 (the slot image a bundle carries), OUT/state.ext4,
# OUT/ssu-kiosk-VERSION.img and .img.zst.
cmd_disk() {
	local out=$1 root=$1/rootfs size kiosk state img
	[ -d "$root/usr" ] || die "$root: no root file system: build.sh rootfs $out first"
	need mkfs.ext4 e2fsprogs
	need zstd zstd
	say "root file system (ext4, read-only at boot: one slot)"
	size=$(du -sm "$root" | cut -f1)
	size=$((size + size / 5 + 64))
	rm -f "$out/root.ext4"
	mkfs.ext4 -q -L SSU-ROOT -d "$root" "$out/root.ext4" "${size}M"
	# State: room for a downloaded bundle besides the kiosk's own state.
	say "state file system (ext4, /persist: the kiosk's /var/lib/ssu, SSH, RAUC's status, downloads)"
	kiosk=$(awk -F: '$1 == "ssu-kiosk" { print $3 ":" $4 }' "$root/etc/passwd")
	state=$(mktemp -d)
	install -d -m 0700 -o "${kiosk%:*}" -g "${kiosk#*:}" "$state/ssu" "$state/ssu/enrol"
	install -d -m 0700 -o 0 -g 0 "$state/ssh" "$state/rauc"
	rm -f "$out/state.ext4"
	mkfs.ext4 -q -L SSU-STATE -d "$state" "$out/state.ext4" "${SSU_STATE_MIB:-1024}M"
	rm -rf "$state"
	img=$out/ssu-kiosk-$(image_version).img
	rm -f "$out"/ssu-kiosk-*.img "$out"/ssu-kiosk-*.img.zst
	say "disk image $img"
	"$here/disk.sh" --slot "${SSU_SLOT_MIB:-1536}" --state "${SSU_STATE_MIB:-1024}" \
		"$out/root.ext4" "$out/state.ext4" "$img" >/dev/null
	zstd -q -T0 -10 -f "$img" -o "$img.zst"
	chmod 0644 "$img.zst"
	du -sh --apparent-size "$img" "$img.zst" "$out/root.ext4" >&2
	echo "$img"
}

cmd_bundle() {
	local out=$1 cert key keyring b
	[ -f "$out/root.ext4" ] || die "$out/root.ext4 missing: build.sh image $out first"
	signing_key
	b=$out/ssu-kiosk-$(image_version).raucb
	"$here/bundle.sh" --cert "$cert" --key "$key" --version "$(image_version)" "$out/root.ext4" "$b" >/dev/null
	du -sh --apparent-size "$b" >&2
	echo "$b"
}

[ $# -ge 2 ] || die "usage: build.sh deb|package|rootfs|image|disk|bundle|keys OUT [--small]"
step=$1 out=$2
shift 2
mkdir -p "$out"
out=$(cd "$out" && pwd)
case $step in
deb) cmd_deb "$out" ;;
package) package "$out" ;;
rootfs) cmd_rootfs "$out" "$@" ;;
image) cmd_image "$out" "$@" ;;
disk) cmd_disk "$out" ;;
bundle) cmd_bundle "$out" ;;
keys) (signing_key && echo "$cert") ;;
*) die "unknown step $step" ;;
esac

#!/bin/sh
# customize.sh ROOT: turns a Debian 12 root that has the ssu-kiosk package
# installed into the locked-down kiosk. `make image` runs it as mmdebstrap's
# customize hook; the tests run the same script on a small root and check the
# result. It works on ROOT from outside (systemctl --root, systemd-sysusers
# --root), so it needs nothing but coreutils, systemd and nftables on the host.
set -eu
root=${1:?usage: customize.sh ROOT}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$root" && pwd)
if [ "$root" = / ]; then
	echo "customize.sh: refusing to lock down the running system" >&2
	exit 1
fi
say() { echo "customize: $*"; }

# The project's package must be in the root (mmdebstrap installed it).
for f in usr/bin/ssu-kiosk usr/bin/ssu-ctl usr/lib/systemd/system/ssu-kiosk.service; do
	[ -e "$root/$f" ] || { echo "customize.sh: $root/$f missing: install the ssu-kiosk package first" >&2; exit 1; }
done

say "lock-down files from image/rootfs"
cp -R --no-preserve=ownership "$here/rootfs/." "$root/"
chmod 0755 "$root/etc/nftables.conf"

say "the kiosk user (no login shell), its folders"
systemd-sysusers --root="$root" "$root/usr/lib/sysusers.d/ssu-kiosk.conf"
kiosk=$(awk -F: '$1 == "ssu-kiosk" { print $3 ":" $4 }' "$root/etc/passwd")
[ -n "$kiosk" ] || { echo "customize.sh: no ssu-kiosk user after systemd-sysusers" >&2; exit 1; }
install -d -m 0755 -o 0 -g 0 "$root/persist" "$root/boot/efi"
install -d -m 0700 -o "${kiosk%:*}" -g "${kiosk#*:}" "$root/var/lib/ssu" "$root/var/lib/ssu/enrol"
install -d -m 1777 "$root/tmp/.X11-unix" 2>/dev/null || true

say "no passwords: root is locked, nobody logs in on a console"
if [ -f "$root/etc/shadow" ]; then
	sed -i -E 's/^root:[^:]*:/root:*:/' "$root/etc/shadow"
fi

say "units: enable the kiosk, mask every getty"
systemctl --root="$root" enable \
	ssu-display.service ssu-enrol.service ssu-kiosk.service ssu-egress.timer ssu-renew.timer \
	ssu-mark-good.service \
	nftables.service systemd-networkd.service systemd-resolved.service systemd-timesyncd.service
systemctl --root="$root" mask \
	getty.target getty@.service autovt@.service serial-getty@.service console-getty.service \
	container-getty@.service ctrl-alt-del.target debug-shell.service
rm -rf "$root/etc/systemd/system/getty.target.wants"
# SSH is installed for IT's use but runs only with a key given at enrolment
# (ConditionPathExists in ssh.service.d/ssu.conf); no host keys are shared by images.
if [ -e "$root/lib/systemd/system/ssh.service" ] || [ -e "$root/usr/lib/systemd/system/ssh.service" ]; then
	systemctl --root="$root" enable ssh.service
	systemctl --root="$root" disable ssh.socket 2>/dev/null || true
	rm -f "$root"/etc/ssh/ssh_host_*
fi

say "updates arrive only as signed RAUC bundles: no apt timers on a read-only root"
for unit in apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service; do
	systemctl --root="$root" mask "$unit"
done

say "a machine id per boot, resolver from systemd-resolved"
: >"$root/etc/machine-id"
mkdir -p "$root/var/lib/dbus" "$root/var/lib/systemd/timesync" "$root/var/lib/systemd/linger" "$root/var/lib/systemd/timers"
ln -sfn /etc/machine-id "$root/var/lib/dbus/machine-id"
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
say "done"

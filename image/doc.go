// Package image is the kiosk's locked-down Debian 12 image: the ssu-kiosk
// package's systemd units and helper scripts (package/), the lock-down files
// (rootfs/), the customisation step that applies them to a root
// (customize.sh) and the build (build.sh: nfpm, mmdebstrap, ext4 images).
//
// The Go code here is only tests: they build a small root with the same
// scripts `make image` uses and check it (units verified by systemd-analyze,
// the kiosk's exposure score below 3.0, no login shell, no getty, the
// firewall's behaviour, key and folder modes). With -tags imageboot they boot
// the full image under qemu and wait for ssu-kiosk.service to be ready.
//
// Nothing here may weaken the lock-down to make a test pass, enable a login
// on the kiosk, or put an enrolment token in a log line.
package image

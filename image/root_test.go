package image

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// maxExposure is the highest `systemd-analyze security` exposure score
// ssu-kiosk.service may have (0 is locked down, 10 is fully exposed).
const maxExposure = 3.0

// TestBuiltRoot builds a small root with the scripts `make image` uses
// (build.sh package, build.sh rootfs --small, which runs customize.sh) and
// checks what the lock-down promises.
func TestBuiltRoot(t *testing.T) {
	requireRoot(t)
	requireCommand(t, "mmdebstrap", "mmdebstrap")
	requireCommand(t, "systemd-analyze", "systemd")
	requireCommand(t, "systemd-tmpfiles", "systemd")
	out := t.TempDir()
	stageBinaries(t, filepath.Join(out, "bin"))
	run(t, 5*time.Minute, nil, "./build.sh", "package", out)
	start := time.Now()
	run(t, 10*time.Minute, nil, "./build.sh", "rootfs", out, "--small")
	t.Logf("small root built in %s", time.Since(start).Round(time.Second))
	root := filepath.Join(out, "rootfs")

	t.Run("units verify", func(t *testing.T) { checkUnitsVerify(t, root) })
	t.Run("security exposure", func(t *testing.T) {
		score := exposure(t, root, "ssu-kiosk.service")
		t.Logf("systemd-analyze security exposure of ssu-kiosk.service: %.1f (limit %.1f)", score, maxExposure)
		if score >= maxExposure {
			t.Errorf("ssu-kiosk.service exposure %.1f, want below %.1f:\n%s", score, maxExposure,
				run(t, time.Minute, nil, "systemd-analyze", "security", "--offline=true", "--root="+root, "ssu-kiosk.service"))
		}
	})
	t.Run("kiosk user has no login", func(t *testing.T) { checkKioskUser(t, root) })
	t.Run("no getty", func(t *testing.T) { checkNoGetty(t, root) })
	t.Run("firewall", func(t *testing.T) { checkFirewallInRoot(t, root) })
	t.Run("key and folder modes", func(t *testing.T) { checkModes(t, root) })
	t.Run("read-only root", func(t *testing.T) { checkFstab(t, root) })
	t.Run("journald capped", func(t *testing.T) { checkJournald(t, root) })
	t.Run("updates only as bundles", func(t *testing.T) { checkUpdates(t, root) })
	t.Run("ssh off unless enrolled with a key", func(t *testing.T) { checkSSH(t, root) })
}

// stageBinaries builds ssu-kiosk and ssu-ctl into dir, as `make build` does.
// While kiosk/cmd/ssu-kiosk does not exist yet, a stand-in that refuses to
// run is packaged in its place (and the test says so).
func stageBinaries(t *testing.T, dir string) {
	t.Helper()
	requireCommand(t, "go", "golang")
	repo := repoDir(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pkgs := []string{"./provisioning/cmd/ssu-ctl"}
	if _, err := os.Stat(filepath.Join(repo, "kiosk/cmd/ssu-kiosk")); err == nil {
		pkgs = append(pkgs, "./kiosk/cmd/ssu-kiosk")
	} else {
		t.Log("kiosk/cmd/ssu-kiosk does not exist yet: packaging a stand-in ssu-kiosk that exits 1")
		stub := "#!/bin/sh\necho 'ssu-kiosk: stand-in, the real binary was not built' >&2\nexit 1\n"
		if err := os.WriteFile(filepath.Join(dir, "ssu-kiosk"), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{"-C", repo, "build", "-trimpath", "-o", dir + "/"}, pkgs...)
	run(t, 10*time.Minute, []string{"CGO_ENABLED=1"}, "go", args...)
}

// checkUnitsVerify runs systemd-analyze verify on every unit the package
// installs and on the Debian units the image changes with drop-ins. (--man=no:
// the image has no manual pages for Debian's Documentation= links.)
func checkUnitsVerify(t *testing.T, root string) {
	// apt-daily*.service are masked (updates come as bundles): nothing to verify there.
	units := append(unitNames(t), "ssh.service")
	for _, unit := range units {
		out, err := tryRun(t, time.Minute, []string{"SYSTEMD_LOG_COLOR=0"}, "systemd-analyze", "verify", "--man=no", "--root="+root, unit)
		if err != nil {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
			continue
		}
		// Warnings about our own files fail too (verify only fails on errors).
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "ssu") || strings.Contains(line, unit) {
				t.Errorf("systemd-analyze verify %s: %s", unit, line)
			}
		}
	}
}

var exposureLine = regexp.MustCompile(`Overall exposure level for \S+: ([0-9]+\.[0-9]+)`)

// exposure is the `systemd-analyze security` exposure score of unit in root.
func exposure(t testing.TB, root, unit string) float64 {
	t.Helper()
	args := []string{"security", "--offline=true", "--no-pager"}
	if root != "" {
		args = append(args, "--root="+root)
	}
	out := run(t, time.Minute, []string{"SYSTEMD_COLORS=0"}, "systemd-analyze", append(args, unit)...)
	m := exposureLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in systemd-analyze security output:\n%s", out)
	}
	score, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("exposure %q: %v", m[1], err)
	}
	return score
}

// passwdEntry is one line of /etc/passwd.
type passwdEntry struct {
	name, uid, gid, home, shell string
}

func readPasswd(t testing.TB, root string) map[string]passwdEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatalf("passwd: %v", err)
	}
	users := map[string]passwdEntry{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) != 7 {
			continue
		}
		users[f[0]] = passwdEntry{name: f[0], uid: f[2], gid: f[3], home: f[5], shell: f[6]}
	}
	return users
}

func checkKioskUser(t *testing.T, root string) {
	users := readPasswd(t, root)
	kiosk, ok := users["ssu-kiosk"]
	if !ok {
		t.Fatal("no ssu-kiosk user in /etc/passwd")
	}
	if kiosk.shell != "/usr/sbin/nologin" {
		t.Errorf("ssu-kiosk's shell is %q, want /usr/sbin/nologin", kiosk.shell)
	}
	if uid, _ := strconv.Atoi(kiosk.uid); uid == 0 || uid >= 1000 {
		t.Errorf("ssu-kiosk has uid %s, want a system uid (1-999)", kiosk.uid)
	}
	// Nobody may log in with a password: every account's password is locked.
	shadow, err := os.ReadFile(filepath.Join(root, "etc/shadow"))
	if err != nil {
		t.Fatalf("shadow: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(shadow)), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 2 {
			continue
		}
		if pw := f[1]; pw != "*" && !strings.HasPrefix(pw, "!") {
			t.Errorf("account %s has a usable password field %q", f[0], pw)
		}
	}
	// Only root may have a shell (for SSH, when enabled at enrolment).
	for _, u := range users {
		switch u.shell {
		case "/usr/sbin/nologin", "/bin/false", "/usr/bin/false", "/bin/sync":
		default:
			if u.name != "root" {
				t.Errorf("account %s has login shell %s", u.name, u.shell)
			}
		}
	}
}

func checkNoGetty(t *testing.T, root string) {
	for _, unit := range []string{"getty.target", "getty@.service", "getty@tty1.service", "autovt@.service",
		"serial-getty@.service", "serial-getty@ttyS0.service", "console-getty.service", "ctrl-alt-del.target", "debug-shell.service"} {
		out, _ := tryRun(t, time.Minute, nil, "systemctl", "--root="+root, "is-enabled", unit)
		if got := strings.TrimSpace(out); got != "masked" {
			t.Errorf("%s is %q, want masked", unit, got)
		}
	}
	// Nothing pulls a getty in.
	err := filepath.WalkDir(filepath.Join(root, "etc/systemd/system"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(d.Name(), "getty") && d.Type()&fs.ModeSymlink != 0 {
			if dest, _ := os.Readlink(path); dest != "/dev/null" {
				t.Errorf("%s links to %s: a getty is enabled", strings.TrimPrefix(path, root), dest)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	logind := readFile(t, root, "etc/systemd/logind.conf.d/ssu.conf")
	for _, want := range []string{"NAutoVTs=0", "ReserveVT=0"} {
		if !strings.Contains(logind, "\n"+want+"\n") {
			t.Errorf("logind.conf.d/ssu.conf lacks %s", want)
		}
	}
	xorg := readFile(t, root, "etc/X11/xorg.conf.d/10-ssu-lockdown.conf")
	for _, want := range []string{`Option "DontVTSwitch" "true"`, `Option "DontZap" "true"`} {
		if !strings.Contains(xorg, want) {
			t.Errorf("xorg.conf.d lacks %s", want)
		}
	}
	display := readFile(t, root, "usr/lib/systemd/system/ssu-display.service")
	if !strings.Contains(display, "-novtswitch") {
		t.Error("ssu-display.service starts Xorg without -novtswitch")
	}
	if got := readFile(t, root, "etc/sysctl.d/90-ssu.conf"); !strings.Contains(got, "kernel.sysrq = 0") {
		t.Error("SysRq is not switched off")
	}
}

func readFile(t *testing.T, root, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return string(data)
}

// checkFirewallInRoot checks that nftables starts at boot with the kiosk's
// rules, then loads those rules into a network namespace of their own and
// tries connections through them.
func checkFirewallInRoot(t *testing.T, root string) {
	out, _ := tryRun(t, time.Minute, nil, "systemctl", "--root="+root, "is-enabled", "nftables.service")
	if got := strings.TrimSpace(out); got != "enabled" {
		t.Errorf("nftables.service is %q, want enabled", got)
	}
	checkFirewall(t, filepath.Join(root, "etc/nftables.conf"), filepath.Join(root, "usr/libexec/ssu/egress"))
}

func checkModes(t *testing.T, root string) {
	users := readPasswd(t, root)
	kiosk := users["ssu-kiosk"]
	wantDir := func(rel string, mode fs.FileMode, owner string) {
		t.Helper()
		fi, err := os.Stat(filepath.Join(root, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != mode || fmt.Sprint(st.Uid) != owner {
			t.Errorf("%s: mode %o owner %d, want %o owner %s", rel, fi.Mode().Perm(), st.Uid, mode, owner)
		}
	}
	wantDir("var/lib/ssu", 0o700, kiosk.uid)
	wantDir("var/lib/ssu/enrol", 0o700, kiosk.uid)
	wantDir("persist", 0o755, "0")

	// A key written with the wrong mode is put right by the image's tmpfiles
	// rules (applied at every boot), and the units that write keys use umask 077.
	// (`ssu-ctl enrol` is to write it 0600 itself; this is the second line.)
	key := filepath.Join(root, "var/lib/ssu/enrol/key.pem")
	if err := os.WriteFile(key, []byte("not a key\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(kiosk.uid)
	gid, _ := strconv.Atoi(kiosk.gid)
	if err := os.Chown(key, uid, gid); err != nil { // as `ssu-ctl enrol` running as ssu-kiosk would
		t.Fatal(err)
	}
	run(t, time.Minute, nil, "systemd-tmpfiles", "--root="+root, "--create", "ssu-kiosk.conf")
	wantDir("var/lib/ssu/enrol/key.pem", 0o600, kiosk.uid)
	wantDir("persist/ssh", 0o700, "0")
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	for _, unit := range []string{"ssu-enrol.service", "ssu-kiosk.service"} {
		if !strings.Contains(readFile(t, root, "usr/lib/systemd/system/"+unit), "\nUMask=0077\n") {
			t.Errorf("%s does not set UMask=0077", unit)
		}
	}
}

func checkFstab(t *testing.T, root string) {
	fstab := readFile(t, root, "etc/fstab")
	mounts := map[string][]string{}
	for _, line := range strings.Split(fstab, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && !strings.HasPrefix(f[0], "#") {
			mounts[f[1]] = strings.Split(f[3], ",")
		}
	}
	has := func(where, opt string) bool {
		for _, o := range mounts[where] {
			if o == opt {
				return true
			}
		}
		return false
	}
	if !has("/", "ro") {
		t.Errorf("/ is not mounted read-only: %v", mounts["/"])
	}
	if mounts["/boot/efi"] == nil {
		t.Error("the EFI system partition (GRUB's environment: slot order and tries) is not mounted")
	}
	if !has("/var/lib/ssu", "bind") || mounts["/persist"] == nil {
		t.Error("/var/lib/ssu is not bound from the persistent /persist")
	}
	for _, where := range []string{"/tmp", "/var/tmp", "/var/log"} {
		if mounts[where] == nil {
			t.Errorf("%s is not a tmpfs: the read-only root would break it", where)
		}
	}
}

func checkJournald(t *testing.T, root string) {
	conf := readFile(t, root, "etc/systemd/journald.conf.d/ssu.conf")
	for _, want := range []string{"Storage=volatile", "RuntimeMaxUse=32M"} {
		if !strings.Contains(conf, want) {
			t.Errorf("journald.conf.d/ssu.conf lacks %s", want)
		}
	}
}

// checkUpdates: updates arrive only as signed RAUC bundles: no unattended-upgrades, no apt timers,
// RAUC configured with the image's keyring, the version in os-release, the slot marked good after boot.
func checkUpdates(t *testing.T, root string) {
	if _, err := os.Stat(filepath.Join(root, "usr/bin/unattended-upgrade")); err == nil {
		t.Error("unattended-upgrades is installed: it would remount the read-only root")
	}
	for _, unit := range []string{"apt-daily.timer", "apt-daily-upgrade.timer"} {
		out, _ := tryRun(t, time.Minute, nil, "systemctl", "--root="+root, "is-enabled", unit)
		if got := strings.TrimSpace(out); got != "masked" {
			t.Errorf("%s is %q, want masked", unit, got)
		}
	}
	conf := readFile(t, root, "etc/rauc/system.conf")
	for _, want := range []string{"bootloader=grub", "path=/etc/rauc/keyring.pem", "statusfile=/persist/"} {
		if !strings.Contains(conf, want) {
			t.Errorf("etc/rauc/system.conf lacks %s", want)
		}
	}
	if !strings.Contains(readFile(t, root, "etc/rauc/keyring.pem"), "BEGIN CERTIFICATE") {
		t.Error("etc/rauc/keyring.pem holds no certificate")
	}
	if !regexp.MustCompile(`(?m)^IMAGE_VERSION=\S+$`).MatchString(readFile(t, root, "usr/lib/os-release")) {
		t.Error("os-release has no IMAGE_VERSION")
	}
	out, _ := tryRun(t, time.Minute, nil, "systemctl", "--root="+root, "is-enabled", "ssu-mark-good.service")
	if got := strings.TrimSpace(out); got != "enabled" {
		t.Errorf("ssu-mark-good.service is %q, want enabled", got)
	}
}

func checkSSH(t *testing.T, root string) {
	matches, _ := filepath.Glob(filepath.Join(root, "etc/ssh/ssh_host_*"))
	if len(matches) > 0 {
		t.Errorf("the image carries SSH host keys every kiosk would share: %v", matches)
	}
	dropIn := readFile(t, root, "etc/systemd/system/ssh.service.d/ssu.conf")
	if !strings.Contains(dropIn, "ConditionPathExists=/persist/ssh/authorized_keys") {
		t.Error("ssh.service runs without a key given at enrolment")
	}
	sshd := readFile(t, root, "etc/ssh/sshd_config.d/ssu.conf")
	for _, want := range []string{"PasswordAuthentication no", "KbdInteractiveAuthentication no"} {
		if !strings.Contains(sshd, want) {
			t.Errorf("sshd_config.d/ssu.conf lacks %s", want)
		}
	}
	out, _ := tryRun(t, time.Minute, nil, "systemctl", "--root="+root, "is-enabled", "ssh.socket")
	if got := strings.TrimSpace(out); got == "enabled" {
		t.Error("ssh.socket is enabled: it would bypass the condition on ssh.service")
	}
}

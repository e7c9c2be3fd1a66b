//go:build imageboot

package image

import (
	"bufio"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/provisioning/pki/pkitest"
)

// The boot test (make image-test): boots the disk image `make image` built under
// qemu with UEFI (OVMF: GRUB from the disk, no -kernel), its state partition holding an enrolment, and waits for
// systemd's "Started ssu-kiosk.service" on the serial console, which a
// Type=notify service only reaches after READY=1 (the kiosk's first frame).
// Then it logs in over SSH (enabled, as at enrolment, by a key on the state
// partition) and checks the running kiosk: read-only root, no getty, key
// modes, the firewall's egress set, the live exposure score. Last it watches
// the kiosk for longer than WatchdogSec to see no restart.
//
//	SSU_IMAGE_DIR   the image (default ../bin/image): ssu-kiosk-VERSION.img, state.ext4, rootfs/
//	SSU_QEMU_ACCEL  kvm or tcg (default: kvm when the guest kernel starts under it, else tcg)
//
// BenchmarkBootToReady gives the boot-to-ready figure (-benchtime 1x).

var (
	readyLine    = regexp.MustCompile(`\[\s*([0-9]+\.[0-9]+)\] systemd\[1\]: Started ssu-kiosk\.service`)
	kernelLine   = regexp.MustCompile(`Linux version`)
	failureLines = regexp.MustCompile(`ssu-kiosk\.service: (Watchdog timeout|Main process exited|Failed with result)|Kernel panic`)
	ansi         = regexp.MustCompile("\x1b\\[[0-9;]*[a-zA-Z]")
)

func TestBootToReady(t *testing.T) {
	bootImage(t, true)
}

// BenchmarkBootToReady reports the time from qemu's start to ssu-kiosk.service
// ready (wall clock, and the guest's uptime then). Run with -benchtime 1x.
func BenchmarkBootToReady(b *testing.B) {
	var wall, guest float64
	for b.Loop() {
		wall, guest = bootImage(b, false)
	}
	b.ReportMetric(wall, "s-to-ready")
	b.ReportMetric(guest, "s-guest-uptime")
}

// bootImage boots the image until ssu-kiosk.service is ready; with check it
// also checks the running kiosk and watches it past WatchdogSec. It returns
// the seconds from qemu's start to ready, and the guest's uptime then.
func bootImage(tb testing.TB, check bool) (wall, guest float64) {
	tb.Helper()
	dir := imageDir(tb)
	requireCommand(tb, "ssh", "openssh-client")
	requireCommand(tb, "ssh-keygen", "openssh-client")
	key := filepath.Join(tb.TempDir(), "id_ed25519")
	run(tb, time.Minute, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		tb.Fatal(err)
	}
	state := enrolledState(tb, dir, pub)

	return bootAnyAccel(tb, dir, state, key, "", check)
}

// imageDir is the image `make image` built (SSU_IMAGE_DIR), with what a boot needs.
func imageDir(tb testing.TB) string {
	tb.Helper()
	requireRoot(tb)
	requireCommand(tb, "qemu-system-x86_64", "qemu-system-x86")
	requireCommand(tb, "mkfs.ext4", "e2fsprogs")
	dir := os.Getenv("SSU_IMAGE_DIR")
	if dir == "" {
		dir = filepath.Join(repoDir(tb), "bin", "image")
	}
	for _, f := range []string{"root.ext4", "state.ext4", "rootfs/etc/passwd"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			tb.Fatalf("no image in %s (%v): run `make image` first", dir, err)
		}
	}
	return dir
}

// bootAnyAccel boots under KVM, or under TCG where KVM does not start the guest (SSU_QEMU_ACCEL picks
// one), with extra words on the kernel command line.
func bootAnyAccel(tb testing.TB, dir, state, key, cmdline string, check bool) (wall, guest float64) {
	tb.Helper()
	accels := []string{"kvm", "tcg"}
	if a := os.Getenv("SSU_QEMU_ACCEL"); a != "" {
		accels = []string{a}
	}
	for i, accel := range accels {
		last := i == len(accels)-1
		if ok, wall, guest := bootOnce(tb, dir, state, key, accel, cmdline, last, check); ok {
			return wall, guest
		}
		tb.Logf("the guest kernel did not start under %s; trying %s", accel, accels[i+1])
	}
	return 0, 0
}

// bootOnce boots the image; ok is false when the kernel did not start under
// accel and another accelerator may be tried.
func bootOnce(t testing.TB, dir, state, key, accel, cmdline string, last, check bool) (ok bool, wall, guest float64) {
	t.Helper()
	sshPort := freePort(t)
	serialLog := filepath.Join(t.TempDir(), "serial.log")
	logFile, err := os.Create(serialLog)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	machine := newVM(t, dir, state, cmdline)
	cmd := exec.Command("qemu-system-x86_64", append(machine.qemuArgs(accel),
		"-no-reboot", "-display", "none", "-vga", "std", "-monitor", "none", "-serial", "stdio",
		"-nic", fmt.Sprintf("user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:%d-:22", sshPort))...)
	if accel == "kvm" {
		cmd.Args = append(cmd.Args, "-cpu", "host")
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logFile
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("qemu: %v", err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(io.TeeReader(stdout, logFile))
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			lines <- ansi.ReplaceAllString(sc.Text(), "")
		}
	}()
	tail := func() string {
		data, _ := os.ReadFile(serialLog)
		s := string(data)
		if len(s) > 6000 {
			s = s[len(s)-6000:]
		}
		return ansi.ReplaceAllString(s, "")
	}

	kernelDeadline := time.After(30 * time.Second)
	if accel == "tcg" {
		kernelDeadline = time.After(120 * time.Second)
	}
	readyDeadline := time.After(6 * time.Minute)
	if accel == "tcg" { // UEFI firmware and GRUB, emulated, on a shared machine
		readyDeadline = time.After(12 * time.Minute)
	}
	var kernel, ready bool
	var readyAt time.Time
	var watch <-chan time.Time
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				if !kernel && !last { // qemu itself failed under accel (KVM refusing an MSR, say)
					t.Logf("qemu stopped under %s before the kernel started:\n%s", accel, tail())
					return false, 0, 0
				}
				t.Fatalf("qemu stopped before the kiosk was ready:\n%s", tail())
			}
			switch {
			case kernelLine.MatchString(line):
				kernel = true
			case !ready && readyLine.MatchString(line):
				ready, readyAt = true, time.Now()
				wall = readyAt.Sub(start).Seconds()
				guest, _ = strconv.ParseFloat(readyLine.FindStringSubmatch(line)[1], 64)
				t.Logf("ssu-kiosk.service ready under qemu (%s): %.1f s after power-on (wall), %.1f s guest uptime",
					accel, wall, guest)
				if !check {
					return true, wall, guest
				}
				watch = time.After(45 * time.Second) // WatchdogSec=30s, and some
				checkRunningKiosk(t, sshPort, key)
			case failureLines.MatchString(line):
				t.Fatalf("%s\nserial console:\n%s", line, tail())
			}
		case <-kernelDeadline:
			if !kernel {
				if last {
					t.Fatalf("the guest kernel did not start under %s:\n%s", accel, tail())
				}
				return false, 0, 0
			}
		case <-readyDeadline:
			if !ready {
				t.Fatalf("ssu-kiosk.service not ready %s after power-on:\n%s", time.Since(start).Round(time.Second), tail())
			}
		case <-watch:
			t.Logf("ssu-kiosk.service still running %s after ready (no watchdog restart)", time.Since(readyAt).Round(time.Second))
			return true, wall, guest
		}
	}
}

// enrolledState makes a state partition (LABEL=SSU-STATE) holding what
// `ssu-ctl enrol` leaves behind: a configuration naming an identity service
// that does not answer, a P-256 key (0600), its certificate and a CA, and
// the SSH key IT may give at enrolment.
func enrolledState(t testing.TB, dir string, sshKey []byte) string {
	t.Helper()
	uid, gid := kioskIDs(t, filepath.Join(dir, "rootfs"))
	tree := t.TempDir()
	enrol := filepath.Join(tree, "ssu", "enrol")
	// As build.sh's state: the kiosk's, SSH's and RAUC's folders.
	for _, d := range []string{filepath.Join(tree, "ssu"), enrol, filepath.Join(tree, "ssh"), filepath.Join(tree, "rauc")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	caPEM, certPEM, keyPEM := testPKI(t)
	config := strings.Join([]string{
		"kiosk-id = boot-test-kiosk",
		"site = qemu",
		"ward = image-test",
		"identity-url = https://10.0.2.2:9",
		"service-ca = /var/lib/ssu/enrol/ca.pem",
		"client-cert = /var/lib/ssu/enrol/cert.pem",
		"client-key = /var/lib/ssu/enrol/key.pem",
		"troubleshooting-url = https://help.example.nhs.uk/smartcard-kiosk",
		"methods = email",
		"fullscreen = true",
		"hide-cursor = true",
		"",
	}, "\n")
	for name, data := range map[string][]byte{"kiosk.yaml": []byte(config), "ca.pem": caPEM, "cert.pem": certPEM, "key.pem": keyPEM} {
		if err := os.WriteFile(filepath.Join(enrol, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{filepath.Join(tree, "ssu"), enrol, filepath.Join(enrol, "kiosk.yaml"),
		filepath.Join(enrol, "ca.pem"), filepath.Join(enrol, "cert.pem"), filepath.Join(enrol, "key.pem")} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(tree, "ssh", "authorized_keys"), sshKey, 0o600); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "state.ext4")
	// As big as the image's state partition: room for a bundle downloaded for an update.
	run(t, time.Minute, nil, "mkfs.ext4", "-q", "-L", "SSU-STATE", "-d", tree, img, "1000M")
	return img
}

func kioskIDs(t testing.TB, root string) (int, int) {
	t.Helper()
	u, ok := readPasswd(t, root)["ssu-kiosk"]
	if !ok {
		t.Fatal("no ssu-kiosk user in the image")
	}
	uid, err1 := strconv.Atoi(u.uid)
	gid, err2 := strconv.Atoi(u.gid)
	if err1 != nil || err2 != nil {
		t.Fatalf("ssu-kiosk ids %q %q", u.uid, u.gid)
	}
	return uid, gid
}

// testPKI makes a throwaway CA and a kiosk certificate signed by it.
func testPKI(t testing.TB) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	ca := pkitest.NewCA(t, "boot test CA")
	kiosk := pkitest.Issue(t, ca, pki.Request{CommonName: "boot-test-kiosk", Usage: x509.ExtKeyUsageClientAuth,
		NotAfter: time.Now().Add(24 * time.Hour)})
	return ca.CertPEM(), kiosk.CertPEM, kiosk.KeyPEM
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// guestChecks runs on the booted kiosk (as root, over SSH) and prints one
// "name value" line per fact.
const guestChecks = `
echo "root-options $(findmnt -no OPTIONS /)"
echo "root-writable $(touch /ssu-probe 2>/dev/null && echo yes || echo no)"
echo "kiosk $(systemctl is-active ssu-kiosk.service)"
echo "kiosk-user $(stat -c %U /proc/$(systemctl show -p MainPID --value ssu-kiosk.service))"
echo "gettys $(cat /proc/[0-9]*/comm 2>/dev/null | grep -c getty || true)"
echo "key-mode $(stat -c %a /var/lib/ssu/enrol/key.pem)"
echo "persist-options $(findmnt -no OPTIONS /persist)"
echo "egress $(nft list set inet ssu egress4 | tr -s ' \n\t' ' ')"
echo "exposure $(systemd-analyze security ssu-kiosk.service 2>/dev/null | sed -n 's/.*Overall exposure level for ssu-kiosk.service: \([0-9.]*\).*/\1/p')"
echo "journal $(sed -n 's/^RuntimeMaxUse=//p' /etc/systemd/journald.conf.d/ssu.conf)"
`

// checkRunningKiosk logs in over SSH and checks the lock-down on the running kiosk.
func checkRunningKiosk(t testing.TB, port int, key string) {
	t.Helper()
	args := []string{"-i", key, "-p", strconv.Itoa(port), "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "root@127.0.0.1", guestChecks}
	var out string
	var err error
	for range 12 { // sshd may still be making its host key
		if out, err = tryRun(t, time.Minute, nil, "ssh", args...); err == nil {
			break
		}
		time.Sleep(5 * time.Second)
	}
	if err != nil {
		t.Fatalf("ssh into the kiosk with the enrolment key: %v\n%s", err, out)
	}
	facts := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if name, value, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			facts[name] = value
		}
	}
	t.Logf("on the running kiosk: %q", facts)
	if !strings.HasPrefix(facts["root-options"], "ro") || facts["root-writable"] != "no" {
		t.Errorf("root is not read-only: %s", facts["root-options"])
	}
	if facts["kiosk"] != "active" {
		t.Errorf("ssu-kiosk.service is %q", facts["kiosk"])
	}
	if facts["kiosk-user"] != "ssu-kiosk" {
		t.Errorf("ssu-kiosk runs as %q", facts["kiosk-user"])
	}
	if facts["gettys"] != "0" {
		t.Errorf("%s getty processes running", facts["gettys"])
	}
	if facts["key-mode"] != "600" {
		t.Errorf("key.pem mode %s, want 600", facts["key-mode"])
	}
	if !regexp.MustCompile(`[{,] 10\.0\.2\.2 \. 9[ ,]`).MatchString(facts["egress"]) {
		t.Errorf("the identity service in the enrolled configuration is not in the egress set: %s", facts["egress"])
	}
	score, err := strconv.ParseFloat(facts["exposure"], 64)
	if err != nil || score >= maxExposure {
		t.Errorf("live exposure of ssu-kiosk.service %q, want below %.1f", facts["exposure"], maxExposure)
	} else {
		t.Logf("live systemd-analyze security exposure of ssu-kiosk.service: %.1f", score)
	}
}

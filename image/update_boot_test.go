//go:build imageboot

package image

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUpdateAndFallback (make image-test): flash the image, boot slot A to ready and marked good;
// install a bundle of a newer version, reboot into B, marked good, reporting the new version; kill
// qemu in the middle of an install and boot B again; install a bundle whose kiosk never becomes
// ready and watch GRUB go back to B by itself, with the failed version reported; the enrolment and
// the outbox survive all of it. It logs the figures: bundle size, install time, reboot to ready,
// fallback time.
func TestUpdateAndFallback(t *testing.T) {
	dir := imageDir(t)
	requireCommand(t, "ssh", "openssh-client")
	requireCommand(t, "debugfs", "e2fsprogs")
	requireCommand(t, "rauc", "rauc")
	key := filepath.Join(t.TempDir(), "id_ed25519")
	run(t, time.Minute, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	base := imageVersion(t, filepath.Join(dir, "rootfs"))
	good := testBundle(t, dir, base+"-next", false)
	bad := testBundle(t, dir, base+"-bad", true)
	if fi, err := os.Stat(good); err == nil {
		t.Logf("figure: bundle size %.1f MiB (%s)", float64(fi.Size())/(1<<20), filepath.Base(good))
	}

	state := enrolledState(t, dir, pub)
	machine := newVM(t, dir, state, "")
	q := startQemu(t, machine, key)
	start := time.Now()
	q.waitReady(t, 10*time.Minute)
	t.Logf("figure: power-on to ssu-kiosk ready on slot A: %s", time.Since(start).Round(time.Second))
	q.waitMarkedGood(t, 5*time.Minute)
	st := q.status(t)
	if st.Booted != "A" || st.Version != base {
		t.Fatalf("first boot: slot %s version %s, want A %s", st.Booted, st.Version, base)
	}
	// Something in the outbox and a mark-good bound short enough for the test.
	q.ssh(t, "echo queued >/var/lib/ssu/outbox-survives && echo SSU_MARK_GOOD_WAIT=90s >/persist/ssu-mark-good.conf && sync")

	// A newer bundle: installed to B, rebooted into, marked good.
	q.copy(t, good, "/persist/rauc/good.raucb")
	t0 := time.Now()
	q.ssh(t, "ssu-ctl update install --force /persist/rauc/good.raucb && rm /persist/rauc/good.raucb")
	t.Logf("figure: install of the bundle: %s", time.Since(t0).Round(time.Second))
	t0 = time.Now()
	q.reboot(t)
	q.waitReady(t, 10*time.Minute)
	t.Logf("figure: reboot to ssu-kiosk ready on the new slot: %s", time.Since(t0).Round(time.Second))
	q.waitMarkedGood(t, 5*time.Minute)
	if st := q.status(t); st.Booted != "B" || st.Version != base+"-next" || st.Fallback != nil {
		t.Fatalf("after the update: %+v, want slot B version %s-next, no fallback", st, base)
	}

	// qemu killed in the middle of an install: the kiosk boots B again and works.
	q.copy(t, good, "/persist/rauc/again.raucb")
	q.ssh(t, "nohup ssu-ctl update install --force /persist/rauc/again.raucb >/dev/null 2>&1 &")
	// RAUC writing the other slot: the power goes in the middle of the write.
	q.waitLine(t, regexp.MustCompile(`rauc\[\d+\]: writing data to device`), 10*time.Minute)
	q.kill()
	q = startQemu(t, machine, key)
	q.waitReady(t, 10*time.Minute)
	q.waitMarkedGood(t, 5*time.Minute)
	if st := q.status(t); st.Booted != "B" {
		t.Fatalf("after a power cut during an install: slot %s, want B", st.Booted)
	}
	q.ssh(t, "rm -f /persist/rauc/again.raucb")

	// A bundle whose kiosk never becomes ready: back on B by itself.
	q.copy(t, bad, "/persist/rauc/bad.raucb")
	q.ssh(t, "ssu-ctl update install --force /persist/rauc/bad.raucb && rm /persist/rauc/bad.raucb")
	t0 = time.Now()
	q.reboot(t)
	q.waitLine(t, regexp.MustCompile(`rebooting to the last good slot`), 10*time.Minute)
	q.waitReady(t, 10*time.Minute)
	t.Logf("figure: reboot into a bad slot to ssu-kiosk ready again on the good one: %s", time.Since(t0).Round(time.Second))
	q.waitMarkedGood(t, 5*time.Minute)
	st = q.status(t)
	if st.Booted != "B" || st.Fallback == nil || st.Fallback.FailedVersion != base+"-bad" ||
		st.Fallback.RunningVersion != base+"-next" {
		t.Fatalf("after the bad update: %+v, want slot B, fallback from %s-bad to %s-next", st, base, base)
	}
	t.Logf("fallback reported: %+v", *st.Fallback)
	if out := q.ssh(t, "cat /var/lib/ssu/outbox-survives; test -s /var/lib/ssu/enrol/key.pem && echo enrolled"); !strings.Contains(out, "queued") || !strings.Contains(out, "enrolled") {
		t.Errorf("the state partition lost the outbox or the enrolment: %q", out)
	}
	q.kill()
}

// imageVersion reads IMAGE_VERSION from the built root.
func imageVersion(t *testing.T, root string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^IMAGE_VERSION=(\S+)$`).FindStringSubmatch(readFile(t, root, "usr/lib/os-release"))
	if m == nil {
		t.Fatal("no IMAGE_VERSION in the image's os-release")
	}
	return m[1]
}

// testBundle makes a bundle of the image's root with another version in os-release and, when
// broken, an ssu-kiosk that exits at once (it never becomes ready). debugfs edits the ext4 image
// in place: no mount.
func testBundle(t *testing.T, dir, version string, broken bool) string {
	t.Helper()
	work := t.TempDir()
	root := filepath.Join(work, "root.ext4")
	run(t, 5*time.Minute, nil, "cp", "--sparse=always", filepath.Join(dir, "root.ext4"), root)
	rel := strings.TrimRight(readFile(t, filepath.Join(dir, "rootfs"), "usr/lib/os-release"), "\n")
	rel = regexp.MustCompile(`(?m)^IMAGE_VERSION=.*$`).ReplaceAllString(rel, "IMAGE_VERSION="+version) + "\n"
	relFile := filepath.Join(work, "os-release")
	if err := os.WriteFile(relFile, []byte(rel), 0o644); err != nil {
		t.Fatal(err)
	}
	cmds := "rm /usr/lib/os-release\nwrite " + relFile + " /usr/lib/os-release\n"
	if broken {
		stub := filepath.Join(work, "ssu-kiosk")
		if err := os.WriteFile(stub, []byte("#!/bin/sh\necho 'ssu-kiosk: broken test build' >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		cmds += "rm /usr/bin/ssu-kiosk\nwrite " + stub + " /usr/bin/ssu-kiosk\n"
	}
	script := filepath.Join(work, "debugfs.cmds")
	if err := os.WriteFile(script, []byte(cmds), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, time.Minute, nil, "debugfs", "-w", "-f", script, root)
	cert := filepath.Join(repoDir(t), "bin", "rauc-dev", "cert.pem")
	k := filepath.Join(repoDir(t), "bin", "rauc-dev", "key.pem")
	out := filepath.Join(work, "ssu-kiosk-"+version+".raucb")
	run(t, 10*time.Minute, nil, "./bundle.sh", "--cert", cert, "--key", k, "--version", version, root, out)
	return out
}

// qemuRun is one running qemu: its serial console as lines, SSH on a forwarded port.
type qemuRun struct {
	cmd   *exec.Cmd
	lines chan string
	port  int
	key   string
	log   string
	once  sync.Once
}

func startQemu(t *testing.T, m vm, key string) *qemuRun {
	t.Helper()
	accel := os.Getenv("SSU_QEMU_ACCEL")
	if accel == "" {
		accel = "tcg"
	}
	q := &qemuRun{port: freePort(t), key: key, lines: make(chan string, 4096),
		log: filepath.Join(t.TempDir(), "serial.log")}
	logFile, err := os.Create(q.log)
	if err != nil {
		t.Fatal(err)
	}
	q.cmd = exec.Command("qemu-system-x86_64", append(m.qemuArgs(accel),
		"-display", "none", "-vga", "std", "-monitor", "none", "-serial", "stdio",
		"-nic", fmt.Sprintf("user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:%d-:22", q.port))...)
	stdout, err := q.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	q.cmd.Stderr = logFile
	if err := q.cmd.Start(); err != nil {
		t.Fatalf("qemu: %v", err)
	}
	t.Cleanup(q.kill)
	go func() {
		defer close(q.lines)
		defer logFile.Close()
		sc := bufio.NewScanner(io.TeeReader(stdout, logFile))
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			q.lines <- ansi.ReplaceAllString(sc.Text(), "")
		}
	}()
	return q
}

func (q *qemuRun) kill() {
	q.once.Do(func() {
		_ = q.cmd.Process.Kill()
		_ = q.cmd.Wait()
	})
}

func (q *qemuRun) tail() string {
	data, _ := os.ReadFile(q.log)
	s := ansi.ReplaceAllString(string(data), "")
	if len(s) > 6000 {
		s = s[len(s)-6000:]
	}
	return s
}

// waitLine waits for a console line matching re.
func (q *qemuRun) waitLine(t *testing.T, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-q.lines:
			if !ok {
				t.Fatalf("qemu stopped waiting for %q:\n%s", re, q.tail())
			}
			if re.MatchString(line) {
				return line
			}
		case <-deadline:
			t.Fatalf("no %q on the console within %s:\n%s", re, timeout, q.tail())
		}
	}
}

func (q *qemuRun) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	q.waitLine(t, readyLine, timeout)
}

func (q *qemuRun) waitMarkedGood(t *testing.T, timeout time.Duration) {
	t.Helper()
	q.waitLine(t, regexp.MustCompile(`healthy: booted slot marked good|Finished ssu-mark-good\.service`), timeout)
}

func (q *qemuRun) sshArgs() []string {
	return []string{"-i", q.key, "-p", strconv.Itoa(q.port), "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR"}
}

// ssh runs a command on the kiosk as root (sshd may still be making its host key: tries again).
func (q *qemuRun) ssh(t *testing.T, command string) string {
	t.Helper()
	var out string
	var err error
	for range 12 {
		if out, err = tryRun(t, 20*time.Minute, nil, "ssh", append(q.sshArgs(), "root@127.0.0.1", command)...); err == nil {
			return out
		}
		if !strings.Contains(out, "Connection") && !strings.Contains(out, "kex_") {
			break
		}
		time.Sleep(5 * time.Second)
	}
	t.Fatalf("ssh %q: %v\n%s", command, err, out)
	return ""
}

func (q *qemuRun) copy(t *testing.T, local, remote string) {
	t.Helper()
	args := append(q.sshArgs(), local, "root@127.0.0.1:"+remote)
	for i, a := range args {
		if a == "-p" {
			args[i] = "-P"
		}
	}
	run(t, 20*time.Minute, nil, "scp", args...)
}

// reboot asks the kiosk to reboot (as the fleet's reboot command does once it is idle).
func (q *qemuRun) reboot(t *testing.T) {
	t.Helper()
	_, _ = tryRun(t, time.Minute, nil, "ssh", append(q.sshArgs(), "root@127.0.0.1", "systemctl reboot")...)
}

type guestStatus struct {
	Version  string `json:"version"`
	Booted   string `json:"booted"`
	Fallback *struct {
		FailedVersion  string
		FailedSlot     string
		RunningVersion string
		RunningSlot    string
	} `json:"fallback"`
}

func (q *qemuRun) status(t *testing.T) guestStatus {
	t.Helper()
	out := q.ssh(t, "ssu-ctl update status")
	var st guestStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("ssu-ctl update status: %v\n%s", err, out)
	}
	t.Logf("ssu-ctl update status: %s", strings.Join(strings.Fields(out), " "))
	return st
}

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ssu-kiosk/hal/card/pcsctest"
)

var daemon *pcsctest.Daemon

func TestMain(m *testing.M) {
	daemon = pcsctest.Setup(m, 2)
	code := m.Run()
	daemon.Close()
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// e2eVersion is the version the test binaries are stamped with, as make build stamps them; its commit
// abbreviation holds six digits in a row, which the fleet's messages must still accept.
const e2eVersion = "0.0.7-g1234567"

// binaries builds ssu-kiosk (the demo build, as make run does), ssu-idservice, ssu-fleetd and ssu-vcard
// once into one folder (ssu-kiosk --demo finds the others beside itself).
func binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "ssu-kiosk-bin-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-tags", "demo", "-ldflags", "-X ssu-kiosk/provisioning/version.value="+e2eVersion,
			"-o", binDir+"/", "ssu-kiosk/kiosk/cmd/ssu-kiosk",
			"ssu-kiosk/remote/cmd/ssu-idservice", "ssu-kiosk/remote/cmd/ssu-fleetd", "ssu-kiosk/hal/cmd/ssu-vcard")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func need(t testing.TB, program, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(program); err != nil {
		t.Fatalf("%s not found: apt-get install %s", program, pkg)
	}
}

// startXvfb starts a private X server of w x h and returns its DISPLAY.
func startXvfb(t testing.TB, w, h int) string {
	t.Helper()
	need(t, "Xvfb", "xvfb")
	for _, lib := range []string{"libGL.so.1", "libX11.so.6", "libXrandr.so.2", "libXcursor.so.1", "libXinerama.so.1", "libXi.so.6"} {
		if out, _ := exec.Command("sh", "-c", "ldconfig -p | grep -c "+lib).Output(); strings.TrimSpace(string(out)) == "0" {
			t.Fatalf("%s missing: apt-get install libgl1 libgl1-mesa-dri libx11-6 libxrandr2 libxcursor1 libxinerama1 libxi6", lib)
		}
	}
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", fmt.Sprintf("%dx%dx24", w, h), "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{wr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wr.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(r).ReadString('\n')
	r.Close()
	if err != nil {
		t.Fatalf("Xvfb did not say its display: %v", err)
	}
	return ":" + strings.TrimSpace(line)
}

// logWatch follows a process's log lines. The kiosk's "pressed" and "released" lines go to a channel of
// their own, so waiting for one never passes over a screen line.
type logWatch struct {
	lines, input chan string
	mu           sync.Mutex
	all          []string
}

func watchLog(r io.Reader) *logWatch {
	w := &logWatch{lines: make(chan string, 4096), input: make(chan string, 4096)}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			w.mu.Lock()
			w.all = append(w.all, sc.Text())
			w.mu.Unlock()
			if strings.Contains(sc.Text(), "msg=pressed") || strings.Contains(sc.Text(), "msg=released") {
				w.input <- sc.Text()
			} else {
				w.lines <- sc.Text()
			}
		}
		close(w.lines)
		close(w.input)
	}()
	return w
}

// seen waits for the kiosk to log that it saw a press or a release ("msg=pressed what=tap").
func (w *logWatch) seen(t testing.TB, parts ...string) {
	t.Helper()
	w.await(t, w.input, 20*time.Second, parts)
}

// forgetInput drops the press and release lines not waited for.
func (w *logWatch) forgetInput() {
	for {
		select {
		case <-w.input:
		default:
			return
		}
	}
}

// next waits for the next line containing every part.
func (w *logWatch) next(t testing.TB, timeout time.Duration, parts ...string) string {
	t.Helper()
	return w.await(t, w.lines, timeout, parts)
}

// await reads ch until a line holds every part.
func (w *logWatch) await(t testing.TB, ch <-chan string, timeout time.Duration, parts []string) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-ch:
			if !ok {
				t.Fatalf("log ended while waiting for %q\n%s", parts, w.dump())
			}
			match := true
			for _, p := range parts {
				match = match && strings.Contains(l, p)
			}
			if match {
				return l
			}
		case <-deadline:
			t.Fatalf("no log line with %q in %v\n%s", parts, timeout, w.dump())
		}
	}
}

func (w *logWatch) dump() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var keep []string
	for _, l := range w.all {
		if !strings.Contains(l, "msg=targets") && !strings.Contains(l, "simulated led") {
			keep = append(keep, l)
		}
	}
	if len(keep) > 60 {
		keep = keep[len(keep)-60:]
	}
	return strings.Join(keep, "\n")
}

// kiosk is a running ssu-kiosk --demo on its own X server.
type kiosk struct {
	display, dir string
	cmd          *exec.Cmd
	log          *logWatch
	out          *logWatch // what it prints for the person at the terminal
	started      time.Time
}

// startDemo runs ssu-kiosk --demo, full screen on an X server of w x h, with the private pcscd's first
// reader as the kiosk's reader.
func startDemo(t testing.TB, w, h int, extra ...string) *kiosk {
	t.Helper()
	need(t, "xdotool", "xdotool")
	bin := binaries(t)
	display := startXvfb(t, w, h)
	dir := t.TempDir()
	r := daemon.Readers()[0]
	args := append([]string{"--demo", "--demo-dir", dir, "--testdata", "../../../testdata", "--vpcd", r.VPCDAddr,
		"--reader", r.Name, "--fullscreen", "--log-level", "debug", "--demo-small-fleet"}, extra...)
	return launchKiosk(t, display, dir, exec.Command(filepath.Join(bin, "ssu-kiosk"), args...))
}

// launchKiosk starts an ssu-kiosk command on display, stops it (and anything it started) when the test
// ends, and waits for its first frame.
func launchKiosk(t testing.TB, display, dir string, cmd *exec.Cmd) *kiosk {
	t.Helper()
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its children too can be stopped if it fails to
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	k := &kiosk{display: display, dir: dir, cmd: cmd, log: watchLog(stderr), out: watchLog(stdout), started: time.Now()}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("ssu-kiosk did not stop in 10 s on SIGINT\n%s", k.log.dump())
			_ = cmd.Process.Kill()
			<-done
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // anything it left behind
	})
	k.log.next(t, 60*time.Second, "first frame")
	return k
}

func (k *kiosk) xdo(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command("xdotool", args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+k.display)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xdotool %v: %v %s", args, err, out)
	}
}

// key presses and releases a key the way a person does: held until the kiosk has seen it pressed, and
// released before anything else is pressed, however slowly the kiosk's frames come on a loaded machine.
func (k *kiosk) key(t testing.TB, name string) {
	t.Helper()
	k.hold(t, "key", []string{"keydown", name}, []string{"keyup", name})
}

// hold runs the xdotool press, waits until the kiosk has seen it, then runs the release and waits for that.
func (k *kiosk) hold(t testing.TB, what string, press, release []string) {
	t.Helper()
	k.log.forgetInput()
	k.xdo(t, press...)
	k.log.seen(t, "msg=pressed", "what="+what)
	k.xdo(t, release...)
	k.log.seen(t, "msg=released", "what="+what)
}

func (k *kiosk) typ(t testing.TB, s string) {
	t.Helper()
	k.xdo(t, "type", "--delay", "60", s)
}

func (k *kiosk) click(t testing.TB, x, y int) {
	t.Helper()
	k.hold(t, "tap", []string{"mousemove", strconv.Itoa(x), strconv.Itoa(y), "mousedown", "1"}, []string{"mouseup", "1"})
}

// screen waits for the kiosk to show screen id.
func (k *kiosk) screen(t testing.TB, id string) {
	t.Helper()
	k.log.next(t, 30*time.Second, "msg=screen", "id="+id+" ")
}

// targets waits for the targets of screen id and returns their centres by name ("key:7", "button:continue").
func (k *kiosk) targets(t testing.TB, id string) map[string][2]int {
	t.Helper()
	l := k.log.next(t, 30*time.Second, "msg=targets", "id="+id+" ")
	out := map[string][2]int{}
	_, list, _ := strings.Cut(l, "targets=")
	for _, f := range strings.Fields(strings.Trim(list, `"`)) {
		i := strings.LastIndex(f, "@")
		if i < 0 {
			continue
		}
		name, at := f[:i], f[i+1:]
		xs, ys, _ := strings.Cut(at, ",")
		x, _ := strconv.Atoi(xs)
		y, _ := strconv.Atoi(ys)
		out[name] = [2]int{x, y}
	}
	return out
}

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

// securityCode reads the newest code the demo identity service wrote to its outbox.
func (k *kiosk) securityCode(t testing.TB) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(k.dir, "outbox", "*.txt"))
		if len(files) > 0 {
			b, err := os.ReadFile(files[len(files)-1])
			if err != nil {
				t.Fatal(err)
			}
			_, body, _ := strings.Cut(string(b), "\n\n")
			if m := codeRE.FindStringSubmatch(body); m != nil {
				return m[1]
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no security code in the demo outbox")
	return ""
}

// verifyWithOpenSC inserts the card state into the second reader with ssu-vcard and checks with OpenSC's
// pkcs15-tool that pin verifies and wrong does not.
func verifyWithOpenSC(t *testing.T, state, pin, wrong string) {
	t.Helper()
	need(t, "pkcs15-tool", "opensc")
	r := daemon.Readers()[1]
	ctx, cancel := context.WithCancel(context.Background())
	vc := exec.CommandContext(ctx, filepath.Join(binaries(t), "ssu-vcard"), "--vpcd", r.VPCDAddr, "--state", state)
	if err := vc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = vc.Wait() }()
	verify := func(p string) (bool, string) {
		out, err := exec.Command("pkcs15-tool", "--reader", r.Name, "--verify-pin", "--auth-id", "01", "--pin", p).CombinedOutput()
		return err == nil, string(out)
	}
	var ok bool
	var out string
	for range 30 { // the card shows up in pcscd within about a second
		if ok, out = verify(pin); ok || strings.Contains(out, "incorrect") || strings.Contains(out, "locked") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !ok {
		t.Fatalf("OpenSC: the new passcode does not verify: %s", out)
	}
	if ok, out := verify(wrong); ok {
		t.Fatalf("OpenSC: the old passcode still verifies: %s", out)
	}
}

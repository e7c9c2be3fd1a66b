package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"ssu-kiosk/hal/card/pcsctest"
	"ssu-kiosk/hal/vcard"
)

const testCA = "../../../testdata/pki"

var daemon *pcsctest.Daemon

func TestMain(m *testing.M) {
	daemon = pcsctest.Setup(m, 2)
	code := m.Run()
	daemon.Close()
	os.Exit(code)
}

func createArgs(state string) []string {
	return []string{"--create", "--state", state, "--holder-uuid", "555000000001", "--name", "Sam Example",
		"--pin", "918273", "--puk", "12345678", "--not-after", "2028-01-31", "--ca", testCA}
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCreate(t *testing.T) {
	state := filepath.Join(t.TempDir(), "card.json")
	code, out, errOut := runCLI(createArgs(state)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	serial := strings.TrimSpace(out)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(serial) {
		t.Fatalf("stdout %q is not a serial", out)
	}
	if strings.Contains(errOut, "918273") || strings.Contains(errOut, "12345678") {
		t.Fatalf("the log shows a secret:\n%s", errOut)
	}
	s, err := vcard.LoadState(state)
	if err != nil {
		t.Fatal(err)
	}
	if s.Serial() != serial || s.PINTriesMax != 3 || s.PUKTriesMax != 3 {
		t.Fatalf("saved card %s, tries %d/%d", s.Serial(), s.PINTriesMax, s.PUKTriesMax)
	}
	// An existing card is never replaced by accident.
	if code, _, errOut := runCLI(createArgs(state)...); code != 1 || !strings.Contains(errOut, "--force") {
		t.Fatalf("second create: exit %d, %s", code, errOut)
	}
	code, out, _ = runCLI(append(createArgs(state), "--force", "--pin-tries", "5", "--puk-tries", "10")...)
	if code != 0 || strings.TrimSpace(out) == serial {
		t.Fatalf("create --force: exit %d, serial %q", code, out)
	}
	if s, _ := vcard.LoadState(state); s.PINTriesMax != 5 || s.PUKTriesMax != 10 {
		t.Fatalf("tries %d/%d, want 5/10", s.PINTriesMax, s.PUKTriesMax)
	}
}

func TestBadArguments(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "card.json")
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"nothing":        {[]string{"--state", state}, "nothing to do"},
		"no state":       {[]string{"--vpcd", "127.0.0.1:1"}, "--state"},
		"stray argument": {[]string{"--state", state, "--vpcd", "127.0.0.1:1", "extra"}, "unexpected"},
		"pin alone":      {[]string{"--state", state, "--vpcd", "127.0.0.1:1", "--pin", "918273"}, "needs --create"},
		"missing name":   {without(createArgs(state), "--name", "Sam Example"), "--name"},
		"bad date":       {replace(createArgs(state), "2028-01-31", "31/01/2028"), "--not-after"},
		"bad pin":        {replace(createArgs(state), "918273", "91827x"), "PIN must be"},
		"no ca":          {replace(createArgs(state), testCA, dir), "--ca"},
		"unknown flag":   {[]string{"--colour", "red"}, "colour"},
		"missing state":  {[]string{"--state", filepath.Join(dir, "none.json"), "--vpcd", "127.0.0.1:1"}, "none.json"},
		"negative fault": {[]string{"--state", state, "--vpcd", "127.0.0.1:1", "--fault-remove-after", "-1"}, "negative"},
		"bad algorithm":  {append(createArgs(state), "--card-auth-alg", "ed25519"), "--card-auth-alg"},
		"alg alone":      {[]string{"--state", state, "--vpcd", "127.0.0.1:1", "--card-auth-alg", "p384"}, "needs --create"},
		"gzip alone":     {[]string{"--state", state, "--vpcd", "127.0.0.1:1", "--compress-certs"}, "needs --create"},
	} {
		code, _, errOut := runCLI(tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, want 1 and %q in:\n%s", name, code, tc.want, errOut)
		}
		if strings.Contains(errOut, "91827") {
			t.Errorf("%s: output shows the PIN:\n%s", name, errOut)
		}
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed create left a state file")
	}
}

// without removes a flag and its value from args.
func without(args []string, flag, value string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == flag && i+1 < len(args) && args[i+1] == value {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func replace(args []string, old, repl string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if out[i] == old {
			out[i] = repl
		}
	}
	return out
}

// buildBinary builds ssu-vcard into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ssu-vcard")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("ssu-vcard did not exit")
		return -1
	}
}

func TestBinaryInsertsUntilSignal(t *testing.T) {
	if _, err := exec.LookPath("opensc-tool"); err != nil {
		t.Fatal("opensc-tool is missing: apt-get install opensc")
	}
	bin := buildBinary(t)
	r := daemon.Readers()[0]
	state := filepath.Join(t.TempDir(), "card.json")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, append(createArgs(state), "--vpcd", r.VPCDAddr)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	daemon.WaitCard(t, r.Name, true)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "opensc-tool", "--reader", r.Name, "--name").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Personal Identity Verification Card") {
		t.Fatalf("opensc-tool --name: %v\n%s", err, out)
	}

	// pcscd restarts: the card goes back into the reader by itself.
	if err := daemon.Stop(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	daemon.WaitCard(t, r.Name, true)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, stderr.String())
	}
	daemon.WaitCard(t, r.Name, false)
	if !strings.Contains(stderr.String(), "card removed") {
		t.Fatalf("no removal logged:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "918273") {
		t.Fatalf("the log shows the PIN:\n%s", stderr.String())
	}

	// The same card again, from its state file, with a fault that pulls it at the first APDU.
	cmd = exec.Command(bin, "--state", state, "--vpcd", r.VPCDAddr, "--fault-remove-after", "1")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	daemon.WaitCard(t, r.Name, true)
	pcsc, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer pcsc.Release()
	card, err := pcsc.Connect(r.Name, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := card.Transmit([]byte{0x00, 0x20, 0x00, 0x80})
	if err == nil && len(resp) != 0 {
		t.Fatalf("the pulled card answered % X", resp)
	}
	_ = card.Disconnect(scard.LeaveCard) // a reset here would wedge vpcd's reader
	if code := waitExit(t, cmd); code != 0 {
		t.Fatalf("exit %d after the fault removal:\n%s", code, stderr.String())
	}
	daemon.WaitCard(t, r.Name, false)
}

package vcard_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"ssu-kiosk/hal/card/pcsctest"
	"ssu-kiosk/hal/vcard"
)

// daemon is this test binary's private pcscd; nil in fuzz workers, which only run fuzz targets.
var daemon *pcsctest.Daemon

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run()) // a fuzz worker talks to its coordinator over inherited pipes: no re-exec here
	}
	daemon = pcsctest.Setup(m, 2)
	code := m.Run()
	daemon.Close()
	os.Exit(code)
}

// needTools fails the test, naming the Debian package, when a client tool is missing.
func needTools(t *testing.T) {
	t.Helper()
	for tool, pkg := range map[string]string{"opensc-tool": "opensc", "pkcs15-tool": "opensc", "yubico-piv-tool": "yubico-piv-tool"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: apt-get install %s", tool, pkg)
		}
	}
	if daemon == nil {
		t.Fatal("no private pcscd (interoperability tests do not run in fuzz workers)")
	}
}

// newCardFile creates a card for Sam Example (PIN 123456, PUK 12345678) and saves it in a temporary file.
func newCardFile(t *testing.T) (string, *vcard.State) {
	t.Helper()
	ca, err := vcard.LoadCA("../../testdata/pki")
	if err != nil {
		t.Fatal(err)
	}
	s, err := vcard.Create(vcard.CreateOptions{
		HolderUUID: "555000000001", Name: "Sam Example",
		PIN: []byte("123456"), PUK: []byte("12345678"),
		NotAfter: time.Date(2028, 1, 31, 0, 0, 0, 0, time.UTC), CA: ca,
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "card.json")
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	return path, s
}

// insert puts the card saved at path into the reader and waits until PC/SC sees it. The returned
// function removes it and waits until PC/SC sees the reader empty; cleanup calls it too.
func insert(t *testing.T, r pcsctest.Reader, path string, f vcard.Faults) (remove func() error) {
	t.Helper()
	c, err := vcard.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c.SetLogger(slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- vcard.Insert(ctx, r.VPCDAddr, c, f) }()
	daemon.WaitCard(t, r.Name, true)
	var result error
	removed := false
	remove = func() error {
		if removed {
			return result
		}
		removed = true
		cancel()
		select {
		case result = <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Insert did not return after cancel")
		}
		daemon.WaitCard(t, r.Name, false)
		return result
	}
	t.Cleanup(func() { _ = remove() })
	return remove
}

// testLog shows the card's log (command headers and status words, never data) with the test's output.
type testLog struct{ t *testing.T }

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// tool runs a smartcard tool and returns its output and exit code.
func tool(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("%s: %v\n%s", name, err, out)
	return "", -1
}

// mustTool runs a tool that must succeed and print want.
func mustTool(t *testing.T, want string, name string, args ...string) string {
	t.Helper()
	out, code := tool(t, name, args...)
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("%s %s: exit %d, want %q in:\n%s", name, args[len(args)-1], code, want, out)
	}
	return out
}

// failTool runs a tool that must fail and print want.
func failTool(t *testing.T, want string, name string, args ...string) {
	t.Helper()
	out, code := tool(t, name, args...)
	if code == 0 || !strings.Contains(out, want) {
		t.Fatalf("%s: exit %d, want failure with %q in:\n%s", name, code, want, out)
	}
}

func counters(t *testing.T, path string) (pin, puk int) {
	t.Helper()
	s, err := vcard.LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	return s.PINTriesLeft, s.PUKTriesLeft
}

func checkCounters(t *testing.T, path string, pin, puk int) {
	t.Helper()
	if gotPIN, gotPUK := counters(t, path); gotPIN != pin || gotPUK != puk {
		t.Fatalf("saved tries left: PIN %d PUK %d, want %d and %d", gotPIN, gotPUK, pin, puk)
	}
}

func samePEMCert(t *testing.T, out string, want []byte) {
	t.Helper()
	block, _ := pem.Decode([]byte(out[strings.Index(out, "-----BEGIN"):]))
	if block == nil {
		t.Fatalf("no PEM certificate in:\n%s", out)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cert.Raw, want) {
		t.Fatal("the tool read another certificate than the card's")
	}
	if cert.Subject.CommonName != "Sam Example" || cert.Subject.SerialNumber != "555000000001" {
		t.Fatalf("subject %s", cert.Subject)
	}
}

func TestInteropOpenSC(t *testing.T) {
	needTools(t)
	r := daemon.Readers()[0]
	path, s := newCardFile(t)
	insert(t, r, path, vcard.Faults{})

	out := mustTool(t, r.Name, "opensc-tool", "--list-readers")
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, r.Name) && !strings.Contains(line, "Yes") {
			t.Fatalf("opensc-tool lists the reader without a card: %q", line)
		}
	}
	mustTool(t, "Personal Identity Verification Card", "opensc-tool", "--reader", r.Name, "--name")
	out = mustTool(t, "Certificate for PIV Authentication", "pkcs15-tool", "--reader", r.Name, "--list-certificates")
	if !strings.Contains(out, "Certificate for Card Authentication") {
		t.Fatalf("no Card Authentication certificate listed:\n%s", out)
	}
	out = mustTool(t, "BEGIN CERTIFICATE", "pkcs15-tool", "--reader", r.Name, "--read-certificate", "01")
	samePEMCert(t, out, s.PIVAuth.Cert)

	p15 := func(args ...string) []string { return append([]string{"--reader", r.Name}, args...) }
	mustTool(t, "", "pkcs15-tool", p15("--verify-pin", "--pin", "123456")...)
	mustTool(t, "", "pkcs15-tool", p15("--change-pin", "--pin", "123456", "--new-pin", "24682468")...)
	mustTool(t, "", "pkcs15-tool", p15("--verify-pin", "--pin", "24682468")...)
	checkCounters(t, path, 3, 3)

	// Three wrong PINs block the card; then even the right PIN is refused.
	for range 3 {
		failTool(t, "PIN code or key incorrect", "pkcs15-tool", p15("--verify-pin", "--pin", "000000")...)
	}
	checkCounters(t, path, 0, 3)
	failTool(t, "blocked", "pkcs15-tool", p15("--verify-pin", "--pin", "24682468")...)

	// A wrong PUK burns a PUK try; the right one unblocks and sets the new PIN.
	failTool(t, "tries left: 2", "pkcs15-tool", p15("--unblock-pin", "--puk", "11111111", "--new-pin", "135790")...)
	checkCounters(t, path, 0, 2)
	mustTool(t, "", "pkcs15-tool", p15("--unblock-pin", "--puk", "12345678", "--new-pin", "135790")...)
	checkCounters(t, path, 3, 3)
	mustTool(t, "", "pkcs15-tool", p15("--verify-pin", "--pin", "135790")...)
}

func TestInteropYubicoPIVTool(t *testing.T) {
	needTools(t)
	r := daemon.Readers()[1]
	path, s := newCardFile(t)
	insert(t, r, path, vcard.Faults{})
	yk := func(args ...string) []string { return append([]string{"--reader", r.Name}, args...) }

	out := mustTool(t, "PIN tries left:\t3", "yubico-piv-tool", yk("--action", "status")...)
	if !strings.Contains(out, "3410"+s.Serial()) {
		t.Fatalf("status shows no CHUID with GUID %s:\n%s", s.Serial(), out)
	}
	if !strings.Contains(out, "CN=Sam Example") {
		t.Fatalf("status shows no certificate subject:\n%s", out)
	}
	out = mustTool(t, "BEGIN CERTIFICATE", "yubico-piv-tool", yk("--action", "read-certificate", "--slot", "9a")...)
	samePEMCert(t, out, s.PIVAuth.Cert)
	out = mustTool(t, "BEGIN CERTIFICATE", "yubico-piv-tool", yk("--action", "read-certificate", "--slot", "9e")...)
	samePEMCert(t, out, s.CardAuth.Cert)

	mustTool(t, "Successfully verified PIN", "yubico-piv-tool", yk("--action", "verify-pin", "--pin", "123456")...)
	mustTool(t, "Successfully changed the pin code", "yubico-piv-tool",
		yk("--action", "change-pin", "--pin", "123456", "--new-pin", "246800")...)
	mustTool(t, "Successfully changed the puk code", "yubico-piv-tool",
		yk("--action", "change-puk", "--pin", "12345678", "--new-pin", "87654321")...)
	mustTool(t, "Successfully verified PIN", "yubico-piv-tool", yk("--action", "verify-pin", "--pin", "246800")...)

	failTool(t, "2 tries left", "yubico-piv-tool", yk("--action", "verify-pin", "--pin", "000000")...)
	failTool(t, "1 tries left", "yubico-piv-tool", yk("--action", "verify-pin", "--pin", "000000")...)
	failTool(t, "", "yubico-piv-tool", yk("--action", "verify-pin", "--pin", "000000")...)
	checkCounters(t, path, 0, 3)
	failTool(t, "blocked", "yubico-piv-tool", yk("--action", "verify-pin", "--pin", "246800")...)

	failTool(t, "2 tries left", "yubico-piv-tool", yk("--action", "unblock-pin", "--pin", "12345678", "--new-pin", "123456")...)
	checkCounters(t, path, 0, 2)
	mustTool(t, "Successfully unblocked the pin code", "yubico-piv-tool",
		yk("--action", "unblock-pin", "--pin", "87654321", "--new-pin", "123456")...)
	checkCounters(t, path, 3, 3)
	mustTool(t, "Successfully verified PIN", "yubico-piv-tool", yk("--action", "verify-pin", "--pin", "123456")...)
}

func TestInteropStateSurvivesReinsertion(t *testing.T) {
	needTools(t)
	r := daemon.Readers()[0]
	path, _ := newCardFile(t)
	remove := insert(t, r, path, vcard.Faults{})
	yk := func(args ...string) []string { return append([]string{"--reader", r.Name}, args...) }
	failTool(t, "2 tries left", "yubico-piv-tool", yk("--action", "verify-pin", "--pin", "000000")...)
	if err := remove(); err != nil {
		t.Fatalf("removal: %v", err)
	}
	insert(t, r, path, vcard.Faults{})
	mustTool(t, "PIN tries left:\t2", "yubico-piv-tool", yk("--action", "status")...)
}

// transmit sends APDUs to the card in reader over PC/SC and returns the responses, stopping at the
// first transmit error. It disconnects with disposition.
func transmit(t *testing.T, reader string, disposition scard.Disposition, apdus ...[]byte) ([][]byte, error) {
	t.Helper()
	ctx, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Release()
	card, err := ctx.Connect(reader, scard.ShareExclusive, scard.ProtocolAny)
	if err != nil {
		t.Fatalf("connect %s: %v", reader, err)
	}
	defer card.Disconnect(disposition)
	var out [][]byte
	for _, a := range apdus {
		resp, err := card.Transmit(a)
		if err != nil {
			return out, err
		}
		out = append(out, resp)
	}
	return out, nil
}

var (
	selectPIV    = []byte{0x00, 0xa4, 0x04, 0x00, 0x05, 0xa0, 0x00, 0x00, 0x03, 0x08, 0x00}
	verifyStatus = []byte{0x00, 0x20, 0x00, 0x80}
)

func TestInteropFaults(t *testing.T) {
	needTools(t)
	r := daemon.Readers()[1]
	path, _ := newCardFile(t)

	t.Run("remove after the 3rd APDU", func(t *testing.T) {
		remove := insert(t, r, path, vcard.Faults{RemoveAfter: 3})
		// Disconnect with LeaveCard: with pcscd 1.9.9 and vpcd 3.3, a reset of a card pulled
		// mid-command wedges the reader, which then never sees another card.
		resps, err := transmit(t, r.Name, scard.LeaveCard, selectPIV, verifyStatus, verifyStatus)
		// vpcd answers a transmit to a pulled card with zero bytes rather than an error.
		if len(resps) < 2 || fmt.Sprintf("%X", resps[1]) != "63C3" || (err == nil && (len(resps) != 3 || len(resps[2]) != 0)) {
			t.Fatalf("got answers %X and error %v; want 9000, 63C3, then nothing", resps, err)
		}
		if err := remove(); err != nil {
			t.Fatalf("Insert after the fault: %v", err)
		}
	})
	t.Run("malformed from the 2nd APDU", func(t *testing.T) {
		insert(t, r, path, vcard.Faults{MalformedAfter: 2})
		resps, err := transmit(t, r.Name, scard.ResetCard, selectPIV, verifyStatus)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%X", resps[1]); got != "63" {
			t.Fatalf("malformed answer %s, want 63 (63C3 cut short)", got)
		}
	})
	t.Run("slow", func(t *testing.T) {
		insert(t, r, path, vcard.Faults{Delay: 200 * time.Millisecond})
		resps, err := transmit(t, r.Name, scard.ResetCard, selectPIV, verifyStatus)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%X", resps[1]); got != "63C3" {
			t.Fatalf("slow answer %s, want 63C3", got)
		}
	})
}

// BenchmarkPCSCTransmit measures one short APDU through PC/SC, pcscd and vpcd to ssu-vcard and back.
func BenchmarkPCSCTransmit(b *testing.B) {
	if daemon == nil {
		b.Fatal("no private pcscd")
	}
	r := daemon.Readers()[0]
	ca, err := vcard.LoadCA("../../testdata/pki")
	if err != nil {
		b.Fatal(err)
	}
	s, err := vcard.Create(vcard.CreateOptions{HolderUUID: "555000000001", Name: "Sam Example",
		PIN: []byte("123456"), PUK: []byte("12345678"), NotAfter: time.Date(2028, 1, 31, 0, 0, 0, 0, time.UTC), CA: ca})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- vcard.Insert(ctx, r.VPCDAddr, vcard.NewCard(s), vcard.Faults{}) }()
	defer func() { cancel(); <-done }()

	pcsc, err := scard.EstablishContext()
	if err != nil {
		b.Fatal(err)
	}
	defer pcsc.Release()
	var card *scard.Card
	for deadline := time.Now().Add(15 * time.Second); ; {
		if card, err = pcsc.Connect(r.Name, scard.ShareShared, scard.ProtocolAny); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("connect: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer card.Disconnect(scard.LeaveCard)
	if _, err := card.Transmit(selectPIV); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if resp, err := card.Transmit(verifyStatus); err != nil || len(resp) != 2 {
			b.Fatalf("% X %v", resp, err)
		}
	}
}

// TestInteropOpenSCVariants: OpenSC reads a card of every Card Authentication algorithm whose certificates
// are stored compressed (it inflates them), PIV Authentication (id 01) and Card Authentication (id 04).
func TestInteropOpenSCVariants(t *testing.T) {
	needTools(t)
	r := daemon.Readers()[0]
	ca, err := vcard.LoadCA("../../testdata/pki")
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range vcard.Algorithms {
		s, err := vcard.Create(vcard.CreateOptions{HolderUUID: "555000000001", Name: "Sam Example",
			PIN: []byte("123456"), PUK: []byte("12345678"), NotAfter: time.Date(2028, 1, 31, 0, 0, 0, 0, time.UTC),
			CA: ca, CardAuthAlgorithm: alg, CompressCertificates: true})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "card.json")
		if err := s.Save(path); err != nil {
			t.Fatal(err)
		}
		remove := insert(t, r, path, vcard.Faults{})
		out := mustTool(t, "BEGIN CERTIFICATE", "pkcs15-tool", "--reader", r.Name, "--read-certificate", "01")
		samePEMCert(t, out, s.PIVAuth.Cert)
		out = mustTool(t, "BEGIN CERTIFICATE", "pkcs15-tool", "--reader", r.Name, "--read-certificate", "04")
		block, _ := pem.Decode([]byte(out[strings.Index(out, "-----BEGIN"):]))
		if block == nil || !bytes.Equal(block.Bytes, s.CardAuth.Cert) {
			t.Errorf("%s: pkcs15-tool read another Card Authentication certificate than the card's", alg)
		}
		if err := remove(); err != nil {
			t.Fatal(err)
		}
	}
}

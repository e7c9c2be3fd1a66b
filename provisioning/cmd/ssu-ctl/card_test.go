package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ssu-kiosk/hal/card/pcsctest"
	"ssu-kiosk/hal/vcard"
)

var daemon *pcsctest.Daemon

func TestMain(m *testing.M) {
	// APDU logging lets the benchmark count APDUs; these are test cards with test PINs.
	daemon = pcsctest.SetupWith(m, pcsctest.Options{Readers: 2, LogAPDUs: true})
	code := m.Run()
	daemon.Close()
	os.Exit(code)
}

// insertCard creates a test card, puts it in the first reader and returns its state file, its serial and
// a function that removes it (also run at cleanup).
func insertCard(t testing.TB) (path, serial string, remove func()) {
	t.Helper()
	return insertCardWith(t, 0, nil)
}

// insertCardWith is insertCard into reader number reader, with the card's state changed by change first
// (when not nil).
func insertCardWith(t testing.TB, reader int, change func(*vcard.State)) (path, serial string, remove func()) {
	t.Helper()
	ca, err := vcard.LoadCA(filepath.Join("..", "..", "..", "testdata", "pki"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := vcard.Create(vcard.CreateOptions{HolderUUID: "555000000001", Name: "Sam Example",
		PIN: []byte("123456"), PUK: []byte("12345678"), NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Date(2028, 1, 31, 0, 0, 0, 0, time.UTC), PINTries: 3, PUKTries: 3, CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(st)
	}
	path = filepath.Join(t.TempDir(), "card.json")
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	c, err := vcard.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- vcard.Insert(ctx, daemon.Readers()[reader].VPCDAddr, c, vcard.Faults{}) }()
	var once sync.Once
	remove = func() { once.Do(func() { cancel(); <-done; time.Sleep(1500 * time.Millisecond) }) }
	t.Cleanup(remove)
	// Wait until PC/SC sees the card: status succeeds.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _, code := ctl(t, "", "card", "status")
		if code == 0 && strings.Contains(out, st.Serial()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the card never showed up")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return path, st.Serial(), remove
}

func ctl(t testing.TB, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func status(t testing.TB) statusJSON {
	t.Helper()
	out, errs, code := ctl(t, "", "card", "status")
	if code != 0 {
		t.Fatalf("status: %s", errs)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status output %q: %v", out, err)
	}
	return st
}

func TestCardStatusUnblockAndChangePIN(t *testing.T) {
	_, serial, _ := insertCard(t)
	st := status(t)
	if st.Serial != serial || st.HolderUUID != "555000000001" || st.HolderName != "Sam Example" ||
		st.PINTriesLeft == nil || *st.PINTriesLeft != 3 || st.PINBlocked || st.CertNotAfter == nil ||
		st.CertNotAfter.Format("2006-01-02") != "2028-01-31" || st.ATR == "" || st.Reader != daemon.Readers()[0].Name {
		t.Fatalf("status = %+v", st)
	}

	// Wrong current PIN: a plain message with the tries left, and no secret in any output.
	out, errs, code := ctl(t, "654321\n24681357\n", "card", "change-pin")
	if code == 0 || !strings.Contains(errs, "2 tries left") {
		t.Fatalf("change-pin with a wrong PIN: code %d, %q", code, errs)
	}
	for _, secret := range []string{"654321", "24681357"} {
		if strings.Contains(out+errs, secret) {
			t.Fatalf("output holds a secret: %q %q", out, errs)
		}
	}
	if _, errs, code := ctl(t, "123456\n24681357\n", "card", "change-pin"); code != 0 {
		t.Fatalf("change-pin: %s", errs)
	}
	// Bad input: a new PIN that breaks the policy is refused before the card is touched.
	if _, errs, code := ctl(t, "24681357\n12ab\n", "card", "change-pin"); code == 0 || !strings.Contains(errs, "6 to 8 digits") {
		t.Fatalf("policy: code %d %q", code, errs)
	}
	if _, errs, code := ctl(t, "12345678\n", "card", "unblock"); code == 0 || !strings.Contains(errs, "one per line") {
		t.Fatalf("missing line: code %d %q", code, errs)
	}

	// Wrong PUK burns a try and says so; the right one unblocks.
	if _, errs, code := ctl(t, "87654321\n112233\n", "card", "unblock"); code == 0 || !strings.Contains(errs, "wrong PUK: 2 tries left") {
		t.Fatalf("unblock with a wrong PUK: code %d %q", code, errs)
	}
	if out, errs, code := ctl(t, "12345678\n975310\n", "card", "unblock"); code != 0 || strings.Contains(out+errs, "975310") {
		t.Fatalf("unblock: code %d %q %q", code, out, errs)
	}
	if st := status(t); st.PINTriesLeft == nil || *st.PINTriesLeft != 3 {
		t.Fatalf("after unblock: %+v", st)
	}
}

// TestUnblockACardBlockedByOpenSC: OpenSC, an independent PIV client, blocks the PIN with three wrong
// tries; ssu-ctl then unblocks it, and OpenSC verifies the new PIN.
func TestUnblockACardBlockedByOpenSC(t *testing.T) {
	if _, err := exec.LookPath("pkcs15-tool"); err != nil {
		t.Fatal("pkcs15-tool not found: apt-get install opensc")
	}
	insertCard(t)
	reader := daemon.Readers()[0].Name
	for i := 0; i < 3; i++ {
		out, _ := exec.Command("pkcs15-tool", "--reader", reader, "--verify-pin", "--auth-id", "01", "--pin", "000000").CombinedOutput()
		if i == 0 && !strings.Contains(strings.ToLower(string(out)), "incorrect") && !strings.Contains(string(out), "PIN code") {
			t.Logf("pkcs15-tool: %s", out)
		}
	}
	if st := status(t); !st.PINBlocked {
		t.Fatalf("OpenSC did not block the card: %+v", st)
	}
	if _, errs, code := ctl(t, "12345678\n314159\n", "card", "unblock"); code != 0 {
		t.Fatalf("unblock: %s", errs)
	}
	out, err := exec.Command("pkcs15-tool", "--reader", reader, "--verify-pin", "--auth-id", "01", "--pin", "314159").CombinedOutput()
	if err != nil {
		t.Fatalf("OpenSC could not verify the new PIN: %v\n%s", err, out)
	}
}

func TestCardWatchPrintsJSONLines(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw, _ := os.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"card", "watch"}, strings.NewReader(""), pw, os.Stderr)
		pw.Close()
	}()
	dec := json.NewDecoder(pr)
	next := func() eventJSON {
		var ev eventJSON
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	if ev := next(); ev.Event != "service_up" || ev.Time.IsZero() {
		t.Fatalf("first event %+v", ev)
	}
	for range daemon.Readers() {
		if ev := next(); ev.Event != "reader_added" {
			t.Fatalf("event %+v", ev)
		}
	}
	insertCard(t)
	if ev := next(); ev.Event != "card_inserted" || ev.ATR == "" || ev.State != "card_present" {
		t.Fatalf("event %+v", ev)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("watch exited %d", code)
	}
}

// TestCardStatusWithoutCertificate: a card whose PIV Authentication certificate is missing still reports
// what it can (reader, serial, PIN tries), in the second reader: with no --reader, status picks the first
// reader that holds a card, not the first reader.
func TestCardStatusWithoutCertificate(t *testing.T) {
	_, serial, _ := insertCardWith(t, 1, func(st *vcard.State) { st.PIVAuth.Cert = nil })
	st := status(t)
	if st.Reader != daemon.Readers()[1].Name {
		t.Errorf("status read %q, want the reader holding the card, %q", st.Reader, daemon.Readers()[1].Name)
	}
	if st.Serial != serial || st.PINTriesLeft == nil || *st.PINTriesLeft != 3 || st.PINBlocked || st.ATR == "" {
		t.Fatalf("status = %+v", st)
	}
	if st.HolderUUID != "" || st.HolderName != "" || st.CertNotAfter != nil {
		t.Fatalf("status reports a certificate the card does not have: %+v", st)
	}
}

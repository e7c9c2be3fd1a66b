package card_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"ssu-kiosk/hal/card"
	"ssu-kiosk/hal/card/pcsctest"
	"ssu-kiosk/hal/vcard"
)

// These tests drive the real path: hal/card → libpcsclite → a private pcscd → vpcd → ssu-vcard's card.

var daemon *pcsctest.Daemon

func TestMain(m *testing.M) {
	daemon = pcsctest.Setup(m, 2)
	code := m.Run()
	daemon.Close()
	os.Exit(code)
}

const (
	testPIN = "123456"
	testPUK = "12345678"
)

// newCardFile writes a fresh virtual card and returns its state file.
func newCardFile(t testing.TB, mutate func(*vcard.CreateOptions)) (string, *vcard.State) {
	t.Helper()
	ca, err := vcard.LoadCA(filepath.Join("..", "..", "testdata", "pki"))
	if err != nil {
		t.Fatal(err)
	}
	opts := vcard.CreateOptions{
		HolderUUID: "555000000001", Name: "Sam Example",
		PIN: []byte(testPIN), PUK: []byte(testPUK),
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		PINTries: 3, PUKTries: 3, CA: ca,
	}
	if mutate != nil {
		mutate(&opts)
	}
	st, err := vcard.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "card.json")
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	return path, st
}

// blockedCardFile writes a fresh card whose PIN was blocked by three wrong tries.
func blockedCardFile(t testing.TB) string {
	t.Helper()
	path, _ := newCardFile(t, nil)
	c, err := vcard.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	p := card.NewPIV(card.TransportFunc(func(cmd []byte) ([]byte, error) { return c.Process(cmd), nil }))
	if err := p.Select(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_ = p.VerifyPIN(card.Secret("999999"))
	}
	if st, err := p.PINStatus(); err != nil || !st.Blocked {
		t.Fatalf("blocking the card: status %+v, %v", st, err)
	}
	return path
}

// inserted is a virtual card in a reader.
type inserted struct {
	t      testing.TB
	reader pcsctest.Reader
	cancel context.CancelFunc
	done   chan error
}

// insert puts the card saved at path into reader and waits until PC/SC sees it.
func insert(t testing.TB, reader pcsctest.Reader, path string, f vcard.Faults) *inserted {
	t.Helper()
	c, err := vcard.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	events := card.Watch(wctx, card.WatchOptions{ReaderFilter: reader.Name})
	waitFor(t, events, card.ReaderAdded, reader.Name)
	in := &inserted{t: t, reader: reader, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- vcard.Insert(ctx, reader.VPCDAddr, c, f) }()
	waitFor(t, events, card.CardInserted, reader.Name)
	t.Cleanup(in.remove)
	return in
}

// remove takes the card out (if a fault has not already) and waits until PC/SC sees it gone.
func (in *inserted) remove() {
	in.t.Helper()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	in.cancel()
	<-in.done
	in.done <- nil // later calls return at once
	events := card.Watch(wctx, card.WatchOptions{ReaderFilter: in.reader.Name})
	for ev := range events {
		if ev.Reader == in.reader.Name && (ev.Kind == card.ReaderAdded || ev.Kind == card.CardRemoved) {
			// ReaderAdded comes first with the current picture; a card still present follows it.
			select {
			case next := <-events:
				if next.Kind == card.CardInserted {
					continue
				}
			case <-time.After(1500 * time.Millisecond):
			}
			return
		}
	}
	in.t.Errorf("card in %s not seen removed", in.reader.Name)
}

func waitFor(t testing.TB, events <-chan card.Event, kind card.EventKind, reader string) card.Event {
	t.Helper()
	for ev := range events {
		if ev.Kind == kind && (reader == "" || ev.Reader == reader) {
			return ev
		}
	}
	t.Fatalf("no %s event for %q", kind, reader)
	return card.Event{}
}

func withPIV(t testing.TB, reader string, fn func(*card.PIV) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return card.WithPIV(ctx, reader, fn)
}

func TestReadIdentityAndProve(t *testing.T) {
	path, st := newCardFile(t, nil)
	r := daemon.Readers()[0]
	insert(t, r, path, vcard.Faults{})
	err := withPIV(t, r.Name, func(p *card.PIV) error {
		id, err := p.ReadIdentity(card.IdentityOptions{})
		if err != nil {
			return err
		}
		if id.Serial != st.Serial() || id.HolderUUID != "555000000001" || id.HolderName != "Sam Example" {
			t.Errorf("identity = %+v, serial want %s", id, st.Serial())
		}
		if id.Expired(time.Now()) || id.Issuer == "" {
			t.Errorf("certificate: expired %v, issuer %q", id.Expired(time.Now()), id.Issuer)
		}
		challenge := make([]byte, 32)
		_, _ = rand.Read(challenge)
		sig, cert, err := p.Authenticate(challenge)
		if err != nil {
			return err
		}
		pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
		if !ok || !ecdsa.VerifyASN1(pub, challenge, sig) {
			t.Error("card authentication signature does not verify")
		}
		st, err := p.PINStatus()
		if err != nil || st.TriesLeft != 3 || st.Blocked {
			t.Errorf("PIN status = %+v, %v", st, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBlockThenUnblock(t *testing.T) {
	path, _ := newCardFile(t, nil)
	r := daemon.Readers()[0]
	insert(t, r, path, vcard.Faults{})
	err := withPIV(t, r.Name, func(p *card.PIV) error {
		for want := 2; want >= 0; want-- {
			err := p.VerifyPIN(card.Secret("999999"))
			var auth *card.AuthError
			if !errors.As(err, &auth) || auth.Retries != want {
				t.Fatalf("wrong PIN: err = %v, want %d tries left", err, want)
			}
		}
		if err := p.VerifyPIN(card.Secret(testPIN)); !errors.Is(err, card.ErrBlocked) {
			t.Fatalf("right PIN on a blocked card: err = %v", err)
		}
		st, err := p.PINStatus()
		if err != nil || !st.Blocked {
			t.Fatalf("status = %+v, %v", st, err)
		}
		var auth *card.AuthError
		if err := p.Unblock(card.Secret("87654321"), card.Secret("246810")); !errors.As(err, &auth) || auth.Retries != 2 {
			t.Fatalf("wrong PUK: err = %v", err)
		}
		if err := p.Unblock(card.Secret(testPUK), card.Secret("246810")); err != nil {
			t.Fatalf("unblock: %v", err)
		}
		return p.VerifyPIN(card.Secret("246810"))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestChangePINAndPUK(t *testing.T) {
	path, _ := newCardFile(t, nil)
	r := daemon.Readers()[0]
	insert(t, r, path, vcard.Faults{})
	err := withPIV(t, r.Name, func(p *card.PIV) error {
		var auth *card.AuthError
		if err := p.ChangePIN(card.Secret("000000"), card.Secret("13572468")); !errors.As(err, &auth) || auth.Retries != 2 {
			t.Fatalf("change with a wrong PIN: err = %v", err)
		}
		if err := p.ChangePIN(card.Secret(testPIN), card.Secret("13572468")); err != nil {
			return err
		}
		if err := p.ChangePUK(card.Secret(testPUK), card.Secret("11223344")); err != nil {
			return err
		}
		return p.VerifyPIN(card.Secret("13572468"))
	})
	if err != nil {
		t.Fatal(err)
	}
	// The new PUK works after a power cycle (the state survived the card's removal).
	in := insert(t, daemon.Readers()[1], path, vcard.Faults{})
	defer in.remove()
	err = withPIV(t, daemon.Readers()[1].Name, func(p *card.PIV) error {
		return p.Unblock(card.Secret("11223344"), card.Secret("975310"))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCardPulledAtEveryAPDUOfUnblock pulls the card at each APDU of a full unblock, once before the card
// carried the APDU out and once after (before it answered), and checks that what Unblock reports is the
// truth: done, not done, or unknown and then found out by reading the card again.
func TestCardPulledAtEveryAPDUOfUnblock(t *testing.T) {
	r := daemon.Readers()[0]
	unblock := func(p *card.PIV) error { return p.Unblock(card.Secret(testPUK), card.Secret("246810")) }

	// Count the APDUs of a whole unblock first.
	path := blockedCardFile(t)
	in := insert(t, r, path, vcard.Faults{})
	total := countAPDUs(t, r.Name, unblock)
	in.remove()
	if total < 2 {
		t.Fatalf("a whole unblock took %d APDUs", total)
	}
	for n := 1; n <= total; n++ {
		for _, carriedOut := range []bool{false, true} {
			t.Run(fmt.Sprintf("apdu-%d/carried-out-%v", n, carriedOut), func(t *testing.T) {
				path := blockedCardFile(t)
				f := vcard.Faults{RemoveAfter: n}
				if carriedOut {
					f = vcard.Faults{RemoveUnanswered: n}
				}
				in := insert(t, r, path, f)
				err := withPIV(t, r.Name, unblock)
				in.remove()
				if err == nil {
					t.Fatalf("the card was pulled but Unblock says done")
				}
				if !errors.Is(err, card.ErrCardRemoved) {
					t.Fatalf("err = %v, want card removed", err)
				}
				unknown := errors.Is(err, card.ErrOutcomeUnknown)
				if unknown != (n == total) {
					t.Errorf("outcome unknown = %v", unknown)
				}
				// Found out: reading the card again tells whether the unblock happened.
				insert(t, r, path, vcard.Faults{})
				var unblocked bool
				if err := withPIV(t, r.Name, func(p *card.PIV) (err error) { unblocked, err = p.Unblocked(); return }); err != nil {
					t.Fatal(err)
				}
				if want := carriedOut && n == total; unblocked != want {
					t.Errorf("unblocked = %v after the card was pulled, want %v", unblocked, want)
				}
				// Then the unblock goes through on the re-inserted card.
				if err := withPIV(t, r.Name, unblock); err != nil {
					t.Errorf("unblock after re-insertion: %v", err)
				}
			})
		}
	}
}

// countAPDUs runs fn (after SELECT) on the card in reader and counts the APDUs sent, SELECT included.
func countAPDUs(t testing.TB, reader string, fn func(*card.PIV) error) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := card.Connect(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := 0
	p := card.NewPIV(card.TransportFunc(func(cmd []byte) ([]byte, error) { n++; return conn.Transmit(cmd) }))
	if err := p.Select(); err != nil {
		t.Fatal(err)
	}
	if err := fn(p); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestExclusiveAccess(t *testing.T) {
	path, _ := newCardFile(t, nil)
	r := daemon.Readers()[0]
	insert(t, r, path, vcard.Faults{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := card.Connect(ctx, r.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	short, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	if other, err := card.Connect(short, r.Name); !errors.Is(err, card.ErrCardBusy) {
		if other != nil {
			other.Close()
		}
		t.Fatalf("second connection during a transaction: err = %v, want ErrCardBusy", err)
	}
}

func TestTwoReadersAtOnce(t *testing.T) {
	rs := daemon.Readers()
	pathA, stA := newCardFile(t, nil)
	pathB, stB := newCardFile(t, func(o *vcard.CreateOptions) { o.HolderUUID = "555000000002"; o.Name = "Alex Other" })
	insert(t, rs[0], pathA, vcard.Faults{})
	insert(t, rs[1], pathB, vcard.Faults{})
	var wg sync.WaitGroup
	serials := make([]string, 2)
	for i, r := range rs[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := withPIV(t, r.Name, func(p *card.PIV) error {
				id, err := p.ReadIdentity(card.IdentityOptions{})
				serials[i] = id.Serial
				if err == nil {
					err = p.VerifyPIN(card.Secret(testPIN))
				}
				return err
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if serials[0] != stA.Serial() || serials[1] != stB.Serial() {
		t.Fatalf("serials %v, want %s and %s", serials, stA.Serial(), stB.Serial())
	}
}

func TestWatchSeesCardsAndPCSCDRestart(t *testing.T) {
	r := daemon.Readers()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events := card.Watch(ctx, card.WatchOptions{ReaderFilter: r.Name, MinBackoff: 50 * time.Millisecond, MaxBackoff: 400 * time.Millisecond})
	if ev := waitFor(t, events, card.ServiceUp, ""); ev.State != card.StateNoReader {
		t.Errorf("state at start = %s", ev.State)
	}
	if ev := waitFor(t, events, card.ReaderAdded, r.Name); ev.State != card.StateNoCard {
		t.Errorf("state with an empty reader = %s", ev.State)
	}
	path, _ := newCardFile(t, nil)
	in := insert(t, r, path, vcard.Faults{})
	ev := waitFor(t, events, card.CardInserted, r.Name)
	if len(ev.ATR) == 0 || ev.State != card.StateCardPresent || ev.Time.IsZero() {
		t.Errorf("card inserted event = %+v", ev)
	}
	in.remove()
	if ev := waitFor(t, events, card.CardRemoved, r.Name); ev.State != card.StateNoCard {
		t.Errorf("state after removal = %s", ev.State)
	}

	if err := daemon.Stop(os.Kill); err != nil {
		t.Fatal(err)
	}
	if ev := waitFor(t, events, card.ServiceDown, ""); ev.State != card.StateServiceDown {
		t.Errorf("state with pcscd down = %s", ev.State)
	}
	// While pcscd is down the watcher backs off: nothing arrives for a while, in particular no flood.
	select {
	case ev := <-events:
		t.Errorf("event while pcscd is down: %+v", ev)
	case <-time.After(time.Second):
	}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, events, card.ServiceUp, "")
	waitFor(t, events, card.ReaderAdded, r.Name)
}

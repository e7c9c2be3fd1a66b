package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"ssu-kiosk/hal/card"
	"ssu-kiosk/hal/led"
	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/errcat"
)

// fakeCard is a Card whose answers a test sets; it keeps the secrets it was given so a test can check
// that the runner wiped them.
type fakeCard struct {
	mu       sync.Mutex
	status   flow.CardStatus
	readErr  error
	proveErr error
	block    chan struct{} // when set, Read waits for it or for its context
	unblock  flow.WriteResult
	gotPUK   []byte
	gotPIN   []byte
	pukSeen  string
	readCtx  context.Context
	readers  []string
	changeOK bool
}

func (f *fakeCard) Read(ctx context.Context, reader string) (flow.CardStatus, error) {
	f.mu.Lock()
	f.readers = append(f.readers, reader)
	f.readCtx = ctx
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return flow.CardStatus{}, &errcat.Error{Code: errcat.ERR2001, Err: ctx.Err()}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, f.readErr
}

func (f *fakeCard) Prove(_ context.Context, _ string, ch identity.Challenge) (identity.StartSessionRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.proveErr != nil {
		return identity.StartSessionRequest{}, f.proveErr
	}
	return identity.StartSessionRequest{CardSerial: "c0ffee", HolderUUID: "555000000001", Nonce: ch.Nonce, Signature: []byte{1}}, nil
}

func (f *fakeCard) Unblock(_ context.Context, _ string, puk, newPIN []byte) (flow.WriteResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gotPUK, f.gotPIN, f.pukSeen = puk, newPIN, string(puk)
	return f.unblock, nil
}

func (f *fakeCard) ChangePIN(_ context.Context, _ string, current, newPIN []byte) (flow.WriteResult, bool, int, error) {
	if string(current) != "258014" {
		return flow.WriteNotDone, true, 2, nil
	}
	return flow.WriteDone, false, 0, nil
}

// fakeService is an Identity that offers email and accepts code 482913 (SOPIN 12345678).
type fakeService struct {
	mu        sync.Mutex
	completed []identity.CompleteRequest
	addresses []string
	languages []identity.Language
	wrongLeft int
}

func (s *fakeService) Challenge(context.Context) (identity.Challenge, error) {
	return identity.Challenge{Nonce: make([]byte, 32)}, nil
}

func (s *fakeService) StartSession(_ context.Context, req identity.StartSessionRequest) (identity.Session, error) {
	if req.CardSerial != "c0ffee" {
		return identity.Session{}, errors.New("no proof")
	}
	return identity.Session{ID: "s1", Eligible: true, ExpiresAt: time.Now().Add(15 * time.Minute),
		Methods: []identity.MethodOffer{{Method: identity.MethodEmail, Available: true}}}, nil
}

func (s *fakeService) SendCode(_ context.Context, sid string, req identity.SendCodeRequest) (identity.SendCodeResult, error) {
	s.mu.Lock()
	s.addresses = append(s.addresses, string(req.Address))
	s.languages = append(s.languages, req.Language)
	s.mu.Unlock()
	return identity.SendCodeResult{Accepted: true, SendsLeft: 2, RetryAfterSeconds: 30}, nil
}

func (s *fakeService) VerifyCode(_ context.Context, sid string, code identity.Secret) (identity.Release, error) {
	if sid != "s1" || string(code) != "482913" {
		s.mu.Lock()
		s.wrongLeft--
		left := s.wrongLeft
		s.mu.Unlock()
		se := &identity.ServiceError{Status: 403, Body: identity.ErrorBody{Code: errcat.ERR1011, AttemptsLeft: &left}}
		return identity.Release{}, errcat.Wrap(errcat.ERR1011, se)
	}
	return identity.Release{SOPIN: identity.Secret("12345678")}, nil
}

func (s *fakeService) Complete(_ context.Context, sid string, req identity.CompleteRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.completed = append(s.completed, req)
	return nil
}

type fakeLights struct {
	mu    sync.Mutex
	shown []led.Pattern
}

func (l *fakeLights) Show(p led.Pattern) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.shown = append(l.shown, p)
	return nil
}

type fakeRecorder struct {
	mu      sync.Mutex
	recs    []flow.UsageRecord
	serials []string
	hold    chan struct{} // when set, RecordUsage waits for it to close (a slow disk)
}

func (r *fakeRecorder) RecordUsage(_ context.Context, rec flow.UsageRecord, serial string) error {
	r.mu.Lock()
	hold := r.hold
	r.mu.Unlock()
	if hold != nil {
		<-hold
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	r.serials = append(r.serials, serial)
	return nil
}

// rig is a runner with fakes and a walk-through driven the way the UI loop drives it.
type rig struct {
	t      *testing.T
	r      *Runner
	m      *flow.Machine
	card   *fakeCard
	svc    *fakeService
	lights *fakeLights
	rec    *fakeRecorder
	cancel context.CancelFunc
	// afterExecute, when set, runs after each batch of effects (as the kiosk's UI loop tells the agent
	// whether it is busy).
	afterExecute func()
}

func newRig(t *testing.T) *rig { return newRigWith(t, nil) }

// newRigWith lets a test change the runner's configuration.
func newRigWith(t *testing.T, change func(*RunnerConfig)) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g := &rig{t: t, card: &fakeCard{unblock: flow.WriteDone}, svc: &fakeService{wrongLeft: 5}, lights: &fakeLights{},
		rec: &fakeRecorder{}, cancel: cancel}
	cfg := RunnerConfig{Card: g.card, Identity: g.svc, Lights: g.lights, Usage: g.rec, HardwareGrace: 50 * time.Millisecond}
	if change != nil {
		change(&cfg)
	}
	g.r = NewRunner(ctx, cfg)
	m, err := flow.New(flow.Config{KioskID: "k1", TroubleshootingURL: "https://help.example/k"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	g.m = m
	t.Cleanup(func() { cancel(); g.r.Wait() })
	return g
}

func (g *rig) do(ev flow.Event) {
	g.r.Execute(g.m.Handle(ev))
	if g.afterExecute != nil {
		g.afterExecute()
	}
}

// until feeds the runner's events to the walk-through until it shows screen id.
func (g *rig) until(id flow.ScreenID) {
	g.t.Helper()
	timeout := time.After(5 * time.Second)
	for g.m.State() != id {
		select {
		case ev := <-g.r.Events():
			g.do(ev)
		case <-timeout:
			g.t.Fatalf("screen %s, waiting for %s", g.m.State(), id)
		}
	}
}

func (g *rig) typ(s string) {
	for _, c := range s {
		g.do(flow.Typed{At: time.Now(), Char: c})
	}
}

func TestRunnerUnlocksALockedCard(t *testing.T) {
	g := newRig(t)
	g.unlock("c0ffee")

	g.card.mu.Lock()
	if g.card.pukSeen != "12345678" {
		t.Error("the card was not given the released SOPIN")
	}
	if strings.Trim(string(g.card.gotPUK), "\x00") != "" || strings.Trim(string(g.card.gotPIN), "\x00") != "" {
		t.Error("the SOPIN or the new passcode was not wiped after the unblock")
	}
	if g.card.readers[0] != "Reader 0" {
		t.Errorf("read from %q", g.card.readers[0])
	}
	g.card.mu.Unlock()
	g.r.cardEvent(card.Event{Kind: card.CardRemoved, Reader: "Reader 0", State: card.StateNoCard, Time: time.Now()})
	g.until(flow.Welcome)

	eventually(t, func() bool {
		g.svc.mu.Lock()
		defer g.svc.mu.Unlock()
		g.rec.mu.Lock()
		defer g.rec.mu.Unlock()
		return len(g.svc.completed) == 1 && len(g.rec.recs) == 1
	})
	if c := g.svc.completed[0]; c.Outcome != identity.OutcomeUnlocked {
		t.Errorf("reported %+v", c)
	}
	if rec := g.rec.recs[0]; rec.Outcome != flow.OutcomeUnlocked || rec.Method != flow.MethodEmail {
		t.Errorf("usage record %+v", rec)
	}
	if g.rec.serials[0] != "c0ffee" {
		t.Errorf("the usage record came with card serial %q, want the session's card", g.rec.serials[0])
	}
	eventually(t, func() bool {
		g.lights.mu.Lock()
		defer g.lights.mu.Unlock()
		return containsPattern(g.lights.shown, led.Success) && containsPattern(g.lights.shown, led.Busy) &&
			g.lights.shown[len(g.lights.shown)-1] == led.Idle
	})
}

func containsPattern(ps []led.Pattern, p led.Pattern) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

// eventually polls cond for up to 2 s (fire-and-forget work finishes on its own goroutines).
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met in 2 s")
}

func TestRunnerCancelStopsTheCall(t *testing.T) {
	g := newRig(t)
	g.card.block = make(chan struct{})
	g.r.Execute([]flow.Effect{flow.ReadCard{Seq: 7}})
	eventually(t, func() bool { g.card.mu.Lock(); defer g.card.mu.Unlock(); return g.card.readCtx != nil })
	g.r.Execute([]flow.Effect{flow.CancelOperation{Seq: 7}})
	g.card.mu.Lock()
	ctx := g.card.readCtx
	g.card.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("cancel did not reach the card call")
	}
	select {
	case ev := <-g.r.Events():
		t.Fatalf("a cancelled call still answered: %#v", ev)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestRunnerTimeoutAnswers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fc := &fakeCard{block: make(chan struct{})}
	r := NewRunner(ctx, RunnerConfig{Card: fc, Identity: &fakeService{}, Timeout: 50 * time.Millisecond})
	r.Execute([]flow.Effect{flow.ReadCard{Seq: 1}})
	select {
	case ev := <-r.Events():
		cr, ok := ev.(flow.CardRead)
		if !ok || cr.Seq != 1 || cr.Err == nil {
			t.Fatalf("got %#v", ev)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a timed-out call did not answer")
	}
}

func TestRunnerOutOfServiceWhileReaderMissing(t *testing.T) {
	g := newRig(t)
	// A short blip (pcscd lists its readers a moment after it starts) changes nothing.
	g.r.cardEvent(card.Event{Kind: card.ServiceUp, State: card.StateNoReader, Time: time.Now()})
	g.r.cardEvent(card.Event{Kind: card.ReaderAdded, Reader: "R", State: card.StateNoCard, Time: time.Now()})
	select {
	case ev := <-g.r.Events():
		t.Fatalf("blip gave %#v", ev)
	case <-time.After(150 * time.Millisecond):
	}
	g.r.cardEvent(card.Event{Kind: card.ServiceDown, State: card.StateServiceDown, Time: time.Now()})
	g.until(flow.OutOfService)
	if sc := g.m.Screen(); !strings.Contains(strings.Join(sc.Body, " "), "smartcard service") {
		t.Errorf("out of service says %q", sc.Body)
	}
	g.r.cardEvent(card.Event{Kind: card.ServiceUp, State: card.StateNoCard, Time: time.Now()})
	g.until(flow.Welcome)
}

func TestCardErrorsCarryCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code errcat.Code
	}{
		{card.ErrCardRemoved, errcat.ERR2003}, {card.ErrNotPIV, errcat.ERR2002}, {card.ErrReaderGone, errcat.ERR2004},
		{card.ErrServiceDown, errcat.ERR2005}, {card.ErrCardUnreadable, errcat.ERR2001},
		{card.ErrCardUnusable, errcat.ERR2002},
	} {
		if c, _ := errcat.CodeOf(cardError(tc.err)); c != tc.code {
			t.Errorf("%v: code %s, want %s", tc.err, c, tc.code)
		}
	}
	// A read or proof the card refused with a status word (here: no Card Authentication certificate)
	// sends people to their RA; a removed card is still a removed card.
	noCardAuth := fmt.Errorf("card authentication: %w", &card.StatusError{SW: 0x6a82})
	if c, _ := errcat.CodeOf(cardError(refusedIsUnusable(noCardAuth))); c != errcat.ERR2002 {
		t.Errorf("refused proof: code %s, want ERR2002", c)
	}
	if c, _ := errcat.CodeOf(cardError(refusedIsUnusable(card.ErrCardRemoved))); c != errcat.ERR2003 {
		t.Errorf("removed card: code %s, want ERR2003", c)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newTextLog(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// unlock inserts a locked card with the given serial and unlocks it with email, one wrong code first.
func (g *rig) unlock(serial string) {
	g.t.Helper()
	g.card.status = flow.CardStatus{PINBlocked: true, CertificatesNotAfter: time.Now().AddDate(1, 0, 0), Fingerprint: serial}
	g.r.cardEvent(card.Event{Kind: card.CardInserted, Reader: "Reader 0", State: card.StateCardPresent, Time: time.Now()})
	g.until(flow.StartNow)
	g.do(flow.Pressed{At: time.Now(), Button: flow.ButtonStart})
	g.until(flow.ChooseMethod)
	g.do(flow.Pressed{At: time.Now(), Button: flow.ButtonEmail})
	g.typ("sam.example@nhs.net")
	g.do(flow.Submitted{At: time.Now()})
	g.until(flow.EnterCode)
	g.typ("000000")
	g.do(flow.Submitted{At: time.Now()})
	g.until(flow.EnterCode)
	if sc := g.m.Screen(); sc.TriesLeft != 4 {
		g.t.Errorf("after a wrong code: %d tries left, want 4", sc.TriesLeft)
	}
	g.typ("482913")
	g.do(flow.Submitted{At: time.Now()})
	g.until(flow.ChoosePasscode)
	g.typ("592748")
	g.do(flow.Submitted{At: time.Now()})
	g.typ("592748")
	g.do(flow.Submitted{At: time.Now()})
	g.until(flow.Unlocked)
}

// TestRunnerSerialIsTheSessionsCard: the usage record gets the serial of the card its session read, not
// that of a read the walk-through cancelled, and the next session starts afresh.
func TestRunnerSerialIsTheSessionsCard(t *testing.T) {
	g := newRig(t)
	g.card.status = flow.CardStatus{Fingerprint: "aaaa"}
	g.card.block = make(chan struct{})
	g.r.Execute([]flow.Effect{flow.ReadCard{Seq: 1}})
	eventually(t, func() bool { g.card.mu.Lock(); defer g.card.mu.Unlock(); return g.card.readCtx != nil })
	g.r.Execute([]flow.Effect{flow.CancelOperation{Seq: 1}})
	close(g.card.block)
	g.card.mu.Lock()
	g.card.block = nil
	g.card.status = flow.CardStatus{Fingerprint: "bbbb"}
	g.card.mu.Unlock()
	g.r.Execute([]flow.Effect{flow.ReadCard{Seq: 2}})
	<-g.r.Events()
	g.r.Execute([]flow.Effect{flow.RecordUsage{Record: flow.UsageRecord{Outcome: flow.OutcomeAbandoned}}})
	g.r.Execute([]flow.Effect{flow.RecordUsage{Record: flow.UsageRecord{Outcome: flow.OutcomeError}}})
	eventually(t, func() bool { g.rec.mu.Lock(); defer g.rec.mu.Unlock(); return len(g.rec.serials) == 2 })
	if g.rec.serials[0] != "bbbb" || g.rec.serials[1] != "" {
		t.Errorf("serials %q, want the second read's card, then none", g.rec.serials)
	}
}

// TestNextSessionWaitsForTheLastUsageRecord: a card inserted while the last session's usage record is
// still being written reaches the walk-through only once that record is kept, so the kiosk never moves
// on to a new session with the previous one's events not yet on disk.
func TestNextSessionWaitsForTheLastUsageRecord(t *testing.T) {
	g := newRig(t)
	hold := make(chan struct{})
	g.rec.mu.Lock()
	g.rec.hold = hold
	g.rec.mu.Unlock()
	g.r.Execute([]flow.Effect{flow.RecordUsage{Record: flow.UsageRecord{Outcome: flow.OutcomeUnlocked}}})
	inserted := make(chan struct{})
	go func() {
		g.r.cardEvent(card.Event{Kind: card.CardInserted, Reader: "R", Time: time.Now(), State: card.StateCardPresent})
		close(inserted)
	}()
	select {
	case <-inserted:
		t.Fatal("the card insertion went through before the last usage record was kept")
	case <-time.After(200 * time.Millisecond):
	}
	close(hold)
	select {
	case <-inserted:
	case <-time.After(5 * time.Second):
		t.Fatal("the card insertion never went through")
	}
	if ev := <-g.r.Events(); ev == nil {
		t.Fatal("no event")
	} else if _, ok := ev.(flow.CardInserted); !ok {
		t.Fatalf("event %T, want CardInserted", ev)
	}
}

// TestRunnerCardUnusable: a card whose proof fails because the kiosk cannot use it (here a Card
// Authentication key of an unsupported kind) shows the "not a card this kiosk can unlock, visit your RA"
// screen, not "turn it round", and the log says what failed, without the card's serial.
func TestRunnerCardUnusable(t *testing.T) {
	var logs syncBuffer
	g := newRigWith(t, func(c *RunnerConfig) { c.Log = newTextLog(&logs) })
	g.card.proveErr = cardError(fmt.Errorf("card authentication: %w: unsupported card authentication key RSA 1024", card.ErrCardUnusable))
	g.card.status = flow.CardStatus{PINBlocked: true, CertificatesNotAfter: time.Now().AddDate(1, 0, 0), Fingerprint: "c0ffee"}
	g.r.cardEvent(card.Event{Kind: card.CardInserted, Reader: "Reader 0", State: card.StateCardPresent, Time: time.Now()})
	g.until(flow.StartNow)
	g.do(flow.Pressed{At: time.Now(), Button: flow.ButtonStart})
	g.until(flow.CardNotSupported)
	eventually(t, func() bool { return strings.Contains(logs.String(), "card proof failed") })
	out := logs.String()
	if !strings.Contains(out, "code=ERR2002") || !strings.Contains(out, "RSA 1024") {
		t.Errorf("log does not say what failed:\n%s", out)
	}
	if strings.Contains(out, "c0ffee") {
		t.Errorf("log names the card:\n%s", out)
	}

	// A read that fails the same way is logged too, and shows the same screen.
	var readLogs syncBuffer
	g = newRigWith(t, func(c *RunnerConfig) { c.Log = newTextLog(&readLogs) })
	g.card.readErr = cardError(fmt.Errorf("certificate object: %w: compressed certificate: unexpected EOF", card.ErrCardUnusable))
	g.r.cardEvent(card.Event{Kind: card.CardInserted, Reader: "Reader 0", State: card.StateCardPresent, Time: time.Now()})
	g.until(flow.CardNotSupported)
	eventually(t, func() bool { return strings.Contains(readLogs.String(), "card read failed") })
}

// syncBuffer is a bytes.Buffer a logger and a test may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHolderUUIDAttributeFromChallenge: the kiosk reads the holder UUID from the attribute the service
// names in the challenge (its one setting), serialNumber when it names none.
func TestHolderUUIDAttributeFromChallenge(t *testing.T) {
	for attr, want := range map[string]string{"": "2.5.4.5", "2.5.4.3": "2.5.4.3", "0.9.2342.19200300.100.1.1": "0.9.2342.19200300.100.1.1"} {
		opts, err := identityOptions(identity.Challenge{HolderUUIDAttribute: attr})
		if err != nil || opts.HolderUUIDAttribute.String() != want {
			t.Errorf("challenge attribute %q: options %v, %v; want %s", attr, opts.HolderUUIDAttribute, err, want)
		}
	}
	if _, err := identityOptions(identity.Challenge{HolderUUIDAttribute: "serialNumber"}); err == nil {
		t.Error("an attribute that is not a dotted OID was taken")
	}
}

// Tick sends the clock only while it is switched on.
func TestTickOnlyWhileTheClockIsOn(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := NewRunner(ctx, RunnerConfig{})
	r.SetClock(false)
	go r.Tick(ctx, time.Millisecond)
	// Let Tick take the switch, then nothing may arrive.
	eventually(t, func() bool { return len(r.clock) == 0 })
	for len(r.events) > 0 { // ticks sent before it saw the switch
		<-r.events
	}
	select {
	case ev := <-r.events:
		if _, ok := ev.(flow.Tick); ok {
			// one tick may have been in flight when the switch was read; a second one may not
			select {
			case <-r.events:
				t.Fatal("clock off: ticks still arrive")
			case <-time.After(50 * time.Millisecond):
			}
		}
	case <-time.After(50 * time.Millisecond):
	}
	r.SetClock(true)
	select {
	case ev := <-r.events:
		if _, ok := ev.(flow.Tick); !ok {
			t.Fatalf("got %T, want a Tick", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("clock on: no tick")
	}
}

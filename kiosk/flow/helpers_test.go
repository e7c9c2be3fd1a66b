package flow

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/remote/identity/errcat"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// Values a person types; tests check none of them leaks.
const (
	testEmail  = "jane.doe@nhs.net"
	testMobile = "07700 900123"
	testCode   = "482913"
	testSOPIN  = "73914862"
	testPIN    = "605817"
	testOldPIN = "258014"
)

func testConfig() Config {
	return Config{KioskID: "kiosk-7", TroubleshootingURL: "https://help.example.nhs.uk/kiosk"}
}

// driver drives a Machine like the runner and the UI would, with a clock the test moves.
type driver struct {
	t       testing.TB
	m       *Machine
	now     time.Time
	effects []Effect // every effect so far
	last    []Effect // effects of the last event
	sopins  []Secret // SOPINs handed to the machine
}

func newDriver(t testing.TB, cfg Config) *driver {
	t.Helper()
	m, err := New(cfg, t0)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &driver{t: t, m: m, now: t0}
}

func (d *driver) send(e Event) []Effect {
	d.t.Helper()
	d.last = d.m.Handle(e)
	d.effects = append(d.effects, d.last...)
	d.checkScreen()
	return d.last
}

// advance moves the clock by dt and ticks.
func (d *driver) advance(dt time.Duration) []Effect {
	d.now = d.now.Add(dt)
	return d.send(Tick{At: d.now})
}

func (d *driver) insert() []Effect { return d.send(CardInserted{At: d.now}) }
func (d *driver) remove() []Effect { return d.send(CardRemoved{At: d.now}) }
func (d *driver) submit() []Effect { return d.send(Submitted{At: d.now}) }
func (d *driver) erase() []Effect  { return d.send(Erased{At: d.now}) }
func (d *driver) focus(f FieldID)  { d.send(Focused{At: d.now, Field: f}) }
func (d *driver) press(b ButtonID) []Effect {
	d.t.Helper()
	return d.send(Pressed{At: d.now, Button: b})
}

func (d *driver) typ(s string) {
	d.t.Helper()
	for _, c := range s {
		d.send(Typed{At: d.now, Char: c})
	}
}

// removeAndWait takes the card out of a closing screen: the explanation stays up NoticeTime, then welcome.
func (d *driver) removeAndWait() {
	d.t.Helper()
	st := d.m.State()
	d.remove()
	d.want(st)
	if sc := d.m.Screen(); strings.Contains(strings.Join(sc.Body, " "), textRemoveCard) {
		d.t.Fatalf("still asks to remove the card: %q", sc.Body)
	}
	d.advance(d.m.cfg.NoticeTime - time.Millisecond)
	d.want(st)
	d.advance(time.Millisecond)
	d.want(Welcome)
}

func (d *driver) want(id ScreenID) {
	d.t.Helper()
	if got := d.m.State(); got != id {
		d.t.Fatalf("screen = %s, want %s (%+v)", got, id, d.m.Screen())
	}
}

// checkScreen holds on every screen: no secret in it, and the state matches its id.
func (d *driver) checkScreen() {
	d.t.Helper()
	sc := d.m.Screen()
	if sc.ID != d.m.State() {
		d.t.Fatalf("screen id %s != state %s", sc.ID, d.m.State())
	}
	text := fmt.Sprintf("%+v", sc)
	for _, secret := range []string{testCode, testSOPIN, testPIN, testOldPIN} {
		if strings.Contains(text, secret) {
			d.t.Fatalf("screen %s shows a secret: %s", sc.ID, text)
		}
	}
	if sc.ID != EnterAddress && (strings.Contains(text, testEmail) || strings.Contains(text, testMobile)) {
		d.t.Fatalf("screen %s shows an address: %s", sc.ID, text)
	}
	for _, f := range sc.Fields {
		if f.Masked && f.Value != "" {
			d.t.Fatalf("masked field %s has a value", f.ID)
		}
	}
}

// find returns the last effect of type T in effs.
func find[T Effect](effs []Effect) (T, bool) {
	for i := len(effs) - 1; i >= 0; i-- {
		if e, ok := effs[i].(T); ok {
			return e, true
		}
	}
	var zero T
	return zero, false
}

func count[T Effect](effs []Effect) int {
	n := 0
	for _, e := range effs {
		if _, ok := e.(T); ok {
			n++
		}
	}
	return n
}

// must returns the effect of type T emitted by the last event.
func must[T Effect](d *driver) T {
	d.t.Helper()
	e, ok := find[T](d.last)
	if !ok {
		var zero T
		d.t.Fatalf("no %T in %v (screen %s)", zero, d.last, d.m.State())
	}
	return e
}

// latest returns the most recent effect of type T so far.
func latest[T Effect](d *driver) T {
	d.t.Helper()
	e, ok := find[T](d.effects)
	if !ok {
		var zero T
		d.t.Fatalf("no %T so far (screen %s)", zero, d.m.State())
	}
	return e
}

// record returns the one usage record of the session, failing if there is not exactly one.
func (d *driver) record() UsageRecord {
	d.t.Helper()
	if n := count[RecordUsage](d.effects); n != 1 {
		d.t.Fatalf("%d usage records, want 1", n)
	}
	r, _ := find[RecordUsage](d.effects)
	return r.Record
}

var lockedCard = CardStatus{CertificatesNotAfter: t0.AddDate(1, 0, 0), PINBlocked: true, Fingerprint: "card-1"}
var unlockedCard = CardStatus{CertificatesNotAfter: t0.AddDate(1, 0, 0), PINTriesLeft: 3, Fingerprint: "card-1"}

var allOffers = []MethodOffer{
	{Method: MethodEmail, Available: true},
	{Method: MethodSMS, Available: true},
	{Method: MethodFace, Available: false},
}

func (d *driver) readCard(st CardStatus) {
	d.t.Helper()
	rc := latest[ReadCard](d)
	d.send(CardRead{At: d.now, Seq: rc.Seq, Status: st})
}

// The steps of the walk-through, each reached from a fresh kiosk. Every step a session can be on is here.

func toReadingCard(d *driver) { d.insert(); d.want(ReadingCard) }

func toStartNow(d *driver) { toReadingCard(d); d.readCard(lockedCard); d.want(StartNow) }

func toProving(d *driver) {
	toStartNow(d)
	d.press(ButtonStart)
	d.want(CheckingEligibility)
	must[ProveCard](d)
}

func toStartingSession(d *driver) {
	toProving(d)
	d.send(CardProved{At: d.now, Seq: must[ProveCard](d).Seq, Proof: NewProof("proof-xyz")})
	d.want(CheckingEligibility)
	must[StartSession](d)
}

func toChooseMethodWith(d *driver, offers []MethodOffer) {
	toStartingSession(d)
	d.send(SessionStarted{At: d.now, Seq: must[StartSession](d).Seq, Eligible: true, Methods: offers})
	d.want(ChooseMethod)
}

func toChooseMethod(d *driver) { toChooseMethodWith(d, allOffers) }

func toEnterAddress(d *driver) { toChooseMethod(d); d.press(ButtonEmail); d.want(EnterAddress) }

func toSendingCode(d *driver) {
	toEnterAddress(d)
	d.typ(testEmail)
	d.press(ButtonContinue)
	d.want(SendingCode)
}

func codeSent(d *driver) {
	d.send(CodeSent{At: d.now, Seq: latest[SendCode](d).Seq, SendsLeft: 2, RetryAfter: 30 * time.Second})
}

func toEnterCode(d *driver) { toSendingCode(d); codeSent(d); d.want(EnterCode) }

func toVerifyingCode(d *driver) {
	toEnterCode(d)
	d.typ(testCode)
	d.submit()
	d.want(VerifyingCode)
}

func codeOK(d *driver) {
	sopin := Secret(testSOPIN)
	d.sopins = append(d.sopins, sopin)
	d.send(CodeChecked{At: d.now, Seq: latest[VerifyCode](d).Seq, OK: true, SOPIN: sopin})
}

func toChoosePasscode(d *driver) { toVerifyingCode(d); codeOK(d); d.want(ChoosePasscode) }

func toUnlocking(d *driver) {
	toChoosePasscode(d)
	d.typ(testPIN)
	d.submit() // moves to the confirmation field
	d.typ(testPIN)
	d.submit()
	d.want(Unlocking)
}

func toReinsertCard(d *driver) {
	toUnlocking(d)
	d.remove()
	d.send(CardUnblocked{At: d.now, Seq: latest[UnblockCard](d).Seq, Result: WriteUnknown})
	d.want(ReinsertCard)
}

func toRereadingCard(d *driver) { toReinsertCard(d); d.insert(); d.want(ReadingCard) }

func toFaceVerification(d *driver) {
	cfg := testConfig()
	cfg.Methods = []Method{MethodEmail, MethodSMS, MethodFace}
	d.m, _ = New(cfg, d.now)
	toChooseMethodWith(d, []MethodOffer{{Method: MethodEmail, Available: true}, {Method: MethodFace, Available: true}})
	d.press(ButtonFace)
	d.want(FaceVerification)
}

func toChangePasscode(d *driver) {
	toReadingCard(d)
	d.readCard(unlockedCard)
	d.want(StartNow)
	d.press(ButtonChangePasscode)
	d.want(ChangePasscode)
}

func toChangingPasscode(d *driver) {
	toChangePasscode(d)
	d.typ(testOldPIN)
	d.submit()
	d.typ(testPIN)
	d.submit()
	d.typ(testPIN)
	d.submit()
	d.want(ChangingPasscode)
}

func toMoreTime(d *driver) {
	toEnterCode(d)
	d.typ("48")
	d.advance(DefaultIdleTimeout)
	d.want(MoreTime)
}

// steps lists every step a session passes through, by the screen it shows.
var steps = []struct {
	name  string
	state ScreenID
	reach func(*driver)
}{
	{"reading card", ReadingCard, toReadingCard},
	{"start now", StartNow, toStartNow},
	{"proving card", CheckingEligibility, toProving},
	{"starting session", CheckingEligibility, toStartingSession},
	{"choose method", ChooseMethod, toChooseMethod},
	{"enter address", EnterAddress, toEnterAddress},
	{"sending code", SendingCode, toSendingCode},
	{"enter code", EnterCode, toEnterCode},
	{"verifying code", VerifyingCode, toVerifyingCode},
	{"face verification", FaceVerification, toFaceVerification},
	{"choose passcode", ChoosePasscode, toChoosePasscode},
	{"unlocking", Unlocking, toUnlocking},
	{"reinsert card", ReinsertCard, toReinsertCard},
	{"re-reading card", ReadingCard, toRereadingCard},
	{"change passcode", ChangePasscode, toChangePasscode},
	{"changing passcode", ChangingPasscode, toChangingPasscode},
	{"more time", MoreTime, toMoreTime},
}

// serviceErr and cardErr are errors as the runner reports them: tagged with a catalogue code.
func serviceErr(c errcat.Code) error {
	return errcat.Wrap(c, errors.New("identity service call failed"))
}

// secretBuffers returns the session's secret storage, to check it is wiped later.
func (d *driver) secretBuffers() [][]byte {
	s := d.m.sess
	if s == nil {
		return nil
	}
	var out [][]byte
	for _, b := range []*buffer{s.address, s.code, s.current, s.newPIN, s.confirm} {
		out = append(out, b.b[:cap(b.b)])
	}
	for _, sp := range d.sopins {
		out = append(out, sp)
	}
	return out
}

func assertWiped(t *testing.T, bufs [][]byte) {
	t.Helper()
	for i, b := range bufs {
		for _, c := range b {
			if c != 0 {
				t.Fatalf("buffer %d not wiped: %d non-zero bytes of %d", i, nonZero(b), len(b))
			}
		}
	}
}

func nonZero(b []byte) int {
	n := 0
	for _, c := range b {
		if c != 0 {
			n++
		}
	}
	return n
}

// usageLog is a fake UsageRecorder, as the fleet link will be.
type usageLog struct{ records []UsageRecord }

func (l *usageLog) RecordUsage(r UsageRecord) error {
	l.records = append(l.records, r)
	return nil
}

var _ UsageRecorder = (*usageLog)(nil)

// deliver hands every RecordUsage effect so far to rec, as the runner does.
func (d *driver) deliver(rec UsageRecorder) {
	for _, e := range d.effects {
		if r, ok := e.(RecordUsage); ok {
			if err := rec.RecordUsage(r.Record); err != nil {
				d.t.Fatal(err)
			}
		}
	}
}

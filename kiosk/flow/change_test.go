package flow

import (
	"strings"
	"testing"

	"ssu-kiosk/remote/identity/errcat"
)

func TestChangePasscode(t *testing.T) {
	d := newDriver(t, testConfig())
	toReadingCard(d)
	d.readCard(unlockedCard)
	d.want(StartNow)
	sc := d.m.Screen()
	if sc.Title != "Your smartcard is not locked" {
		t.Fatalf("screen = %+v", sc)
	}
	d.press(ButtonChangePasscode)
	d.want(ChangePasscode)
	sc = d.m.Screen()
	if len(sc.Fields) != 3 || sc.Focus != FieldCurrent || sc.TriesLeft != 3 ||
		!strings.Contains(strings.Join(sc.Body, " "), "3 tries left") {
		t.Fatalf("screen = %+v", sc)
	}
	d.typ(testOldPIN)
	d.submit()
	d.typ(testPIN)
	d.submit()
	d.typ(testPIN)
	bufs := d.secretBuffers()
	d.submit()
	d.want(ChangingPasscode)
	cp := must[ChangePIN](d)
	if string(cp.Current) != testOldPIN || string(cp.New) != testPIN {
		t.Fatal("change sent the wrong passcodes")
	}
	assertWiped(t, bufs) // wiped as soon as the copies went out
	d.send(PINChanged{At: d.now, Seq: cp.Seq, Result: WriteDone})
	d.want(PasscodeChanged)
	if sc := d.m.Screen(); sc.LED != LEDSuccess || !strings.Contains(strings.Join(sc.Body, " "), "Remove your card.") {
		t.Fatalf("screen = %+v", sc)
	}
	r := d.record()
	if r.Outcome != OutcomePasscodeChanged || r.StepReached != ChangingPasscode || r.Method != "" {
		t.Fatalf("record = %+v", r)
	}
	if count[CompleteSession](d.effects) != 0 || count[ProveCard](d.effects) != 0 {
		t.Fatal("changing a known passcode needs no identity session")
	}
	checkNoPersonalData(t, r)
	d.remove()
	d.want(Welcome)
}

func TestChangePasscodeWrongCurrent(t *testing.T) {
	d := newDriver(t, testConfig())
	toChangingPasscode(d)
	wrong := func(left int) {
		t.Helper()
		d.send(PINChanged{At: d.now, Seq: latest[ChangePIN](d).Seq, WrongCurrent: true, TriesLeft: left})
	}
	wrong(2)
	d.want(ChangePasscode)
	sc := d.m.Screen()
	f, _ := sc.Field(FieldCurrent)
	if !strings.Contains(f.Error, "2 tries left") || strings.Contains(f.Error, "locked") || sc.TriesLeft != 2 {
		t.Fatalf("screen = %+v", sc)
	}
	if sc.Focus != FieldCurrent {
		t.Fatalf("focus = %s", sc.Focus)
	}
	for _, f := range sc.Fields {
		if f.Length != 0 {
			t.Fatalf("field %s kept %d characters", f.ID, f.Length)
		}
	}
	retype := func() {
		d.typ(testOldPIN)
		d.submit()
		d.typ(testPIN)
		d.submit()
		d.typ(testPIN)
		d.submit()
		d.want(ChangingPasscode)
	}
	retype()
	wrong(1)
	sc = d.m.Screen()
	f, _ = sc.Field(FieldCurrent)
	body := strings.Join(sc.Body, " ")
	if !strings.Contains(f.Error, "1 try left") || !strings.Contains(f.Error, "will be locked") ||
		!strings.Contains(body, "will be locked") {
		t.Fatalf("no warning before the last try: %+v", sc)
	}
	retype()
	wrong(0)
	d.want(StartNow)
	sc = d.m.Screen()
	if !strings.Contains(strings.Join(sc.Body, " "), "now locked") {
		t.Fatalf("screen = %+v", sc)
	}
	if _, ok := sc.Button(ButtonChangePasscode); ok {
		t.Fatal("a locked card cannot change its passcode")
	}
	d.press(ButtonStart)
	d.want(CheckingEligibility)
	d.press(ButtonCancel)
	r := d.record()
	if len(filter(r.Events, EventCurrentRefused)) != 3 {
		t.Fatalf("events = %+v", r.Events)
	}
	hasEvent(t, r, EventCardLocked)
	if e := filter(r.Events, EventCurrentRefused)[1]; e.TriesLeft != 1 {
		t.Fatalf("event = %+v", e)
	}
}

func TestChangePasscodeOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   PINChanged
		code errcat.Code
	}{
		{"refused", PINChanged{Result: WriteNotDone}, errcat.ERR2010},
		{"refused with a code", PINChanged{Result: WriteNotDone, Err: errcat.Wrap(errcat.ERR2006, errTest)}, errcat.ERR2006},
		{"unknown", PINChanged{Result: WriteUnknown}, errcat.ERR2011},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, testConfig())
			toChangingPasscode(d)
			d.remove() // even with the card pulled, the answer decides
			d.want(ChangingPasscode)
			ev := tc.ev
			ev.At, ev.Seq = d.now, latest[ChangePIN](d).Seq
			d.send(ev)
			d.want(ErrorScreen)
			if d.m.Screen().Error.Code != tc.code || d.record().ErrorCode != tc.code {
				t.Fatalf("code = %s", d.m.Screen().Error.Code)
			}
			d.advance(DefaultNoticeTime)
			d.want(Welcome)
		})
	}
}

func TestPasscodePolicyOnScreens(t *testing.T) {
	for _, tc := range []struct {
		name               string
		current, pin, conf string
		field              FieldID
		words              string
	}{
		{"too short", testOldPIN, "60581", "60581", FieldNew, "6 to 8 digits"},
		{"common", testOldPIN, "123456", "123456", FieldNew, "too easy to guess"},
		{"all same", testOldPIN, "77777777", "77777777", FieldNew, "too easy to guess"},
		{"mismatch", testOldPIN, testPIN, "605818", FieldConfirm, "do not match"},
		{"same as current", testOldPIN, testOldPIN, testOldPIN, FieldNew, "different from your current"},
		{"current too short", "2580", testPIN, testPIN, FieldCurrent, "6 to 8 digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, testConfig())
			toChangePasscode(d)
			d.typ(tc.current)
			d.focus(FieldNew)
			d.typ(tc.pin)
			d.focus(FieldConfirm)
			d.typ(tc.conf)
			d.press(ButtonConfirm)
			d.want(ChangePasscode)
			sc := d.m.Screen()
			f, _ := sc.Field(tc.field)
			if !strings.Contains(f.Error, tc.words) || sc.Focus != tc.field {
				t.Fatalf("screen = %+v", sc)
			}
			hasEventNow(t, d, EventPasscodeRefused)
		})
	}
	// the same rules when unlocking, minus the current passcode
	d := newDriver(t, testConfig())
	toChoosePasscode(d)
	d.typ("654321")
	d.focus(FieldConfirm)
	d.typ("654321")
	d.submit()
	d.want(ChoosePasscode)
	if f, _ := d.m.Screen().Field(FieldNew); !strings.Contains(f.Error, "too easy") {
		t.Fatalf("field = %+v", f)
	}
	d.typ(testPIN)
	d.focus(FieldConfirm)
	d.typ("605818")
	d.submit()
	f, _ := d.m.Screen().Field(FieldConfirm)
	if !strings.Contains(f.Error, "do not match") || d.m.Screen().Focus != FieldConfirm {
		t.Fatalf("field = %+v", f)
	}
	if nf, _ := d.m.Screen().Field(FieldNew); nf.Length != 6 {
		t.Fatal("a mismatch keeps the first passcode")
	}
	d.typ(testPIN)
	d.submit()
	d.want(Unlocking)
}

func hasEventNow(t *testing.T, d *driver, k StepEventKind) {
	t.Helper()
	for _, e := range d.m.sess.events {
		if e.Kind == k {
			return
		}
	}
	t.Fatalf("no %s event", k)
}

func TestPasscodePolicy(t *testing.T) {
	p := NewPasscodePolicy([]string{"605817"})
	for _, tc := range []struct {
		pin, confirm, current string
		want                  PasscodeProblem
	}{
		{"", "", "", PasscodeEmpty},
		{"60581a", "60581a", "", PasscodeNotDigits},
		{"60581", "60581", "", PasscodeTooShort},
		{"605817391", "605817391", "", PasscodeTooLong},
		{"605817", "605817", "", PasscodeTooCommon}, // on the extra list
		{"123456", "123456", "", PasscodeTooCommon},
		{"654321", "654321", "", PasscodeTooCommon},
		{"111111", "111111", "", PasscodeTooCommon},
		{"000000", "000000", "", PasscodeTooCommon},
		{"12345678", "12345678", "", PasscodeTooCommon},
		{"123123", "123123", "", PasscodeTooCommon},
		{"121212", "121212", "", PasscodeTooCommon},
		{"112233", "112233", "", PasscodeTooCommon},
		{"159753", "159753", "", PasscodeTooCommon},
		{"888888", "888888", "", PasscodeTooCommon},
		{"3456789", "3456789", "", PasscodeTooCommon},
		{"98765432", "98765432", "", PasscodeTooCommon},
		{"474747", "474747", "", PasscodeTooCommon},
		{"4747474", "4747474", "", PasscodeOK}, // odd length: not a repeated pair
		{"581604", "581605", "", PasscodeMismatch},
		{"581604", "581604", "581604", PasscodeSameAsCurrent},
		{"581604", "581604", "", PasscodeOK},
		{"58160473", "58160473", "281604", PasscodeOK},
	} {
		var cur []byte
		if tc.current != "" {
			cur = []byte(tc.current)
		}
		if got := p.Check([]byte(tc.pin), []byte(tc.confirm), cur); got != tc.want {
			t.Errorf("%q/%q/%q = %v, want %v", tc.pin, tc.confirm, tc.current, got, tc.want)
		}
		if got := p.Check([]byte(tc.pin), []byte(tc.confirm), cur); got != PasscodeOK && got.Message() == "" {
			t.Errorf("%v has no message", got)
		}
	}
	if PasscodeOK.Message() != "" {
		t.Error("no message when all is well")
	}
	for _, s := range commonPasscodes {
		if len(s) < MinPasscodeDigits || len(s) > MaxPasscodeDigits || !allDigits([]byte(s)) {
			t.Errorf("blocklist entry %q can never be typed", s)
		}
	}
}

func BenchmarkPasscodeCheck(b *testing.B) {
	p := NewPasscodePolicy(nil)
	pin := []byte("58160473")
	b.ReportAllocs()
	for b.Loop() {
		p.Check(pin, pin, nil)
	}
}

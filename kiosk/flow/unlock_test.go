package flow

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/remote/identity/errcat"
)

func TestUnlockByEmailAndSMS(t *testing.T) {
	for _, tc := range []struct {
		name    string
		button  ButtonID
		method  Method
		address string
		kind    FieldKind
	}{
		{"email", ButtonEmail, MethodEmail, testEmail, KindEmail},
		{"sms", ButtonSMS, MethodSMS, testMobile, KindMobile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, testConfig())
			d.want(Welcome)
			if sc := d.m.Screen(); sc.Title != "Insert your smartcard" || sc.LED != LEDIdle {
				t.Fatalf("welcome = %+v", sc)
			}
			if d.m.Busy() {
				t.Fatal("busy at welcome")
			}
			d.insert()
			d.want(ReadingCard)
			if !d.m.Busy() || !d.m.Screen().Busy {
				t.Fatal("reading a card is busy")
			}
			if led := must[SetLED](d); led.LED != LEDBusy {
				t.Fatalf("led = %s", led.LED)
			}
			d.readCard(lockedCard)
			d.want(StartNow)
			if b, ok := d.m.Screen().Button(ButtonStart); !ok || b.Label != "Start now" || !b.Primary {
				t.Fatalf("start button = %+v", b)
			}
			if _, ok := d.m.Screen().Button(ButtonChangePasscode); ok {
				t.Fatal("a locked card cannot change its passcode")
			}
			d.submit() // Enter presses Start now
			d.want(CheckingEligibility)
			d.send(CardProved{At: d.now, Seq: must[ProveCard](d).Seq, Proof: NewProof("proof-xyz")})
			ss := must[StartSession](d)
			if ss.Proof.Value() != "proof-xyz" {
				t.Fatalf("proof not forwarded: %v", ss.Proof.Value())
			}
			d.send(SessionStarted{At: d.now, Seq: ss.Seq, Eligible: true, Methods: allOffers})
			d.want(ChooseMethod)
			sc := d.m.Screen()
			for id, label := range map[ButtonID]string{ButtonEmail: "Email security code",
				ButtonSMS: "Mobile phone security code", ButtonFace: "Face verification"} {
				b, ok := sc.Button(id)
				if !ok || b.Label != label {
					t.Fatalf("button %s = %+v", id, b)
				}
				if b.Enabled != (id != ButtonFace) {
					t.Fatalf("button %s enabled = %v", id, b.Enabled)
				}
			}
			d.press(tc.button)
			d.want(EnterAddress)
			f, _ := d.m.Screen().Field(FieldAddress)
			if f.Kind != tc.kind || f.Masked {
				t.Fatalf("address field = %+v", f)
			}
			if b, _ := d.m.Screen().Button(ButtonContinue); b.Enabled {
				t.Fatal("continue enabled with nothing typed")
			}
			d.typ(tc.address + "0")
			d.erase()
			if f, _ := d.m.Screen().Field(FieldAddress); f.Value != tc.address {
				t.Fatalf("address shown as %q", f.Value)
			}
			d.submit()
			d.want(SendingCode)
			sc1 := must[SendCode](d)
			if sc1.Method != tc.method || string(sc1.Address) != tc.address {
				t.Fatalf("send code = %v %q", sc1.Method, string(sc1.Address))
			}
			d.send(CodeSent{At: d.now, Seq: sc1.Seq, SendsLeft: 2, RetryAfter: 30 * time.Second})
			d.want(EnterCode)
			sc = d.m.Screen()
			if sc.CodeTimeLeft != 15*time.Minute || sc.TriesLeft != 5 {
				t.Fatalf("time left %v, tries %d", sc.CodeTimeLeft, sc.TriesLeft)
			}
			if !strings.Contains(strings.Join(sc.Body, " "), "15 minutes") {
				t.Fatalf("body = %q", sc.Body)
			}
			d.typ("48291")
			if b, _ := d.m.Screen().Button(ButtonContinue); b.Enabled {
				t.Fatal("continue enabled with 5 digits")
			}
			d.typ("3")
			d.typ("9") // ignored: the field is full
			if f, _ := d.m.Screen().Field(FieldCode); f.Length != 6 || !f.Masked {
				t.Fatalf("code field = %+v", f)
			}
			d.press(ButtonContinue)
			d.want(VerifyingCode)
			vc := must[VerifyCode](d)
			if string(vc.Code) != testCode {
				t.Fatalf("verify code sent the wrong code")
			}
			codeOK(d)
			d.want(ChoosePasscode)
			d.typ(testPIN)
			d.focus(FieldConfirm)
			d.typ(testPIN)
			d.press(ButtonConfirm)
			d.want(Unlocking)
			if sc := d.m.Screen(); sc.Title != "Unlocking: keep your card in the reader" || len(sc.Buttons) != 0 {
				t.Fatalf("unlocking = %+v", sc)
			}
			ub := must[UnblockCard](d)
			if string(ub.SOPIN) != testSOPIN || string(ub.NewPIN) != testPIN {
				t.Fatal("unblock got the wrong secrets")
			}
			bufs := d.secretBuffers()
			d.advance(time.Second)
			d.send(CardUnblocked{At: d.now, Seq: ub.Seq, Result: WriteDone})
			d.want(Unlocked)
			sc = d.m.Screen()
			if sc.LED != LEDSuccess || !strings.Contains(strings.Join(sc.Body, " "),
				"You can now use your smartcard with your new passcode. Remove your card.") {
				t.Fatalf("unlocked = %+v", sc)
			}
			assertWiped(t, bufs)
			if c := must[CompleteSession](d); c.Outcome != OutcomeUnlocked || c.Code != "" {
				t.Fatalf("complete = %+v", c)
			}
			rec := d.record()
			if rec.Outcome != OutcomeUnlocked || rec.Method != tc.method || rec.StepReached != Unlocking ||
				rec.KioskID != "kiosk-7" || rec.Duration != time.Second || rec.ErrorCode != "" {
				t.Fatalf("record = %+v", rec)
			}
			var sum time.Duration
			var visited []string
			for _, st := range rec.Steps {
				sum += st.Duration
				visited = append(visited, string(st.Step))
			}
			wantSteps := "reading-card start-now checking-eligibility choose-method enter-address sending-code " +
				"enter-code verifying-code choose-passcode unlocking"
			if sum != rec.Duration || strings.Join(visited, " ") != wantSteps {
				t.Fatalf("steps %v (%v) vs %v", visited, sum, rec.Duration)
			}
			if last := rec.Steps[len(rec.Steps)-1]; last.Duration != time.Second || !last.Start.Equal(t0) {
				t.Fatalf("last step = %+v", last)
			}
			var kinds []string
			for _, e := range rec.Events {
				kinds = append(kinds, string(e.Kind))
			}
			wantKinds := "session-started card-read unlock-chosen eligible method-chosen code-sent code-accepted " +
				"unlock-started session-ended"
			if strings.Join(kinds, " ") != wantKinds {
				t.Fatalf("events = %v", kinds)
			}
			if !d.m.Busy() {
				t.Fatal("not busy while the success message is up")
			}
			d.remove()
			d.want(Welcome)
			if count[RecordUsage](d.effects) != 1 || count[CompleteSession](d.effects) != 1 {
				t.Fatal("a session yields one record and one completion")
			}
			checkNoPersonalData(t, rec)
			var log usageLog
			d.deliver(&log)
			if len(log.records) != 1 || log.records[0].Outcome != OutcomeUnlocked {
				t.Fatalf("delivered %+v", log.records)
			}
		})
	}
}

// checkNoPersonalData fails if anything a person typed or the card holds shows in v.
func checkNoPersonalData(t *testing.T, v any) {
	t.Helper()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d", "%q"} {
		text := fmt.Sprintf(verb, v)
		for _, s := range []string{testEmail, testMobile, testCode, testSOPIN, testPIN, testOldPIN, "card-1", "proof-xyz",
			fmt.Sprintf("%x", testSOPIN), fmt.Sprintf("%x", testPIN)} {
			if strings.Contains(text, s) {
				t.Fatalf("%s of %T shows %q", verb, v, s)
			}
		}
	}
	// JSON and slog's handlers, which print a byte slice raw or in base64 unless the type says otherwise.
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("effect", "v", v)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("effect", "v", v)
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json of %T: %v", v, err)
	}
	all := logged.String() + string(js)
	for _, s := range []string{testEmail, testCode, testSOPIN, testPIN, testOldPIN,
		base64.StdEncoding.EncodeToString([]byte(testSOPIN)), base64.StdEncoding.EncodeToString([]byte(testPIN))} {
		if strings.Contains(all, s) {
			t.Fatalf("json or slog of %T shows %q", v, s)
		}
	}
}

func TestEffectsNeverPrintSecrets(t *testing.T) {
	effs := []Effect{
		SendCode{Seq: 1, Method: MethodEmail, Address: Secret(testEmail)},
		VerifyCode{Seq: 2, Code: Secret(testCode)},
		UnblockCard{Seq: 3, SOPIN: Secret(testSOPIN), NewPIN: Secret(testPIN)},
		ChangePIN{Seq: 4, Current: Secret(testOldPIN), New: Secret(testPIN)},
		StartSession{Seq: 5, Proof: NewProof("proof-xyz")},
	}
	for _, e := range effs {
		checkNoPersonalData(t, e)
	}
	checkNoPersonalData(t, CodeChecked{SOPIN: Secret(testSOPIN)})
	checkNoPersonalData(t, CardRead{Status: CardStatus{Fingerprint: "x"}})
	if Secret(testPIN).String() != redacted || Secret(testPIN).GoString() != redacted ||
		Secret(testPIN).LogValue().String() != redacted || NewProof(1).LogValue().String() != "[card proof]" {
		t.Fatal("secret printing not redacted")
	}
}

func TestFaceVerification(t *testing.T) {
	for _, tc := range []struct {
		name      string
		kiosk     []Method
		available bool
		enabled   bool
	}{
		{"kiosk off, service on", nil, true, false},
		{"kiosk on, service off", []Method{MethodEmail, MethodFace}, false, false},
		{"both on", []Method{MethodEmail, MethodFace}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Methods = tc.kiosk
			d := newDriver(t, cfg)
			toChooseMethodWith(d, []MethodOffer{{Method: MethodEmail, Available: true},
				{Method: MethodFace, Available: tc.available}})
			sc := d.m.Screen()
			b, _ := sc.Button(ButtonFace)
			if b.Enabled != tc.enabled {
				t.Fatalf("face enabled = %v", b.Enabled)
			}
			if hasText := strings.Contains(strings.Join(sc.Body, " "), "Face verification is currently unavailable."); hasText == tc.enabled {
				t.Fatalf("body = %q", sc.Body)
			}
			if sms, _ := sc.Button(ButtonSMS); sms.Enabled {
				t.Fatal("sms not offered by the service yet enabled")
			}
			d.press(ButtonFace)
			if !tc.enabled {
				d.want(ChooseMethod) // a disabled button does nothing
				return
			}
			d.want(FaceVerification)
			d.send(FaceChecked{At: d.now, Seq: must[VerifyFace](d).Seq, OK: false})
			d.want(ChooseMethod)
			if !strings.Contains(strings.Join(d.m.Screen().Body, " "), "could not confirm") {
				t.Fatalf("body = %q", d.m.Screen().Body)
			}
			d.press(ButtonFace)
			sopin := Secret(testSOPIN)
			d.send(FaceChecked{At: d.now, Seq: must[VerifyFace](d).Seq, OK: true, SOPIN: sopin})
			d.want(ChoosePasscode)
			d.press(ButtonCancel)
			d.want(RemoveCard)
			assertWiped(t, [][]byte{sopin})
			if r := d.record(); r.Outcome != OutcomeAbandoned || r.Method != MethodFace {
				t.Fatalf("record = %+v", r)
			}
		})
	}
}

func TestFaceErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   func(seq uint64) FaceChecked
		want ScreenID
		code errcat.Code
	}{
		{"unreachable", func(s uint64) FaceChecked { return FaceChecked{Seq: s, Err: serviceErr(errcat.ERR2008)} }, ServiceUnreachable, errcat.ERR2008},
		{"no sopin", func(s uint64) FaceChecked { return FaceChecked{Seq: s, OK: true} }, ErrorScreen, errcat.ERR1009},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, testConfig())
			toFaceVerification(d)
			ev := tc.ev(must[VerifyFace](d).Seq)
			ev.At = d.now
			d.send(ev)
			d.want(tc.want)
			if d.m.Screen().Error.Code != tc.code {
				t.Fatalf("code = %s", d.m.Screen().Error.Code)
			}
		})
	}
}

func TestNotEligible(t *testing.T) {
	for _, tc := range []struct {
		reason IneligibleReason
		code   errcat.Code
		words  string
	}{
		{NoEmail, errcat.ERR1002, "add your work email address to your profile"},
		{EmailDomainNotAllowed, errcat.ERR1003, "approved work email"},
		{CertificatesExpired, errcat.ERR1004, "renew"},
		{NotRegistered, errcat.ERR1001, "Registration Authority"},
		{CardNotGenuine, errcat.ERR1005, "Registration Authority"},
	} {
		t.Run(string(tc.reason), func(t *testing.T) {
			d := newDriver(t, testConfig())
			toStartingSession(d)
			d.send(SessionStarted{At: d.now, Seq: must[StartSession](d).Seq, Reason: tc.reason})
			d.want(NotEligible)
			sc := d.m.Screen()
			body := strings.Join(sc.Body, " ")
			if sc.Title != errcat.MustLookup(tc.code).Title || !strings.Contains(body, tc.words) ||
				!strings.Contains(body, DefaultRAHelp) || !strings.Contains(body, "Remove your card.") {
				t.Fatalf("screen = %+v", sc)
			}
			if sc.Error == nil || sc.Error.Code != tc.code || sc.Error.KioskID != "kiosk-7" ||
				sc.Error.TroubleshootingURL != "https://help.example.nhs.uk/kiosk" || sc.LED != LEDError {
				t.Fatalf("error info = %+v", sc.Error)
			}
			r := d.record()
			if r.Outcome != OutcomeIneligible || r.Reason != tc.reason || r.ErrorCode != tc.code ||
				r.StepReached != CheckingEligibility {
				t.Fatalf("record = %+v", r)
			}
			if count[CompleteSession](d.effects) != 0 {
				t.Fatal("no session to complete")
			}
			d.removeAndWait()
		})
	}
}

func TestLocalCardChecks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status CardStatus
		err    error
		want   ScreenID
		code   errcat.Code
	}{
		{"expired certificates", CardStatus{CertificatesNotAfter: t0.Add(-time.Hour), PINBlocked: true}, nil, CardExpired, errcat.ERR1004},
		{"unreadable", CardStatus{}, errcat.Wrap(errcat.ERR2001, errTest), CardUnreadable, errcat.ERR2001},
		{"untagged read error", CardStatus{}, errTest, CardUnreadable, errcat.ERR2001},
		{"not PIV", CardStatus{}, errcat.Wrap(errcat.ERR2002, errTest), CardNotSupported, errcat.ERR2002},
		{"reader broken", CardStatus{}, errcat.Wrap(errcat.ERR2004, errTest), ErrorScreen, errcat.ERR2004},
		{"pcscd down", CardStatus{}, errcat.Wrap(errcat.ERR2005, errTest), ErrorScreen, errcat.ERR2005},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, testConfig())
			d.insert()
			d.send(CardRead{At: d.now, Seq: must[ReadCard](d).Seq, Status: tc.status, Err: tc.err})
			d.want(tc.want)
			sc := d.m.Screen()
			if sc.Error == nil || sc.Error.Code != tc.code || sc.Title != errcat.MustLookup(tc.code).Title {
				t.Fatalf("screen = %+v", sc)
			}
			if tc.want == CardExpired && !strings.Contains(strings.Join(sc.Body, " "), DefaultRAHelp) {
				t.Fatalf("expired card: no way to find an RA: %q", sc.Body)
			}
			r := d.record()
			if r.ErrorCode != tc.code || r.StepReached != ReadingCard {
				t.Fatalf("record = %+v", r)
			}
			if tc.want == CardExpired && (r.Outcome != OutcomeIneligible || r.Reason != CertificatesExpired) {
				t.Fatalf("record = %+v", r)
			}
			d.removeAndWait()
		})
	}
}

var errTest = fmt.Errorf("test failure")

func TestUnlockOutcomeUnknownIsSettledByReinserting(t *testing.T) {
	d := newDriver(t, testConfig())
	toReinsertCard(d)
	first := latest[UnblockCard](d)
	sc := d.m.Screen()
	if sc.Error == nil || sc.Error.Code != errcat.ERR2007 {
		t.Fatalf("reinsert screen = %+v", sc)
	}
	// another card: refused
	d.insert()
	d.readCard(CardStatus{Fingerprint: "card-2", PINBlocked: true})
	d.want(ReinsertCard)
	if !strings.Contains(strings.Join(d.m.Screen().Body, " "), "not the smartcard") {
		t.Fatalf("body = %q", d.m.Screen().Body)
	}
	d.remove()
	// a read that fails: try again
	d.insert()
	d.send(CardRead{At: d.now, Seq: must[ReadCard](d).Seq, Err: errTest})
	d.want(ReinsertCard)
	d.remove()
	// pulled while reading
	d.insert()
	d.remove()
	d.want(ReinsertCard)
	// the right card: the same unblock again
	d.insert()
	d.readCard(lockedCard)
	d.want(Unlocking)
	again := must[UnblockCard](d)
	if string(again.SOPIN) != string(first.SOPIN) || string(again.NewPIN) != testPIN || again.Seq == first.Seq {
		t.Fatal("the retry must repeat the same unblock")
	}
	d.send(CardUnblocked{At: d.now, Seq: again.Seq, Result: WriteDone})
	d.want(Unlocked)
	r := d.record()
	if r.Outcome != OutcomeUnlocked {
		t.Fatalf("record = %+v", r)
	}
	hasEvent(t, r, EventUnlockUnknown)
	hasEvent(t, r, EventCardReinserted)
	d.remove()
	d.want(Welcome)
}

func hasEvent(t *testing.T, r UsageRecord, k StepEventKind) StepEvent {
	t.Helper()
	for _, e := range r.Events {
		if e.Kind == k {
			return e
		}
	}
	t.Fatalf("no %s event in %+v", k, r.Events)
	return StepEvent{}
}

func TestUnlockOutcomes(t *testing.T) {
	t.Run("not done", func(t *testing.T) {
		d := newDriver(t, testConfig())
		toUnlocking(d)
		d.send(CardUnblocked{At: d.now, Seq: must[UnblockCard](d).Seq, Result: WriteNotDone})
		d.want(ErrorScreen)
		if d.m.Screen().Error.Code != errcat.ERR2006 || d.record().Outcome != OutcomeError {
			t.Fatal("a refused unblock is ERR2006")
		}
		if c := must[CompleteSession](d); c.Outcome != OutcomeError || c.Code != errcat.ERR2006 {
			t.Fatalf("complete = %+v", c)
		}
	})
	t.Run("unknown too often", func(t *testing.T) {
		d := newDriver(t, testConfig())
		toUnlocking(d)
		for i := 0; i < DefaultMaxUnlockAttempts; i++ {
			d.send(CardUnblocked{At: d.now, Seq: latest[UnblockCard](d).Seq, Result: WriteUnknown})
			if i == DefaultMaxUnlockAttempts-1 {
				break
			}
			d.want(ReinsertCard)
			d.remove()
			d.insert()
			d.readCard(lockedCard)
		}
		d.want(ErrorScreen)
		if d.m.Screen().Error.Code != errcat.ERR2007 {
			t.Fatal("an unknown outcome after all attempts is ERR2007")
		}
	})
	t.Run("timed out", func(t *testing.T) {
		d := newDriver(t, testConfig())
		toUnlocking(d)
		seq := must[UnblockCard](d).Seq
		d.advance(DefaultUnlockTimeout)
		d.want(ErrorScreen)
		if c := must[CancelOperation](d); c.Seq != seq || d.m.Screen().Error.Code != errcat.ERR2007 {
			t.Fatal("a timed-out unblock is cancelled and unknown")
		}
		d.send(CardUnblocked{At: d.now, Seq: seq, Result: WriteDone}) // too late
		d.want(ErrorScreen)
	})
	t.Run("card pulled, outcome done", func(t *testing.T) {
		d := newDriver(t, testConfig())
		toUnlocking(d)
		d.remove()
		d.want(Unlocking)
		d.send(CardUnblocked{At: d.now, Seq: latest[UnblockCard](d).Seq, Result: WriteDone})
		d.want(Unlocked)
		d.advance(DefaultNoticeTime - time.Second)
		d.want(Unlocked)
		d.advance(time.Second)
		d.want(Welcome)
	})
	t.Run("cancel while reinserting", func(t *testing.T) {
		d := newDriver(t, testConfig())
		toReinsertCard(d)
		d.press(ButtonCancel)
		d.want(ErrorScreen)
		if r := d.record(); r.ErrorCode != errcat.ERR2007 {
			t.Fatalf("record = %+v", r)
		}
		d.insert() // a new person
		d.want(ReadingCard)
	})
}

package flow

import (
	"strings"
	"testing"
	"time"

	"ssu-kiosk/remote/identity/errcat"
)

// allScreens is every ScreenID; the test below checks each session step has a way to reach it.
var allScreens = []ScreenID{Welcome, ReadingCard, CardExpired, CardUnreadable, CardNotSupported, StartNow,
	CheckingEligibility, NotEligible, ChooseMethod, EnterAddress, SendingCode, EnterCode, VerifyingCode,
	FaceVerification, ChoosePasscode, Unlocking, Unlocked, ReinsertCard, ChangePasscode, ChangingPasscode,
	PasscodeChanged, CardRemovedScreen, RemoveCard, ErrorScreen, ServiceUnreachable, MoreTime, OutOfService}

func TestEveryStepIsListed(t *testing.T) {
	listed := map[ScreenID]bool{}
	for _, s := range steps {
		listed[s.state] = true
	}
	for _, id := range allScreens {
		if id == Welcome || id == OutOfService || closing(id) {
			continue
		}
		if !listed[id] {
			t.Errorf("step %s has no entry in steps", id)
		}
	}
}

func TestCardRemovedAtEveryStep(t *testing.T) {
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			d := newDriver(t, testConfig())
			st.reach(d)
			d.want(st.state)
			bufs := d.secretBuffers()
			live := d.m.sess.live
			pend := d.m.pend
			before := len(d.effects)
			d.advance(time.Second)
			d.remove()
			switch st.state {
			case Unlocking, ChangingPasscode:
				// the write may have happened: wait for the runner's truthful answer
				d.want(st.state)
				if count[RecordUsage](d.effects) != 0 {
					t.Fatal("recorded before the card's answer")
				}
				return
			case ReinsertCard:
				d.want(ReinsertCard) // the card is already out
				return
			}
			if st.name == "re-reading card" {
				d.want(ReinsertCard)
				if c := must[CancelOperation](d); c.Seq != pend.seq {
					t.Fatalf("cancelled %d, want %d", c.Seq, pend.seq)
				}
				return
			}
			d.want(CardRemovedScreen)
			sc := d.m.Screen()
			if sc.Title != "Your smartcard was removed" || sc.Error.Code != errcat.ERR2003 || sc.LED != LEDError {
				t.Fatalf("screen = %+v", sc)
			}
			assertWiped(t, bufs)
			if pend.op != opNone {
				if c, ok := find[CancelOperation](d.effects[before:]); !ok || c.Seq != pend.seq {
					t.Fatalf("pending call %d not cancelled", pend.seq)
				}
			}
			if live {
				if c := must[CompleteSession](d); c.Outcome != OutcomeCardRemoved {
					t.Fatalf("complete = %+v", c)
				}
			} else if count[CompleteSession](d.effects) != 0 {
				t.Fatal("completed a session that was not open")
			}
			r := d.record()
			wantStep := st.state
			if st.state == MoreTime {
				wantStep = EnterCode
			}
			if r.Outcome != OutcomeCardRemoved || r.ErrorCode != errcat.ERR2003 || r.StepReached != wantStep {
				t.Fatalf("record = %+v", r)
			}
			hasEvent(t, r, EventCardRemoved)
			checkNoPersonalData(t, r)
			// the explanation stays a while, then welcome
			d.advance(DefaultNoticeTime - time.Second)
			d.want(CardRemovedScreen)
			d.advance(time.Second)
			d.want(Welcome)
			if count[RecordUsage](d.effects) != 1 {
				t.Fatal("one record per session")
			}
		})
	}
}

func TestCardReinsertedWhileRemovedMessageIsUp(t *testing.T) {
	d := newDriver(t, testConfig())
	toEnterCode(d)
	d.remove()
	d.want(CardRemovedScreen)
	d.insert()
	d.want(ReadingCard)
	if count[RecordUsage](d.effects) != 1 {
		t.Fatal("the first session has its record")
	}
}

func TestCancelAtEveryStep(t *testing.T) {
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			d := newDriver(t, testConfig())
			st.reach(d)
			b, ok := d.m.Screen().Button(ButtonCancel)
			switch st.state {
			case Unlocking, ChangingPasscode, MoreTime:
				if ok {
					t.Fatal("cannot cancel while writing the card or on the more-time prompt")
				}
				return
			}
			if !ok || !b.Enabled || b.Label != "Cancel" {
				t.Fatalf("cancel = %+v", b)
			}
			bufs := d.secretBuffers()
			live, pend := d.m.sess.live, d.m.pend
			d.press(ButtonCancel)
			assertWiped(t, bufs)
			if pend.op != opNone {
				if c := must[CancelOperation](d); c.Seq != pend.seq {
					t.Fatal("pending call not cancelled")
				}
			}
			if st.state == ReinsertCard || st.name == "re-reading card" {
				// the unlock's outcome is still unknown: say so
				d.want(ErrorScreen)
				if c := must[CompleteSession](d); c.Outcome != OutcomeError || c.Code != errcat.ERR2007 {
					t.Fatalf("complete = %+v", c)
				}
				return
			}
			if live {
				if c := must[CompleteSession](d); c.Outcome != OutcomeAbandoned {
					t.Fatalf("complete = %+v", c)
				}
			}
			d.want(RemoveCard)
			if r := d.record(); r.Outcome != OutcomeAbandoned || r.StepReached != st.state {
				t.Fatalf("record = %+v", r)
			}
			// a late answer to the cancelled call changes nothing
			if pend.op != opNone {
				sopin := Secret(testSOPIN)
				for _, ev := range lateAnswers(d.now, pend.seq, sopin) {
					d.send(ev)
					d.want(RemoveCard)
				}
				assertWiped(t, [][]byte{sopin})
			}
			if count[RecordUsage](d.effects) != 1 {
				t.Fatal("one record per session")
			}
			// start again with the card still in
			d.press(ButtonStartAgain)
			d.want(ReadingCard)
		})
	}
}

// lateAnswers are answers of every kind to call seq, all good news, all too late.
func lateAnswers(at time.Time, seq uint64, sopin Secret) []Event {
	return []Event{
		CardRead{At: at, Seq: seq, Status: lockedCard},
		CardProved{At: at, Seq: seq},
		SessionStarted{At: at, Seq: seq, Eligible: true, Methods: allOffers},
		CodeSent{At: at, Seq: seq, SendsLeft: 2},
		CodeChecked{At: at, Seq: seq, OK: true, SOPIN: sopin},
		FaceChecked{At: at, Seq: seq, OK: true, SOPIN: sopin},
		CardUnblocked{At: at, Seq: seq, Result: WriteDone},
		PINChanged{At: at, Seq: seq, Result: WriteDone},
	}
}

func TestLateAnswersAreIgnored(t *testing.T) {
	// an answer to an earlier call, while a later one of the same kind is awaited
	d := newDriver(t, testConfig())
	toEnterCode(d)
	first := latest[SendCode](d).Seq
	d.advance(30 * time.Second)
	d.press(ButtonResend)
	d.want(SendingCode)
	d.send(CodeSent{At: d.now, Seq: first, SendsLeft: 2})
	d.want(SendingCode)
	// answers of the wrong kind for the awaited seq are ignored too
	seq := latest[SendCode](d).Seq
	sopin := Secret(testSOPIN)
	d.send(CodeChecked{At: d.now, Seq: seq, OK: true, SOPIN: sopin})
	d.want(SendingCode)
	assertWiped(t, [][]byte{sopin})
	// answers when nothing is awaited
	d2 := newDriver(t, testConfig())
	for _, ev := range lateAnswers(d2.now, 1, Secret(testSOPIN)) {
		d2.send(ev)
		d2.want(Welcome)
	}
}

func TestIdleMoreTime(t *testing.T) {
	t.Run("yes, more time", func(t *testing.T) {
		d := newDriver(t, testConfig())
		toEnterCode(d)
		d.typ("48")
		d.advance(DefaultIdleTimeout - time.Second)
		d.want(EnterCode)
		d.advance(time.Second)
		d.want(MoreTime)
		sc := d.m.Screen()
		if sc.Title != "Do you need more time?" || sc.Countdown != DefaultMoreTimeCountdown {
			t.Fatalf("more time = %+v", sc)
		}
		d.advance(10 * time.Second)
		if sc := d.m.Screen(); sc.Countdown != 20*time.Second || !strings.Contains(sc.Body[0], "20 seconds") {
			t.Fatalf("countdown = %v %q", sc.Countdown, sc.Body)
		}
		d.typ("9") // typing does not reach the hidden field
		d.press(ButtonMoreTime)
		d.want(EnterCode)
		if f, _ := d.m.Screen().Field(FieldCode); f.Length != 2 || d.m.Screen().Focus != FieldCode {
			t.Fatalf("what was typed is kept: %+v", f)
		}
		d.advance(DefaultIdleTimeout - time.Second)
		d.want(EnterCode)
		d.typ("2913")
		d.submit()
		d.want(VerifyingCode)
		// no idle timeout while waiting on the service
		d.advance(DefaultOperationTimeout - time.Second)
		d.want(VerifyingCode)
		codeOK(d)
		d.want(ChoosePasscode)
		d.press(ButtonCancel)
		r := d.record()
		hasEvent(t, r, EventMoreTimeShown)
		hasEvent(t, r, EventMoreTimeTaken)
	})
	t.Run("lapses", func(t *testing.T) {
		d := newDriver(t, testConfig())
		toChoosePasscode(d)
		d.typ("605")
		bufs := d.secretBuffers()
		d.advance(DefaultIdleTimeout)
		d.want(MoreTime)
		d.submit() // Enter is "yes"
		d.want(ChoosePasscode)
		d.advance(DefaultIdleTimeout)
		d.advance(DefaultMoreTimeCountdown)
		d.want(RemoveCard)
		sc := d.m.Screen()
		if sc.Title != "Your session has timed out" {
			t.Fatalf("screen = %+v", sc)
		}
		assertWiped(t, bufs)
		r := d.record()
		if r.Outcome != OutcomeTimedOut || r.StepReached != ChoosePasscode {
			t.Fatalf("record = %+v", r)
		}
		if c := must[CompleteSession](d); c.Outcome != OutcomeTimedOut {
			t.Fatalf("complete = %+v", c)
		}
		d.advance(time.Hour) // the card is still in: the message stays
		d.want(RemoveCard)
		d.remove()
		d.want(Welcome)
	})
	t.Run("every interactive step", func(t *testing.T) {
		for _, st := range steps {
			if !interactive(st.state) {
				continue
			}
			d := newDriver(t, testConfig())
			st.reach(d)
			d.advance(DefaultIdleTimeout)
			d.want(MoreTime)
			d.advance(DefaultMoreTimeCountdown)
			if st.state == ReinsertCard {
				d.want(Welcome) // no card: straight back to welcome
				if r := d.record(); r.Outcome != OutcomeTimedOut || r.ErrorCode != errcat.ERR2007 {
					t.Fatalf("record = %+v", r)
				}
				continue
			}
			d.want(RemoveCard)
			if r := d.record(); r.Outcome != OutcomeTimedOut || r.StepReached != st.state {
				t.Fatalf("%s: record = %+v", st.name, r)
			}
		}
	})
	t.Run("card back in while asked", func(t *testing.T) {
		d := newDriver(t, testConfig())
		toReinsertCard(d)
		d.advance(DefaultIdleTimeout)
		d.want(MoreTime)
		d.remove() // already out: nothing happens
		d.want(MoreTime)
		d.insert()
		d.want(ReadingCard)
	})
}

func TestOperationTimeouts(t *testing.T) {
	for _, tc := range []struct {
		step  string
		reach func(*driver)
		want  ScreenID
		code  errcat.Code
	}{
		{"read", toReadingCard, CardUnreadable, errcat.ERR2001},
		{"prove", toProving, ServiceUnreachable, errcat.ERR2008},
		{"start session", toStartingSession, ServiceUnreachable, errcat.ERR2008},
		{"send code", toSendingCode, ServiceUnreachable, errcat.ERR2008},
		{"verify code", toVerifyingCode, ServiceUnreachable, errcat.ERR2008},
		{"face", toFaceVerification, ServiceUnreachable, errcat.ERR2008},
		{"change passcode", toChangingPasscode, ErrorScreen, errcat.ERR2011},
	} {
		t.Run(tc.step, func(t *testing.T) {
			d := newDriver(t, testConfig())
			tc.reach(d)
			seq := d.m.pend.seq
			timeout := DefaultOperationTimeout
			if tc.want == ErrorScreen {
				timeout = DefaultUnlockTimeout
			}
			d.advance(timeout - time.Second)
			d.want(d.m.State())
			if d.m.pend.seq != seq {
				t.Fatal("still waiting just before the timeout")
			}
			d.advance(time.Second)
			d.want(tc.want)
			if c := must[CancelOperation](d); c.Seq != seq {
				t.Fatal("the late call is cancelled")
			}
			if d.m.Screen().Error.Code != tc.code || d.record().ErrorCode != tc.code {
				t.Fatalf("code = %s", d.m.Screen().Error.Code)
			}
			hasEvent(t, d.record(), EventOperationTimedOut)
		})
	}
	t.Run("re-read", func(t *testing.T) {
		d := newDriver(t, testConfig())
		toRereadingCard(d)
		d.advance(DefaultOperationTimeout)
		d.want(ReinsertCard)
	})
}

func TestServiceErrorsAtEachCall(t *testing.T) {
	calls := []struct {
		name   string
		reach  func(*driver)
		answer func(d *driver, err error)
	}{
		{"prove", toProving, func(d *driver, err error) {
			d.send(CardProved{At: d.now, Seq: latest[ProveCard](d).Seq, Err: err})
		}},
		{"start session", toStartingSession, func(d *driver, err error) {
			d.send(SessionStarted{At: d.now, Seq: latest[StartSession](d).Seq, Err: err})
		}},
		{"send code", toSendingCode, func(d *driver, err error) {
			d.send(CodeSent{At: d.now, Seq: latest[SendCode](d).Seq, Err: err})
		}},
		{"verify code", toVerifyingCode, func(d *driver, err error) {
			d.send(CodeChecked{At: d.now, Seq: latest[VerifyCode](d).Seq, Err: err, SOPIN: Secret(testSOPIN)})
		}},
	}
	errs := []struct {
		name string
		err  error
		want ScreenID
		code errcat.Code
	}{
		{"unreachable", serviceErr(errcat.ERR2008), ServiceUnreachable, errcat.ERR2008},
		{"outage", serviceErr(errcat.ERR1010), ServiceUnreachable, errcat.ERR1010},
		{"session expired", serviceErr(errcat.ERR1006), ErrorScreen, errcat.ERR1006},
		{"untagged", errTest, ErrorScreen, errcat.ERR2009},
		{"card pulled", serviceErr(errcat.ERR2003), CardRemovedScreen, errcat.ERR2003},
	}
	for _, c := range calls {
		for _, e := range errs {
			t.Run(c.name+"/"+e.name, func(t *testing.T) {
				d := newDriver(t, testConfig())
				c.reach(d)
				live := d.m.sess.live
				c.answer(d, e.err)
				d.want(e.want)
				sc := d.m.Screen()
				if sc.Error == nil || sc.Error.Code != e.code || sc.Error.KioskID != "kiosk-7" ||
					sc.Error.TroubleshootingURL == "" || sc.LED != LEDError {
					t.Fatalf("screen = %+v", sc)
				}
				if sc.Title != errcat.MustLookup(e.code).Title || sc.Body[0] != errcat.MustLookup(e.code).Advice {
					t.Fatalf("words = %q %q", sc.Title, sc.Body)
				}
				r := d.record()
				if r.ErrorCode != e.code {
					t.Fatalf("record = %+v", r)
				}
				if live {
					if cs := must[CompleteSession](d); cs.Code != e.code {
						t.Fatalf("complete = %+v", cs)
					}
				}
				if e.want == ServiceUnreachable {
					b, ok := sc.Button(ButtonStartAgain)
					if !ok || !b.Enabled {
						t.Fatalf("try again = %+v", b)
					}
					d.press(ButtonStartAgain)
					d.want(ReadingCard)
					return
				}
				if e.want != CardRemovedScreen {
					d.removeAndWait()
				}
			})
		}
	}
}

func TestCodeLockout(t *testing.T) {
	d := newDriver(t, testConfig())
	toEnterCode(d)
	for left := 4; left >= 1; left-- {
		d.typ("111111")
		d.submit()
		d.send(CodeChecked{At: d.now, Seq: latest[VerifyCode](d).Seq, TriesLeft: left})
		d.want(EnterCode)
		sc := d.m.Screen()
		f, _ := sc.Field(FieldCode)
		if f.Length != 0 || !strings.Contains(f.Error, "not correct") || sc.TriesLeft != left {
			t.Fatalf("after a wrong code: %+v", sc)
		}
		if left == 1 && !strings.Contains(f.Error, "1 try left") {
			t.Fatalf("error = %q", f.Error)
		}
	}
	d.typ("111111")
	d.submit()
	d.send(CodeChecked{At: d.now, Seq: latest[VerifyCode](d).Seq, TriesLeft: 0})
	d.want(ErrorScreen)
	if d.m.Screen().Error.Code != errcat.ERR1007 {
		t.Fatal("lockout is ERR1007")
	}
	r := d.record()
	if r.Outcome != OutcomeError || r.ErrorCode != errcat.ERR1007 {
		t.Fatalf("record = %+v", r)
	}
	n := 0
	for _, e := range r.Events {
		if e.Kind == EventCodeRefused {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("%d code-refused events, want 5", n)
	}
	// the service may say so directly
	d = newDriver(t, testConfig())
	toVerifyingCode(d)
	d.send(CodeChecked{At: d.now, Seq: latest[VerifyCode](d).Seq, Err: serviceErr(errcat.ERR1007)})
	d.want(ErrorScreen)
	// an OK without a SOPIN is not an unlock
	d = newDriver(t, testConfig())
	toVerifyingCode(d)
	d.send(CodeChecked{At: d.now, Seq: latest[VerifyCode](d).Seq, OK: true})
	d.want(ErrorScreen)
	if d.m.Screen().Error.Code != errcat.ERR1009 {
		t.Fatal("no SOPIN is ERR1009")
	}
}

func TestResendLimits(t *testing.T) {
	d := newDriver(t, testConfig())
	toEnterCode(d)
	resend := func() Button { b, _ := d.m.Screen().Button(ButtonResend); return b }
	if b := resend(); b.Enabled || b.Label != "Resend code (in 30 s)" {
		t.Fatalf("resend = %+v", b)
	}
	d.press(ButtonResend) // too soon: ignored
	d.want(EnterCode)
	d.advance(30 * time.Second)
	if b := resend(); !b.Enabled || b.Label != "Resend code" {
		t.Fatalf("resend = %+v", b)
	}
	d.press(ButtonResend)
	sc := must[SendCode](d)
	if string(sc.Address) != testEmail {
		t.Fatal("resend goes to the same address")
	}
	d.send(CodeSent{At: d.now, Seq: sc.Seq, SendsLeft: 1, RetryAfter: 45 * time.Second})
	d.want(EnterCode)
	if !strings.Contains(strings.Join(d.m.Screen().Body, " "), "new security code") {
		t.Fatalf("body = %q", d.m.Screen().Body)
	}
	d.advance(44 * time.Second)
	if resend().Enabled {
		t.Fatal("the service's wait applies")
	}
	d.advance(time.Second)
	d.press(ButtonResend)
	// the service refuses: too soon
	d.send(CodeSent{At: d.now, Seq: latest[SendCode](d).Seq, Err: serviceErr(errcat.ERR1008), RetryAfter: 20 * time.Second})
	d.want(EnterCode)
	if !strings.Contains(strings.Join(d.m.Screen().Body, " "), errcat.MustLookup(errcat.ERR1008).Title) || resend().Enabled {
		t.Fatalf("screen = %+v", d.m.Screen())
	}
	d.advance(20 * time.Second)
	d.press(ButtonResend)
	d.send(CodeSent{At: d.now, Seq: latest[SendCode](d).Seq, SendsLeft: 0})
	d.want(EnterCode)
	if resend().Enabled || !strings.Contains(strings.Join(d.m.Screen().Body, " "), "No more codes") {
		t.Fatalf("screen = %+v", d.m.Screen())
	}
	d.advance(time.Hour)
	// the code has expired by now
	d.want(ErrorScreen)
	if d.m.Screen().Error.Code != errcat.ERR1006 {
		t.Fatal("expiry is ERR1006")
	}
	r := d.record()
	if n := len(filter(r.Events, EventCodeSent)); n != 3 {
		t.Fatalf("%d sends recorded", n)
	}
	hasEvent(t, r, EventSendRefused)

	// a limit reached with no wait: resend is off for good
	d = newDriver(t, testConfig())
	toEnterCode(d)
	d.advance(30 * time.Second)
	d.press(ButtonResend)
	d.send(CodeSent{At: d.now, Seq: latest[SendCode](d).Seq, Err: serviceErr(errcat.ERR1008)})
	d.advance(time.Hour)
	if d.m.State() == EnterCode && resend().Enabled {
		t.Fatal("resend still on")
	}
	// a refused first send goes back to the address
	d = newDriver(t, testConfig())
	toSendingCode(d)
	d.send(CodeSent{At: d.now, Seq: latest[SendCode](d).Seq, Err: serviceErr(errcat.ERR1008), RetryAfter: time.Minute})
	d.want(EnterAddress)
}

func filter(evs []StepEvent, k StepEventKind) []StepEvent {
	var out []StepEvent
	for _, e := range evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

func TestCodeTimeLeft(t *testing.T) {
	d := newDriver(t, testConfig())
	toStartingSession(d)
	d.send(SessionStarted{At: d.now, Seq: latest[StartSession](d).Seq, Eligible: true, Methods: allOffers,
		ExpiresAt: d.now.Add(10 * time.Minute)})
	d.press(ButtonEmail)
	d.typ(testEmail)
	d.press(ButtonContinue)
	codeSent(d)
	d.advance(50 * time.Second)
	d.typ("1")
	if sc := d.m.Screen(); sc.CodeTimeLeft != 9*time.Minute+10*time.Second ||
		!strings.Contains(sc.Body[1], "10 minutes") {
		t.Fatalf("time left = %v %q", sc.CodeTimeLeft, sc.Body)
	}
	for i := 0; i < 9; i++ {
		d.advance(50 * time.Second)
		d.typ("1")
		d.erase()
	}
	if sc := d.m.Screen(); !strings.Contains(sc.Body[1], "2 minutes") {
		t.Fatalf("body = %q", sc.Body)
	}
	d.advance(50 * time.Second)
	d.typ("1")
	if sc := d.m.Screen(); !strings.Contains(sc.Body[1], "less than a minute") {
		t.Fatalf("body = %q", sc.Body)
	}
	d.advance(50 * time.Second)
	d.want(ErrorScreen)
	if r := d.record(); r.ErrorCode != errcat.ERR1006 || r.StepReached != EnterCode {
		t.Fatalf("record = %+v", r)
	}
}

func TestAddressChecks(t *testing.T) {
	for _, tc := range []struct {
		method Method
		typed  string
		ok     bool
	}{
		{MethodEmail, "jane@nhs.net", true},
		{MethodEmail, "jane.nhs.net", false},
		{MethodEmail, "@nhs.net", false},
		{MethodEmail, "jane@", false},
		{MethodEmail, "jane@nhs", false},
		{MethodEmail, "jane@nhs.", false},
		{MethodEmail, "a@b@nhs.net", false},
		{MethodSMS, "07700 900123", true},
		{MethodSMS, "+447700900123", true},
		{MethodSMS, "0770090", false},
		{MethodSMS, "0770090012345678", false},
		{MethodSMS, "07700+900123", false},
	} {
		if got := checkAddress(tc.method, []byte(tc.typed)); (got == "") != tc.ok {
			t.Errorf("%s %q: %q", tc.method, tc.typed, got)
		}
	}
	d := newDriver(t, testConfig())
	toEnterAddress(d)
	d.typ("jane é@nhs") // space and non-ASCII are not typed
	if f, _ := d.m.Screen().Field(FieldAddress); f.Value != "jane@nhs" {
		t.Fatalf("value = %q", f.Value)
	}
	d.press(ButtonContinue)
	d.want(EnterAddress)
	f, _ := d.m.Screen().Field(FieldAddress)
	if !strings.Contains(f.Error, "right format") {
		t.Fatalf("field = %+v", f)
	}
	d.typ(".net")
	if f, _ := d.m.Screen().Field(FieldAddress); f.Error != "" {
		t.Fatal("typing clears the error")
	}
	d.press(ButtonBack)
	d.want(ChooseMethod)
	d.press(ButtonSMS)
	if f, _ := d.m.Screen().Field(FieldAddress); f.Length != 0 {
		t.Fatal("going back clears the address")
	}
	d.typ("0770abc0900123456789012345")
	if f, _ := d.m.Screen().Field(FieldAddress); f.Value != "07700900123456789012" {
		t.Fatalf("value = %q", f.Value)
	}
}

// Package uitest drives a real flow.Machine to every screen of the walk-through, so that layout tests,
// golden screenshots and benchmarks draw the very models the kiosk shows. For tests only: it must never
// be imported by a program. The values it types are made up.
package uitest

import (
	"fmt"
	"time"

	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/kiosk/flow/texts"
	"ssu-kiosk/remote/identity/errcat"
)

// T0 is the clock every sample starts at.
var T0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// Sample is one screen model with a file-friendly name.
type Sample struct {
	Name   string
	Screen flow.Screen
	// Missing lists the texts the walk-through asked the catalogue for that it lacks in the language
	// (tests require none).
	Missing []string
}

// Config is the walk-through configuration the samples use.
func Config() flow.Config {
	return flow.Config{KioskID: "kiosk-0042", TroubleshootingURL: "https://help.example.nhs.uk/smartcard-kiosk",
		Methods: []flow.Method{flow.MethodEmail, flow.MethodSMS, flow.MethodFace}}
}

type walker struct {
	m    *flow.Machine
	now  time.Time
	last []flow.Effect
}

func startWalker(cfg flow.Config) *walker {
	m, err := flow.New(cfg, T0)
	if err != nil {
		panic(fmt.Sprintf("uitest: %v", err))
	}
	return &walker{m: m, now: T0}
}

func (w *walker) send(e flow.Event) *walker {
	w.last = w.m.Handle(e)
	return w
}

func (w *walker) insert() *walker { return w.send(flow.CardInserted{At: w.now}) }
func (w *walker) remove() *walker { return w.send(flow.CardRemoved{At: w.now}) }
func (w *walker) press(b flow.ButtonID) *walker {
	return w.send(flow.Pressed{At: w.now, Button: b})
}
func (w *walker) typ(s string) *walker {
	for _, c := range s {
		w.send(flow.Typed{At: w.now, Char: c})
	}
	return w
}
func (w *walker) advance(d time.Duration) *walker {
	w.now = w.now.Add(d)
	return w.send(flow.Tick{At: w.now})
}

// seq finds the sequence number of the last effects' card or service call.
func (w *walker) seq() uint64 {
	for _, e := range w.last {
		switch e := e.(type) {
		case flow.ReadCard:
			return e.Seq
		case flow.ProveCard:
			return e.Seq
		case flow.StartSession:
			return e.Seq
		case flow.SendCode:
			e.Address.Wipe()
			return e.Seq
		case flow.VerifyCode:
			e.Code.Wipe()
			return e.Seq
		case flow.VerifyFace:
			return e.Seq
		case flow.UnblockCard:
			e.SOPIN.Wipe()
			e.NewPIN.Wipe()
			return e.Seq
		case flow.ChangePIN:
			e.Current.Wipe()
			e.New.Wipe()
			return e.Seq
		}
	}
	panic(fmt.Sprintf("uitest: no card or service call on screen %s", w.m.State()))
}

func (w *walker) read(locked bool, notAfter time.Time, tries int) *walker {
	return w.send(flow.CardRead{At: w.now, Seq: w.seq(), Status: flow.CardStatus{
		CertificatesNotAfter: notAfter, PINBlocked: locked, PINTriesLeft: tries, Fingerprint: "card-1"}})
}

func (w *walker) readFails(c errcat.Code) *walker {
	return w.send(flow.CardRead{At: w.now, Seq: w.seq(), Err: &errcat.Error{Code: c}})
}

func (w *walker) eligible() *walker {
	w.send(flow.CardProved{At: w.now, Seq: w.seq(), Proof: flow.NewProof("proof")})
	return w.send(flow.SessionStarted{At: w.now, Seq: w.seq(), Eligible: true, Methods: []flow.MethodOffer{
		{Method: flow.MethodEmail, Available: true}, {Method: flow.MethodSMS, Available: true},
		{Method: flow.MethodFace, Available: false, Note: "Face verification is currently unavailable."}}})
}

func (w *walker) screen(name string, out *[]Sample) *walker {
	*out = append(*out, Sample{Name: name, Screen: w.m.Screen(), Missing: w.m.MissingTexts()})
	return w
}

var future = T0.AddDate(1, 0, 0)

// Screens walks the machine through every screen and returns one sample per screen (a few screens twice,
// in a second state worth seeing). Names are the screen ids, with a suffix for the variants.
func Screens() []Sample { return ScreensIn(texts.English) }

// ScreensIn is Screens with the language chosen on the first screen.
func ScreensIn(lang texts.Lang) []Sample {
	var out []Sample
	newWalker := func(cfg flow.Config) *walker {
		w := startWalker(cfg)
		if lang != texts.English {
			w.send(flow.LanguageChosen{At: w.now, Lang: lang})
		}
		return w
	}
	cfg := Config()

	off := cfg
	off.Maintenance = true
	off.MaintenanceMessage = "This kiosk is being updated. Please use the kiosk by the main reception."
	newWalker(off).screen(string(flow.OutOfService), &out)

	w := newWalker(cfg)
	w.screen(string(flow.Welcome), &out)
	w.insert().screen(string(flow.ReadingCard), &out)
	w.read(true, future, 0).screen(string(flow.StartNow), &out)
	w.press(flow.ButtonStart).screen(string(flow.CheckingEligibility), &out)
	w.eligible().screen(string(flow.ChooseMethod), &out)
	w.press(flow.ButtonEmail).typ("sam.example@nhs").screen(string(flow.EnterAddress), &out)
	w.typ(".net").press(flow.ButtonContinue).screen(string(flow.SendingCode), &out)
	w.send(flow.CodeSent{At: w.now, Seq: w.seq(), SendsLeft: 2, RetryAfter: 30 * time.Second})
	w.advance(10*time.Second).typ("482").screen(string(flow.EnterCode), &out)
	w.typ("913").press(flow.ButtonContinue).screen(string(flow.VerifyingCode), &out)
	w.send(flow.CodeChecked{At: w.now, Seq: w.seq(), OK: true, SOPIN: flow.Secret("12345678")})
	w.typ("6058").screen(string(flow.ChoosePasscode), &out)
	w.typ("17").send(flow.Submitted{At: w.now}).typ("605817").press(flow.ButtonConfirm).screen(string(flow.Unlocking), &out)
	w.send(flow.CardUnblocked{At: w.now, Seq: w.seq(), Result: flow.WriteDone}).screen(string(flow.Unlocked), &out)

	// The same walk to the enter-code screen with a wrong code, and the mobile number keypad.
	w = newWalker(cfg).insert().read(true, future, 0).press(flow.ButtonStart).eligible()
	w.press(flow.ButtonSMS).typ("07700 900").screen(string(flow.EnterAddress)+"-mobile", &out)
	w.typ("123").press(flow.ButtonContinue).send(flow.CodeSent{At: w.now, Seq: w.seq(), SendsLeft: 2, RetryAfter: 30 * time.Second})
	w.typ("111111").press(flow.ButtonContinue)
	w.send(flow.CodeChecked{At: w.now, Seq: w.seq(), TriesLeft: 4}).screen(string(flow.EnterCode)+"-wrong", &out)
	w.advance(flow.DefaultIdleTimeout).screen(string(flow.MoreTime), &out)
	w.advance(flow.DefaultMoreTimeCountdown).screen(string(flow.RemoveCard), &out)

	// Passcode refused by the policy.
	w = newWalker(cfg).insert().read(true, future, 0).press(flow.ButtonStart).eligible().press(flow.ButtonEmail).
		typ("sam.example@nhs.net").press(flow.ButtonContinue)
	w.send(flow.CodeSent{At: w.now, Seq: w.seq(), SendsLeft: 2})
	w.typ("482913").press(flow.ButtonContinue)
	w.send(flow.CodeChecked{At: w.now, Seq: w.seq(), OK: true, SOPIN: flow.Secret("12345678")})
	w.typ("123456").send(flow.Submitted{At: w.now}).typ("123456").press(flow.ButtonConfirm).
		screen(string(flow.ChoosePasscode)+"-refused", &out)
	w.typ("592748").send(flow.Submitted{At: w.now}).typ("592748").press(flow.ButtonConfirm)
	w.send(flow.CardUnblocked{At: w.now, Seq: w.seq(), Result: flow.WriteUnknown}).screen(string(flow.ReinsertCard), &out)

	// Face verification (offered by this configuration and the service).
	w = newWalker(cfg).insert().read(true, future, 0).press(flow.ButtonStart)
	w.send(flow.CardProved{At: w.now, Seq: w.seq(), Proof: flow.NewProof("proof")})
	w.send(flow.SessionStarted{At: w.now, Seq: w.seq(), Eligible: true, Methods: []flow.MethodOffer{
		{Method: flow.MethodEmail, Available: true}, {Method: flow.MethodFace, Available: true}}})
	w.press(flow.ButtonFace).screen(string(flow.FaceVerification), &out)

	// Change a known passcode, with one try left.
	w = newWalker(cfg).insert().read(false, future, 3).screen(string(flow.StartNow)+"-not-locked", &out)
	w.press(flow.ButtonChangePasscode).typ("2580").screen(string(flow.ChangePasscode), &out)
	w.typ("14").send(flow.Submitted{At: w.now}).typ("605817").send(flow.Submitted{At: w.now}).typ("605817").press(flow.ButtonConfirm)
	w.send(flow.PINChanged{At: w.now, Seq: w.seq(), WrongCurrent: true, TriesLeft: 1}).
		screen(string(flow.ChangePasscode)+"-last-try", &out)
	w.typ("258014").send(flow.Submitted{At: w.now}).typ("605817").send(flow.Submitted{At: w.now}).typ("605817").
		press(flow.ButtonConfirm).screen(string(flow.ChangingPasscode), &out)
	w.send(flow.PINChanged{At: w.now, Seq: w.seq(), Result: flow.WriteDone}).screen(string(flow.PasscodeChanged), &out)

	// Closing screens for problems.
	newWalker(cfg).insert().read(false, T0.AddDate(0, -1, 0), 3).screen(string(flow.CardExpired), &out)
	newWalker(cfg).insert().readFails(errcat.ERR2001).screen(string(flow.CardUnreadable), &out)
	newWalker(cfg).insert().readFails(errcat.ERR2002).screen(string(flow.CardNotSupported), &out)
	w = newWalker(cfg).insert().read(true, future, 0).press(flow.ButtonStart)
	w.send(flow.CardProved{At: w.now, Seq: w.seq(), Proof: flow.NewProof("proof")})
	w.send(flow.SessionStarted{At: w.now, Seq: w.seq(), Reason: flow.NoEmail}).screen(string(flow.NotEligible), &out)
	newWalker(cfg).insert().read(true, future, 0).remove().screen(string(flow.CardRemovedScreen), &out)
	w = newWalker(cfg).insert().read(true, future, 0).press(flow.ButtonStart)
	w.send(flow.CardProved{At: w.now, Seq: w.seq(), Err: &errcat.Error{Code: errcat.ERR2008}}).
		screen(string(flow.ServiceUnreachable), &out)
	w = newWalker(cfg).insert().read(true, future, 0).press(flow.ButtonStart).eligible().press(flow.ButtonEmail).
		typ("sam.example@nhs.net").press(flow.ButtonContinue)
	w.send(flow.CodeSent{At: w.now, Seq: w.seq(), SendsLeft: 2})
	w.typ("482913").press(flow.ButtonContinue)
	w.send(flow.CodeChecked{At: w.now, Seq: w.seq(), Err: &errcat.Error{Code: errcat.ERR1009}}).
		screen(string(flow.ErrorScreen), &out)
	return out
}

package ui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/kiosk/flow/texts"
	"ssu-kiosk/kiosk/ui/speech"
	"ssu-kiosk/kiosk/ui/speech/speechtest"
	"ssu-kiosk/kiosk/ui/uitest"
)

// rig is a Game on a real walk-through with speech on through a headset, driven by keyboard input only;
// the card and service answers are handed in as the runner would.
type rig struct {
	t       *testing.T
	g       *Game
	m       *flow.Machine
	eng     *speechtest.Engine
	sink    *speechtest.Sink
	sp      *speech.Speaker
	now     time.Time
	mu      sync.Mutex
	effects []flow.Effect
}

func newSpeechRig(t *testing.T) *rig {
	m, err := flow.New(uitest.Config(), uitest.T0)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, m: m, eng: &speechtest.Engine{}, sink: speechtest.NewSink(true), now: uitest.T0}
	r.sp = speech.NewSpeaker(r.eng, r.sink, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go r.sp.Run(ctx)
	r.g, err = New(Options{Walkthrough: m, Execute: func(e []flow.Effect) { r.mu.Lock(); r.effects = append(r.effects, e...); r.mu.Unlock() },
		Fonts: testFonts(t), Speech: r.sp, Now: func() time.Time { return r.now }})
	if err != nil {
		t.Fatal(err)
	}
	r.g.w, r.g.h = 800, 480
	return r
}

func (r *rig) keys(ks ...ebiten.Key) { r.g.frame(Input{Keys: ks}, r.now) }
func (r *rig) typ(s string)          { r.g.frame(Input{Chars: []rune(s)}, r.now) }
func (r *rig) answer(ev flow.Event)  { r.g.handle(ev); r.g.frame(Input{}, r.now) }

// seq is the sequence number of the last card or service call.
func (r *rig) seq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.effects) - 1; i >= 0; i-- {
		switch e := r.effects[i].(type) {
		case flow.ReadCard:
			return e.Seq
		case flow.ProveCard:
			return e.Seq
		case flow.StartSession:
			return e.Seq
		case flow.SendCode:
			return e.Seq
		case flow.VerifyCode:
			return e.Seq
		case flow.UnblockCard:
			return e.Seq
		}
	}
	r.t.Fatal("no call")
	return 0
}

// heard waits until speech has said something holding want, and returns it.
func (r *rig) heard(want string) string {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		said := r.eng.Said()
		for i := len(said) - 1; i >= 0; i-- {
			if strings.Contains(said[i].Text, want) {
				return said[i].Text
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.t.Fatalf("speech never said %q; said %q", want, r.eng.Said())
	return ""
}

// A keyboard-only walk-through with speech on, in English and in Welsh: each screen is spoken in the
// language, in the catalogue's words, samples are played, no digit of the code or passcode is spoken,
// and pulling the headset stops speech.
func TestKeyboardWalkThroughWithSpeech(t *testing.T) {
	for _, lang := range texts.Langs() {
		t.Run(string(lang), func(t *testing.T) {
			r := newSpeechRig(t)
			p := texts.NewPrinter(lang)
			r.g.frame(Input{}, r.now)
			if lang == texts.Welsh {
				r.keys(languageKey)
			}
			r.sp.Headset(true)
			r.heard(p.Sprintf("Speech is on. Hold F12 for 2 seconds to turn it off. F11 repeats, F9 and F10 change the volume, F6 changes the language."))
			r.heard(p.Sprintf("Insert your smartcard"))
			r.answer(flow.CardInserted{At: r.now})
			r.heard(p.Sprintf("Reading your smartcard"))
			r.answer(flow.CardRead{At: r.now, Seq: r.seq(), Status: flow.CardStatus{PINBlocked: true,
				CertificatesNotAfter: uitest.T0.AddDate(1, 0, 0), Fingerprint: "card-1"}})
			r.heard(p.Sprintf("Unlock your smartcard"))
			r.keys(ebiten.KeyEnter) // Start now
			r.answer(flow.CardProved{At: r.now, Seq: r.seq(), Proof: flow.NewProof("proof")})
			r.answer(flow.SessionStarted{At: r.now, Seq: r.seq(), Eligible: true, Methods: []flow.MethodOffer{
				{Method: flow.MethodEmail, Available: true}, {Method: flow.MethodSMS, Available: true}}})
			r.heard(p.Sprintf("How do you want to confirm it is you?"))
			r.keys(ebiten.KeyTab)
			r.heard(p.Sprintf("Press Enter to choose %s. Tab moves to the next item, Escape cancels.", p.Sprintf("Email security code")))
			r.keys(ebiten.KeyEnter)
			r.heard(p.Sprintf("Enter your email address"))
			r.typ("sam@nhs.net")
			r.keys(ebiten.KeyEnter)
			r.answer(flow.CodeSent{At: r.now, Seq: r.seq(), SendsLeft: 2, RetryAfter: 30 * time.Second})
			r.heard(p.Sprintf("Enter the security code"))
			for i, d := range "482913" {
				r.typ(string(d))
				r.heard(p.Sprintf("%s, %d of %d entered.", p.Sprintf("Security code"), i+1, 6))
			}
			r.keys(ebiten.KeyEnter)
			r.heard(p.Sprintf("Checking your security code"))
			r.answer(flow.CodeChecked{At: r.now, Seq: r.seq(), OK: true, SOPIN: flow.Secret("12345678")})
			r.heard(p.Sprintf("Choose a new passcode"))
			r.typ("605817")
			r.keys(ebiten.KeyEnter)
			r.typ("605817")
			r.heard(p.Sprintf("%s, %d of %d entered.", p.Sprintf("Enter the new passcode again"), 6, 8))
			r.keys(ebiten.KeyEnter)
			r.heard(p.Sprintf("Unlocking: keep your card in the reader"))
			r.answer(flow.CardUnblocked{At: r.now, Seq: r.seq(), Result: flow.WriteDone})
			r.heard(p.Sprintf("Your smartcard is unlocked"))

			said := r.eng.Said()
			for _, s := range said {
				if s.Lang != lang {
					t.Errorf("spoken in %s: %q", s.Lang, s.Text)
				}
				for _, sec := range []string{"482", "913", "6058", "5817", "12345678"} {
					if strings.Contains(s.Text, sec) {
						t.Errorf("spoke digits %s: %q", sec, s.Text)
					}
				}
			}
			played, _, samples := r.sink.Counts()
			if played == 0 || samples == 0 {
				t.Fatalf("no samples played")
			}
			r.sp.Headset(false)
			deadline := time.Now().Add(5 * time.Second)
			for {
				p2, cut, _ := r.sink.Counts()
				if p2 == cut {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after pulling the headset %d plays, %d cut: still speaking", p2, cut)
				}
				time.Sleep(5 * time.Millisecond)
			}
			before := len(r.eng.Said())
			r.keys(RepeatKey)
			time.Sleep(50 * time.Millisecond)
			if len(r.eng.Said()) != before {
				t.Fatal("repeat spoke with the headset pulled")
			}
			t.Logf("%s: %d utterances, %d plays, %d samples", lang, len(said), played, samples)
		})
	}
}

// The time limit is warned on screen, by a tone and in speech, and Enter gives more time.
func TestMoreTimeWarnedBySoundAndSpeech(t *testing.T) {
	r := newSpeechRig(t)
	r.sink.Hold = false
	r.g.frame(Input{}, r.now)
	r.sp.Headset(true)
	r.answer(flow.CardInserted{At: r.now})
	r.answer(flow.CardRead{At: r.now, Seq: r.seq(), Status: flow.CardStatus{PINBlocked: true,
		CertificatesNotAfter: uitest.T0.AddDate(1, 0, 0), Fingerprint: "card-1"}})
	r.heard("Unlock your smartcard")
	for len(r.sink.Plays) > 0 {
		<-r.sink.Plays
	}
	r.now = r.now.Add(flow.DefaultIdleTimeout)
	r.answer(flow.Tick{At: r.now})
	if r.m.State() != flow.MoreTime {
		t.Fatalf("screen %s, want more-time", r.m.State())
	}
	tone := false
	deadline := time.After(5 * time.Second)
	for !tone {
		select {
		case n := <-r.sink.Plays:
			tone = n == 22050/4
		case <-deadline:
			t.Fatal("no warning tone")
		}
	}
	r.heard("For your security, this session will end in 30 seconds and everything you typed will be cleared. Press Enter for more time.")
	r.keys(ebiten.KeyEnter)
	if r.m.State() != flow.StartNow {
		t.Fatalf("Enter on the warning: screen %s, want start-now again", r.m.State())
	}
}

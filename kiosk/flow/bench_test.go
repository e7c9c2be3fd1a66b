package flow

import (
	"testing"
	"time"
)

func TestBufferNeverGrows(t *testing.T) {
	b := newBuffer(3)
	backing := b.b[:cap(b.b)]
	for _, c := range []byte("12345") {
		b.add(c)
	}
	if string(b.bytes()) != "123" || &b.b[:cap(b.b)][0] != &backing[0] {
		t.Fatalf("buffer = %q", b.bytes())
	}
	b.erase()
	if backing[2] != 0 || b.len() != 2 {
		t.Fatal("erase leaves the byte behind")
	}
	b.wipe()
	assertWiped(t, [][]byte{backing})
	b.erase() // empty: nothing to do
	if copySecret(nil) != nil {
		t.Fatal("copy of nothing")
	}
}

// unlockSession runs one whole email unlock through m, as the runner would, and returns the clock.
func unlockSession(b *testing.B, m *Machine, now time.Time) time.Time {
	var effs []Effect
	step := func(e Event) {
		effs = m.Handle(e)
	}
	seqOf := func() uint64 {
		for _, e := range effs {
			switch e := e.(type) {
			case ReadCard:
				return e.Seq
			case ProveCard:
				return e.Seq
			case StartSession:
				return e.Seq
			case SendCode:
				e.Address.Wipe()
				return e.Seq
			case VerifyCode:
				e.Code.Wipe()
				return e.Seq
			case UnblockCard:
				e.SOPIN.Wipe()
				e.NewPIN.Wipe()
				return e.Seq
			}
		}
		b.Fatalf("no call in %v (screen %s)", effs, m.State())
		return 0
	}
	typ := func(s string) {
		for _, c := range s {
			step(Typed{At: now, Char: c})
		}
	}
	step(CardInserted{At: now})
	step(CardRead{At: now, Seq: seqOf(), Status: lockedCard})
	step(Pressed{At: now, Button: ButtonStart})
	step(CardProved{At: now, Seq: seqOf()})
	step(SessionStarted{At: now, Seq: seqOf(), Eligible: true, Methods: allOffers})
	step(Pressed{At: now, Button: ButtonEmail})
	typ(testEmail)
	step(Submitted{At: now})
	step(CodeSent{At: now, Seq: seqOf(), SendsLeft: 2})
	typ(testCode)
	step(Submitted{At: now})
	step(CodeChecked{At: now, Seq: seqOf(), OK: true, SOPIN: Secret(testSOPIN)})
	typ(testPIN)
	step(Submitted{At: now})
	typ(testPIN)
	step(Submitted{At: now})
	step(CardUnblocked{At: now, Seq: seqOf(), Result: WriteDone})
	step(CardRemoved{At: now})
	if m.State() != Welcome {
		b.Fatalf("ended on %s", m.State())
	}
	return now.Add(time.Minute)
}

// BenchmarkUnlockSession is one whole email unlock (about 50 events) through the Machine.
func BenchmarkUnlockSession(b *testing.B) {
	m, err := New(testConfig(), t0)
	if err != nil {
		b.Fatal(err)
	}
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = unlockSession(b, m, now)
	}
}

// BenchmarkTick is the cost of the once-a-second clock event on the enter-code screen.
func BenchmarkTick(b *testing.B) {
	d := newDriver(b, testConfig())
	toEnterCode(d)
	now := d.now
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		d.m.lastActivity = now
		d.m.Handle(Tick{At: now})
	}
}

// BenchmarkScreen is the cost of building the enter-code screen model (the UI asks once per change).
func BenchmarkScreen(b *testing.B) {
	d := newDriver(b, testConfig())
	toEnterCode(d)
	b.ReportAllocs()
	for b.Loop() {
		_ = d.m.Screen()
	}
}

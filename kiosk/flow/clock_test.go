package flow

import "testing"

// An idle kiosk needs no clock; a session, or a call with a deadline, does, until the kiosk is idle again.
func TestNeedsClockOnlyWhileSomethingCountsDown(t *testing.T) {
	d := newDriver(t, testConfig())
	if d.m.NeedsClock() {
		t.Fatal("welcome screen: the clock is needed")
	}
	toReadingCard(d)
	if !d.m.NeedsClock() {
		t.Fatal("reading the card: the clock is not needed, so its deadline would never pass")
	}
	toMoreTime(d)
	d.advance(d.m.cfg.MoreTimeCountdown) // the session times out: take the card out
	d.remove()
	d.want(Welcome)
	if d.m.NeedsClock() {
		t.Fatal("back on the welcome screen: the clock is still needed")
	}
}

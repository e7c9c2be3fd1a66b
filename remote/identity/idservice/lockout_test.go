package idservice_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/errcat"
	"ssu-kiosk/remote/identity/idservice"
	"ssu-kiosk/remote/identity/idtest"
)

// guess enters n wrong codes in a session and returns the last error.
func (h *harness) guess(s identity.Session, n int) error {
	h.t.Helper()
	var err error
	for range n {
		_, err = h.client.VerifyCode(context.Background(), s.ID, identity.Secret("000000"))
		if err == nil {
			h.t.Fatal("a wrong code was accepted")
		}
	}
	return err
}

// TestWrongCodesAddUpAcrossSessions: wrong codes count per card and per holder over the window; at the limit
// the card and its holder are locked out (ERR1016, audited) for new sessions and for sessions already open,
// until an RA clears it. Wrong codes older than the window do not count.
func TestWrongCodesAddUpAcrossSessions(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(*testing.T) string) {
		h := newHarness(t, dsn(t))
		ctx := context.Background()
		// Sam's second card: the holder's count covers both.
		const samSecond = "00000000000000000000000000000006"
		sealer, _ := idservice.NewSealer(testKey())
		ra := &idservice.RA{Store: h.store, Sealer: sealer, Actor: "ra-test", Now: h.clock.Now}
		if _, err := ra.Import(ctx, strings.NewReader("uuid,name,email,mobile,card_serial,sopin\n"+
			samUUID+",Sam Example,"+samEmail+","+samMobile+","+samSecond+","+testSOPIN+"\n")); err != nil {
			t.Fatal(err)
		}
		h.cards[samSecond] = h.cardCA.ValidCard(t, samSecond, samUUID)

		// 5 wrong (session ended), then 4 more a day later: the first five are out of the window.
		wantCode(t, h.guess(h.start(h.client, samSerial), 5), errcat.ERR1007)
		h.clock.Advance(24*time.Hour + time.Minute)
		wantCode(t, h.guess(h.start(h.client, samSerial), 4), errcat.ERR1011)
		// A second session opened now, before the lockout, with the other card of the same holder.
		spare := h.start(h.client, samSecond)
		// 5 + 1 with the second card: the holder reaches 10 within the window.
		wantCode(t, h.guess(h.start(h.client, samSecond), 5), errcat.ERR1007)
		last := h.start(h.client, samSecond)
		wantCode(t, h.guess(last, 1), errcat.ERR1016)

		// New sessions for either card of the holder are refused with the RA code.
		for _, serial := range []string{samSerial, samSecond} {
			ch, err := h.client.Challenge(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.client.StartSession(ctx, h.cards[serial].StartRequest(t, ch.Nonce))
			wantCode(t, err, errcat.ERR1016)
		}
		// The session opened before the lockout cannot go on guessing, nor send a code.
		_, err := h.client.VerifyCode(ctx, spare.ID, identity.Secret("000000"))
		wantCode(t, err, errcat.ERR1016)
		_, err = h.client.SendCode(ctx, spare.ID, sendEmail(samEmail))
		wantCode(t, err, errcat.ERR1016)
		// Another holder is not affected.
		if s := h.start(h.client, joSerial); s.Code == errcat.ERR1016 {
			t.Fatal("another holder was locked out")
		}
		// Time alone does not lift it.
		h.clock.Advance(48 * time.Hour)
		ch, _ := h.client.Challenge(ctx)
		_, err = h.client.StartSession(ctx, h.cards[samSerial].StartRequest(t, ch.Nonce))
		wantCode(t, err, errcat.ERR1016)

		log, err := h.store.AuditLog(ctx, samUUID, 200)
		if err != nil {
			t.Fatal(err)
		}
		raised := 0
		for _, e := range log {
			if e.Action == "lockout" && e.Outcome == "locked-out" {
				raised++
			}
		}
		if raised != 1 {
			t.Errorf("lockout audit entries: %d, want 1", raised)
		}

		// The RA clears it by card serial: the card and its holder start again with a fresh count.
		if n, err := ra.ClearLockout(ctx, samSerial); err != nil || n != 1 {
			t.Fatalf("clear lockout: %d %v", n, err)
		}
		s := h.start(h.client, samSecond)
		if !s.Eligible {
			t.Fatalf("after clearing: %+v", s)
		}
		wantCode(t, h.guess(s, 1), errcat.ERR1011)
		if n, err := ra.ClearLockout(ctx, "not a serial!"); err == nil || n != 0 {
			t.Error("a malformed name was accepted")
		}
	})
}

// TestBogusStartsDoNotCountAgainstTheCard: starts whose card proof fails (anyone can name a serial) must not
// use up the card's sessions: before the fix, a few bogus starts locked the real card out for an hour.
func TestBogusStartsDoNotCountAgainstTheCard(t *testing.T) {
	h := newHarness(t, sqliteDSN(t), func(c *idservice.Config) { c.CardSessionsPerHour = 3 })
	ctx := context.Background()
	rogue := idtest.NewCA(t, "Rogue Card CA").ValidCard(t, samSerial, samUUID)
	for range 5 {
		ch, err := h.client.Challenge(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s, err := h.client.StartSession(ctx, rogue.StartRequest(t, ch.Nonce))
		if err != nil {
			t.Fatalf("bogus start: %v", err)
		}
		if s.Eligible || s.Code != errcat.ERR1005 {
			t.Fatalf("bogus start: %+v", s)
		}
	}
	for range 3 {
		if s := h.start(h.client, samSerial); !s.Eligible {
			t.Fatalf("the real card was refused after bogus starts: %+v", s)
		}
	}
	ch, _ := h.client.Challenge(ctx)
	_, err := h.client.StartSession(ctx, h.cards[samSerial].StartRequest(t, ch.Nonce))
	wantCode(t, err, errcat.ERR1013)
	// Bogus wrong-code guesses cannot happen at all: a refused session takes no code.
	ch, _ = h.client.Challenge(ctx)
	bogus, err := h.client.StartSession(ctx, rogue.StartRequest(t, ch.Nonce))
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.client.VerifyCode(ctx, bogus.ID, identity.Secret("000000"))
	wantCode(t, err, errcat.ERR1005)
}

// TestConcurrentGuessesStayWithinTheLimit: wrong codes sent at once, from many sessions of one card, are
// each counted before they are compared, so no more than the limit are ever compared.
func TestConcurrentGuessesStayWithinTheLimit(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(*testing.T) string) {
		h := newHarness(t, dsn(t))
		ctx := context.Background()
		var sessions []identity.Session
		for range 6 {
			sessions = append(sessions, h.start(h.client, samSerial))
		}
		type answer struct{ code errcat.Code }
		answers := make(chan answer, 30)
		var wg sync.WaitGroup
		for _, s := range sessions {
			for range 5 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := h.client.VerifyCode(ctx, s.ID, identity.Secret("000000"))
					c, _ := errcat.CodeOf(err)
					answers <- answer{c}
				}()
			}
		}
		wg.Wait()
		close(answers)
		compared, locked := 0, 0
		for a := range answers {
			switch a.code {
			case errcat.ERR1011, errcat.ERR1007:
				compared++
			case errcat.ERR1016:
				locked++
			default:
				t.Errorf("unexpected answer %s", a.code)
			}
		}
		if compared > idservice.DefaultWrongCodeLimit-1 || locked == 0 {
			t.Errorf("%d wrong codes compared and answered as wrong, %d refused as locked out (limit %d)", compared, locked, idservice.DefaultWrongCodeLimit)
		}
	})
}

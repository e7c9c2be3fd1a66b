// Package enroltest checks enrol.Store implementations and provides what their tests need (a
// private PostgreSQL schema). It is for tests only and must never be imported by a program.
package enroltest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"ssu-kiosk/provisioning/enrol"
	"ssu-kiosk/remote/sqldb/sqldbtest"
)

// PostgresSchema makes a schema of its own in the local PostgreSQL (dropped at cleanup) and returns
// a URL that uses it. It fails the test, naming the Debian package, when PostgreSQL is not there.
func PostgresSchema(t testing.TB) string { return sqldbtest.PostgresSchema(t, "enrol_test") }

// TestStore checks an enrol.Store implementation: tokens redeemed once (also under concurrency),
// expiry, kiosks, certificates and revocations.
func TestStore(t *testing.T, s enrol.Store) {
	t.Helper()
	ctx := context.Background()
	now := time.UnixMilli(time.Now().UnixMilli())
	tok, _ := enrol.NewAdminToken()
	d := enrol.DigestOf(tok)
	if err := s.AddToken(ctx, enrol.Token{Digest: d, Site: "S", Ward: "W", Created: now, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddToken(ctx, enrol.Token{Digest: d, Site: "S", Ward: "W", Created: now, Expires: now.Add(time.Hour)}); !errors.Is(err, enrol.ErrAlreadyExists) {
		t.Errorf("duplicate token: %v", err)
	}
	if _, err := s.RedeemToken(ctx, enrol.DigestOf([]byte("nope")), "kiosk-a", now); !errors.Is(err, enrol.ErrTokenUnknown) {
		t.Errorf("unknown: %v", err)
	}
	if _, err := s.RedeemToken(ctx, d, "kiosk-a", now.Add(time.Hour)); !errors.Is(err, enrol.ErrTokenExpired) {
		t.Errorf("at expiry: %v", err)
	}
	// Of many concurrent redemptions exactly one wins; the others learn it was used.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, used := 0, 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk, err := s.RedeemToken(ctx, d, "kiosk-a", now.Add(time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
				if tk.Site != "S" || tk.Ward != "W" || tk.KioskID != "kiosk-a" {
					t.Errorf("redeemed %+v", tk)
				}
			case errors.Is(err, enrol.ErrTokenUsed):
				used++
			default:
				t.Errorf("redeem: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || used != 7 {
		t.Errorf("wins %d, used %d; want 1 and 7", wins, used)
	}
	// Kiosks, certificates and revocation.
	k := enrol.Kiosk{ID: "kiosk-a", Site: "S", Ward: "W", Enrolled: now}
	if err := s.AddKiosk(ctx, k, enrol.Certificate{Serial: "0a", KioskID: "kiosk-a", Issued: now, NotAfter: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddKiosk(ctx, k, enrol.Certificate{Serial: "0b", KioskID: "kiosk-a", Issued: now, NotAfter: now.Add(time.Hour)}); !errors.Is(err, enrol.ErrAlreadyExists) {
		t.Errorf("duplicate kiosk: %v", err)
	}
	if err := s.AddCertificate(ctx, enrol.Certificate{Serial: "0c", KioskID: "kiosk-a", Issued: now, NotAfter: now.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddCertificate(ctx, enrol.Certificate{Serial: "0d", KioskID: "kiosk-zz", Issued: now, NotAfter: now}); !errors.Is(err, enrol.ErrKioskUnknown) {
		t.Errorf("certificate of unknown kiosk: %v", err)
	}
	if err := s.AddKiosk(ctx, enrol.Kiosk{ID: "kiosk-b", Enrolled: now}, enrol.Certificate{Serial: "0e", KioskID: "kiosk-b", Issued: now, NotAfter: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Kiosk(ctx, "kiosk-a")
	if err != nil || got.Site != "S" || !got.Enrolled.Equal(now) || !got.Revoked.IsZero() {
		t.Errorf("kiosk = %+v, %v", got, err)
	}
	if _, err := s.Kiosk(ctx, "kiosk-zz"); !errors.Is(err, enrol.ErrKioskUnknown) {
		t.Errorf("unknown kiosk: %v", err)
	}
	if revs, _ := s.Revocations(ctx, now); len(revs) != 0 {
		t.Errorf("revocations before any: %v", revs)
	}
	if err := s.RevokeKiosk(ctx, "kiosk-a", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKiosk(ctx, "kiosk-a", now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKiosk(ctx, "kiosk-zz", now); !errors.Is(err, enrol.ErrKioskUnknown) {
		t.Errorf("revoke unknown: %v", err)
	}
	revs, err := s.Revocations(ctx, now)
	if err != nil || len(revs) != 2 || revs[0].Serial != "0a" || revs[1].Serial != "0c" || !revs[0].Revoked.Equal(now.Add(time.Minute)) {
		t.Errorf("revocations = %+v, %v", revs, err)
	}
	// Expired certificates leave the CRL.
	if revs, _ := s.Revocations(ctx, now.Add(90*time.Minute)); len(revs) != 1 || revs[0].Serial != "0c" {
		t.Errorf("revocations later = %+v", revs)
	}
	if ids, err := s.RevokedKiosks(ctx); err != nil || len(ids) != 1 || ids[0] != "kiosk-a" {
		t.Errorf("revoked kiosks = %v, %v", ids, err)
	}
}

package idservice_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/errcat"
	"ssu-kiosk/remote/identity/idservice"
	"ssu-kiosk/remote/identity/idtest"
)

// TestFullSession walks every step of the contract over mutual TLS, on SQLite and PostgreSQL.
func TestFullSession(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(*testing.T) string) {
		h := newHarness(t, dsn(t))
		ctx := context.Background()
		s := h.start(h.client, samSerial)
		if !s.Eligible || s.ID == "" || s.HolderName != "Sam Example" {
			t.Fatalf("session = %+v", s)
		}
		if got, want := s.ExpiresAt, h.clock.Now().Add(15*time.Minute); !got.Equal(want) {
			t.Errorf("expires %v, want %v", got, want)
		}
		offers := map[identity.Method]identity.MethodOffer{}
		for _, m := range s.Methods {
			offers[m.Method] = m
		}
		if !offers[identity.MethodEmail].Available || !offers[identity.MethodSMS].Available || offers[identity.MethodFace].Available {
			t.Errorf("methods = %+v", s.Methods)
		}
		res, err := h.client.SendCode(ctx, s.ID, sendEmail(" Sam.Example@NHS.net "))
		if err != nil {
			t.Fatalf("send code: %v", err)
		}
		if !res.Accepted || res.SendsLeft != 2 || res.RetryAfterSeconds != 30 {
			t.Errorf("send = %+v", res)
		}
		code := h.outboxCode(s.ID, 1)
		rel, err := h.client.VerifyCode(ctx, s.ID, code)
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		if string(rel.SOPIN) != testSOPIN {
			t.Fatal("released SOPIN is not the card's")
		}
		if got := fmt.Sprintf("%v %s %+v", rel.SOPIN, rel.SOPIN, rel); strings.Contains(got, testSOPIN) {
			t.Errorf("a Secret printed its value: %s", got)
		}
		rel.SOPIN.Zero()
		done := identity.CompleteRequest{Outcome: identity.OutcomeUnlocked}
		if err := h.client.Complete(ctx, s.ID, done); err != nil {
			t.Fatalf("complete: %v", err)
		}
		if err := h.client.Complete(ctx, s.ID, done); err != nil {
			t.Fatalf("repeating the same completion: %v", err)
		}
		wantCode(t, h.client.Complete(ctx, s.ID, identity.CompleteRequest{Outcome: identity.OutcomeFailed, Reason: errcat.ERR2006}), errcat.ERR1014)

		log, err := h.store.AuditLog(ctx, samUUID, 50)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range log {
			actions = append(actions, e.Action+"="+e.Outcome)
			if e.KioskID != kioskID && e.KioskID != "test" {
				t.Errorf("audit entry %s names kiosk %q", e.Action, e.KioskID)
			}
			all := fmt.Sprintf("%+v", e)
			for _, bad := range []string{testSOPIN, string(code), "nhs.net", "07700"} {
				if strings.Contains(all, bad) {
					t.Errorf("audit entry %s holds a secret or personal data", e.Action)
				}
			}
		}
		want := "session.complete=unlocked sopin.release=released code.send=accepted session.start=eligible ra.import=ok"
		if got := strings.Join(actions, " "); got != want {
			t.Errorf("audit = %s\nwant    %s", got, want)
		}
	})
}

// TestSMSAndFace: SMS goes to the profile's mobile when the typed number matches in any format; face is unavailable.
func TestSMSAndFace(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	ctx := context.Background()
	s := h.start(h.client, samSerial)
	if _, err := h.client.SendCode(ctx, s.ID, identity.SendCodeRequest{Method: identity.MethodSMS, Address: identity.Secret("+44 7700 900123")}); err != nil {
		t.Fatal(err)
	}
	h.svc.Close() // waits for delivery
	if h.sms.count() != 1 || h.sms.msgs[0].To != samMobile || len(h.sms.msgs[0].Code) != 6 {
		t.Fatalf("sms = %d messages", h.sms.count())
	}
	_, err := h.client.SendCode(ctx, s.ID, identity.SendCodeRequest{Method: identity.MethodFace, Address: identity.Secret("x")})
	wantCode(t, err, errcat.ERR1015)
}

// TestNotEligible covers each reason a session is not eligible.
func TestNotEligible(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	for _, tc := range []struct {
		serial string
		reason identity.Ineligibility
		code   errcat.Code
	}{
		{alexSerial, identity.CertificatesExpired, errcat.ERR1004},
		{joSerial, identity.NoEmail, errcat.ERR1002},
		{gmailSerial, identity.EmailDomainNotAllowed, errcat.ERR1003},
		{unknownSerial, identity.NotRegistered, errcat.ERR1001},
	} {
		s := h.start(h.client, tc.serial)
		if s.Eligible || s.Reason != tc.reason || s.Code != tc.code || s.ID == "" || len(s.Methods) != 0 {
			t.Errorf("%s: session = %+v", tc.reason, s)
		}
		_, err := h.client.SendCode(context.Background(), s.ID, sendEmail("anyone@nhs.net"))
		wantCode(t, err, tc.code)
	}
}

// TestCardNotGenuine: certificates from an untrusted CA, a bad signature, or a holder UUID that is not the
// certificate's are refused, and such a session can do nothing.
func TestCardNotGenuine(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	ctx := context.Background()
	rogue := idtest.NewCA(t, "Rogue Card CA").ValidCard(t, samSerial, samUUID)
	genuine := h.cards[samSerial]
	for name, build := range map[string]func(nonce []byte) identity.StartSessionRequest{
		"untrusted CA": func(n []byte) identity.StartSessionRequest { return rogue.StartRequest(t, n) },
		"bad signature": func(n []byte) identity.StartSessionRequest {
			r := genuine.StartRequest(t, n)
			r.Signature = rogue.Sign(t, n)
			return r
		},
		"signature over another nonce": func(n []byte) identity.StartSessionRequest {
			r := genuine.StartRequest(t, n)
			r.Signature = genuine.Sign(t, bytes.Repeat([]byte{1}, 32))
			return r
		},
		"holder UUID not the certificate's": func(n []byte) identity.StartSessionRequest {
			r := genuine.StartRequest(t, n)
			r.HolderUUID = alexUUID
			return r
		},
		"certificate not DER": func(n []byte) identity.StartSessionRequest {
			r := genuine.StartRequest(t, n)
			r.CardAuthCert = []byte("not a certificate")
			return r
		},
	} {
		ch, err := h.client.Challenge(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s, err := h.client.StartSession(ctx, build(ch.Nonce))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Eligible || s.Reason != identity.CardNotGenuine || s.Code != errcat.ERR1005 {
			t.Errorf("%s: session = %+v", name, s)
		}
		_, err = h.client.SendCode(ctx, s.ID, sendEmail(samEmail))
		wantCode(t, err, errcat.ERR1005)
		_, err = h.client.VerifyCode(ctx, s.ID, identity.Secret("123456"))
		wantCode(t, err, errcat.ERR1005)
		if n := h.outboxCount(s.ID); n != 0 {
			t.Errorf("%s: %d messages sent", name, n)
		}
	}
}

// TestNonceIsSingleUse: a nonce works once, for its kiosk, within its minute.
func TestNonceIsSingleUse(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	ctx := context.Background()
	card := h.cards[samSerial]
	ch, _ := h.client.Challenge(ctx)
	if _, err := h.client.StartSession(ctx, card.StartRequest(t, ch.Nonce)); err != nil {
		t.Fatal(err)
	}
	_, err := h.client.StartSession(ctx, card.StartRequest(t, ch.Nonce))
	wantCode(t, err, errcat.ERR1012)

	ch, _ = h.client.Challenge(ctx)
	_, err = h.newClient(otherKiosk).StartSession(ctx, card.StartRequest(t, ch.Nonce))
	wantCode(t, err, errcat.ERR1012)

	ch, _ = h.client.Challenge(ctx)
	h.clock.Advance(identity.ChallengeLifetime + time.Second)
	_, err = h.client.StartSession(ctx, card.StartRequest(t, ch.Nonce))
	wantCode(t, err, errcat.ERR1012)
}

// TestNoEnumeration: the answer to a send is byte-identical whether or not the address matched.
func TestNoEnumeration(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	var answers [][]byte
	var sessions []string
	for _, addr := range []string{samEmail, "someone.else@nhs.net", "not-even-an-address"} {
		s := h.start(h.client, samSerial)
		sessions = append(sessions, s.ID)
		status, hdr, body := h.rawPost(kioskID, "/v1/sessions/"+s.ID+"/code", `{"method":"email","address":"`+addr+`"}`)
		hdr.Del("Date")
		answers = append(answers, []byte(fmt.Sprintf("%d %v %s", status, hdr, body)))
	}
	for i := 1; i < len(answers); i++ {
		if !bytes.Equal(answers[0], answers[i]) {
			t.Errorf("answers differ:\n%s\n%s", answers[0], answers[i])
		}
	}
	h.outboxCode(sessions[0], 1)
	h.svc.Close()
	if h.outboxCount(sessions[1]) != 0 || h.outboxCount(sessions[2]) != 0 {
		t.Error("a code went to an address that did not match")
	}
	// A wrong address stores no code: no code can verify.
	_, err := h.client.VerifyCode(context.Background(), sessions[1], identity.Secret("000000"))
	wantCode(t, err, errcat.ERR1011)
}

// TestSendLimits: three sends per session, 30 s apart.
func TestSendLimits(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	ctx := context.Background()
	s := h.start(h.client, samSerial)
	if _, err := h.client.SendCode(ctx, s.ID, sendEmail(samEmail)); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(10 * time.Second)
	_, err := h.client.SendCode(ctx, s.ID, sendEmail(samEmail))
	if se := wantCode(t, err, errcat.ERR1008); se.Body.RetryAfterSeconds != 20 || se.Status != http.StatusTooManyRequests {
		t.Errorf("too soon: %+v", se)
	}
	for left := 1; left >= 0; left-- {
		h.clock.Advance(30 * time.Second)
		res, err := h.client.SendCode(ctx, s.ID, sendEmail(samEmail))
		if err != nil || res.SendsLeft != left {
			t.Fatalf("send: %+v %v", res, err)
		}
	}
	h.clock.Advance(time.Minute)
	_, err = h.client.SendCode(ctx, s.ID, sendEmail(samEmail))
	wantCode(t, err, errcat.ERR1008)
	// The latest code is the one that works.
	code := h.outboxCode(s.ID, 3)
	if _, err := h.client.VerifyCode(ctx, s.ID, code); err != nil {
		t.Fatal(err)
	}
}

// TestWrongCodes: 5 wrong codes end the session; the 6th try is refused even with the right code.
func TestWrongCodes(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(*testing.T) string) {
		h := newHarness(t, dsn(t))
		ctx := context.Background()
		s := h.start(h.client, samSerial)
		if _, err := h.client.SendCode(ctx, s.ID, sendEmail(samEmail)); err != nil {
			t.Fatal(err)
		}
		code := h.outboxCode(s.ID, 1)
		for i := 1; i <= 4; i++ {
			_, err := h.client.VerifyCode(ctx, s.ID, wrongCode(code))
			se := wantCode(t, err, errcat.ERR1011)
			if se.Body.AttemptsLeft == nil || *se.Body.AttemptsLeft != 5-i {
				t.Fatalf("wrong code %d: attempts left %v", i, se.Body.AttemptsLeft)
			}
		}
		_, err := h.client.VerifyCode(ctx, s.ID, wrongCode(code))
		wantCode(t, err, errcat.ERR1007)
		_, err = h.client.VerifyCode(ctx, s.ID, code)
		wantCode(t, err, errcat.ERR1007)
		_, err = h.client.SendCode(ctx, s.ID, sendEmail(samEmail))
		wantCode(t, err, errcat.ERR1007)
	})
}

// TestLateCode: a right code after the session's 15 minutes is refused.
func TestLateCode(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	ctx := context.Background()
	s := h.start(h.client, samSerial)
	if _, err := h.client.SendCode(ctx, s.ID, sendEmail(samEmail)); err != nil {
		t.Fatal(err)
	}
	code := h.outboxCode(s.ID, 1)
	h.clock.Advance(15*time.Minute + time.Second)
	_, err := h.client.VerifyCode(ctx, s.ID, code)
	wantCode(t, err, errcat.ERR1006)
	_, err = h.client.SendCode(ctx, s.ID, sendEmail(samEmail))
	wantCode(t, err, errcat.ERR1006)
}

// TestSOPINReleasedOnce: a second release for one session is refused, also when both race.
func TestSOPINReleasedOnce(t *testing.T) {
	backends(t, func(t *testing.T, dsn func(*testing.T) string) {
		h := newHarness(t, dsn(t))
		ctx := context.Background()
		s := h.start(h.client, samSerial)
		if _, err := h.client.SendCode(ctx, s.ID, sendEmail(samEmail)); err != nil {
			t.Fatal(err)
		}
		code := h.outboxCode(s.ID, 1)
		results := make(chan error, 4)
		for range 4 {
			go func() {
				rel, err := h.client.VerifyCode(ctx, s.ID, code)
				rel.SOPIN.Zero()
				results <- err
			}()
		}
		released := 0
		for range 4 {
			err := <-results
			if err == nil {
				released++
				continue
			}
			wantCode(t, err, errcat.ERR1009)
		}
		if released != 1 {
			t.Fatalf("SOPIN released %d times", released)
		}
		_, err := h.client.VerifyCode(ctx, s.ID, code)
		wantCode(t, err, errcat.ERR1009)
	})
}

// TestSessionBelongsToItsKiosk: another kiosk cannot touch a session.
func TestSessionBelongsToItsKiosk(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	ctx := context.Background()
	s := h.start(h.client, samSerial)
	other := h.newClient(otherKiosk)
	_, err := other.SendCode(ctx, s.ID, sendEmail(samEmail))
	wantCode(t, err, errcat.ERR1014)
	_, err = other.VerifyCode(ctx, s.ID, identity.Secret("123456"))
	wantCode(t, err, errcat.ERR1014)
	wantCode(t, other.Complete(ctx, s.ID, identity.CompleteRequest{Outcome: identity.OutcomeFailed, Reason: errcat.ERR2003}), errcat.ERR1014)
	_, err = h.client.SendCode(ctx, "not-a-session", sendEmail(samEmail))
	wantCode(t, err, errcat.ERR1014)
}

// TestRateLimits: per card per hour and per kiosk per minute.
func TestRateLimits(t *testing.T) {
	h := newHarness(t, sqliteDSN(t), func(c *idservice.Config) {
		c.CardSessionsPerHour = 2
		c.KioskSessionsPerMinute = 3
	})
	ctx := context.Background()
	h.start(h.client, samSerial)
	h.start(h.client, samSerial)
	ch, _ := h.client.Challenge(ctx)
	_, err := h.client.StartSession(ctx, h.cards[samSerial].StartRequest(t, ch.Nonce))
	wantCode(t, err, errcat.ERR1013)
	h.start(h.client, joSerial) // third session for this kiosk this minute
	ch, _ = h.client.Challenge(ctx)
	_, err = h.client.StartSession(ctx, h.cards[gmailSerial].StartRequest(t, ch.Nonce))
	wantCode(t, err, errcat.ERR1013)
	h.clock.Advance(61 * time.Minute)
	h.start(h.client, samSerial)
}

// TestMutualTLS: a kiosk without a certificate from the kiosk CA gets nothing, and the client trusts only
// its configured CA.
func TestMutualTLS(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	ctx := context.Background()
	rogue := idtest.NewCA(t, "Rogue Kiosk CA")
	c, err := identity.NewClient(identity.Config{BaseURL: h.srv.URL, ServiceCAs: h.kioskCA.Pool(),
		Certificate: rogue.KioskCert(t, "rogue"), Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Challenge(ctx)
	wantCode(t, err, errcat.ERR2008)

	c, err = identity.NewClient(identity.Config{BaseURL: h.srv.URL, ServiceCAs: rogue.Pool(),
		Certificate: h.kioskCA.KioskCert(t, kioskID), Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Challenge(ctx)
	wantCode(t, err, errcat.ERR2008)

	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.kioskCA.Pool()}}}
	if _, err := hc.Post(h.srv.URL+"/v1/challenges", "application/json", strings.NewReader("{}")); err == nil {
		t.Error("a request with no client certificate was served")
	}
}

// TestBadRequests: malformed requests get ERR1012 and a request id.
func TestBadRequests(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	s := h.start(h.client, samSerial)
	for _, tc := range []struct{ path, body string }{
		{"/v1/sessions", `{"cardSerial":"x"}`},
		{"/v1/sessions", `{"unknown":1}`},
		{"/v1/sessions", `not json`},
		{"/v1/challenges", `{} {}`},
		{"/v1/sessions/" + s.ID + "/code", `{"method":"pigeon","address":"a"}`},
		{"/v1/sessions/" + s.ID + "/code", `{"method":"email","address":""}`},
		{"/v1/sessions/" + s.ID + "/completion", `{"outcome":"maybe"}`},
		{"/v1/sessions/" + s.ID + "/completion", `{"OUTCOME":"unlocked"}`}, // names are exact, as in the contract
		{"/v1/sessions/" + s.ID + "/completion", `{"outcome":"failed"}`},
		{"/v1/sessions/" + s.ID + "/completion", `{"outcome":"failed","reason":"ERR9999"}`},
		{"/v1/nowhere", `{}`},
		{"/v1/sessions", `{"pivAuthCert":"` + strings.Repeat("A", 70000) + `"}`},
	} {
		status, hdr, body := h.rawPost(kioskID, tc.path, tc.body)
		if status < 400 || status >= 500 || !bytes.Contains(body, []byte(`"code":"ERR1012"`)) || hdr.Get(identity.RequestIDHeader) != "fixed-request-id" {
			t.Errorf("%s %.40s: %d %s", tc.path, tc.body, status, body)
		}
	}
}

// TestRequestIDInBothLogs: the request id a kiosk's call carries is in the kiosk's log line for the call
// and in the service's, so one id finds both sides of a support case.
func TestRequestIDInBothLogs(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	var kioskLog syncBuffer
	kioskLog.b = &bytes.Buffer{}
	c, err := identity.NewClient(identity.Config{BaseURL: h.srv.URL, ServiceCAs: h.kioskCA.Pool(),
		Certificate: h.kioskCA.KioskCert(t, "kiosk-0001"), Timeout: 5 * time.Second, RetryWait: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&kioskLog, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rid := identity.NewRequestID()
	if _, err := c.Challenge(identity.WithRequestID(context.Background(), rid)); err != nil {
		t.Fatal(err)
	}
	h.srv.Close() // waits for the request, and its log line, to finish
	kioskLog.mu.Lock()
	kioskSide := kioskLog.b.String()
	kioskLog.mu.Unlock()
	for side, logs := range map[string]string{"kiosk": kioskSide, "service": h.logs.String()} {
		if !strings.Contains(logs, "request_id="+rid) {
			t.Errorf("the %s's log lacks request_id=%s:\n%s", side, rid, logs)
		}
	}
}

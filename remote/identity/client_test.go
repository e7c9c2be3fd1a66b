package identity_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/errcat"
	"ssu-kiosk/remote/identity/idtest"
)

// flaky is a mutual-TLS server that answers each path with a scripted list of statuses.
type flaky struct {
	mu     sync.Mutex
	script map[string][]int
	hits   map[string]int
	ids    map[string][]string
	kiosks []string
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	n := f.hits[r.URL.Path]
	f.hits[r.URL.Path]++
	f.ids[r.URL.Path] = append(f.ids[r.URL.Path], r.Header.Get(identity.RequestIDHeader))
	f.kiosks = append(f.kiosks, r.TLS.PeerCertificates[0].Subject.CommonName)
	status := http.StatusOK
	if s := f.script[r.URL.Path]; n < len(s) {
		status = s[n]
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case status == hang: // a service that takes the request and never answers
		_, _ = io.Copy(io.Discard, r.Body) // then net/http notices the client hanging up
		<-r.Context().Done()
	case status == http.StatusOK && r.URL.Path == "/v1/challenges":
		_ = json.NewEncoder(w).Encode(identity.Challenge{Nonce: make([]byte, 32), ExpiresAt: time.Now()})
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	case status == http.StatusOK:
		_, _ = w.Write([]byte(`{"accepted":true,"sendsLeft":2,"retryAfterSeconds":30}`))
	case status == 599:
		// a broken proxy: HTML instead of the JSON error body
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>bad gateway</html>"))
	default:
		w.WriteHeader(status)
		left := 3
		_ = json.NewEncoder(w).Encode(identity.ErrorBody{Code: errcat.ERR1011, Message: "x", AttemptsLeft: &left})
	}
}

// hang, in a script, is a request the service never answers.
const hang = -1

func newFlaky(t *testing.T, script map[string][]int) (*flaky, *identity.Client) {
	t.Helper()
	f := &flaky{script: script, hits: map[string]int{}, ids: map[string][]string{}}
	ca := idtest.NewCA(t, "CA")
	srv := httptest.NewUnstartedServer(f)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.ServerCert(t)}, ClientCAs: ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c, err := identity.NewClient(identity.Config{BaseURL: srv.URL + "/", ServiceCAs: ca.Pool(), Certificate: ca.KioskCert(t, "kiosk-7"),
		Timeout: 2 * time.Second, RetryWait: time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return f, c
}

func TestRetriesOnlyIdempotentCalls(t *testing.T) {
	unavailable := []int{503, 502, 504, 503}
	f, c := newFlaky(t, map[string][]int{
		"/v1/challenges":               {503, 599},
		"/v1/sessions":                 unavailable,
		"/v1/sessions/s1/code":         unavailable,
		"/v1/sessions/s1/verification": unavailable,
		"/v1/sessions/s1/completion":   {503, 204},
	})
	ctx := identity.WithRequestID(context.Background(), "req-42")
	if _, err := c.Challenge(ctx); err != nil {
		t.Fatalf("challenge after two failures: %v", err)
	}
	if err := c.Complete(ctx, "s1", identity.CompleteRequest{Outcome: identity.OutcomeUnlocked}); err != nil {
		t.Fatalf("complete after a failure: %v", err)
	}
	_, err := c.StartSession(ctx, identity.StartSessionRequest{})
	if code, _ := errcat.CodeOf(err); code != errcat.ERR1011 {
		t.Fatalf("start: %v", err)
	}
	_, err = c.SendCode(ctx, "s1", identity.SendCodeRequest{Method: identity.MethodEmail, Address: identity.Secret("a@b.c")})
	if err == nil {
		t.Fatal("send succeeded")
	}
	_, err = c.VerifyCode(ctx, "s1", identity.Secret("123456"))
	var se *identity.ServiceError
	if !errors.As(err, &se) || se.Status != 503 || *se.Body.AttemptsLeft != 3 || se.Body.RequestID != "req-42" {
		t.Fatalf("verify: %v", err)
	}
	want := map[string]int{"/v1/challenges": 3, "/v1/sessions/s1/completion": 2, "/v1/sessions": 1, "/v1/sessions/s1/code": 1, "/v1/sessions/s1/verification": 1}
	for path, n := range want {
		if f.hits[path] != n {
			t.Errorf("%s: %d attempts, want %d", path, f.hits[path], n)
		}
		for _, id := range f.ids[path] {
			if id != "req-42" {
				t.Errorf("%s: request id %q", path, id)
			}
		}
	}
	for _, k := range f.kiosks {
		if k != "kiosk-7" {
			t.Fatalf("kiosk %q", k)
		}
	}
}

func TestBrokenAnswerIsServiceUnavailable(t *testing.T) {
	_, c := newFlaky(t, map[string][]int{"/v1/sessions": {599}})
	_, err := c.StartSession(context.Background(), identity.StartSessionRequest{})
	if code, _ := errcat.CodeOf(err); code != errcat.ERR1010 {
		t.Fatalf("got %v", err)
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	f, c := newFlaky(t, map[string][]int{"/v1/challenges": {503, 503, 503, 503}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Challenge(ctx)
	if code, _ := errcat.CodeOf(err); code != errcat.ERR2008 || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if f.hits["/v1/challenges"] > 1 {
		t.Fatalf("%d attempts after cancel", f.hits["/v1/challenges"])
	}
}

func TestNewClientChecksConfig(t *testing.T) {
	ca := idtest.NewCA(t, "CA")
	cert := ca.KioskCert(t, "k")
	for _, cfg := range []identity.Config{
		{BaseURL: "https://x", Certificate: cert},
		{BaseURL: "https://x", ServiceCAs: ca.Pool()},
		{BaseURL: "http://x", ServiceCAs: ca.Pool(), Certificate: cert},
		{BaseURL: "::", ServiceCAs: ca.Pool(), Certificate: cert},
	} {
		if _, err := identity.NewClient(cfg); err == nil {
			t.Errorf("accepted %+v", cfg.BaseURL)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := identity.Secret("12345678")
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "sopin", s, "req", identity.SendCodeRequest{Address: identity.Secret("me@nhs.net")})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%s %v %x %q %#v %+v", s, s, s, s, s, struct{ S identity.Secret }{s}), buf.String()} {
		if strings.Contains(out, "1234") || strings.Contains(out, "nhs.net") || strings.Contains(out, "3132") {
			t.Errorf("secret printed: %s", out)
		}
	}
	b, _ := json.Marshal(identity.Release{SOPIN: s})
	if string(b) != `{"sopin":"12345678"}` {
		t.Fatalf("json = %s", b)
	}
	var r identity.Release
	if err := json.Unmarshal(b, &r); err != nil || string(r.SOPIN) != "12345678" {
		t.Fatal(err)
	}
	r.SOPIN.Zero()
	if string(r.SOPIN) != "\x00\x00\x00\x00\x00\x00\x00\x00" {
		t.Fatal("not zeroed")
	}
}

// TestTimeoutEndsACallToAHungService: a service that takes the request and never answers is given up on
// after the client's timeout (2 s here) with a clear error, not waited for.
func TestTimeoutEndsACallToAHungService(t *testing.T) {
	_, c := newFlaky(t, map[string][]int{"/v1/sessions": {hang}})
	done := make(chan error, 1)
	go func() {
		_, err := c.StartSession(context.Background(), identity.StartSessionRequest{})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a call to a hung service succeeded")
		}
		if _, ok := errcat.CodeOf(err); !ok {
			t.Fatalf("no error code for a timeout: %v", err)
		}
		t.Logf("hung service: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the call to a hung service did not time out")
	}
}

package idservice_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/errcat"
	"ssu-kiosk/remote/identity/idservice"
	"ssu-kiosk/remote/identity/idtest"
	"ssu-kiosk/remote/sqldb/sqldbtest"
)

// clock is a settable clock for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Profiles and cards every harness starts with.
const (
	samUUID, samSerial     = "555000000001", "00000000000000000000000000000001"
	alexUUID, alexSerial   = "555000000002", "00000000000000000000000000000002"
	joUUID, joSerial       = "555000000003", "00000000000000000000000000000003"
	gmailUUID, gmailSerial = "555000000005", "00000000000000000000000000000005"
	unknownSerial          = "000000000000000000000000000000ff"
	samEmail, samMobile    = "sam.example@nhs.net", "07700 900123"
	testSOPIN              = "12345678"
	kioskID, otherKiosk    = "kiosk-test-01", "kiosk-test-02"
	seedCSV                = "uuid,name,email,mobile,card_serial,sopin\n" +
		samUUID + ",Sam Example," + samEmail + "," + samMobile + "," + samSerial + "," + testSOPIN + "\n" +
		alexUUID + ",Alex Expired,alex.expired@nhs.net,," + alexSerial + "," + testSOPIN + "\n" +
		joUUID + ",Jo Noemail,,," + joSerial + "," + testSOPIN + "\n" +
		gmailUUID + ",Gee Mail,gee@gmail.com,," + gmailSerial + "," + testSOPIN + "\n"
)

// harness is a reference service on a mutual-TLS test server, a kiosk client for it, and the cards.
type harness struct {
	t       *testing.T
	clock   *clock
	store   *idservice.Store
	svc     *idservice.Service
	srv     *httptest.Server
	client  *identity.Client
	kioskCA *idtest.CA
	cardCA  *idtest.CA
	outbox  string
	crlFile string
	sms     *captureCourier
	logs    *bytes.Buffer
	cards   map[string]*idtest.Card
}

// captureCourier keeps delivered messages in memory.
type captureCourier struct {
	mu   sync.Mutex
	msgs []idservice.Message
}

func (c *captureCourier) Deliver(_ context.Context, m idservice.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m.Code = append(identity.Secret(nil), m.Code...)
	m.Body = append([]byte(nil), m.Body...) // the service clears its own once Deliver returns
	c.msgs = append(c.msgs, m)
	return nil
}

func (c *captureCourier) count() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.msgs) }

type syncBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// sqliteDSN is a fresh SQLite file.
func sqliteDSN(t *testing.T) string { return filepath.Join(t.TempDir(), "id.db") }

// postgresDSN makes a schema of its own in the machine's PostgreSQL and drops it after the test.
func postgresDSN(t *testing.T) string { return sqldbtest.PostgresSchema(t, "idsvc") }

// backends runs f on SQLite and on PostgreSQL.
func backends(t *testing.T, f func(t *testing.T, dsn func(*testing.T) string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, sqliteDSN) })
	t.Run("postgres", func(t *testing.T) { f(t, postgresDSN) })
}

func testKey() []byte { return bytes.Repeat([]byte{7}, idservice.KeySize) }

func newHarness(t *testing.T, dsn string, tweak ...func(*idservice.Config)) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{t: t, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, outbox: t.TempDir(),
		sms: &captureCourier{}, logs: &bytes.Buffer{}, cards: map[string]*idtest.Card{}}
	h.kioskCA, h.cardCA = idtest.NewCA(t, "Test Kiosk CA"), idtest.NewCA(t, "Test Card CA")
	store, err := idservice.OpenStore(ctx, dsn)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	h.store = store
	sealer, err := idservice.NewSealer(testKey())
	if err != nil {
		t.Fatal(err)
	}
	ra := &idservice.RA{Store: store, Sealer: sealer, Actor: "test", Now: h.clock.Now}
	if _, err := ra.Import(ctx, strings.NewReader(seedCSV)); err != nil {
		t.Fatalf("import: %v", err)
	}
	if err := ra.AllowDomains(ctx, []string{"nhs.net"}); err != nil {
		t.Fatal(err)
	}
	h.cards[samSerial] = h.cardCA.ValidCard(t, samSerial, samUUID)
	h.cards[alexSerial] = h.cardCA.NewCard(t, alexSerial, alexUUID, time.Now().Add(-3*365*24*time.Hour), time.Now().Add(-24*time.Hour))
	h.cards[joSerial] = h.cardCA.ValidCard(t, joSerial, joUUID)
	h.cards[gmailSerial] = h.cardCA.ValidCard(t, gmailSerial, gmailUUID)
	h.cards[unknownSerial] = h.cardCA.ValidCard(t, unknownSerial, "555000000099")

	logger := slog.New(slog.NewTextHandler(&syncBuffer{b: h.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.crlFile = filepath.Join(t.TempDir(), "kiosk-crl.pem")
	h.revoke()
	revs, err := idservice.LoadRevocations(h.crlFile, []*x509.Certificate{h.kioskCA.Cert}, logger)
	if err != nil {
		t.Fatalf("load CRL: %v", err)
	}
	cfg := idservice.Config{Store: store, Sealer: sealer, CardRoots: h.cardCA.Pool(),
		Email: &idservice.Outbox{Dir: h.outbox}, SMS: h.sms, Now: h.clock.Now, Revocations: revs, Logger: logger}
	for _, f := range tweak {
		f(&cfg)
	}
	h.svc, err = idservice.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewUnstartedServer(idtest.ContractCheck(t, h.svc.Handler()))
	h.srv.TLS = &tls.Config{Certificates: []tls.Certificate{h.kioskCA.ServerCert(t)}, ClientCAs: h.kioskCA.Pool(),
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12, VerifyConnection: h.svc.VerifyConnection}
	h.srv.StartTLS()
	t.Cleanup(func() {
		h.srv.Close()
		h.svc.Close()
		h.checkLogsClean()
	})
	h.client = h.newClient(kioskID)
	return h
}

// checkLogsClean fails when a log line holds a code, SOPIN, email address or phone number.
func (h *harness) checkLogsClean() {
	logs := h.logs.String()
	for _, bad := range []string{testSOPIN, samEmail, "07700", "@nhs.net", "@gmail.com"} {
		if strings.Contains(logs, bad) {
			h.t.Errorf("log holds personal data or a secret (%q)", bad)
		}
	}
	if regexp.MustCompile(`security code is|cod diogelwch yw`).MatchString(logs) {
		h.t.Error("log holds a message body")
	}
	// Every code the service sent, by email (the outbox) or SMS, as a token of its own in any line.
	var codes []string
	files, _ := filepath.Glob(filepath.Join(h.outbox, "*.txt"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if m := codeRE.FindSubmatch(b); m != nil {
			codes = append(codes, string(m[1]))
		}
	}
	h.sms.mu.Lock()
	for _, m := range h.sms.msgs {
		codes = append(codes, string(m.Code))
	}
	h.sms.mu.Unlock()
	for _, c := range codes {
		if regexp.MustCompile(`\b` + c + `\b`).MatchString(logs) {
			h.t.Errorf("log holds a security code that was sent")
		}
	}
}

// revoke writes a new kiosk CRL naming certs, as the fleet server's enrolment does (a new file renamed into
// place).
func (h *harness) revoke(certs ...tls.Certificate) {
	h.t.Helper()
	tmp := h.crlFile + ".new"
	if err := os.WriteFile(tmp, h.kioskCA.CRL(h.t, certs...), 0o644); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Rename(tmp, h.crlFile); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) newClient(kiosk string) *identity.Client {
	h.t.Helper()
	return h.clientWith(h.kioskCA.KioskCert(h.t, kiosk))
}

// clientWith is a kiosk client presenting cert.
func (h *harness) clientWith(cert tls.Certificate) *identity.Client {
	h.t.Helper()
	c, err := identity.NewClient(identity.Config{BaseURL: h.srv.URL, ServiceCAs: h.kioskCA.Pool(),
		Certificate: cert, Timeout: 5 * time.Second, RetryWait: 10 * time.Millisecond})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(c.Close)
	return c
}

// start runs Challenge and StartSession for a card with a client.
func (h *harness) start(c *identity.Client, serial string) identity.Session {
	h.t.Helper()
	ctx := context.Background()
	ch, err := c.Challenge(ctx)
	if err != nil {
		h.t.Fatalf("challenge: %v", err)
	}
	s, err := c.StartSession(ctx, h.cards[serial].StartRequest(h.t, ch.Nonce))
	if err != nil {
		h.t.Fatalf("start session: %v", err)
	}
	return s
}

// codeRE finds the code in a message body, English or Welsh.
var codeRE = regexp.MustCompile(`(?:security code is|cod diogelwch yw) ([0-9]{6})`)

// outboxCode waits for the n-th message (1-based) the outbox holds for a session and returns its code.
func (h *harness) outboxCode(sessionID string, n int) identity.Secret {
	h.t.Helper()
	m := codeRE.FindSubmatch(h.outboxMessage(sessionID, n))
	if m == nil {
		h.t.Fatalf("no code in outbox message")
	}
	return identity.Secret(m[1])
}

// outboxMessage waits for the n-th email (1-based) the outbox holds for a session and returns the file.
func (h *harness) outboxMessage(sessionID string, n int) []byte {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(h.outbox, "*-"+sessionID+"-email.txt"))
		if len(files) >= n {
			b, err := os.ReadFile(files[n-1])
			if err != nil {
				h.t.Fatal(err)
			}
			return b
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("no outbox message %d for session", n)
	return nil
}

func (h *harness) outboxCount(sessionID string) int {
	files, _ := filepath.Glob(filepath.Join(h.outbox, "*-"+sessionID+"-*.txt"))
	return len(files)
}

// wantCode fails unless err carries code.
func wantCode(t *testing.T, err error, code errcat.Code) *identity.ServiceError {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s, got success", code)
	}
	got, ok := errcat.CodeOf(err)
	if !ok || got != code {
		t.Fatalf("want %s, got %v", code, err)
	}
	var se *identity.ServiceError
	errors.As(err, &se)
	return se
}

// rawPost makes a request with a kiosk certificate and returns status, headers and body as sent.
func (h *harness) rawPost(kiosk, path, body string) (int, http.Header, []byte) {
	h.t.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.kioskCA.Pool(),
		Certificates: []tls.Certificate{h.kioskCA.KioskCert(h.t, kiosk)}}}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set(identity.RequestIDHeader, "fixed-request-id")
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func sendEmail(address string) identity.SendCodeRequest {
	return identity.SendCodeRequest{Method: identity.MethodEmail, Address: identity.Secret(address)}
}

func wrongCode(right identity.Secret) identity.Secret {
	w := append(identity.Secret(nil), right...)
	w[0] = '0' + (w[0]-'0'+1)%10
	return w
}

var _ = fmt.Sprintf

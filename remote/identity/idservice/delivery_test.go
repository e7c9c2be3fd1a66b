package idservice_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/idservice"
	"ssu-kiosk/remote/identity/idtest"
)

// mailServer is a real SMTP server (github.com/emersion/go-smtp) on a loopback TCP port that offers
// STARTTLS and AUTH PLAIN, refuses AUTH before TLS, and keeps what it receives.
type mailServer struct {
	addr string
	ca   *idtest.CA
	mu   sync.Mutex
	mail []received
	auth []string
}

type received struct {
	from string
	to   []string
	data string
	tls  bool
}

type mailBackend struct{ s *mailServer }

func (b mailBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &mailSession{s: b.s, conn: c}, nil
}

type mailSession struct {
	s    *mailServer
	conn *smtp.Conn
	cur  received
	user string
}

func (m *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (m *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "kiosk-mailer" || pass != "s3cret" {
			return errors.New("bad credentials")
		}
		m.user = user
		m.s.mu.Lock()
		m.s.auth = append(m.s.auth, user)
		m.s.mu.Unlock()
		return nil
	}), nil
}
func (m *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if m.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	m.cur.from = from
	return nil
}
func (m *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasSuffix(to, "@refused.example") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user " + to}
	}
	m.cur.to = append(m.cur.to, to)
	return nil
}
func (m *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m.cur.data = string(b)
	_, m.cur.tls = m.conn.TLSConnectionState()
	m.s.mu.Lock()
	m.s.mail = append(m.s.mail, m.cur)
	m.s.mu.Unlock()
	m.cur = received{}
	return nil
}
func (m *mailSession) Reset()        { m.cur = received{} }
func (m *mailSession) Logout() error { return nil }

func startMailServer(t *testing.T) *mailServer {
	t.Helper()
	ms := &mailServer{ca: idtest.NewCA(t, "Mail CA")}
	srv := smtp.NewServer(mailBackend{ms})
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{ms.ca.ServerCert(t)}}
	srv.AllowInsecureAuth = false
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ms
}

func (ms *mailServer) messages() []received {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]received(nil), ms.mail...)
}

func (ms *mailServer) courier(t *testing.T, user string) *idservice.SMTPCourier {
	t.Helper()
	c, err := idservice.NewSMTPCourier("smtp://"+user+"@"+ms.addr, "no-reply@ssu-kiosk.test",
		&tls.Config{RootCAs: ms.ca.Pool(), ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEmailThroughSMTP: a full session whose code goes by email through a real SMTP server with STARTTLS
// and AUTH: the mail arrives, holds the code, and the code unlocks.
func TestEmailThroughSMTP(t *testing.T) {
	ms := startMailServer(t)
	h := newHarness(t, sqliteDSN(t), func(c *idservice.Config) { c.Email = ms.courier(t, "kiosk-mailer:s3cret") })
	ctx := context.Background()
	s := h.start(h.client, samSerial)
	if _, err := h.client.SendCode(ctx, s.ID, sendEmail(samEmail)); err != nil {
		t.Fatal(err)
	}
	var got []received
	for deadline := time.Now().Add(10 * time.Second); len(got) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = ms.messages()
	}
	if len(got) != 1 {
		t.Fatalf("%d mails arrived", len(got))
	}
	if ms.mu.Lock(); len(ms.auth) != 1 {
		t.Errorf("logins: %v", ms.auth)
	}
	ms.mu.Unlock()
	m := got[0]
	if !m.tls || len(m.to) != 1 || m.to[0] != samEmail || m.from != "no-reply@ssu-kiosk.test" {
		t.Fatalf("mail: tls=%v from=%s to=%v", m.tls, m.from, m.to)
	}
	match := codeRE.FindStringSubmatch(m.data)
	if match == nil || !strings.Contains(m.data, "Subject: Your smartcard unlock security code") {
		t.Fatalf("mail holds no code:\n%s", m.data)
	}
	rel, err := h.client.VerifyCode(ctx, s.ID, identity.Secret(match[1]))
	if err != nil || string(rel.SOPIN) != testSOPIN {
		t.Fatalf("verify with the mailed code: %v", err)
	}
}

// TestSMTPErrorsHoldNoAddress: refused logins and recipients give errors without the address or password.
func TestSMTPErrorsHoldNoAddress(t *testing.T) {
	ms := startMailServer(t)
	ctx := context.Background()
	msg := idservice.Message{Method: identity.MethodEmail, SessionID: "s", To: "someone@refused.example",
		Code: identity.Secret("123456"), Subject: "x", Body: []byte("Your security code is 123456.")}
	err := ms.courier(t, "kiosk-mailer:s3cret").Deliver(ctx, msg)
	if err == nil || strings.Contains(err.Error(), "refused.example") || strings.Contains(err.Error(), "someone") {
		t.Fatalf("refused recipient: %v", err)
	}
	msg.To = "ok@nhs.net"
	err = ms.courier(t, "kiosk-mailer:wrong-password").Deliver(ctx, msg)
	if err == nil || strings.Contains(err.Error(), "wrong-password") || strings.Contains(err.Error(), "nhs.net") {
		t.Fatalf("bad login: %v", err)
	}
	t.Logf("errors look like: %v", err)
	if len(ms.messages()) != 0 {
		t.Fatal("mail accepted")
	}
	if _, err := idservice.NewSMTPCourier("ftp://user:pw@host", "a@b.c", nil); err == nil || strings.Contains(err.Error(), "pw") {
		t.Fatalf("bad scheme: %v", err)
	}
}

// TestNotifySMS: the Notify-style adapter posts the number, template and code with a signed token.
func TestNotifySMS(t *testing.T) {
	var got map[string]any
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/notifications/sms" {
			http.NotFound(w, r)
			return
		}
		auth = r.Header.Get("Authorization")
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	n := &idservice.NotifySMS{BaseURL: srv.URL, ServiceID: "svc-1", Secret: []byte("k"), TemplateID: "tpl-1"}
	err := n.Deliver(context.Background(), idservice.Message{Method: identity.MethodSMS, SessionID: "sess", To: "07700900123", Code: identity.Secret("654321")})
	if err != nil {
		t.Fatal(err)
	}
	if got["phone_number"] != "07700900123" || got["template_id"] != "tpl-1" || got["personalisation"].(map[string]any)["code"] != "654321" {
		t.Fatalf("body = %v", got)
	}
	if parts := strings.Split(strings.TrimPrefix(auth, "Bearer "), "."); len(parts) != 3 {
		t.Fatalf("authorization = %q", auth)
	}
	n.BaseURL = srv.URL + "/broken"
	if err := n.Deliver(context.Background(), idservice.Message{To: "07700900123", Code: identity.Secret("654321")}); err == nil || strings.Contains(err.Error(), "654321") {
		t.Fatalf("failed delivery: %v", err)
	}
}

// TestNotifySMSWelshTemplate: a message in Welsh goes out with the Welsh template when one is set, and with
// the (English) template when none is.
func TestNotifySMSWelshTemplate(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = nil
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	n := &idservice.NotifySMS{BaseURL: srv.URL, ServiceID: "svc-1", Secret: []byte("k"), TemplateID: "tpl-en", WelshTemplateID: "tpl-cy"}
	for _, tc := range []struct {
		welsh string
		lang  identity.Language
		want  string
	}{
		{"tpl-cy", identity.LanguageWelsh, "tpl-cy"},
		{"tpl-cy", identity.LanguageEnglish, "tpl-en"},
		{"", identity.LanguageWelsh, "tpl-en"},
	} {
		n.WelshTemplateID = tc.welsh
		m := idservice.Message{Method: identity.MethodSMS, SessionID: "sess", To: "07700900123", Code: identity.Secret("654321"), Language: tc.lang}
		if err := n.Deliver(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		if got["template_id"] != tc.want {
			t.Errorf("Welsh template %q, message in %s: template %v, want %s", tc.welsh, tc.lang, got["template_id"], tc.want)
		}
	}
}

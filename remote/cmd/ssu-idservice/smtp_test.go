package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"ssu-kiosk/remote/identity"
)

// inbox is a real SMTP server (emersion/go-smtp) with STARTTLS and AUTH PLAIN that keeps message bodies.
type inbox struct {
	mu   sync.Mutex
	msgs []string
}

func (in *inbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &inboxSession{in: in}, nil }

type inboxSession struct {
	in     *inbox
	authed bool
}

func (s *inboxSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *inboxSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "mailer" || pass != "pw-from-file" {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}
func (s *inboxSession) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return errors.New("authenticate first")
	}
	return nil
}
func (s *inboxSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *inboxSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.in.mu.Lock()
	s.in.msgs = append(s.in.msgs, string(b))
	s.in.mu.Unlock()
	return err
}
func (s *inboxSession) Reset()        {}
func (s *inboxSession) Logout() error { return nil }

// TestServeWithSMTP runs the service process with --smtp, --smtp-password-file and --smtp-ca against a real
// SMTP server, and unlocks with the mailed code.
func TestServeWithSMTP(t *testing.T) {
	dir := t.TempDir()
	p := writePKI(t, dir)
	in := &inbox{}
	srv := smtp.NewServer(in)
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{p.kioskCA.ServerCert(t)}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	pwFile := filepath.Join(dir, "smtp-password")
	os.WriteFile(pwFile, []byte("pw-from-file\n"), 0o600)
	db := filepath.Join(dir, "id.db")
	if code, _, errs := runCmd(t, "", "import", "--db", db, repoFile(t, "testdata/demo/profiles.csv")); code != 0 {
		t.Fatal(errs)
	}
	addr := freeAddr(t)
	startChild(t, p, addr, "--listen", addr, "--db", db, "--tls-cert", p.cert, "--tls-key", p.key,
		"--client-ca", p.clientCA, "--client-crl", p.crl, "--card-ca", p.cardCAFile, "--allow-domains", "nhs.net",
		"--smtp", fmt.Sprintf("smtp://mailer@localhost:%d", ln.Addr().(*net.TCPAddr).Port),
		"--smtp-password-file", pwFile, "--smtp-ca", p.clientCA)
	c := kioskClient(t, p, addr, "kiosk-mail")
	defer c.Close()
	ctx := context.Background()
	card := p.cardCA.ValidCard(t, demoSerial(t, "555000000004"), "555000000004")
	ch, err := c.Challenge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.StartSession(ctx, card.StartRequest(t, ch.Nonce))
	if err != nil || !s.Eligible {
		t.Fatalf("start: %+v %v", s, err)
	}
	if _, err := c.SendCode(ctx, s.ID, identity.SendCodeRequest{Method: identity.MethodEmail, Address: identity.Secret("pat.known@nhs.net")}); err != nil {
		t.Fatal(err)
	}
	var code []byte
	for deadline := time.Now().Add(10 * time.Second); code == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		in.mu.Lock()
		if len(in.msgs) > 0 {
			if m := codeRE.FindStringSubmatch(in.msgs[0]); m != nil {
				code = []byte(m[1])
			}
		}
		in.mu.Unlock()
	}
	if code == nil {
		t.Fatal("no mail with a code arrived")
	}
	if _, err := c.VerifyCode(ctx, s.ID, identity.Secret(code)); err != nil {
		t.Fatal(err)
	}
}

package idtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/idservice"
)

// Service is the reference identity service running in-process on a mutual-TLS test server, with a kiosk
// client for it: for tests of code that uses the identity contract (the kiosk's flow, for example).
type Service struct {
	URL     string
	Client  *identity.Client
	KioskCA *CA
	CardCA  *CA
	Store   *idservice.Store
	Outbox  string
}

// ServiceOptions change what StartServiceWith starts.
type ServiceOptions struct {
	// CardRoots are card CAs trusted besides the Service's own CardCA (for example testdata/pki's, which
	// signs virtual cards).
	CardRoots []*x509.Certificate
	// LegacyCardStock sets the service option of that name.
	LegacyCardStock bool
}

// StartService starts the reference service on SQLite, imports profilesCSV (the import format) and allows
// nhs.net. Codes go to an outbox folder; read them with Code. Everything stops when the test ends.
func StartService(tb testing.TB, profilesCSV string) *Service {
	tb.Helper()
	return StartServiceWith(tb, profilesCSV, ServiceOptions{})
}

// StartServiceWith is StartService with options.
func StartServiceWith(tb testing.TB, profilesCSV string, opts ServiceOptions) *Service {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	s := &Service{KioskCA: NewCA(tb, "Test Kiosk CA"), CardCA: NewCA(tb, "Test Card CA"), Outbox: filepath.Join(dir, "outbox")}
	if err := os.Mkdir(s.Outbox, 0o700); err != nil {
		tb.Fatal(err)
	}
	store, err := idservice.OpenStore(ctx, filepath.Join(dir, "id.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	s.Store = store
	sealer, err := idservice.NewSealer(bytes.Repeat([]byte{0x5a}, idservice.KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	ra := &idservice.RA{Store: store, Sealer: sealer, Actor: "idtest"}
	if _, err := ra.Import(ctx, strings.NewReader(profilesCSV)); err != nil {
		tb.Fatalf("import profiles: %v", err)
	}
	if err := ra.AllowDomains(ctx, []string{"nhs.net"}); err != nil {
		tb.Fatal(err)
	}
	outbox := &idservice.Outbox{Dir: s.Outbox}
	roots := s.CardCA.Pool()
	for _, c := range opts.CardRoots {
		roots.AddCert(c)
	}
	svc, err := idservice.New(idservice.Config{Store: store, Sealer: sealer, CardRoots: roots,
		LegacyCardStock: opts.LegacyCardStock, Email: outbox, SMS: outbox, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(ContractCheck(tb, svc.Handler()))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{s.KioskCA.ServerCert(tb)}, ClientCAs: s.KioskCA.Pool(),
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	tb.Cleanup(func() {
		srv.Close()
		svc.Close()
	})
	s.URL = srv.URL
	s.Client = s.NewClient(tb, "kiosk-test")
	return s
}

// NewClient is a client for the service with a kiosk certificate for kioskID.
func (s *Service) NewClient(tb testing.TB, kioskID string) *identity.Client {
	tb.Helper()
	c, err := identity.NewClient(identity.Config{BaseURL: s.URL, ServiceCAs: s.KioskCA.Pool(),
		Certificate: s.KioskCA.KioskCert(tb, kioskID), Timeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

var outboxCode = regexp.MustCompile(`security code is ([0-9]{6})`)

// Code waits (up to 5 s) for the newest code sent in a session and returns it.
func (s *Service) Code(tb testing.TB, sessionID string) identity.Secret {
	tb.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(s.Outbox, "*-"+sessionID+"-*.txt"))
		if len(files) == 0 {
			continue
		}
		b, err := os.ReadFile(files[len(files)-1])
		if err != nil {
			tb.Fatal(err)
		}
		if m := outboxCode.FindSubmatch(b); m != nil {
			return identity.Secret(m[1])
		}
	}
	tb.Fatalf("no code sent for session %s", sessionID)
	return nil
}

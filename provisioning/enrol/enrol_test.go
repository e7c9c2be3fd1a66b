package enrol_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ssu-kiosk/kiosk/app"
	"ssu-kiosk/provisioning/enrol"
	"ssu-kiosk/provisioning/pki"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// denyList records revoked kiosks, as the embedded broker's Revoke would.
type denyList struct {
	mu  sync.Mutex
	ids []string
}

func (d *denyList) Revoke(id string) { d.mu.Lock(); d.ids = append(d.ids, id); d.mu.Unlock() }

// fleet is an enrolment server over TLS with an admin token.
type fleet struct {
	srv    *enrol.Server
	https  *httptest.Server
	client *enrol.Client
	admin  []byte
	ca     *pki.CA
	clock  *clock
	deny   *denyList
	crl    string
}

type fleetOptions struct {
	store enrol.Store
	ca    *pki.CA
	crl   string
	deny  enrol.DenyList // besides the recording fake
	// afterCRL runs after each CRL write (enrol.Config.AfterCRLWrite).
	afterCRL func(context.Context) error
	log      io.Writer // the server's log (discarded when nil)
}

func newFleet(t testing.TB, o fleetOptions) *fleet {
	t.Helper()
	f := &fleet{clock: &clock{t: time.Now()}, deny: &denyList{}, ca: o.ca, crl: o.crl}
	var err error
	if f.ca == nil {
		if f.ca, err = pki.NewCA("test fleet CA"); err != nil {
			t.Fatal(err)
		}
	}
	if f.crl == "" {
		f.crl = filepath.Join(t.TempDir(), "crl.pem")
	}
	if o.store == nil {
		o.store = enrol.NewMemoryStore()
	}
	serviceCA, err := pki.NewCA("test identity service CA")
	if err != nil {
		t.Fatal(err)
	}
	admin, digest := enrol.NewAdminToken()
	f.admin = admin
	f.srv, err = enrol.NewServer(context.Background(), enrol.Config{
		CA: f.ca, Store: o.store, AdminDigests: []enrol.TokenDigest{digest}, CRLFile: f.crl, AfterCRLWrite: o.afterCRL,
		DenyLists: denyLists(f.deny, o.deny), Now: f.clock.Now,
		Log: slog.New(slog.NewTextHandler(logTo(o.log), nil)),
		Profile: enrol.Profile{
			BrokerURL: "ssl://127.0.0.1:8883", IdentityURL: "https://idservice.example.nhs.uk:8443",
			TroubleshootingURL: "https://help.example.nhs.uk/kiosk", Methods: []string{"email", "sms"},
			ServiceCA: serviceCA.CertPEM(), CardKey: bytes.Repeat([]byte{7}, 32),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/enrol/", f.srv) // as ssu-fleetd mounts it
	f.https = httptest.NewTLSServer(mux)
	t.Cleanup(f.https.Close)
	hc := f.https.Client()
	f.client = &enrol.Client{Server: f.https.URL, HTTP: hc}
	return f
}

func logTo(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func denyLists(fake *denyList, extra enrol.DenyList) []enrol.DenyList {
	if extra == nil {
		return []enrol.DenyList{fake}
	}
	return []enrol.DenyList{fake, extra}
}

func (f *fleet) token(t testing.TB, site, ward string) []byte {
	t.Helper()
	r, err := f.client.CreateToken(context.Background(), f.admin, site, ward)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(r.Token)
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestEnrolEndToEnd(t *testing.T) {
	f := newFleet(t, fleetOptions{})
	ctx := context.Background()
	tok := f.token(t, "St Example's Hospital", "Outpatients, level 2")
	dir := filepath.Join(t.TempDir(), "enrol")
	dev := enrol.Device{Dir: dir}
	e, err := dev.Enrol(ctx, f.client, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.KioskID, "kiosk-") || e.Site != "St Example's Hospital" || e.Ward != "Outpatients, level 2" {
		t.Fatalf("enrolment = %+v", e)
	}
	for name, want := range map[string]os.FileMode{enrol.FileKey: 0o600, enrol.FileCardKey: 0o600,
		enrol.FileCert: 0o644, enrol.FileCA: 0o644, enrol.FileServiceCA: 0o644, enrol.FileConfig: 0o644} {
		if got := mode(t, filepath.Join(dir, name)); got != want {
			t.Errorf("%s mode %o, want %o", name, got, want)
		}
	}
	if got := mode(t, dir); got != 0o700 {
		t.Errorf("directory mode %o, want 700", got)
	}
	// The key on disk is the certificate's, and the pair works for TLS.
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, enrol.FileCert), filepath.Join(dir, enrol.FileKey))
	if err != nil {
		t.Fatal(err)
	}
	if pair.Leaf.Subject.CommonName != e.KioskID {
		t.Errorf("certificate CN %q, kiosk id %q", pair.Leaf.Subject.CommonName, e.KioskID)
	}
	if k, ok := pair.PrivateKey.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("key is %T, want P-256", pair.PrivateKey)
	}
	// ssu-kiosk accepts the configuration as written.
	cfg, err := app.LoadConfig(filepath.Join(dir, enrol.FileConfig))
	if err != nil {
		t.Fatalf("the kiosk refuses the enrolled configuration: %v", err)
	}
	if cfg.KioskID != e.KioskID || cfg.Site != e.Site || cfg.Ward != e.Ward || cfg.Fleet.Broker != "ssl://127.0.0.1:8883" ||
		cfg.ClientKey != filepath.Join(dir, enrol.FileKey) || cfg.Fleet.CA != filepath.Join(dir, enrol.FileCA) ||
		len(cfg.Methods) != 2 || cfg.TroubleshootingURL != "https://help.example.nhs.uk/kiosk" ||
		cfg.Fleet.Site != "st-examples-hospital" {
		t.Errorf("config = %+v", cfg)
	}
	// The enrolment server is named in a comment, for the image's firewall and renewal.
	if conf, _ := os.ReadFile(filepath.Join(dir, enrol.FileConfig)); !strings.Contains(string(conf), "# Renewal (ssu-ctl renew) reaches the enrolment server at "+f.https.URL+"\n") {
		t.Errorf("configuration does not name the enrolment server:\n%s", conf)
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	// Enrolling again over an enrolment is refused and changes nothing.
	before, _ := os.ReadFile(filepath.Join(dir, enrol.FileKey))
	if _, err := dev.Enrol(ctx, f.client, f.token(t, "S", "W")); !errors.Is(err, enrol.ErrAlreadyEnrolled) {
		t.Fatalf("re-enrol: %v, want ErrAlreadyEnrolled", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, enrol.FileKey)); !bytes.Equal(before, after) {
		t.Error("a refused re-enrolment changed the key")
	}
}

func TestTokenUsedTwiceIsRefused(t *testing.T) {
	var log syncBuffer
	f := newFleet(t, fleetOptions{log: &log})
	ctx := context.Background()
	tok := f.token(t, "Site", "Ward")
	if _, err := (enrol.Device{Dir: t.TempDir()}).Enrol(ctx, f.client, tok); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err := (enrol.Device{Dir: dir}).Enrol(ctx, f.client, tok)
	if !errors.Is(err, enrol.ErrTokenUsed) {
		t.Fatalf("second use: %v, want ErrTokenUsed", err)
	}
	if !strings.Contains(err.Error(), "already used") {
		t.Errorf("error %q does not say the token was used", err)
	}
	if strings.Contains(err.Error(), string(tok)) {
		t.Error("the error holds the token")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("a refused enrolment left %v", ents)
	}
	// The server logged the enrolment and the refusal, never the token.
	logged := log.String()
	if !strings.Contains(logged, "kiosk enrolled") || !strings.Contains(logged, "token refused") {
		t.Errorf("server log:\n%s", logged)
	}
	if strings.Contains(logged, string(tok)) || strings.Contains(logged, string(tok[6:])) {
		t.Error("the server logged the token")
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestExpiredTokenIsRefused(t *testing.T) {
	f := newFleet(t, fleetOptions{})
	tok := f.token(t, "Site", "Ward")
	f.clock.Add(24*time.Hour + time.Second)
	_, err := (enrol.Device{Dir: t.TempDir()}).Enrol(context.Background(), f.client, tok)
	if !errors.Is(err, enrol.ErrTokenExpired) {
		t.Fatalf("expired token: %v, want ErrTokenExpired", err)
	}
}

func TestUnknownAndMalformedTokens(t *testing.T) {
	f := newFleet(t, fleetOptions{})
	other, _ := enrol.NewAdminToken() // well formed for admin, not an enrolment token
	if _, err := (enrol.Device{Dir: t.TempDir()}).Enrol(context.Background(), f.client, other); err == nil ||
		!strings.Contains(err.Error(), "malformed") {
		t.Fatalf("malformed token: %v", err)
	}
	// A well-formed token the server never made.
	tok := f.token(t, "Site", "Ward")
	tok[len(tok)-1] ^= 1
	if tok[len(tok)-1] == '-' || tok[len(tok)-1] == '_' {
		tok[len(tok)-1] = 'A'
	}
	if _, err := (enrol.Device{Dir: t.TempDir()}).Enrol(context.Background(), f.client, tok); !errors.Is(err, enrol.ErrTokenUnknown) {
		t.Fatalf("unknown token: %v, want ErrTokenUnknown", err)
	}
}

// TestBadRequestSpendsNoToken: a bad CSR is refused before the token is redeemed.
func TestBadRequestSpendsNoToken(t *testing.T) {
	f := newFleet(t, fleetOptions{})
	ctx := context.Background()
	tok := f.token(t, "Site", "Ward")
	if _, err := f.client.Enrol(ctx, tok, []byte("not a csr")); err == nil || !strings.Contains(err.Error(), "csr") {
		t.Fatalf("bad csr: %v", err)
	}
	rsaLike, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, rsaLike)
	p384 := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	if _, err := f.client.Enrol(ctx, tok, p384); err == nil || !strings.Contains(err.Error(), "P-256") {
		t.Fatalf("P-384 csr: %v", err)
	}
	if _, err := (enrol.Device{Dir: t.TempDir()}).Enrol(ctx, f.client, tok); err != nil {
		t.Fatalf("the token was spent by bad requests: %v", err)
	}
}

func TestAdminCallsNeedTheAdminToken(t *testing.T) {
	f := newFleet(t, fleetOptions{})
	ctx := context.Background()
	wrong, _ := enrol.NewAdminToken()
	for _, admin := range [][]byte{nil, wrong, []byte("x")} {
		if _, err := f.client.CreateToken(ctx, admin, "S", "W"); err == nil || !strings.Contains(err.Error(), "admin token") {
			t.Errorf("create token with %q: %v", admin, err)
		}
		if _, err := f.client.Revoke(ctx, admin, "kiosk-abc"); err == nil {
			t.Errorf("revoke with %q allowed", admin)
		}
	}
	if _, err := f.client.CreateToken(ctx, f.admin, "", "W"); err == nil || !strings.Contains(err.Error(), "site") {
		t.Errorf("empty site: %v", err)
	}
	if _, err := f.client.CreateToken(ctx, f.admin, "S", "W\nfleet-broker = ssl://evil"); err == nil {
		t.Error("a ward with a line break was accepted")
	}
	if _, err := f.client.CreateToken(ctx, f.admin, "S", "Room 123'456"); err == nil || !strings.Contains(err.Error(), "six or more digits") {
		t.Errorf("six digits in a row: %v", err)
	}
	if _, err := f.client.CreateToken(ctx, f.admin, "S", "Room 12345, bed 6"); err != nil {
		t.Errorf("five digits: %v", err)
	}
}

func TestOnlyHTTPS(t *testing.T) {
	c := &enrol.Client{Server: "http://fleet.example"}
	if _, err := c.CreateToken(context.Background(), []byte("x"), "S", "W"); err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("http server: %v", err)
	}
}

func TestRenewal(t *testing.T) {
	f := newFleet(t, fleetOptions{})
	ctx := context.Background()
	dir := t.TempDir()
	dev := enrol.Device{Dir: dir, Now: f.clock.Now}
	e, err := dev.Enrol(ctx, f.client, f.token(t, "Site", "Ward"))
	if err != nil {
		t.Fatal(err)
	}
	key0, _ := os.ReadFile(filepath.Join(dir, enrol.FileKey))
	cert0, _ := dev.Certificate()
	// Not yet due: nothing happens.
	if renewed, _, err := dev.Renew(ctx, f.client, 0, false); err != nil || renewed {
		t.Fatalf("early renew: renewed=%v err=%v", renewed, err)
	}
	// Two thirds of the way: due.
	f.clock.Add(61 * 24 * time.Hour)
	renewed, notAfter, err := dev.Renew(ctx, f.client, 0, false)
	if err != nil || !renewed {
		t.Fatalf("renew: renewed=%v err=%v", renewed, err)
	}
	cert1, _ := dev.Certificate()
	if cert1.SerialNumber.Cmp(cert0.SerialNumber) == 0 || !cert1.NotAfter.Equal(notAfter) || !notAfter.After(cert0.NotAfter) {
		t.Errorf("renewed certificate: serial %v→%v, not after %v→%v", cert0.SerialNumber, cert1.SerialNumber, cert0.NotAfter, cert1.NotAfter)
	}
	if cert1.Subject.CommonName != e.KioskID {
		t.Errorf("renewed CN %q", cert1.Subject.CommonName)
	}
	if key1, _ := os.ReadFile(filepath.Join(dir, enrol.FileKey)); !bytes.Equal(key0, key1) {
		t.Error("renewal changed the key")
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, enrol.FileCert), filepath.Join(dir, enrol.FileKey)); err != nil {
		t.Errorf("renewed pair: %v", err)
	}
	// A revoked kiosk is refused renewal, and its files stay as they were.
	if _, err := f.client.Revoke(ctx, f.admin, e.KioskID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dev.Renew(ctx, f.client, 0, true); !errors.Is(err, enrol.ErrKioskRevoked) {
		t.Fatalf("renew after revocation: %v, want ErrKioskRevoked", err)
	}
	if cert2, _ := dev.Certificate(); cert2.SerialNumber.Cmp(cert1.SerialNumber) != 0 {
		t.Error("a refused renewal changed the certificate")
	}
}

// TestRenewalNeedsTheKey: a kiosk's certificate is public; without its key no one renews it.
func TestRenewalNeedsTheKey(t *testing.T) {
	f := newFleet(t, fleetOptions{})
	ctx := context.Background()
	dev := enrol.Device{Dir: t.TempDir()}
	if _, err := dev.Enrol(ctx, f.client, f.token(t, "Site", "Ward")); err != nil {
		t.Fatal(err)
	}
	cert, _ := dev.Certificate()
	thief, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, thief)
	csr := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if _, err := f.client.Renew(ctx, certPEM, csr); err == nil || !strings.Contains(err.Error(), "current certificate's key") {
		t.Fatalf("renew with another key: %v", err)
	}
	// A certificate from another CA is refused too.
	other, _ := pki.NewCA("other")
	is, _ := other.IssueClient(cert.Subject.CommonName, time.Hour)
	if _, err := f.client.Renew(ctx, is.CertPEM, csr); err == nil || !strings.Contains(err.Error(), "not valid") {
		t.Fatalf("renew with a foreign certificate: %v", err)
	}
}

func TestRevocationWritesCRLAndDenyList(t *testing.T) {
	f := newFleet(t, fleetOptions{})
	ctx := context.Background()
	dev := enrol.Device{Dir: t.TempDir()}
	e, err := dev.Enrol(ctx, f.client, f.token(t, "Site", "Ward"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := dev.Renew(ctx, f.client, 0, true); err != nil {
		t.Fatal(err)
	}
	keep := enrol.Device{Dir: t.TempDir()}
	if _, err := keep.Enrol(ctx, f.client, f.token(t, "Site", "Ward")); err != nil {
		t.Fatal(err)
	}
	if crl := readCRL(t, f.crl); len(crl.RevokedCertificateEntries) != 0 {
		t.Fatalf("CRL before revocation lists %d", len(crl.RevokedCertificateEntries))
	}
	r, err := f.client.Revoke(ctx, f.admin, e.KioskID)
	if err != nil || r.Kiosk != e.KioskID {
		t.Fatalf("revoke: %+v %v", r, err)
	}
	crl := readCRL(t, f.crl)
	if err := crl.CheckSignatureFrom(f.ca.Cert); err != nil {
		t.Fatal(err)
	}
	// Both certificates the kiosk ever had (enrolment and renewal) are listed; the other kiosk's not.
	if len(crl.RevokedCertificateEntries) != 2 {
		t.Fatalf("CRL lists %d certificates, want 2", len(crl.RevokedCertificateEntries))
	}
	cur, _ := dev.Certificate()
	found := false
	for _, rc := range crl.RevokedCertificateEntries {
		found = found || rc.SerialNumber.Cmp(cur.SerialNumber) == 0
	}
	if !found {
		t.Error("the current certificate is not on the CRL")
	}
	if len(f.deny.ids) != 1 || f.deny.ids[0] != e.KioskID {
		t.Errorf("deny list got %v", f.deny.ids)
	}
	if ids, _ := f.srv.RevokedKiosks(ctx); len(ids) != 1 || ids[0] != e.KioskID {
		t.Errorf("RevokedKiosks = %v", ids)
	}
	// The CRL is also served.
	resp, err := f.https.Client().Get(f.https.URL + enrol.PathCRL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte("X509 CRL")) {
		t.Errorf("GET crl: %s", body)
	}
	if _, err := f.client.Revoke(ctx, f.admin, "kiosk-nobody"); !errors.Is(err, enrol.ErrKioskUnknown) {
		t.Errorf("revoke unknown: %v", err)
	}
}

func readCRL(t *testing.T, path string) *x509.RevocationList {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "X509 CRL" {
		t.Fatalf("%s: not a PEM CRL", path)
	}
	crl, err := x509.ParseRevocationList(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}

func TestDecommissionWipesTheKeys(t *testing.T) {
	f := newFleet(t, fleetOptions{})
	dir := t.TempDir()
	dev := enrol.Device{Dir: dir}
	if _, err := dev.Enrol(context.Background(), f.client, f.token(t, "Site", "Ward")); err != nil {
		t.Fatal(err)
	}
	if err := dev.Decommission(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("left after decommission: %v", ents)
	}
	if dev.Enrolled() {
		t.Error("still enrolled")
	}
	if err := dev.Decommission(); err != nil {
		t.Errorf("second decommission: %v", err)
	}
}

func TestCAPin(t *testing.T) {
	f := newFleet(t, fleetOptions{})
	leaf := f.https.Certificate()
	hc, err := enrol.NewHTTPClient("", enrol.SPKIPin(leaf))
	if err != nil {
		t.Fatal(err)
	}
	c := &enrol.Client{Server: f.https.URL, HTTP: hc}
	if _, err := c.CreateToken(context.Background(), f.admin, "S", "W"); err != nil {
		t.Fatalf("pinned: %v", err)
	}
	hc, _ = enrol.NewHTTPClient("", enrol.SPKIPin(f.ca.Cert)) // a key the server does not present
	c = &enrol.Client{Server: f.https.URL, HTTP: hc}
	if _, err := c.CreateToken(context.Background(), f.admin, "S", "W"); err == nil || !strings.Contains(err.Error(), "pin") {
		t.Fatalf("wrong pin: %v", err)
	}
	if _, err := enrol.NewHTTPClient("", "abc"); err == nil {
		t.Error("a short pin was accepted")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := enrol.WriteFileAtomic(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := enrol.WriteFileAtomic(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" || mode(t, p) != 0o644 {
		t.Errorf("content %q mode %o", b, mode(t, p))
	}
	// A write that cannot finish leaves the old file as it was.
	if err := enrol.WriteFileAtomic(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	// A reader never sees a mixture or a part: each read is wholly one version.
	a, b := bytes.Repeat([]byte("a"), 1<<20), bytes.Repeat([]byte("b"), 1<<20)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 40 {
			data := a
			if i%2 == 1 {
				data = b
			}
			if err := enrol.WriteFileAtomic(p, data, 0o600); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, a) && !bytes.Equal(got, b) && string(got) != "two" {
			t.Fatalf("read %d bytes that are neither version", len(got))
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(ents))
	}
}

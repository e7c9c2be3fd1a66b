package idservice_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/errcat"
	"ssu-kiosk/remote/identity/idservice"
	"ssu-kiosk/remote/identity/idtest"
)

// TestRevokedKioskIsRefused: a kiosk whose certificate the fleet CA revokes is refused from the next request
// on, without restarting the service: on a connection it kept open (checked per request) and on a new one
// (refused at the handshake). Other kiosks go on.
func TestRevokedKioskIsRefused(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	ctx := context.Background()
	cert := h.kioskCA.KioskCert(t, "kiosk-0042")
	other := h.newClient("kiosk-0043")
	// A raw client that keeps its connection open between requests.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.kioskCA.Pool(), Certificates: []tls.Certificate{cert}}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	post := func() (int, []byte, bool) {
		t.Helper()
		reused := false
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		}), http.MethodPost, h.srv.URL+"/v1/challenges", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("post: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, reused
	}
	if status, body, _ := post(); status != http.StatusOK {
		t.Fatalf("before revocation: %d %s", status, body)
	}
	if _, err := h.clientWith(cert).Challenge(ctx); err != nil {
		t.Fatalf("before revocation: %v", err)
	}

	h.revoke(cert)

	status, body, reused := post()
	if !reused {
		t.Fatal("the kept-open connection was not reused: the per-request check is not what refused")
	}
	if status != http.StatusForbidden || !bytes.Contains(body, []byte(`"code":"ERR1012"`)) {
		t.Fatalf("revoked kiosk on its open connection: %d %s", status, body)
	}
	fresh := h.clientWith(cert)
	if _, err := fresh.Challenge(ctx); err == nil {
		t.Fatal("revoked kiosk served on a new connection")
	} else {
		wantCode(t, err, errcat.ERR2008) // the handshake failed
	}
	if _, err := other.Challenge(ctx); err != nil {
		t.Fatalf("another kiosk after the revocation: %v", err)
	}
	if !strings.Contains(h.logs.String(), "kiosk CRL reloaded") {
		t.Error("the reload was not logged")
	}

	// An older list (issued before the one in force) cannot un-revoke the kiosk.
	if err := os.WriteFile(h.crlFile, h.kioskCA.CRLAt(t, time.Now().Add(-2*time.Hour)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.clientWith(cert).Challenge(ctx); err == nil {
		t.Fatal("an older CRL un-revoked a kiosk")
	}
	if !strings.Contains(h.logs.String(), "an older list is not taken") {
		t.Error("the refused older list was not logged")
	}

	// A broken new list leaves the last good one in force.
	if err := os.WriteFile(h.crlFile, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.clientWith(cert).Challenge(ctx); err == nil {
		t.Fatal("a broken CRL file un-revoked a kiosk")
	}
	if _, err := other.Challenge(ctx); err != nil {
		t.Fatalf("another kiosk with a broken CRL file: %v", err)
	}
}

// TestClientMustBeAKiosk: the fleet CA also issues the fleet server's certificate; only well-formed kiosk ids
// may use the service.
func TestClientMustBeAKiosk(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	ctx := context.Background()
	// Review of issue #11: another case or a trailing space is not the kiosk (nor the fleet server) itself.
	for _, cn := range []string{idservice.DefaultFleetIdentity, "Kiosk 1", "-kiosk", "", strings.Repeat("k", 65),
		strings.ToUpper(kioskID), kioskID + " ", " " + kioskID, kioskID + "\x00", "FLEET", "fleet "} {
		if _, err := h.newClient(cn).Challenge(ctx); err == nil {
			t.Errorf("client certificate CN %q was served", cn)
		}
	}
	// The per-request check, for a listener without VerifyConnection.
	h.srv.TLS.VerifyConnection = nil
	status, _, body := h.rawPost(idservice.DefaultFleetIdentity, "/v1/challenges", "{}")
	if status != http.StatusForbidden || !bytes.Contains(body, []byte("ERR1012")) {
		t.Errorf("fleet identity per request: %d %s", status, body)
	}
}

// TestRevocationsLoad: the CRL must be signed by a kiosk CA.
func TestRevocationsLoad(t *testing.T) {
	kioskCA, rogue := idtest.NewCA(t, "Kiosk CA"), idtest.NewCA(t, "Rogue CA")
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.pem"), filepath.Join(dir, "bad.pem")
	os.WriteFile(good, kioskCA.CRL(t), 0o644)
	os.WriteFile(bad, rogue.CRL(t), 0o644)
	issuers := []*x509.Certificate{kioskCA.Cert}
	if _, err := idservice.LoadRevocations(good, issuers, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := idservice.LoadRevocations(bad, issuers, nil); err == nil {
		t.Fatal("a CRL from another CA was accepted")
	}
	if _, err := idservice.LoadRevocations(filepath.Join(dir, "missing.pem"), issuers, nil); err == nil {
		t.Fatal("a missing CRL was accepted")
	}
	var _ identity.Secret
}

// TestRevocationsFollowTheFile: the list in force changes only for a newer list signed by a kiosk CA, however
// the file is replaced. The attacks: a list signed by another CA with the kiosk CA's very name; a file
// replaced by rename with a list of the same size and modification time (only the inode differs); a file
// read while it is half written.
func TestRevocationsFollowTheFile(t *testing.T) {
	kioskCA := idtest.NewCA(t, "Kiosk CA")
	rogue := idtest.NewCA(t, "Kiosk CA") // the same subject, another key
	if !bytes.Equal(rogue.Cert.RawSubject, kioskCA.Cert.RawSubject) {
		t.Fatal("the rogue CA does not carry the kiosk CA's name")
	}
	// Two kiosk certificates whose lists have the same size, so only the inode tells the files apart.
	t0 := time.Now().Add(-time.Hour)
	var a, b tls.Certificate
	var listB, listA []byte
	for range 100 {
		a, b = kioskCA.KioskCert(t, "kiosk-0001"), kioskCA.KioskCert(t, "kiosk-0002")
		listB, listA = kioskCA.CRLAt(t, t0, b), kioskCA.CRLAt(t, t0.Add(time.Minute), a)
		if len(listA) == len(listB) {
			break
		}
	}
	if len(listA) != len(listB) {
		t.Fatal("no two lists of the same size")
	}
	certA, _ := x509.ParseCertificate(a.Certificate[0])
	certB, _ := x509.ParseCertificate(b.Certificate[0])

	dir := t.TempDir()
	file := filepath.Join(dir, "kiosk.crl")
	if err := os.WriteFile(file, listB, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := idservice.LoadRevocations(file, []*x509.Certificate{kioskCA.Cert}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Check(certA) != nil || r.Check(certB) == nil {
		t.Fatal("the first list is not in force")
	}

	// Replaced by rename: same size, same modification time.
	fi, _ := os.Stat(file)
	tmp := filepath.Join(dir, "kiosk.crl.new")
	if err := os.WriteFile(tmp, listA, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	if fi2, _ := os.Stat(file); fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatal("the replacement differs in size or time: the test proves nothing")
	}
	if !errors.Is(r.Check(certA), idservice.ErrRevoked) {
		t.Fatal("a list replaced by rename (same size and time) was not read")
	}

	newer := kioskCA.CRLAt(t, t0.Add(2*time.Minute))
	for name, data := range map[string][]byte{
		"half written":                    newer[:len(newer)/2],
		"signed by a CA of the same name": rogue.CRLAt(t, t0.Add(2*time.Minute)),
	} {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if !errors.Is(r.Check(certA), idservice.ErrRevoked) {
			t.Fatalf("a list %s un-revoked a kiosk", name)
		}
	}
	// The whole newer list from the kiosk CA is taken.
	if err := os.WriteFile(file, newer, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Check(certA); err != nil {
		t.Fatalf("the newer list was not taken: %v", err)
	}
}

// TestExpiredCRLStillRevokes: a kiosk CRL past its next update (the enrolment server stopped writing it) is
// still used, with a warning: what it revokes stays revoked. The attack: stop the fleet from refreshing the
// list and hope an out-of-date list counts for nothing.
func TestExpiredCRLStillRevokes(t *testing.T) {
	kioskCA := idtest.NewCA(t, "Kiosk CA")
	revoked := kioskCA.KioskCert(t, "kiosk-0001")
	cert, _ := x509.ParseCertificate(revoked.Certificate[0])
	file := filepath.Join(t.TempDir(), "kiosk.crl")
	if err := os.WriteFile(file, kioskCA.CRLAt(t, time.Now().Add(-8*24*time.Hour), revoked), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	r, err := idservice.LoadRevocations(file, []*x509.Certificate{kioskCA.Cert}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("an out-of-date list was refused, so nothing would be revoked: %v", err)
	}
	if !errors.Is(r.Check(cert), idservice.ErrRevoked) {
		t.Fatal("a kiosk on an out-of-date list was let in")
	}
	if !strings.Contains(logs.String(), "past its next update") {
		t.Errorf("no warning that the list is out of date:\n%s", logs.String())
	}
}

// TestCRLOfTheSameSecondCannotRollBack: two lists issued within one second carry the same thisUpdate (CRL
// times have whole seconds; the enrolment server revoking two kiosks in a row writes two such lists), and
// only their CRL number orders them. The attack: put back the first list, from before the second kiosk was
// revoked.
func TestCRLOfTheSameSecondCannotRollBack(t *testing.T) {
	kioskCA := idtest.NewCA(t, "Kiosk CA")
	a, b := kioskCA.KioskCert(t, "kiosk-0001"), kioskCA.KioskCert(t, "kiosk-0002")
	certB, _ := x509.ParseCertificate(b.Certificate[0])
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	list := func(number int64, revoked ...tls.Certificate) []byte {
		var entries []x509.RevocationListEntry
		for _, c := range revoked {
			cert, _ := x509.ParseCertificate(c.Certificate[0])
			entries = append(entries, x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: at})
		}
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: at,
			NextUpdate: at.Add(time.Hour), RevokedCertificateEntries: entries}, kioskCA.Cert, kioskCA.Key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	}
	file := filepath.Join(t.TempDir(), "kiosk.crl")
	first, second := list(at.UnixNano(), a), list(at.UnixNano()+1, a, b)
	if err := os.WriteFile(file, second, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := idservice.LoadRevocations(file, []*x509.Certificate{kioskCA.Cert}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(r.Check(certB), idservice.ErrRevoked) {
		t.Fatal("the second list is not in force")
	}
	if err := os.WriteFile(file, first, 0o644); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(r.Check(certB), idservice.ErrRevoked) {
		t.Fatal("the first list of the same second, put back, un-revoked kiosk-0002")
	}
	// The same list written again is taken (the enrolment server rewrites it to keep it fresh).
	if err := os.WriteFile(file, append(second, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(r.Check(certB), idservice.ErrRevoked) {
		t.Fatal("the list in force, rewritten, lost its revocation")
	}
}

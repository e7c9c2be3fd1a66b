package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ssu-kiosk/provisioning/enrol"
	fleetpki "ssu-kiosk/provisioning/pki"
	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/idtest"
)

// TestFleetRevocationReachesTheService: the fleet server's enrolment service (provisioning/enrol, what
// ssu-fleetd runs with --enrol-crl) enrols a kiosk and later revokes it; ssu-idservice, started once with
// that CRL file as --client-crl and the fleet CA as --client-ca, serves the kiosk, then refuses it.
func TestFleetRevocationReachesTheService(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	fleetCA, err := fleetpki.NewCA("Test Fleet CA")
	if err != nil {
		t.Fatal(err)
	}
	serverCert, serverKey, err := mustIssue(t, fleetCA, dir)
	if err != nil {
		t.Fatal(err)
	}
	clientCA := filepath.Join(dir, "fleet-ca.pem")
	if err := os.WriteFile(clientCA, fleetCA.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	crlFile := filepath.Join(dir, "fleet-crl.pem")
	en, err := enrol.NewServer(ctx, enrol.Config{CA: fleetCA, Store: enrol.NewMemoryStore(), CRLFile: crlFile,
		Profile: enrol.Profile{IdentityURL: "https://idservice.example:8443", Methods: []string{"email"}, ServiceCA: fleetCA.CertPEM()}})
	if err != nil {
		t.Fatal(err)
	}
	enrolSrv := httptest.NewServer(en)
	defer enrolSrv.Close()

	// A kiosk enrols: a key, a CSR, a token redeemed for a certificate whose CN is its kiosk id.
	tok, err := en.CreateToken(ctx, "site-a", "ward-1")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ssu-kiosk"}}, key)
	req, _ := json.Marshal(enrol.EnrolRequest{Token: tok.Token, CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))})
	resp, err := http.Post(enrolSrv.URL+enrol.PathKiosks, "application/json", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	var got enrol.Enrolment
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &got) != nil {
		t.Fatalf("enrol: %d %s", resp.StatusCode, body)
	}
	block, _ := pem.Decode([]byte(got.Certificate))
	kioskCert := tls.Certificate{Certificate: [][]byte{block.Bytes}, PrivateKey: key}

	// The identity service, not in demo mode, with the fleet's CA and CRL.
	cardCA := idtest.NewCA(t, "Trust Card CA")
	cardCAFile := filepath.Join(dir, "card-ca.pem")
	os.WriteFile(cardCAFile, cardCA.PEM(), 0o644)
	db := filepath.Join(dir, "id.db")
	if code, out, errs := runCmd(t, "", "import", "--db", db, repoFile(t, "testdata/demo/profiles.csv")); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}
	addr := freeAddr(t)
	client := func() *identity.Client {
		c, err := identity.NewClient(identity.Config{BaseURL: "https://" + addr, ServiceCAs: fleetCA.Pool(),
			Certificate: kioskCert, Timeout: 10 * time.Second, Retries: -1, Logger: slog.New(slog.DiscardHandler),
			WrapTransport: idtest.ContractTransport(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	startService(t, addr, client, "--listen", addr, "--db", db, "--tls-cert", serverCert, "--tls-key", serverKey,
		"--client-ca", clientCA, "--client-crl", crlFile, "--card-ca", cardCAFile, "--log-level", "warn")
	if _, err := client().Challenge(ctx); err != nil {
		t.Fatalf("enrolled kiosk %s before revocation: %v", got.KioskID, err)
	}
	if _, err := en.Revoke(ctx, got.KioskID); err != nil {
		t.Fatal(err)
	}
	if _, err := client().Challenge(ctx); err == nil {
		t.Fatal("the kiosk the fleet revoked was served")
	}
}

// mustIssue writes a service certificate from the fleet CA for 127.0.0.1.
func mustIssue(t *testing.T, ca *fleetpki.CA, dir string) (string, string, error) {
	is, err := ca.IssueServer("ssu-idservice", "127.0.0.1", "localhost")
	if err != nil {
		return "", "", err
	}
	return is.WriteFiles(dir, "idservice")
}

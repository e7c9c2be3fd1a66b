package pki

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

func TestIssueLoadAndRevoke(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile, err := ca.WriteFiles(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	kiosk, err := loaded.IssueClient("kiosk-0001", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if kiosk.Cert.Subject.CommonName != "kiosk-0001" {
		t.Fatalf("CN = %q", kiosk.Cert.Subject.CommonName)
	}
	pool, err := LoadPool(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kiosk.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client certificate does not verify: %v", err)
	}
	server, err := ca.IssueServer("broker", "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil {
		t.Fatalf("server certificate does not verify: %v", err)
	}
	crlPEM, err := ca.CRL(kiosk.Cert)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(crlPEM)
	crl, err := x509.ParseRevocationList(block.Bytes)
	if err != nil || crl.CheckSignatureFrom(ca.Cert) != nil {
		t.Fatalf("crl: %v", err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(kiosk.Cert.SerialNumber) != 0 {
		t.Fatal("the kiosk is not in the CRL")
	}
	if _, err := LoadCA(certFile, certFile); err == nil {
		t.Fatal("a certificate was accepted as a key")
	}
}

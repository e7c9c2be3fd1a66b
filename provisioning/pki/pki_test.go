package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
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

func TestWritePairRefusesToOverwrite(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "sub", "ca.crt"), filepath.Join(dir, "sub", "ca.key")
	if err := WritePair(certFile, ca.CertPEM(), keyFile, keyPEM, false); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]os.FileMode{certFile: 0o644, keyFile: 0o600} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", f, fi.Mode().Perm(), want)
		}
	}
	other, err := NewCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := other.KeyPEM()
	// Only the key is there: nothing is written, not even the certificate.
	os.Remove(certFile)
	if err := WritePair(certFile, other.CertPEM(), keyFile, otherKey, false); !errors.Is(err, ErrExists) {
		t.Fatalf("WritePair over a key: %v, want ErrExists", err)
	}
	if _, err := os.Stat(certFile); err == nil {
		t.Fatal("the certificate was written although the key was refused")
	}
	if err := WritePair(certFile, other.CertPEM(), keyFile, otherKey, true); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA(certFile, keyFile)
	if err != nil || loaded.Cert.Subject.CommonName != "other CA" {
		t.Fatalf("after overwrite: %v", err)
	}
}

func TestSignClientKeepsWithinTheCA(t *testing.T) {
	ca, err := NewCAWith("short CA", CAOptions{NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	key, err := NewKey(ECCP256)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.SignClient("kiosk-0001", key.Public(), time.Now(), time.Now().AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if cert.NotAfter.After(ca.Cert.NotAfter) || cert.Subject.CommonName != "kiosk-0001" {
		t.Fatalf("NotAfter %v past the CA's %v, or CN %q", cert.NotAfter, ca.Cert.NotAfter, cert.Subject.CommonName)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}
}

func TestCardCertificates(t *testing.T) {
	ca, err := NewCA("card CA")
	if err != nil {
		t.Fatal(err)
	}
	guid, _ := hex.DecodeString("0123456789abcdef0123456789abcdef")
	for _, alg := range []KeyAlgorithm{ECCP256, ECCP384, RSA2048} {
		key, err := NewKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		der, err := ca.IssueCard(CardCertificate{Subject: pkix.Name{CommonName: "Holder", SerialNumber: "uuid"},
			CardURI: CardURI(guid), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}, key.Public())
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		if len(cert.URIs) != 1 || cert.URIs[0].String() != "urn:uuid:01234567-89ab-cdef-0123-456789abcdef" {
			t.Errorf("%s: URIs %v", alg, cert.URIs)
		}
		if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
	if _, err := NewKey("dsa"); err == nil {
		t.Error("NewKey made a key of an unknown algorithm")
	}
}

// TestWriteWithoutReplaceNeverReplaces: the last step of a write that must not replace (a link, not a
// rename) refuses a file that appeared after WritePair looked.
func TestWriteWithoutReplaceNeverReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ca.key")
	if err := os.WriteFile(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(path, []byte("second"), 0o600, false); !errors.Is(err, ErrExists) {
		t.Fatalf("writeFile over a file: %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "first" {
		t.Fatalf("the file now holds %q", b)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".ca.key.tmp-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

package vcard

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"flag"
	"testing"
	"time"
)

// testCADir is the committed test card CA (testdata/pki at the top of the repository).
const testCADir = "../../testdata/pki"

var regenCA = flag.Bool("regen-ca", false, "write a new test card CA to testdata/pki")

// TestCommittedCA checks the committed test CA; with -regen-ca it makes a new one first:
//
//	go test ./hal/vcard -run TestCommittedCA -regen-ca
func TestCommittedCA(t *testing.T) {
	if *regenCA {
		notBefore := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		ca, err := GenerateCA("SSU Test Card CA", notBefore, time.Date(2046, 12, 31, 23, 59, 59, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteCA(ca, testCADir); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := LoadCA(testCADir)
	if err != nil {
		t.Fatalf("load the committed test CA (regenerate it with -regen-ca): %v", err)
	}
	if got := ca.Cert.Subject.CommonName; got != "SSU Test Card CA" {
		t.Errorf("CN = %q", got)
	}
	if ca.Cert.NotAfter.Year() < 2046 {
		t.Errorf("NotAfter = %v, want 2046 or later", ca.Cert.NotAfter)
	}
	if pub, ok := ca.Cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("key is not ECDSA P-256")
	}
	if err := ca.Cert.CheckSignatureFrom(ca.Cert); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
}

func TestLoadCAErrors(t *testing.T) {
	if _, err := LoadCA(t.TempDir()); err == nil {
		t.Fatal("LoadCA of an empty directory worked")
	}
	a, err := GenerateCA("a", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateCA("b", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mixed := &CA{Cert: a.Cert, Key: b.Key}
	if err := WriteCA(mixed, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCA(dir); err == nil {
		t.Fatal("LoadCA accepted a key that does not match the certificate")
	}
}

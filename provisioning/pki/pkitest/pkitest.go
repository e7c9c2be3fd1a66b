// Package pkitest makes throwaway certificate authorities and certificates for tests, with the one
// issuer (package pki): each helper fails the test instead of returning an error. For tests only: it
// must never be imported by a program, and nothing it makes is trusted outside a test.
package pkitest

import (
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"ssu-kiosk/provisioning/pki"
)

// NewCA makes a CA named cn, valid from ten years ago for ten years more (so that test cards can be
// issued in the past).
func NewCA(tb testing.TB, cn string) *pki.CA {
	tb.Helper()
	ca, err := pki.NewCAWith(cn, pki.CAOptions{NotBefore: time.Now().AddDate(-10, 0, 0),
		Organization: []string{"ssu-kiosk test"}})
	if err != nil {
		tb.Fatal(err)
	}
	return ca
}

// Issue issues a certificate as r says; NotAfter defaults to 30 days from now.
func Issue(tb testing.TB, ca *pki.CA, r pki.Request) *pki.Issued {
	tb.Helper()
	if r.NotAfter.IsZero() {
		r.NotAfter = time.Now().Add(30 * 24 * time.Hour)
	}
	is, err := ca.Issue(r)
	if err != nil {
		tb.Fatal(err)
	}
	return is
}

// Server issues a TLS server certificate named cn for localhost, 127.0.0.1 and ::1, valid 30 days.
func Server(tb testing.TB, ca *pki.CA, cn string) tls.Certificate {
	tb.Helper()
	return Issue(tb, ca, pki.Request{CommonName: cn, Usage: x509.ExtKeyUsageServerAuth,
		Hosts: []string{"localhost", "127.0.0.1", "::1"}}).TLS
}

// Client issues a TLS client certificate whose CN is identity (a kiosk id), valid 30 days.
func Client(tb testing.TB, ca *pki.CA, identity string) tls.Certificate {
	tb.Helper()
	return Issue(tb, ca, pki.Request{CommonName: identity, Usage: x509.ExtKeyUsageClientAuth}).TLS
}

// Sign signs a certificate from tmpl for pub; see pki.CA.Sign.
func Sign(tb testing.TB, ca *pki.CA, tmpl *x509.Certificate, pub any) *x509.Certificate {
	tb.Helper()
	cert, err := ca.Sign(tmpl, pub)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

// SignDER signs a certificate from tmpl for pub and returns it in DER without parsing it back (for
// certificates made to fail parsing); see pki.CA.SignDER.
func SignDER(tb testing.TB, ca *pki.CA, tmpl *x509.Certificate, pub any) []byte {
	tb.Helper()
	der, err := ca.SignDER(tmpl, pub)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// CRLAt is a PEM CRL signed by ca naming the certificates, issued at thisUpdate and valid for a week.
func CRLAt(tb testing.TB, ca *pki.CA, thisUpdate time.Time, revoked ...tls.Certificate) []byte {
	tb.Helper()
	var entries []x509.RevocationListEntry
	for _, c := range revoked {
		cert, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			tb.Fatal(err)
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: time.Now()})
	}
	crl, err := ca.RevocationList(entries, nil, thisUpdate, thisUpdate.Add(7*24*time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	return crl
}

// WriteCert writes a certificate and its key as PEM files in dir: name.pem and name-key.pem (0600).
func WriteCert(tb testing.TB, dir, name string, c tls.Certificate) (certFile, keyFile string) {
	tb.Helper()
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	keyPEM, err := pki.KeyPEM(c.PrivateKey)
	if err != nil {
		tb.Fatal(err)
	}
	if err := pki.WritePair(certFile, pki.CertPEM(c.Certificate[0]), keyFile, keyPEM, true); err != nil {
		tb.Fatal(err)
	}
	return certFile, keyFile
}

package idtest

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// CRL is a PEM certificate revocation list signed by the CA, naming the given certificates (such as kiosk
// certificates from KioskCert), valid for a week.
func (ca *CA) CRL(tb testing.TB, revoked ...tls.Certificate) []byte {
	tb.Helper()
	return ca.CRLAt(tb, time.Now().Add(-time.Minute), revoked...)
}

// CRLAt is CRL issued at thisUpdate.
func (ca *CA) CRLAt(tb testing.TB, thisUpdate time.Time, revoked ...tls.Certificate) []byte {
	tb.Helper()
	var entries []x509.RevocationListEntry
	for _, c := range revoked {
		cert, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			tb.Fatal(err)
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		// Numbers increase, as RFC 5280 asks: the service orders lists of the same second by them.
		Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: thisUpdate, NextUpdate: thisUpdate.Add(7 * 24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

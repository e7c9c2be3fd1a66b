package idservice

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
)

// PublishedTestCardCAKey is the SHA-256 of the public key (SubjectPublicKeyInfo, DER) of the test card CA in
// testdata/pki: its private key is in the repository, so anyone can make cards it signs. A real service
// refuses to trust it (LoadCardCAs); a test keeps this in step with the file.
const PublishedTestCardCAKey = "2393a768bc401a962c9cd8589357706fd13becc2bf894c306fb2a3054e93623e"

// ErrPublishedTestCA is returned when a card CA bundle holds the published test CA outside demo mode.
var ErrPublishedTestCA = errors.New("the card CA bundle holds the test card CA from testdata/pki, whose private key is public: it is trusted only in demo mode")

// IsPublishedTestCA reports whether cert carries the published test card CA's key.
func IsPublishedTestCA(cert *x509.Certificate) bool {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:]) == PublishedTestCardCAKey
}

// LoadCardCAs reads the PEM bundle of the CAs that issue smartcard certificates. Unless demo is true it
// refuses a bundle that holds the published test card CA.
func LoadCardCAs(path string, demo bool) (*x509.CertPool, error) {
	certs, err := LoadCertificates(path)
	if err != nil {
		return nil, fmt.Errorf("card CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	for _, cert := range certs {
		if !demo && IsPublishedTestCA(cert) {
			return nil, fmt.Errorf("card CA bundle %s: %w", path, ErrPublishedTestCA)
		}
		pool.AddCert(cert)
	}
	return pool, nil
}

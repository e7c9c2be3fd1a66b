package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"time"
)

// CRL returns a PEM certificate revocation list naming the given certificates, valid for 30 days.
func (ca *CA) CRL(revoked ...*x509.Certificate) ([]byte, error) {
	var entries []x509.RevocationListEntry
	for _, c := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now()})
	}
	now := time.Now()
	return ca.RevocationList(entries, nil, now.Add(-time.Minute), now.AddDate(0, 0, 30))
}

// RevocationList signs a PEM CRL with the given entries, valid from thisUpdate to nextUpdate. A CRL's
// numbers grow, as RFC 5280 asks (the identity service and ssu-fleetd order lists of the same second by
// them): a nil number is the time of issue in nanoseconds; a caller with its own sequence passes it.
func (ca *CA) RevocationList(entries []x509.RevocationListEntry, number *big.Int, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	if number == nil {
		number = big.NewInt(time.Now().UnixNano())
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: number, ThisUpdate: thisUpdate, NextUpdate: nextUpdate, RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("crl: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
}

// LoadCRL reads a CRL (PEM or DER) and checks that a CA certificate in caFile signed it. A CRL past its
// next update is returned all the same (what it revokes stays revoked); the caller may warn.
func LoadCRL(crlFile, caFile string) (*x509.RevocationList, error) {
	b, err := os.ReadFile(crlFile)
	if err != nil {
		return nil, fmt.Errorf("load crl: %w", err)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "X509 CRL" {
			return nil, fmt.Errorf("load crl %s: a PEM %q, not an X509 CRL", crlFile, blk.Type)
		}
		b = blk.Bytes
	}
	crl, err := x509.ParseRevocationList(b)
	if err != nil {
		return nil, fmt.Errorf("load crl %s: %w", crlFile, err)
	}
	cas, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("load crl: %w", err)
	}
	for rest := cas; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		ca, err := x509.ParseCertificate(blk.Bytes)
		if err == nil && crl.CheckSignatureFrom(ca) == nil {
			return crl, nil
		}
	}
	return nil, fmt.Errorf("load crl %s: not signed by a CA in %s", crlFile, caFile)
}

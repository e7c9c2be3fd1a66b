package idtest

import (
	"crypto/tls"
	"testing"
	"time"

	"ssu-kiosk/provisioning/pki/pkitest"
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
	return pkitest.CRLAt(tb, ca.CA, thisUpdate, revoked...)
}

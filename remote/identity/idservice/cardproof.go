package idservice

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"ssu-kiosk/remote/identity"
)

// errNotGenuine and errExpired are the two ways a card's proof can fail.
var (
	errNotGenuine = errors.New("card not genuine")
	errExpired    = errors.New("certificates expired")
)

// checkCard verifies that both certificates chain to the card CAs, that the PIV Authentication certificate
// names the holder, and that the Card Authentication key signed the nonce (ECDSA P-256 over the nonce as
// given). It returns errNotGenuine or errExpired (a genuine card whose certificates are out of date), wrapped
// with the detail, or nil.
func checkCard(req identity.StartSessionRequest, roots *x509.CertPool, now time.Time) error {
	pivAuth, err := x509.ParseCertificate(req.PIVAuthCert)
	if err != nil {
		return fmt.Errorf("%w: PIV Authentication certificate: %v", errNotGenuine, err)
	}
	cardAuth, err := x509.ParseCertificate(req.CardAuthCert)
	if err != nil {
		return fmt.Errorf("%w: Card Authentication certificate: %v", errNotGenuine, err)
	}
	expired := false
	for _, c := range []struct {
		name string
		cert *x509.Certificate
	}{{"PIV Authentication", pivAuth}, {"Card Authentication", cardAuth}} {
		e, err := verifyChain(c.cert, roots, now)
		if err != nil {
			return fmt.Errorf("%w: %s certificate: %v", errNotGenuine, c.name, err)
		}
		expired = expired || e
		if err := serialMatches(c.cert, req.CardSerial); err != nil {
			return fmt.Errorf("%w: %s certificate: %v", errNotGenuine, c.name, err)
		}
	}
	if pivAuth.Subject.SerialNumber != req.HolderUUID {
		return fmt.Errorf("%w: holder UUID differs from the PIV Authentication certificate", errNotGenuine)
	}
	pub, ok := cardAuth.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return fmt.Errorf("%w: Card Authentication key is not ECDSA P-256", errNotGenuine)
	}
	if !ecdsa.VerifyASN1(pub, req.Nonce, req.Signature) {
		return fmt.Errorf("%w: signature over the nonce does not verify", errNotGenuine)
	}
	if expired {
		return errExpired
	}
	return nil
}

// verifyChain checks cert against roots now; a chain that is sound but out of date gives expired=true.
func verifyChain(cert *x509.Certificate, roots *x509.CertPool, now time.Time) (expired bool, err error) {
	opts := x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	_, err = cert.Verify(opts)
	if err == nil {
		return false, nil
	}
	var inv x509.CertificateInvalidError
	if !errors.As(err, &inv) || inv.Reason != x509.Expired || !now.After(cert.NotBefore) {
		return false, err
	}
	// Out of date: is it genuine apart from that? Check as of the last second it was valid.
	opts.CurrentTime = cert.NotAfter.Add(-time.Second)
	if _, err2 := cert.Verify(opts); err2 != nil {
		return false, err2
	}
	return true, nil
}

// serialMatches checks a urn:uuid subject alternative name, when the certificate has one, against the card
// serial (the CHUID GUID).
func serialMatches(cert *x509.Certificate, serial string) error {
	for _, u := range cert.URIs {
		if u.Scheme != "urn" || !strings.HasPrefix(strings.ToLower(u.Opaque), "uuid:") {
			continue
		}
		if strings.ReplaceAll(strings.ToLower(u.Opaque[5:]), "-", "") != serial {
			return errors.New("card serial differs from the certificate's UUID")
		}
	}
	return nil
}

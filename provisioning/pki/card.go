package pki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"net/url"
	"time"
)

// CardCertificate describes a PIV card certificate (PIV Authentication, 9A, or Card Authentication, 9E).
type CardCertificate struct {
	// Subject names the holder; PIV puts the holder's UUID in SerialNumber.
	Subject pkix.Name
	// CardURI is the card's CHUID GUID as a urn:uuid (CardURI); nil leaves it out, like legacy card stock.
	CardURI             *url.URL
	NotBefore, NotAfter time.Time
	ExtKeyUsage         []x509.ExtKeyUsage
	UnknownExtKeyUsage  []asn1.ObjectIdentifier
	// ExtraExtensions are added as they are (a subject alternative name here replaces CardURI's).
	ExtraExtensions []pkix.Extension
}

// IssueCard signs a card certificate for the card's key pub and returns it in DER.
func (ca *CA) IssueCard(c CardCertificate, pub crypto.PublicKey) ([]byte, error) {
	tmpl := &x509.Certificate{
		Subject:            c.Subject,
		NotBefore:          c.NotBefore,
		NotAfter:           c.NotAfter,
		KeyUsage:           x509.KeyUsageDigitalSignature,
		ExtKeyUsage:        c.ExtKeyUsage,
		UnknownExtKeyUsage: c.UnknownExtKeyUsage,
		ExtraExtensions:    c.ExtraExtensions,
	}
	if c.CardURI != nil {
		tmpl.URIs = []*url.URL{c.CardURI}
	}
	return ca.SignDER(tmpl, pub)
}

// CardURI is the name a PIV certificate gives its card (FIPS 201-3, 4.2.2.1; RFC 4122, 3): the CHUID
// GUID as a urn:uuid URI, "urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". A GUID that is not 16 bytes
// is written as plain hex.
func CardURI(guid []byte) *url.URL {
	h := hex.EncodeToString(guid)
	if len(h) != 32 {
		return &url.URL{Scheme: "urn", Opaque: "uuid:" + h}
	}
	return &url.URL{Scheme: "urn", Opaque: "uuid:" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]}
}

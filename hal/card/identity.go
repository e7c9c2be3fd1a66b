package card

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// OIDSerialNumber is the subject attribute that holds the holder's UUID by default (X.520 serialNumber).
var OIDSerialNumber = asn1.ObjectIdentifier{2, 5, 4, 5}

// Identity is what a card tells about itself and its holder without a PIN.
type Identity struct {
	// Serial is the card's serial: the CHUID GUID as 32 lowercase hex characters ("" if there is no CHUID).
	Serial string
	// HolderUUID is the holder's identifier from the PIV Authentication certificate's subject.
	HolderUUID string
	HolderName string
	Issuer     string
	NotBefore  time.Time
	NotAfter   time.Time
	// Certificate is the PIV Authentication certificate, nil when the card has none.
	Certificate *x509.Certificate
}

// Expired tells whether the certificate is outside its validity at t (a card with none counts as expired).
func (id Identity) Expired(t time.Time) bool {
	return id.Certificate == nil || t.Before(id.NotBefore) || t.After(id.NotAfter)
}

// IdentityOptions choose how the holder is read from the certificate.
type IdentityOptions struct {
	// HolderUUIDAttribute is the subject attribute holding the holder UUID; nil means OIDSerialNumber.
	HolderUUIDAttribute asn1.ObjectIdentifier
}

// ReadIdentity reads the CHUID and the PIV Authentication certificate. A card with no certificate (or
// no CHUID) still reports what it has. A failure to talk to the card is an error; so is a card that
// answers with another status word, or holds a certificate that does not parse (ErrCardUnusable).
func (p *PIV) ReadIdentity(opts IdentityOptions) (Identity, error) {
	id, err := p.readIdentity(opts)
	var sw *StatusError
	if errors.As(err, &sw) && !errors.Is(err, ErrCardUnusable) {
		return Identity{}, fmt.Errorf("%w: %w", ErrCardUnusable, err)
	}
	return id, err
}

func (p *PIV) readIdentity(opts IdentityOptions) (Identity, error) {
	var id Identity
	chuid, err := p.ReadCHUID()
	switch {
	case err == nil:
		id.Serial = hex.EncodeToString(chuid.GUID)
	case !errors.Is(err, ErrNotFound):
		return Identity{}, fmt.Errorf("read identity: %w", err)
	}
	cert, err := p.ReadCertificate(SlotPIVAuth)
	switch {
	case err == nil:
		id.Certificate = cert
		id.HolderName = cert.Subject.CommonName
		id.HolderUUID = subjectAttribute(cert.Subject, opts.attribute())
		id.Issuer = cert.Issuer.CommonName
		if id.Issuer == "" {
			id.Issuer = cert.Issuer.String()
		}
		id.NotBefore, id.NotAfter = cert.NotBefore, cert.NotAfter
	case !errors.Is(err, ErrNotFound):
		return Identity{}, fmt.Errorf("read identity: %w", err)
	}
	return id, nil
}

func (o IdentityOptions) attribute() asn1.ObjectIdentifier {
	if o.HolderUUIDAttribute == nil {
		return OIDSerialNumber
	}
	return o.HolderUUIDAttribute
}

func subjectAttribute(name pkix.Name, oid asn1.ObjectIdentifier) string {
	for _, atv := range name.Names {
		if atv.Type.Equal(oid) {
			if s, ok := atv.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

// ParseOID parses a dotted object identifier such as "2.5.4.5", for configuration files.
func ParseOID(s string) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	n, seen := 0, false
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if !seen {
				return nil, fmt.Errorf("object identifier %q: empty arc", s)
			}
			oid = append(oid, n)
			n, seen = 0, false
			continue
		}
		if s[i] < '0' || s[i] > '9' || n > 1<<24 {
			return nil, fmt.Errorf("object identifier %q: not dotted digits", s)
		}
		n, seen = n*10+int(s[i]-'0'), true
	}
	if len(oid) < 2 {
		return nil, fmt.Errorf("object identifier %q: too short", s)
	}
	return oid, nil
}

package idservice

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"ssu-kiosk/remote/identity"
)

// errNotGenuine and errExpired are the two ways a card's proof can fail.
var (
	errNotGenuine = errors.New("card not genuine")
	errExpired    = errors.New("certificates expired")
)

// cardPolicy is what checkCard needs besides the request.
type cardPolicy struct {
	roots *x509.CertPool
	// holderAttr is the PIV Authentication certificate's subject attribute that holds the holder UUID.
	holderAttr asn1.ObjectIdentifier
	// legacyCardStock accepts certificates that do not name their card (see Config.LegacyCardStock).
	legacyCardStock bool
}

// checkCard verifies the card's proof:
//   - both certificates chain to the card CAs;
//   - the Card Authentication certificate is an end-entity certificate for digital signatures (a Key
//     Management certificate, whose key issuers may escrow, or a CA certificate, cannot stand in for it);
//   - both name the same card, the one in the request: the CHUID GUID as a urn:uuid subject alternative
//     name (FIPS 201-3, 4.2.2.1), equal to CardSerial. A certificate without one is refused, unless the
//     policy accepts legacy card stock (then a FASC-N, if both certificates carry one, must be the same);
//   - the PIV Authentication certificate names the holder (the policy's subject attribute = HolderUUID);
//   - the Card Authentication key signed the nonce, as the contract says for its algorithm
//     (verifyCardSignature).
//
// It returns errNotGenuine or errExpired (a genuine card whose certificates are out of date), wrapped
// with the detail, or nil.
func checkCard(req identity.StartSessionRequest, pol cardPolicy, now time.Time) error {
	pivAuth, err := x509.ParseCertificate(req.PIVAuthCert)
	if err != nil {
		return fmt.Errorf("%w: PIV Authentication certificate: %s", errNotGenuine, unquoted(err))
	}
	cardAuth, err := x509.ParseCertificate(req.CardAuthCert)
	if err != nil {
		return fmt.Errorf("%w: Card Authentication certificate: %s", errNotGenuine, unquoted(err))
	}
	expired := false
	for _, c := range []struct {
		name string
		cert *x509.Certificate
	}{{"PIV Authentication", pivAuth}, {"Card Authentication", cardAuth}} {
		e, err := verifyChain(c.cert, pol.roots, now)
		if err != nil {
			return fmt.Errorf("%w: %s certificate: %v", errNotGenuine, c.name, err)
		}
		expired = expired || e
	}
	// Only the card's signing end-entity certificate may vouch for the key that signs: not a CA, and not a
	// certificate of another use (a Key Management certificate names the card too, and its key may be
	// escrowed off the card).
	if cardAuth.IsCA || cardAuth.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("%w: Card Authentication certificate is not a signing end-entity certificate", errNotGenuine)
	}
	if err := sameCard(pivAuth, cardAuth, req.CardSerial, pol.legacyCardStock); err != nil {
		return fmt.Errorf("%w: %v", errNotGenuine, err)
	}
	if subjectAttribute(pivAuth, pol.holderAttr) != req.HolderUUID {
		return fmt.Errorf("%w: holder UUID differs from the PIV Authentication certificate", errNotGenuine)
	}
	if err := verifyCardSignature(cardAuth.PublicKey, req.Nonce, req.Signature); err != nil {
		return fmt.Errorf("%w: %v", errNotGenuine, err)
	}
	if expired {
		return errExpired
	}
	return nil
}

// verifyCardSignature checks the Card Authentication key's signature over nonce, as the contract
// (openapi.yaml, startSession) and hal/card's Authenticate define it for the three algorithms of
// SP 800-78-4 for key 9E:
//   - ECC P-256: ECDSA (ASN.1 DER) over the nonce as given (32 bytes), taken as the digest;
//   - ECC P-384: ECDSA (ASN.1 DER) over SHA-384(nonce);
//   - RSA 2048: RSASSA-PKCS1-v1_5 with SHA-256 over the nonce (the card's raw RSA on the padded block).
//
// Any other key is refused.
func verifyCardSignature(pub crypto.PublicKey, nonce, sig []byte) error {
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			ok = len(nonce) == 32 && ecdsa.VerifyASN1(k, nonce, sig)
		case elliptic.P384():
			d := sha512.Sum384(nonce)
			ok = ecdsa.VerifyASN1(k, d[:], sig)
		default:
			return fmt.Errorf("Card Authentication key is ECDSA %s, not P-256 or P-384", k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if k.N.BitLen() != 2048 {
			return fmt.Errorf("Card Authentication key is RSA %d, not RSA 2048", k.N.BitLen())
		}
		d := sha256.Sum256(nonce)
		ok = rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
	default:
		return errors.New("Card Authentication key is neither ECDSA P-256, P-384 nor RSA 2048")
	}
	if !ok {
		return errors.New("signature over the nonce does not verify")
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

// sameCard checks that both certificates name the card whose serial (CHUID GUID, 32 lowercase hex) the
// request gives. With legacy card stock a certificate may name no card; a UUID it does carry must still
// match, and FASC-Ns carried by both must be equal.
func sameCard(pivAuth, cardAuth *x509.Certificate, serial string, legacy bool) error {
	for _, c := range []struct {
		name string
		cert *x509.Certificate
	}{{"PIV Authentication", pivAuth}, {"Card Authentication", cardAuth}} {
		id, err := cardUUID(c.cert)
		switch {
		case err != nil:
			return fmt.Errorf("%s certificate: %v", c.name, err)
		case id == "" && !legacy:
			return fmt.Errorf("%s certificate names no card (no urn:uuid subject alternative name)", c.name)
		case id != "" && id != serial:
			return fmt.Errorf("%s certificate names another card than the card serial", c.name)
		}
	}
	if legacy {
		a, b := cardFASCN(pivAuth), cardFASCN(cardAuth)
		if a != nil && b != nil && !bytes.Equal(a, b) {
			return errors.New("the certificates carry different FASC-Ns")
		}
	}
	return nil
}

// cardUUID gives the card UUID a certificate names (its urn:uuid subject alternative names) as 32
// lowercase hex characters, "" when it names none. Two different ones, or one that is not a UUID, is an
// error.
func cardUUID(cert *x509.Certificate) (string, error) {
	found := ""
	for _, u := range cert.URIs {
		if !strings.EqualFold(u.Scheme, "urn") || !strings.HasPrefix(strings.ToLower(u.Opaque), "uuid:") {
			continue
		}
		h := strings.ToLower(u.Opaque[len("uuid:"):])
		if len(h) != 36 || h[8] != '-' || h[13] != '-' || h[18] != '-' || h[23] != '-' {
			return "", errors.New("urn:uuid subject alternative name is not a UUID")
		}
		h = strings.ReplaceAll(h, "-", "")
		if _, err := hex.DecodeString(h); err != nil || len(h) != 32 {
			return "", errors.New("urn:uuid subject alternative name is not a UUID")
		}
		if found != "" && found != h {
			return "", errors.New("two different urn:uuid subject alternative names")
		}
		found = h
	}
	return found, nil
}

var (
	// oidSerialNumber is X.520 serialNumber, identity.DefaultHolderUUIDAttribute.
	oidSerialNumber   = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	// oidPIVFASCN is the otherName type of a FASC-N in a PIV certificate (FIPS 201-3, appendix B.2).
	oidPIVFASCN = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 6, 6}
)

// cardFASCN gives the FASC-N a certificate carries in a subject alternative name otherName, or nil.
func cardFASCN(cert *x509.Certificate) []byte {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var names []asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(rest) != 0 {
			return nil
		}
		for _, n := range names {
			if n.Class != asn1.ClassContextSpecific || n.Tag != 0 || !n.IsCompound {
				continue // not an otherName
			}
			var typ asn1.ObjectIdentifier
			rest, err := asn1.Unmarshal(n.Bytes, &typ)
			if err != nil || !typ.Equal(oidPIVFASCN) {
				continue
			}
			var wrapped asn1.RawValue
			if _, err := asn1.Unmarshal(rest, &wrapped); err != nil || wrapped.Tag != 0 {
				continue
			}
			var fascn []byte
			if _, err := asn1.Unmarshal(wrapped.Bytes, &fascn); err == nil && len(fascn) > 0 {
				return fascn
			}
		}
	}
	return nil
}

// subjectAttribute gives the string value of a subject attribute, "" when there is none.
func subjectAttribute(cert *x509.Certificate, oid asn1.ObjectIdentifier) string {
	for _, atv := range cert.Subject.Names {
		if atv.Type.Equal(oid) {
			if s, ok := atv.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

// unquoted is an error's text cut before the first quoted value: crypto/x509 quotes what it could not
// parse (a URI, an email address), and the detail goes to the audit log, which must hold no personal data.
func unquoted(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '"'); i >= 0 {
		msg = strings.TrimRight(msg[:i], " :") + " (value left out)"
	}
	return msg
}

// parseOID reads a dotted object identifier such as "2.5.4.5" (a setting).
func parseOID(s string) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	for _, arc := range strings.Split(s, ".") {
		n, err := strconv.Atoi(arc)
		if err != nil || n < 0 || arc == "" || arc[0] == '+' {
			return nil, fmt.Errorf("object identifier %q: not dotted numbers", s)
		}
		oid = append(oid, n)
	}
	if len(oid) < 2 {
		return nil, fmt.Errorf("object identifier %q: too short", s)
	}
	return oid, nil
}

// ParseHolderUUIDAttribute reads the holder UUID attribute setting (a dotted object identifier).
func ParseHolderUUIDAttribute(s string) (asn1.ObjectIdentifier, error) { return parseOID(s) }

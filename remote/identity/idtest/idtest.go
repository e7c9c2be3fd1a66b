// Package idtest makes what tests of the identity contract need: CAs, service and kiosk certificates for
// mutual TLS, virtual PIV cards that sign nonces, and the reference service running in-process
// (StartService). For tests only: it must never be imported by a program, and nothing it makes is trusted
// outside a test.
package idtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/provisioning/pki/pkitest"
	"ssu-kiosk/remote/identity"
)

// CA is a throwaway certificate authority (the project's one issuer, provisioning/pki) with the
// helpers the identity contract's tests need.
type CA struct{ *pki.CA }

// NewCA makes a self-signed ECDSA P-256 CA valid from ten years ago for ten years more.
func NewCA(tb testing.TB, cn string) *CA {
	tb.Helper()
	return &CA{pkitest.NewCA(tb, cn)}
}

// PEM is the CA certificate in PEM.
func (ca *CA) PEM() []byte { return ca.CertPEM() }

// ServerCert issues a TLS server certificate for localhost, 127.0.0.1 and ::1.
func (ca *CA) ServerCert(tb testing.TB) tls.Certificate {
	tb.Helper()
	return pkitest.Server(tb, ca.CA, "ssu-idservice")
}

// KioskCert issues a kiosk device (TLS client) certificate whose CN is the kiosk id.
func (ca *CA) KioskCert(tb testing.TB, kioskID string) tls.Certificate {
	tb.Helper()
	return pkitest.Client(tb, ca.CA, kioskID)
}

// Card is a virtual PIV card: its two certificates and its Card Authentication key.
type Card struct {
	Serial       string
	HolderUUID   string
	PIVAuthCert  []byte
	CardAuthCert []byte
	CardAuthKey  crypto.Signer
}

// CardAlgorithm is the algorithm of a card's Card Authentication key (SP 800-78-4).
type CardAlgorithm = pki.KeyAlgorithm

// The Card Authentication key algorithms a test card can have.
const (
	ECCP256 = pki.ECCP256
	ECCP384 = pki.ECCP384
	RSA2048 = pki.RSA2048
)

// CardOptions describe a test card beyond its serial and holder.
type CardOptions struct {
	NotBefore, NotAfter time.Time
	// Algorithm is the Card Authentication key's; ECC P-256 when empty.
	Algorithm CardAlgorithm
	// NoCardUUID leaves the card's urn:uuid out of both certificates, like legacy card stock.
	NoCardUUID bool
	// FASCN, when set, goes in both certificates' subject alternative name as a FASC-N otherName.
	FASCN []byte
}

// sanWithFASCN is a subject alternative name extension holding a FASC-N otherName (FIPS 201-3, appendix
// B.2) and the URIs.
func sanWithFASCN(tb testing.TB, fascn []byte, uris []*url.URL) pkix.Extension {
	tb.Helper()
	value, err := asn1.Marshal(fascn)
	if err != nil {
		tb.Fatal(err)
	}
	other, err := asn1.Marshal(struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue // [0] EXPLICIT OCTET STRING
	}{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 6, 6},
		asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: value}})
	if err != nil {
		tb.Fatal(err)
	}
	other[0] = 0xa0 // otherName is [0] IMPLICIT
	names := []asn1.RawValue{{FullBytes: other}}
	for _, u := range uris {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(u.String())})
	}
	der, err := asn1.Marshal(names)
	if err != nil {
		tb.Fatal(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: der}
}

// CardURI is the urn:uuid a PIV certificate names its card by: the CHUID GUID (the card serial, 32 hex
// characters) in RFC 4122 form.
func CardURI(cardSerial string) *url.URL {
	guid, err := hex.DecodeString(cardSerial)
	if err != nil {
		return &url.URL{Scheme: "urn", Opaque: "uuid:" + cardSerial}
	}
	return pki.CardURI(guid)
}

// NewCard issues a card's PIV Authentication certificate (subject serialNumber = holderUUID) and Card
// Authentication certificate, valid from notBefore to notAfter, with an ECC P-256 Card Authentication key.
func (ca *CA) NewCard(tb testing.TB, cardSerial, holderUUID string, notBefore, notAfter time.Time) *Card {
	tb.Helper()
	return ca.IssueCard(tb, cardSerial, holderUUID, CardOptions{NotBefore: notBefore, NotAfter: notAfter})
}

// IssueCard issues a card as real PIV issuers do: both certificates name the card by its CHUID GUID (a
// urn:uuid subject alternative name), unless opts.NoCardUUID. NotBefore and NotAfter default to a day
// ago and a year from now.
func (ca *CA) IssueCard(tb testing.TB, cardSerial, holderUUID string, opts CardOptions) *Card {
	tb.Helper()
	if opts.NotBefore.IsZero() {
		opts.NotBefore = time.Now().Add(-24 * time.Hour)
	}
	if opts.NotAfter.IsZero() {
		opts.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	var uri *url.URL
	if !opts.NoCardUUID {
		uri = CardURI(cardSerial)
	}
	var extra []pkix.Extension
	if opts.FASCN != nil {
		var uris []*url.URL
		if uri != nil {
			uris = []*url.URL{uri}
		}
		extra = []pkix.Extension{sanWithFASCN(tb, opts.FASCN, uris)}
		uri = nil // the FASC-N extension carries it
	}
	pivKey, err := pki.NewKey(ECCP256)
	if err != nil {
		tb.Fatal(err)
	}
	cardKey, err := pki.NewKey(opts.Algorithm)
	if err != nil {
		tb.Fatalf("idtest: card key: %v", err)
	}
	issue := func(subject pkix.Name, pub crypto.PublicKey) []byte {
		der, err := ca.CA.IssueCard(pki.CardCertificate{Subject: subject, CardURI: uri, NotBefore: opts.NotBefore,
			NotAfter: opts.NotAfter, ExtraExtensions: extra}, pub)
		if err != nil {
			tb.Fatal(err)
		}
		return der
	}
	piv := issue(pkix.Name{CommonName: "Test Holder", SerialNumber: holderUUID}, pivKey.Public())
	cardAuth := issue(pkix.Name{CommonName: "Card Authentication"}, cardKey.Public())
	return &Card{Serial: cardSerial, HolderUUID: holderUUID, PIVAuthCert: piv, CardAuthCert: cardAuth, CardAuthKey: cardKey}
}

// ValidCard is NewCard valid from a day ago for a year.
func (ca *CA) ValidCard(tb testing.TB, cardSerial, holderUUID string) *Card {
	return ca.NewCard(tb, cardSerial, holderUUID, time.Now().Add(-24*time.Hour), time.Now().Add(365*24*time.Hour))
}

// Sign signs the nonce with the Card Authentication key as the contract says (identity.StartSessionRequest's
// Signature): ECDSA over the nonce as given for P-256, over SHA-384(nonce) for P-384; RSASSA-PKCS1-v1_5
// SHA-256 for RSA 2048.
func (c *Card) Sign(tb testing.TB, nonce []byte) []byte {
	var sig []byte
	var err error
	switch k := c.CardAuthKey.(type) {
	case *ecdsa.PrivateKey:
		digest := nonce
		if k.Curve == elliptic.P384() {
			d := sha512.Sum384(nonce)
			digest = d[:]
		}
		sig, err = ecdsa.SignASN1(rand.Reader, k, digest)
	case *rsa.PrivateKey:
		d := sha256.Sum256(nonce)
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
	default:
		tb.Fatalf("idtest: card key %T", c.CardAuthKey)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return sig
}

// StartRequest is the StartSession request this card makes for a nonce.
func (c *Card) StartRequest(tb testing.TB, nonce []byte) identity.StartSessionRequest {
	return identity.StartSessionRequest{CardSerial: c.Serial, HolderUUID: c.HolderUUID, PIVAuthCert: c.PIVAuthCert,
		CardAuthCert: c.CardAuthCert, Nonce: nonce, Signature: c.Sign(tb, nonce)}
}

// WriteCert writes a certificate and its key as PEM files in dir: name.pem and name-key.pem.
func WriteCert(tb testing.TB, dir, name string, c tls.Certificate) (certFile, keyFile string) {
	tb.Helper()
	return pkitest.WriteCert(tb, dir, name, c)
}

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
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ssu-kiosk/remote/identity"
)

// CA is a certificate authority with its key.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

func serial(tb testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// NewCA makes a self-signed ECDSA P-256 CA valid from a day ago for ten years.
func NewCA(tb testing.TB, cn string) *CA {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(tb),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"ssu-kiosk test"}},
		NotBefore:             time.Now().Add(-10 * 365 * 24 * time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &CA{Cert: cert, Key: key}
}

// PEM is the CA certificate in PEM.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Pool is a pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

func (ca *CA) sign(tb testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey) []byte {
	tb.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// ServerCert issues a TLS server certificate for localhost and 127.0.0.1.
func (ca *CA) ServerCert(tb testing.TB) tls.Certificate {
	tb.Helper()
	key := newKey(tb)
	der := ca.sign(tb, &x509.Certificate{
		SerialNumber: serial(tb),
		Subject:      pkix.Name{CommonName: "ssu-idservice"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}, &key.PublicKey)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// KioskCert issues a kiosk device (TLS client) certificate whose CN is the kiosk id.
func (ca *CA) KioskCert(tb testing.TB, kioskID string) tls.Certificate {
	tb.Helper()
	key := newKey(tb)
	der := ca.sign(tb, &x509.Certificate{
		SerialNumber: serial(tb),
		Subject:      pkix.Name{CommonName: kioskID},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, &key.PublicKey)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
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
type CardAlgorithm string

// The Card Authentication key algorithms a test card can have.
const (
	ECCP256 CardAlgorithm = "p256"
	ECCP384 CardAlgorithm = "p384"
	RSA2048 CardAlgorithm = "rsa2048"
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
	h := cardSerial
	if len(h) == 32 {
		h = h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	return &url.URL{Scheme: "urn", Opaque: "uuid:" + h}
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
	var uris []*url.URL
	if !opts.NoCardUUID {
		uris = []*url.URL{CardURI(cardSerial)}
	}
	var extra []pkix.Extension
	if opts.FASCN != nil {
		extra = []pkix.Extension{sanWithFASCN(tb, opts.FASCN, uris)}
	}
	pivKey := newKey(tb)
	var cardKey crypto.Signer
	var err error
	switch opts.Algorithm {
	case ECCP256, "":
		cardKey = newKey(tb)
	case ECCP384:
		cardKey, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case RSA2048:
		cardKey, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		tb.Fatalf("idtest: unknown card algorithm %q", opts.Algorithm)
	}
	if err != nil {
		tb.Fatal(err)
	}
	piv := ca.sign(tb, &x509.Certificate{
		SerialNumber:    serial(tb),
		Subject:         pkix.Name{CommonName: "Test Holder", SerialNumber: holderUUID},
		NotBefore:       opts.NotBefore,
		NotAfter:        opts.NotAfter,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		URIs:            uris,
		ExtraExtensions: extra,
	}, &pivKey.PublicKey)
	cardAuth := ca.sign(tb, &x509.Certificate{
		SerialNumber:    serial(tb),
		Subject:         pkix.Name{CommonName: "Card Authentication"},
		NotBefore:       opts.NotBefore,
		NotAfter:        opts.NotAfter,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		URIs:            uris,
		ExtraExtensions: extra,
	}, cardKey.Public())
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
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return certFile, keyFile
}

// Package pki is the project's one certificate authority: it makes and loads CAs and issues every
// certificate the project uses. The fleet CA signs kiosks' client certificates (enrolment signs their
// CSRs here), the broker's, ssu-fleetd's and ssu-idservice's server certificates, and the CRL; a card CA
// signs PIV card certificates (the virtual card, hal/vcard). `ssu-ctl pki` is its command line. Tests
// make throwaway CAs with the pkitest package beside it.
//
// It lives in provisioning/ because provisioning is where the project's keys, certificates and
// configuration are made; remote/ (the servers) and hal/ (the virtual card) only use what it issues, and
// it imports nothing from the project, so any part may use it.
//
// The rule every certificate follows: a TLS client's CN is its identity (a kiosk id, or the fleet
// server's), which is also its MQTT client id. A real fleet's CA may live elsewhere as long as it keeps
// that rule.
//
// It never writes a private key with permissions wider than 0600 and never prints or logs one.
// WritePair replaces a file only when asked to (overwrite), and otherwise cannot replace one even if it
// appears while it writes; the WriteFiles methods, for tests, demos and the simulator, always replace.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"
)

// CA is a certificate authority: its certificate and the key that signs with it.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CAOptions describe a new CA beyond its name.
type CAOptions struct {
	// NotBefore and NotAfter default to an hour ago and ten years from now.
	NotBefore, NotAfter time.Time
	// Organization goes in the subject when set.
	Organization []string
}

// NewCA makes an ECDSA P-256 CA named name, valid for ten years.
func NewCA(name string) (*CA, error) { return NewCAWith(name, CAOptions{}) }

// NewCAWith makes an ECDSA P-256 CA named name. It signs certificates and CRLs, and no other CA
// (path length zero).
func NewCAWith(name string, o CAOptions) (*CA, error) {
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().AddDate(10, 0, 0)
	}
	key, err := NewKey(ECCP256)
	if err != nil {
		return nil, fmt.Errorf("new ca: %w", err)
	}
	serial, err := Serial()
	if err != nil {
		return nil, fmt.Errorf("new ca: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: o.Organization},
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("new ca: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new ca: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// LoadCA reads a CA certificate and its key (PEM; PKCS#8, EC or PKCS#1 key) and checks that they
// belong together and that the certificate is a CA's.
func LoadCA(certFile, keyFile string) (*CA, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load ca: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("load ca: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("load ca: %s is not a CA certificate", certFile)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("load ca: key cannot sign")
	}
	return &CA{Cert: cert, Key: signer}, nil
}

// CertPEM returns the CA certificate in PEM.
func (ca *CA) CertPEM() []byte { return CertPEM(ca.Cert.Raw) }

// KeyPEM returns the CA's key in PEM (PKCS#8). Write it with WritePair; never print it.
func (ca *CA) KeyPEM() ([]byte, error) { return KeyPEM(ca.Key) }

// Pool returns a pool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Sign signs a certificate for pub made from tmpl. A missing serial number is filled with a random
// one; everything else is the caller's.
func (ca *CA) Sign(tmpl *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, error) {
	der, err := ca.SignDER(tmpl, pub)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// SignDER is Sign returning the certificate in DER, not parsed back.
func (ca *CA) SignDER(tmpl *x509.Certificate, pub crypto.PublicKey) ([]byte, error) {
	if tmpl.SerialNumber == nil {
		serial, err := Serial()
		if err != nil {
			return nil, err
		}
		tmpl.SerialNumber = serial
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign %q: %w", tmpl.Subject.CommonName, err)
	}
	return der, nil
}

// Serial is a random positive certificate (or CRL) serial number of up to 120 bits.
func Serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// CertPEM encodes a DER certificate as PEM.
func CertPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// KeyPEM encodes a private key as PEM (PKCS#8).
func KeyPEM(key crypto.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// LoadPool reads a PEM file of CA certificates into a pool.
func LoadPool(caFile string) (*x509.CertPool, error) {
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("load ca: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("load ca: no certificate in %s", caFile)
	}
	return p, nil
}

// KeyAlgorithm is a key algorithm of SP 800-78-4 (the ones a PIV card's keys may use).
type KeyAlgorithm string

// The key algorithms NewKey makes.
const (
	ECCP256 KeyAlgorithm = "p256"
	ECCP384 KeyAlgorithm = "p384"
	RSA2048 KeyAlgorithm = "rsa2048"
)

// NewKey makes a key; ECC P-256 when a is empty.
func NewKey(a KeyAlgorithm) (crypto.Signer, error) {
	switch a {
	case ECCP256, "":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECCP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("unknown key algorithm %q", string(a))
}

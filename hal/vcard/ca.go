package vcard

import (
	"fmt"
	"path/filepath"
	"time"

	"ssu-kiosk/provisioning/pki"
)

// File names of a CA in its directory.
const (
	CACertFile = "card-ca.pem"
	CAKeyFile  = "card-ca.key"
)

// CA is the certificate authority that signs virtual cards' certificates: the project's one issuer
// (provisioning/pki).
type CA = pki.CA

// LoadCA reads DIR/card-ca.pem (a PEM certificate) and DIR/card-ca.key (a PEM PKCS #8 or SEC 1 EC key)
// and checks that they belong together.
func LoadCA(dir string) (*CA, error) {
	ca, err := pki.LoadCA(filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("load card ca: %w", err)
	}
	return ca, nil
}

// GenerateCA makes a new self-signed ECDSA P-256 CA named cn, valid from notBefore to notAfter.
func GenerateCA(cn string, notBefore, notAfter time.Time) (*CA, error) {
	ca, err := pki.NewCAWith(cn, pki.CAOptions{NotBefore: notBefore, NotAfter: notAfter})
	if err != nil {
		return nil, fmt.Errorf("generate card ca: %w", err)
	}
	return ca, nil
}

// WriteCA writes ca as DIR/card-ca.pem and DIR/card-ca.key (PKCS #8, mode 0600), replacing them.
func WriteCA(ca *CA, dir string) error {
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return fmt.Errorf("write card ca: %w", err)
	}
	if err := pki.WritePair(filepath.Join(dir, CACertFile), ca.CertPEM(), filepath.Join(dir, CAKeyFile), keyPEM, true); err != nil {
		return fmt.Errorf("write card ca: %w", err)
	}
	return nil
}

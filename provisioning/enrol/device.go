package enrol

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ssu-kiosk/remote/fleet"
)

// DefaultDir is where the image expects the enrolment (image/README.md).
const DefaultDir = "/var/lib/ssu/enrol"

// Files of an enrolment directory. FileConfig is written last: its presence means "enrolled".
const (
	FileKey       = "key.pem"        // the kiosk's P-256 key, PKCS#8, 0600; made here, never sent
	FileCert      = "cert.pem"       // its certificate, CN = kiosk id
	FileCA        = "ca.pem"         // the fleet CA (the broker's certificate chains to it)
	FileServiceCA = "service-ca.pem" // the identity service's CA bundle
	FileCardKey   = "fleet-card-key" // the fleet's card-key secret, 0600
	FileConfig    = "kiosk.yaml"     // ssu-kiosk's configuration (`name = value` lines, kiosk/app)
	// FileServer and FileServerCA say how to reach the enrolment server again, for renewal
	// (written by ssu-ctl enrol; `name = value` lines: server, ca-pin, ca).
	FileServer   = "server.conf"
	FileServerCA = "server-ca.pem"
)

// ErrAlreadyEnrolled is returned by Device.Enrol when the directory holds an enrolment.
var ErrAlreadyEnrolled = errors.New("already enrolled (run ssu-ctl decommission first)")

// ErrNotEnrolled is returned by Device.Renew when there is no enrolment.
var ErrNotEnrolled = errors.New("not enrolled")

// Device is the kiosk's side: its enrolment directory.
type Device struct {
	Dir string           // DefaultDir when empty
	Now func() time.Time // time.Now when nil
}

func (d Device) dir() (string, error) {
	dir := d.Dir
	if dir == "" {
		dir = DefaultDir
	}
	return filepath.Abs(dir)
}

func (d Device) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Enrolled reports whether the directory holds a complete enrolment.
func (d Device) Enrolled() bool {
	dir, err := d.dir()
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, FileConfig))
	return err == nil
}

// Enrol makes a P-256 key on the device (written 0600 before anything is sent), sends a CSR with
// the token, checks the answer (the certificate is for this key, names the kiosk and chains to the
// CA bundle) and writes certificate, CA bundles, card key and configuration, each atomically, the
// configuration last. The caller clears the token afterwards.
func (d Device) Enrol(ctx context.Context, c *Client, token []byte) (*Enrolment, error) {
	dir, err := d.dir()
	if err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	if d.Enrolled() {
		return nil, fmt.Errorf("enrol: %s: %w", dir, ErrAlreadyEnrolled)
	}
	if !wellFormed(bytes.TrimSpace(token), tokenPrefix) {
		return nil, fmt.Errorf("enrol: the token is malformed: it starts %s and has %d characters", tokenPrefix, len(tokenPrefix)+43)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	// A failed enrolment leaves no key or certificate behind: the token is spent or was refused
	// either way, and the next attempt makes a new key.
	committed := false
	defer func() {
		if !committed {
			wipe(dir, FileKey, FileCardKey, FileCert, FileCA, FileServiceCA)
		}
	}()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("enrol: make key: %w", err)
	}
	if err := writeKey(filepath.Join(dir, FileKey), key); err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	csr, err := makeCSR(key)
	if err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	e, err := c.Enrol(ctx, bytes.TrimSpace(token), csr)
	if err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	if err := e.check(key, d.now()); err != nil {
		return nil, fmt.Errorf("enrol: the server's answer: %w", err)
	}
	files := []struct {
		name string
		data []byte
		mode fs.FileMode
	}{
		{FileCert, []byte(e.Certificate), 0o644},
		{FileCA, []byte(e.CABundle), 0o644},
		{FileServiceCA, []byte(e.ServiceCA), 0o644},
	}
	if len(e.CardKey) > 0 {
		files = append(files, struct {
			name string
			data []byte
			mode fs.FileMode
		}{FileCardKey, e.CardKey, 0o600})
	}
	for _, f := range files {
		if err := WriteFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return nil, fmt.Errorf("enrol: %w", err)
		}
	}
	clear(e.CardKey)
	if err := WriteFileAtomic(filepath.Join(dir, FileConfig), RenderConfig(e, dir, c.Server, d.now()), 0o644); err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	committed = true
	return e, nil
}

// check verifies an enrolment against the key it was asked for.
func (e *Enrolment) check(key *ecdsa.PrivateKey, now time.Time) error {
	if err := fleet.ValidKioskID(e.KioskID); err != nil {
		return err
	}
	if err := validPlace("site", e.Site); err != nil {
		return err
	}
	if err := validPlace("ward", e.Ward); err != nil {
		return err
	}
	if _, err := verifyIssued(e.Certificate, e.CABundle, e.KioskID, key, now); err != nil {
		return err
	}
	p := Profile{BrokerURL: e.BrokerURL, IdentityURL: e.IdentityURL, TroubleshootingURL: e.TroubleshootingURL,
		Methods: e.Methods, ServiceCA: []byte(e.ServiceCA), CardKey: e.CardKey}
	return p.validate()
}

// verifyIssued checks that a certificate is for key, names kioskID and chains to the CA bundle.
func verifyIssued(certPEM, caPEM, kioskID string, key *ecdsa.PrivateKey, now time.Time) (*x509.Certificate, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, err
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(key.Public()) {
		return nil, errors.New("the certificate is not for this device's key")
	}
	if cert.Subject.CommonName != kioskID {
		return nil, fmt.Errorf("the certificate names %q, not the kiosk id %q", cert.Subject.CommonName, kioskID)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(caPEM)) {
		return nil, errors.New("the CA bundle holds no certificate")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("the certificate does not chain to the CA bundle: %w", err)
	}
	return cert, nil
}

// RenderConfig returns the kiosk configuration for an enrolment whose files are in dir, in the
// format of kiosk/app (testdata/kiosk/ssu-kiosk.conf). The enrolment server's URL goes in a comment:
// the image's firewall lets out every URL the file names, and renewal needs that one.
func RenderConfig(e *Enrolment, dir, server string, now time.Time) []byte {
	var b bytes.Buffer
	w := func(name, value string) { fmt.Fprintf(&b, "%s = %s\n", name, value) }
	fmt.Fprintf(&b, "# ssu-kiosk configuration written by `ssu-ctl enrol` at %s.\n", now.UTC().Format(time.RFC3339))
	b.WriteString("# Enrolment owns this file: re-enrol (ssu-ctl decommission, then ssu-ctl enrol) rather than edit it.\n")
	if server != "" && !strings.ContainsAny(server, "\r\n") {
		fmt.Fprintf(&b, "# Renewal (ssu-ctl renew) reaches the enrolment server at %s\n", server)
	}
	w("kiosk-id", e.KioskID)
	w("site", e.Site)
	w("ward", e.Ward)
	w("identity-url", e.IdentityURL)
	w("service-ca", filepath.Join(dir, FileServiceCA))
	w("client-cert", filepath.Join(dir, FileCert))
	w("client-key", filepath.Join(dir, FileKey))
	if e.TroubleshootingURL != "" {
		w("troubleshooting-url", e.TroubleshootingURL)
	}
	w("methods", strings.Join(e.Methods, ", "))
	if e.BrokerURL != "" {
		w("fleet-broker", e.BrokerURL)
		w("fleet-ca", filepath.Join(dir, FileCA))
		w("fleet-card-key-file", filepath.Join(dir, FileCardKey))
	}
	return b.Bytes()
}

// Certificate returns the device's current certificate.
func (d Device) Certificate() (*x509.Certificate, error) {
	dir, err := d.dir()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, FileCert))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, err
	}
	return parseCert(string(b))
}

// Renew asks for a new certificate for the device's key when the current one expires within
// `within` (a third of its lifetime when zero), or always with force. The key stays; only cert.pem
// (and ca.pem, if the CA bundle changed) is replaced, atomically. It reports whether it renewed and
// the certificate's expiry.
func (d Device) Renew(ctx context.Context, c *Client, within time.Duration, force bool) (bool, time.Time, error) {
	dir, err := d.dir()
	if err != nil {
		return false, time.Time{}, fmt.Errorf("renew: %w", err)
	}
	cur, err := d.Certificate()
	if err != nil {
		return false, time.Time{}, fmt.Errorf("renew: %w", err)
	}
	if within <= 0 {
		within = cur.NotAfter.Sub(cur.NotBefore) / 3
	}
	if !force && cur.NotAfter.Sub(d.now()) > within {
		return false, cur.NotAfter, nil
	}
	key, err := readKey(filepath.Join(dir, FileKey))
	if err != nil {
		return false, time.Time{}, fmt.Errorf("renew: %w", err)
	}
	csr, err := makeCSR(key)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("renew: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cur.Raw})
	r, err := c.Renew(ctx, certPEM, csr)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("renew: %w", err)
	}
	cert, err := verifyIssued(r.Certificate, r.CABundle, cur.Subject.CommonName, key, d.now())
	if err != nil {
		return false, time.Time{}, fmt.Errorf("renew: the server's answer: %w", err)
	}
	if old, _ := os.ReadFile(filepath.Join(dir, FileCA)); !bytes.Equal(old, []byte(r.CABundle)) {
		if err := WriteFileAtomic(filepath.Join(dir, FileCA), []byte(r.CABundle), 0o644); err != nil {
			return false, time.Time{}, fmt.Errorf("renew: %w", err)
		}
	}
	if err := WriteFileAtomic(filepath.Join(dir, FileCert), []byte(r.Certificate), 0o644); err != nil {
		return false, time.Time{}, fmt.Errorf("renew: %w", err)
	}
	return true, cert.NotAfter, nil
}

// Decommission wipes the enrolment: the configuration first (the kiosk is no longer enrolled), then
// the secrets (overwritten with zeros and synced before removal), then the certificates. Missing
// files are not an error. On flash storage an overwrite may not reach the old blocks: the keys are
// also useless once the kiosk is revoked (ssu-ctl revoke), which IT should do as well.
func (d Device) Decommission() error {
	dir, err := d.dir()
	if err != nil {
		return fmt.Errorf("decommission: %w", err)
	}
	err = wipe(dir, FileConfig, FileKey, FileCardKey, FileCert, FileCA, FileServiceCA, FileServer, FileServerCA)
	if err != nil {
		return fmt.Errorf("decommission: %w", err)
	}
	return nil
}

// wipe removes the named files of dir in order, overwriting the secrets first; missing files are
// not an error.
func wipe(dir string, names ...string) error {
	var errs []error
	for _, name := range names {
		p := filepath.Join(dir, name)
		if name == FileKey || name == FileCardKey {
			if err := overwrite(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func overwrite(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := f.Write(make([]byte, st.Size())); err != nil {
		return fmt.Errorf("overwrite %s: %w", path, err)
	}
	return f.Sync()
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	defer clear(p)
	return WriteFileAtomic(path, p, 0o600)
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	defer clear(b)
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("read key %s: no PEM block", path)
	}
	defer clear(blk.Bytes)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("read key %s: not an ECDSA key", path)
	}
	return ec, nil
}

func makeCSR(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "ssu-kiosk"}, // the server names the certificate after the kiosk id
	}, key)
	if err != nil {
		return nil, fmt.Errorf("make csr: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

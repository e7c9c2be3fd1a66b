package idservice

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"sync"
	"syscall"
	"time"

	"ssu-kiosk/remote/fleet"
)

// ErrRevoked is returned for a kiosk certificate the fleet CA has revoked.
var ErrRevoked = errors.New("kiosk certificate revoked")

// Revocations is the fleet CA's certificate revocation list (the file ssu-fleetd's enrolment server writes
// with --enrol-crl), read again when the file changes. There is no watcher: each Check compares the file's
// modification time, size and inode with those last read (one stat call), so a new list counts from the
// next handshake or request. A list that cannot be read or whose signature does not verify against the
// kiosk CAs is refused at start; later, the last good list stays in force and the failure is logged. A list
// issued before the one in force (thisUpdate, then the CRL number for lists of the same second) is refused
// too, so an old list cannot un-revoke a kiosk. At start any list signed by a kiosk CA is taken: nothing
// remembers the list in force across restarts.
type Revocations struct {
	path    string
	issuers []*x509.Certificate
	log     *slog.Logger

	mu         sync.Mutex
	stamp      fileStamp
	revoked    map[string]bool // issuer (raw DER name) + serial
	thisUpdate time.Time       // the newest list's; an older list is not taken (no rollback)
	number     *big.Int        // the newest list's CRL number: orders lists of the same thisUpdate
}

type fileStamp struct {
	mod   time.Time
	size  int64
	inode uint64
}

func stampOf(fi os.FileInfo) fileStamp {
	st := fileStamp{mod: fi.ModTime(), size: fi.Size()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.inode = sys.Ino
	}
	return st
}

// LoadRevocations reads the CRL file at path; each list in it must be signed by one of issuers (the kiosk
// CAs). log gets reload failures and stale lists; slog.Default when nil.
func LoadRevocations(path string, issuers []*x509.Certificate, log *slog.Logger) (*Revocations, error) {
	if log == nil {
		log = slog.Default()
	}
	r := &Revocations{path: path, issuers: issuers, log: log}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("kiosk CRL: %w", err)
	}
	if err := r.load(stampOf(fi)); err != nil {
		return nil, err
	}
	return r, nil
}

// load reads and verifies the file and replaces the list; the caller holds mu or owns r.
func (r *Revocations) load(st fileStamp) error {
	data, err := os.ReadFile(r.path)
	if err != nil {
		return fmt.Errorf("kiosk CRL: %w", err)
	}
	revoked := map[string]bool{}
	lists := 0
	var newest time.Time
	var number *big.Int
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "X509 CRL" {
			continue
		}
		crl, err := x509.ParseRevocationList(block.Bytes)
		if err != nil {
			return fmt.Errorf("kiosk CRL %s: %w", r.path, err)
		}
		if err := r.verify(crl); err != nil {
			return fmt.Errorf("kiosk CRL %s: %w", r.path, err)
		}
		if !crl.NextUpdate.IsZero() && time.Now().After(crl.NextUpdate) {
			r.log.Warn("kiosk CRL is past its next update: is the fleet server's enrolment running?", "file", r.path, "next_update", crl.NextUpdate)
		}
		if crl.ThisUpdate.Before(r.thisUpdate) {
			return fmt.Errorf("kiosk CRL %s: issued %s, before the list in force (%s): an older list is not taken", r.path,
				crl.ThisUpdate.UTC().Format(time.RFC3339), r.thisUpdate.UTC().Format(time.RFC3339))
		}
		// CRL times have whole seconds: lists issued within one second are ordered by their number.
		if crl.ThisUpdate.Equal(r.thisUpdate) && r.number != nil && crl.Number != nil && crl.Number.Cmp(r.number) < 0 {
			return fmt.Errorf("kiosk CRL %s: number %s, below the list in force (%s) of the same time: an older list is not taken",
				r.path, crl.Number, r.number)
		}
		if crl.ThisUpdate.After(newest) || crl.ThisUpdate.Equal(newest) && crl.Number != nil && (number == nil || crl.Number.Cmp(number) > 0) {
			newest, number = crl.ThisUpdate, crl.Number
		}
		for _, e := range crl.RevokedCertificateEntries {
			revoked[string(crl.RawIssuer)+"/"+e.SerialNumber.String()] = true
		}
		lists++
	}
	if lists == 0 {
		return fmt.Errorf("kiosk CRL %s: no PEM X509 CRL", r.path)
	}
	r.revoked, r.stamp, r.thisUpdate, r.number = revoked, st, newest, number
	return nil
}

func (r *Revocations) verify(crl *x509.RevocationList) error {
	for _, ca := range r.issuers {
		if !bytes.Equal(ca.RawSubject, crl.RawIssuer) {
			continue
		}
		if err := crl.CheckSignatureFrom(ca); err == nil {
			return nil
		}
	}
	return errors.New("not signed by a kiosk CA")
}

// Check returns ErrRevoked when cert is on the list, after reading the file again if it changed.
func (r *Revocations) Check(cert *x509.Certificate) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if fi, err := os.Stat(r.path); err != nil {
		r.log.Error("kiosk CRL cannot be read; the last list read stays in force", "file", r.path, "err", err)
	} else if st := stampOf(fi); st != r.stamp {
		if err := r.load(st); err != nil {
			r.log.Error("kiosk CRL changed but cannot be used; the last list read stays in force", "err", err)
		} else {
			r.log.Info("kiosk CRL reloaded", "file", r.path, "revoked", len(r.revoked))
		}
	}
	if r.revoked[string(cert.RawIssuer)+"/"+cert.SerialNumber.String()] {
		return ErrRevoked
	}
	return nil
}

// kioskID returns the kiosk id a client certificate names (its CN), or why the certificate cannot be a
// kiosk's: a malformed id (fleet.ValidKioskID), the fleet server's own identity, or a revoked certificate.
func (s *Service) kioskID(cert *x509.Certificate) (string, error) {
	id := cert.Subject.CommonName
	if err := fleet.ValidKioskID(id); err != nil {
		return "", fmt.Errorf("client certificate is not a kiosk's: %w", err)
	}
	if id == s.cfg.FleetIdentity {
		return "", errors.New("client certificate is the fleet server's, not a kiosk's")
	}
	if s.cfg.Revocations != nil {
		if err := s.cfg.Revocations.Check(cert); err != nil {
			return "", err
		}
	}
	return id, nil
}

// VerifyConnection refuses, during the TLS handshake, a client certificate that is not a kiosk's or is
// revoked: set it as tls.Config.VerifyConnection of the service's listener. The handler checks each request
// again, so a connection kept open across a revocation is refused too.
func (s *Service) VerifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no client certificate")
	}
	_, err := s.kioskID(cs.PeerCertificates[0])
	if err != nil {
		s.log.Warn("kiosk refused at the handshake", "err", err)
	}
	return err
}

package enrol

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/remote/fleet"
)

// Defaults for Config.
const (
	DefaultTokenValidity = 24 * time.Hour
	DefaultCertValidity  = 90 * 24 * time.Hour
	DefaultCRLValidity   = 7 * 24 * time.Hour
)

// Profile is the configuration every enrolled kiosk receives.
type Profile struct {
	BrokerURL          string   // the fleet broker, e.g. ssl://fleet.example.nhs.uk:8883; "" for no fleet link
	IdentityURL        string   // the identity service, e.g. https://idservice.example.nhs.uk:8443
	TroubleshootingURL string   // opened by the QR code on error screens
	Methods            []string // e.g. email, sms
	ServiceCA          []byte   // PEM bundle the identity service's certificate chains to
	CardKey            []byte   // the fleet's secret for pseudonymous card keys; required with BrokerURL
}

// DenyList is a broker that refuses revoked kiosks at once (the embedded broker's Revoke).
type DenyList interface {
	Revoke(kioskID string)
}

// Config configures a Server.
type Config struct {
	CA      *pki.CA // the fleet CA: signs kiosks' certificates and the CRL
	Store   Store
	Profile Profile
	// AdminDigests are the SHA-256 digests of the admin API tokens; with none, the admin calls
	// (tokens, revoke) are refused over HTTP and only the Go methods serve them (the dashboard).
	AdminDigests  []TokenDigest
	TokenValidity time.Duration // DefaultTokenValidity when zero
	CertValidity  time.Duration // DefaultCertValidity when zero
	CRLValidity   time.Duration // DefaultCRLValidity when zero; rewrite the CRL well before (KeepCRLFresh)
	// CRLFile is where the CRL (PEM) is written at start, on every revocation and by KeepCRLFresh:
	// the file Mosquitto's crlfile names. "" writes none.
	CRLFile string
	// AfterCRLWrite, when set, runs after each write of the CRL file: e.g. signal Mosquitto to reload
	// (SIGHUP; Mosquitto 2.0 reads its crlfile again then, measured). Its error is logged.
	AfterCRLWrite func(ctx context.Context) error
	DenyLists     []DenyList
	Now           func() time.Time // time.Now when nil
	Log           *slog.Logger
}

// Server is the fleet server's enrolment service: an http.Handler to mount at /enrol/.
type Server struct {
	cfg Config
	mux *http.ServeMux
	log *slog.Logger
}

// NewServer checks cfg and returns a Server; it writes the CRL file when one is configured.
func NewServer(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.CA == nil || cfg.CA.Cert == nil || cfg.CA.Key == nil {
		return nil, errors.New("enrolment server: a CA with its key is required")
	}
	if cfg.Store == nil {
		return nil, errors.New("enrolment server: a store is required")
	}
	if err := cfg.Profile.validate(); err != nil {
		return nil, fmt.Errorf("enrolment server: %w", err)
	}
	if cfg.TokenValidity <= 0 {
		cfg.TokenValidity = DefaultTokenValidity
	}
	if cfg.CertValidity <= 0 {
		cfg.CertValidity = DefaultCertValidity
	}
	if cfg.CRLValidity <= 0 {
		cfg.CRLValidity = DefaultCRLValidity
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Log}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.mux.HandleFunc("POST "+PathTokens, s.admin(s.handleToken))
	s.mux.HandleFunc("POST "+PathKiosks, s.handleEnrol)
	s.mux.HandleFunc("POST "+PathRenew, s.handleRenew)
	s.mux.HandleFunc("POST "+PathRevoke, s.admin(s.handleRevoke))
	s.mux.HandleFunc("GET "+PathCRL, s.handleCRL)
	s.mux.HandleFunc("GET "+PathCA, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(cfg.CA.CertPEM())
	})
	if cfg.CRLFile != "" {
		if err := s.WriteCRL(ctx); err != nil {
			return nil, fmt.Errorf("enrolment server: %w", err)
		}
	}
	return s, nil
}

func (p Profile) validate() error {
	var errs []error
	for _, u := range []struct{ name, v string }{{"identity", p.IdentityURL}, {"broker", p.BrokerURL}, {"troubleshooting", p.TroubleshootingURL}} {
		name, v := u.name, u.v
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || u.Scheme == "" || u.Host == "" || strings.ContainsAny(v, " \t\r\n\"#") {
			errs = append(errs, fmt.Errorf("profile: %s URL %q is not an absolute URL", name, v))
		}
	}
	if p.IdentityURL == "" {
		errs = append(errs, errors.New("profile: the identity service URL is required"))
	}
	if len(p.Methods) == 0 {
		errs = append(errs, errors.New("profile: at least one method is required"))
	}
	for _, m := range p.Methods {
		if m != "email" && m != "sms" && m != "face" { // kiosk/flow's methods
			errs = append(errs, fmt.Errorf("profile: method %q is not email, sms or face", m))
		}
	}
	if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM(p.ServiceCA) {
		errs = append(errs, errors.New("profile: the identity service's CA bundle holds no certificate"))
	}
	if p.BrokerURL != "" && len(p.CardKey) < 16 {
		errs = append(errs, errors.New("profile: a fleet broker needs the fleet card key (at least 16 bytes)"))
	}
	return errors.Join(errs...)
}

// ServeHTTP serves the enrolment API under /enrol/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// CreateToken makes a single-use enrolment token for a site and ward, valid for the token validity.
// The token is returned once and only its digest is kept. The dashboard calls this directly.
func (s *Server) CreateToken(ctx context.Context, site, ward string) (TokenResponse, error) {
	site, ward = strings.TrimSpace(site), strings.TrimSpace(ward)
	if err := validPlace("site", site); err != nil {
		return TokenResponse{}, err
	}
	if err := validPlace("ward", ward); err != nil {
		return TokenResponse{}, err
	}
	tok := newSecret(tokenPrefix)
	defer clear(tok)
	now := s.cfg.Now()
	t := Token{Digest: DigestOf(tok), Site: site, Ward: ward, Created: now, Expires: now.Add(s.cfg.TokenValidity)}
	if err := s.cfg.Store.AddToken(ctx, t); err != nil {
		return TokenResponse{}, fmt.Errorf("create token: %w", err)
	}
	s.log.Info("enrol: token created", "site", site, "ward", ward, "expires", t.Expires)
	return TokenResponse{Token: string(tok), Site: site, Ward: ward, Expires: t.Expires}, nil
}

// validPlace checks a site or ward name: it travels in the kiosk's `name = value` configuration.
func validPlace(what, v string) error {
	if v == "" || len(v) > 120 {
		return badInput{fmt.Errorf("%s must be 1-120 characters", what)}
	}
	alnum, digits := false, 0
	for _, r := range v {
		if unicode.IsControl(r) || r == '"' {
			return badInput{fmt.Errorf("%s holds a control character or a double quote", what)}
		}
		alnum = alnum || r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r))
		// Fleet messages carry the place and refuse six digits in a row (they could be a security
		// code); the kiosk's slug drops apostrophes, so they do not break a run.
		switch {
		case r >= '0' && r <= '9':
			if digits++; digits >= 6 {
				return badInput{fmt.Errorf("%s holds six or more digits in a row (fleet messages refuse them)", what)}
			}
		case r == '\'' || r == '’':
		default:
			digits = 0
		}
	}
	if !alnum {
		return badInput{fmt.Errorf("%s needs at least one letter or digit (a-z, 0-9)", what)}
	}
	return nil
}

// Revoke revokes a kiosk: its certificates go on the CRL (the file is rewritten) and every deny
// list refuses it from now on. Renewal is refused to a revoked kiosk.
func (s *Server) Revoke(ctx context.Context, kioskID string) (time.Time, error) {
	now := s.cfg.Now()
	if err := s.cfg.Store.RevokeKiosk(ctx, kioskID, now); err != nil {
		return time.Time{}, fmt.Errorf("revoke %s: %w", kioskID, err)
	}
	k, err := s.cfg.Store.Kiosk(ctx, kioskID)
	if err != nil {
		return time.Time{}, fmt.Errorf("revoke %s: %w", kioskID, err)
	}
	for _, d := range s.cfg.DenyLists {
		d.Revoke(kioskID)
	}
	s.log.Info("enrol: kiosk revoked", "kiosk", kioskID)
	if s.cfg.CRLFile != "" {
		if err := s.WriteCRL(ctx); err != nil {
			return k.Revoked, fmt.Errorf("revoke %s: revoked, but %w", kioskID, err)
		}
	}
	return k.Revoked, nil
}

// RevokedKiosks lists the revoked kiosks: give them to the embedded broker at start (broker.Config.Revoked).
func (s *Server) RevokedKiosks(ctx context.Context) ([]string, error) {
	return s.cfg.Store.RevokedKiosks(ctx)
}

// CRL returns the fleet CA's current revocation list (PEM), valid for the CRL validity.
func (s *Server) CRL(ctx context.Context) ([]byte, error) {
	now := s.cfg.Now()
	revs, err := s.cfg.Store.Revocations(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("crl: %w", err)
	}
	entries := make([]x509.RevocationListEntry, 0, len(revs))
	for _, r := range revs {
		n, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok {
			return nil, fmt.Errorf("crl: stored serial %q is not hex", r.Serial)
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: r.Revoked})
	}
	return s.cfg.CA.RevocationList(entries, big.NewInt(now.UnixNano()), now.Add(-time.Minute), now.Add(s.cfg.CRLValidity))
}

// WriteCRL writes the current CRL to the CRL file atomically, then runs AfterCRLWrite. Mosquitto
// reads the file when it starts or reloads (SIGHUP); a kiosk already connected stays connected until
// it reconnects, so revoke on the embedded broker (a DenyList) too where one runs.
func (s *Server) WriteCRL(ctx context.Context) error {
	crl, err := s.CRL(ctx)
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(s.cfg.CRLFile, crl, 0o644); err != nil {
		return fmt.Errorf("write crl: %w", err)
	}
	if s.cfg.AfterCRLWrite != nil {
		if err := s.cfg.AfterCRLWrite(ctx); err != nil {
			s.log.Error("enrol: after writing the crl", "err", err)
		}
	}
	return nil
}

// KeepCRLFresh rewrites the CRL file every third of the CRL validity until ctx ends, so Mosquitto
// never holds an expired CRL (which would refuse every kiosk).
func (s *Server) KeepCRLFresh(ctx context.Context) {
	if s.cfg.CRLFile == "" {
		return
	}
	t := time.NewTicker(s.cfg.CRLValidity / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.WriteCRL(ctx); err != nil {
				s.log.Error("enrol: rewrite crl", "err", err)
			}
		}
	}
}

// admin wraps a handler that needs an admin token.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || len(s.cfg.AdminDigests) == 0 || !matchesAny(DigestOf([]byte(tok)), s.cfg.AdminDigests) {
			writeError(w, http.StatusUnauthorized, codeUnauthorized, "an admin token is required (Authorization: Bearer)")
			return
		}
		h(w, r)
	}
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	var req TokenRequest
	if !decode(w, r, &req) {
		return
	}
	resp, err := s.CreateToken(r.Context(), req.Site, req.Ward)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	var req RevokeRequest
	if !decode(w, r, &req) {
		return
	}
	if err := fleet.ValidKioskID(req.Kiosk); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	at, err := s.Revoke(r.Context(), req.Kiosk)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, RevokeResponse{Kiosk: req.Kiosk, Revoked: at})
}

func (s *Server) handleCRL(w http.ResponseWriter, r *http.Request) {
	crl, err := s.CRL(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(crl)
}

func (s *Server) handleEnrol(w http.ResponseWriter, r *http.Request) {
	var req EnrolRequest
	if !decode(w, r, &req) {
		return
	}
	tok := []byte(strings.TrimSpace(req.Token))
	defer clear(tok)
	if !wellFormed(tok, tokenPrefix) {
		writeError(w, http.StatusBadRequest, codeBadRequest, "the enrolment token is malformed (it starts "+tokenPrefix+")")
		return
	}
	// Check the request before the token is spent, so bad input loses nothing.
	csr, err := parseCSR(req.CSR)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	ctx, now, id := r.Context(), s.cfg.Now(), newKioskID()
	t, err := s.cfg.Store.RedeemToken(ctx, DigestOf(tok), id, now)
	if err != nil {
		s.log.Warn("enrol: token refused", "reason", err.Error(), "remote", r.RemoteAddr)
		s.fail(w, err)
		return
	}
	cert, err := s.issue(id, csr, now)
	if err != nil {
		s.fail(w, err)
		return
	}
	k := Kiosk{ID: id, Site: t.Site, Ward: t.Ward, Enrolled: now}
	if err := s.cfg.Store.AddKiosk(ctx, k, certRecord(id, cert, now)); err != nil {
		s.fail(w, err)
		return
	}
	s.log.Info("enrol: kiosk enrolled", "kiosk", id, "site", t.Site, "ward", t.Ward, "not_after", cert.NotAfter)
	p := s.cfg.Profile
	writeJSON(w, http.StatusCreated, Enrolment{
		KioskID: id, Site: t.Site, Ward: t.Ward,
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})),
		NotAfter:    cert.NotAfter, CABundle: string(s.cfg.CA.CertPEM()), ServiceCA: string(p.ServiceCA),
		CardKey: p.CardKey, BrokerURL: p.BrokerURL, IdentityURL: p.IdentityURL,
		TroubleshootingURL: p.TroubleshootingURL, Methods: p.Methods,
	})
}

func (s *Server) handleRenew(w http.ResponseWriter, r *http.Request) {
	var req RenewRequest
	if !decode(w, r, &req) {
		return
	}
	ctx, now := r.Context(), s.cfg.Now()
	current, err := parseCert(req.Certificate)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	if _, err := current.Verify(x509.VerifyOptions{Roots: s.cfg.CA.Pool(), CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		writeError(w, http.StatusForbidden, codeUnauthorized, "the current certificate is not valid: "+err.Error())
		return
	}
	csr, err := parseCSR(req.CSR)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	// The CSR's signature proves possession of the key; the key must be the current certificate's.
	if pub, ok := current.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(csr.PublicKey) {
		writeError(w, http.StatusForbidden, codeUnauthorized, "the request is not signed by the current certificate's key")
		return
	}
	id := current.Subject.CommonName
	k, err := s.cfg.Store.Kiosk(ctx, id)
	if err != nil {
		s.fail(w, err)
		return
	}
	if !k.Revoked.IsZero() {
		s.log.Warn("enrol: renewal refused: kiosk revoked", "kiosk", id)
		s.fail(w, ErrKioskRevoked)
		return
	}
	cert, err := s.issue(id, csr, now)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.cfg.Store.AddCertificate(ctx, certRecord(id, cert, now)); err != nil {
		s.fail(w, err)
		return
	}
	s.log.Info("enrol: certificate renewed", "kiosk", id, "not_after", cert.NotAfter)
	writeJSON(w, http.StatusOK, Renewal{KioskID: id, NotAfter: cert.NotAfter, CABundle: string(s.cfg.CA.CertPEM()),
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))})
}

// issue signs a client certificate for kiosk id with the CSR's public key.
func (s *Server) issue(id string, csr *x509.CertificateRequest, now time.Time) (*x509.Certificate, error) {
	cert, err := s.cfg.CA.SignClient(id, csr.PublicKey, now.Add(-5*time.Minute), now.Add(s.cfg.CertValidity))
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", id, err)
	}
	return cert, nil
}

func certRecord(id string, c *x509.Certificate, now time.Time) Certificate {
	return Certificate{Serial: hex.EncodeToString(c.SerialNumber.Bytes()), KioskID: id, Issued: now, NotAfter: c.NotAfter}
}

// parseCSR accepts only a PEM P-256 ECDSA certificate request with a valid signature.
func parseCSR(p string) (*x509.CertificateRequest, error) {
	b, _ := pem.Decode([]byte(p))
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("csr: want a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("csr: %w", err)
	}
	if k, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		return nil, errors.New("csr: the key must be ECDSA P-256")
	}
	return csr, nil
}

func parseCert(p string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(p))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("certificate: want a PEM CERTIFICATE")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return c, nil
}

// kioskIDLetters has no digits (fleet messages refuse six digits in a row) and no look-alikes.
const kioskIDLetters = "abcdefghjkmnpqrstuvwxyz"

// newKioskID returns "kiosk-" and eight random letters.
func newKioskID() string {
	b := []byte("kiosk-")
	for range 8 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(kioskIDLetters))))
		if err != nil {
			panic(err) // crypto/rand never fails on Linux
		}
		b = append(b, kioskIDLetters[n.Int64()])
	}
	return string(b)
}

// fail answers with the status and code an error deserves; internal errors are logged, not sent.
func (s *Server) fail(w http.ResponseWriter, err error) {
	for code, e := range codeErrors {
		if errors.Is(err, e) {
			status := http.StatusForbidden
			if code == codeKioskUnknown {
				status = http.StatusNotFound
			}
			writeError(w, status, code, e.Error())
			return
		}
	}
	var bad badInput
	if errors.As(err, &bad) {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	s.log.Error("enrol: request failed", "err", err)
	writeError(w, http.StatusInternalServerError, codeInternal, "internal error (see the fleet server's log)")
}

// badInput is an error in what the caller sent (400).
type badInput struct{ error }

func (b badInput) Unwrap() error { return b.error }

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "request body: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: msg, Code: code})
}

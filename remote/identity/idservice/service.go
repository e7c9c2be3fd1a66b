// Package idservice is the reference identity service: it decides who may unlock a card, keeps each card's
// SOPIN encrypted at rest, sends security codes, releases a SOPIN once per verified session, and audits
// every step. It implements the contract in package identity (see openapi.yaml there) over mutual TLS.
//
// Policy on guessing. A session allows 5 wrong codes; wrong codes also add up across sessions, per card
// and per holder (over all their cards), within a rolling window (Config.WrongCodeWindow, 24 h by default).
// When either count reaches Config.WrongCodeLimit (10 by default) the card and its holder are locked out:
// new sessions, and code sends and checks in sessions already open, are refused with ERR1016 ("ask your
// RA"), and an audit entry (action "lockout") is raised. A lockout does not expire; an RA lifts it with
// `ssu-idservice ra clear-lockout SERIAL|UUID`, which also restarts the count. The limits per card
// (Config.CardSessionsPerHour) and the lockout apply only to starts whose card proof succeeded: anyone can
// name a card's serial, so a failed proof counts against its kiosk, never against the card it named.
//
// Policy on trust. Card certificates chain to Config.CardRoots; LoadCardCAs refuses the published test card
// CA (testdata/pki, whose key is public) unless in demo mode. Clients are kiosks: a certificate from the kiosk
// (fleet) CA whose CN is a well-formed kiosk id (fleet.ValidKioskID), not Config.FleetIdentity, and not on
// the fleet CA's revocation list (Revocations: a file re-read when its modification time, size or inode
// changes, checked at the TLS handshake by VerifyConnection and again on every request).
//
// A card is genuine only when both its certificates chain to the card CAs, the Card Authentication
// certificate is a signing end-entity certificate (not a CA; key usage digitalSignature), both name the
// card whose serial the kiosk sends (the CHUID GUID as a urn:uuid subject alternative name;
// Config.LegacyCardStock relaxes this for old card stock, and weakens the proof), the PIV Authentication
// certificate names the holder (Config.HolderUUIDAttribute), and the Card Authentication key (ECC P-256,
// P-384 or RSA 2048) signed the nonce as the contract says: see checkCard.
//
// It must never log, audit, echo or put in an error a security code, PIN, SOPIN, email address or phone
// number; codes are stored only as keyed hashes and built only in byte slices that are cleared after use;
// the audit log is append-only.
package idservice

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/errcat"
)

// Config is what a Service needs. Store, Sealer and CardRoots are required.
type Config struct {
	Store  *Store
	Sealer *Sealer
	// CardRoots are the CAs that issue smartcard certificates.
	CardRoots *x509.CertPool
	// HolderUUIDAttribute is the PIV Authentication certificate's subject attribute holding the holder
	// UUID; identity.DefaultHolderUUIDAttribute (serialNumber) when nil. Every challenge names it, and
	// kiosks read the holder UUID from it: this is the one place it is set.
	HolderUUIDAttribute asn1.ObjectIdentifier
	// LegacyCardStock accepts card certificates that do not name their card (no urn:uuid subject
	// alternative name holding the CHUID GUID), for card stock issued before FIPS 201-2 made it
	// mandatory. Off by default, and it should stay off: with it on, one card's PIV Authentication
	// certificate and serial plus another genuine card's Card Authentication key pass as one card,
	// unless both certificates carry FASC-Ns (which must then be equal).
	LegacyCardStock bool
	// Email and SMS deliver codes; nil means the method is not offered.
	Email Courier
	SMS   Courier
	// SendGap is the wait between two sends in a session; 30 s when zero.
	SendGap time.Duration
	// KioskSessionsPerMinute and CardSessionsPerHour limit session starts; 0 means no limit. A session
	// whose card proof failed counts against its kiosk, never against the card it named.
	KioskSessionsPerMinute int
	CardSessionsPerHour    int
	// WrongCodeLimit is how many wrong codes, across sessions, a card or a holder may enter within
	// WrongCodeWindow before the service locks the card and its holder out until an RA clears it
	// (ssu-idservice ra clear-lockout). 10 and 24 h when zero; it cannot be turned off.
	WrongCodeLimit  int
	WrongCodeWindow time.Duration
	// Revocations, when set, is the fleet CA's CRL: revoked kiosk certificates are refused at the handshake
	// (VerifyConnection) and on every request. The service program requires it outside demo mode.
	Revocations *Revocations
	// FleetIdentity is the fleet server's certificate CN ("fleet" when empty): the fleet CA issues it too,
	// but it is not a kiosk, so it may not start sessions.
	FleetIdentity string
	// DeliveryTimeout bounds one delivery; 30 s when zero.
	DeliveryTimeout time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger gets operational logs (never personal data); slog.Default when nil.
	Logger *slog.Logger
}

// Defaults for the wrong-code limit across sessions (Config.WrongCodeLimit, WrongCodeWindow).
const (
	DefaultWrongCodeLimit  = 10
	DefaultWrongCodeWindow = 24 * time.Hour
	// DefaultFleetIdentity is the fleet server's certificate CN unless configured (ssu-fleetd --identity).
	DefaultFleetIdentity = "fleet"
)

// Service implements the contract's steps. Codes go out on background goroutines, so the answer to a send
// takes the same time whether or not a code went out; Close waits for them.
type Service struct {
	cfg        Config
	now        func() time.Time
	log        *slog.Logger
	deliveries sync.WaitGroup
	stop       context.Context
	cancel     context.CancelFunc
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.CardRoots == nil {
		return nil, errors.New("idservice: store, sealer and card CAs are required")
	}
	if cfg.SendGap == 0 {
		cfg.SendGap = 30 * time.Second
	}
	if cfg.DeliveryTimeout == 0 {
		cfg.DeliveryTimeout = 30 * time.Second
	}
	if cfg.FleetIdentity == "" {
		cfg.FleetIdentity = DefaultFleetIdentity
	}
	if cfg.WrongCodeLimit == 0 {
		cfg.WrongCodeLimit = DefaultWrongCodeLimit
	}
	if cfg.WrongCodeWindow == 0 {
		cfg.WrongCodeWindow = DefaultWrongCodeWindow
	}
	if cfg.WrongCodeLimit < 0 || cfg.WrongCodeWindow < 0 {
		return nil, errors.New("idservice: the wrong-code limit and window must be positive")
	}
	if cfg.HolderUUIDAttribute == nil {
		oid, err := parseOID(identity.DefaultHolderUUIDAttribute)
		if err != nil {
			return nil, fmt.Errorf("idservice: %w", err)
		}
		cfg.HolderUUIDAttribute = oid
	}
	s := &Service{cfg: cfg, now: cfg.Now, log: cfg.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.stop, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Close waits for codes still being delivered (at most DeliveryTimeout each).
func (s *Service) Close() {
	s.deliveries.Wait()
	s.cancel()
}

// apiError is a refusal with its HTTP status and catalogue code; cause is for the log only.
type apiError struct {
	status       int
	code         errcat.Code
	attemptsLeft *int
	retryAfter   int
	cause        error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s (%d): %v", e.code, e.status, e.cause)
	}
	return fmt.Sprintf("%s (%d)", e.code, e.status)
}

func (e *apiError) Unwrap() error { return e.cause }

func refuse(status int, code errcat.Code, cause error) *apiError {
	return &apiError{status: status, code: code, cause: cause}
}

func internal(err error) *apiError {
	return refuse(http.StatusInternalServerError, errcat.ERR1010, err)
}

// call identifies the kiosk and request behind a step.
type call struct {
	KioskID   string
	RequestID string
}

func (s *Service) audit(ctx context.Context, c call, e AuditEntry) {
	e.At = s.now()
	e.KioskID, e.RequestID = c.KioskID, c.RequestID
	if err := s.cfg.Store.Audit(ctx, e); err != nil {
		s.log.Error("audit write failed", "action", e.Action, "request_id", c.RequestID, "err", err)
	}
}

func nonceHash(nonce []byte) string {
	h := sha256.Sum256(nonce)
	return hex.EncodeToString(h[:])
}

func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Challenge hands the kiosk a fresh single-use nonce.
func (s *Service) Challenge(ctx context.Context, c call) (identity.Challenge, error) {
	nonce := make([]byte, identity.NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return identity.Challenge{}, internal(err)
	}
	now := s.now()
	exp := now.Add(identity.ChallengeLifetime)
	if err := s.cfg.Store.PutChallenge(ctx, nonceHash(nonce), c.KioskID, exp, now); err != nil {
		return identity.Challenge{}, internal(err)
	}
	return identity.Challenge{Nonce: nonce, ExpiresAt: exp.UTC(), HolderUUIDAttribute: s.cfg.HolderUUIDAttribute.String()}, nil
}

// validStart checks the shape of a start request.
func validStart(r identity.StartSessionRequest) error {
	switch {
	case !isSerial(r.CardSerial):
		return errors.New("cardSerial must be 32 lowercase hex characters")
	case r.HolderUUID == "" || len(r.HolderUUID) > 64 || !printable(r.HolderUUID):
		return errors.New("holderUuid must be 1-64 printable characters")
	case len(r.PIVAuthCert) == 0 || len(r.PIVAuthCert) > 8192 || len(r.CardAuthCert) == 0 || len(r.CardAuthCert) > 8192:
		return errors.New("certificates must be 1-8192 bytes of DER")
	case len(r.Nonce) != identity.NonceSize:
		return fmt.Errorf("nonce must be %d bytes", identity.NonceSize)
	case len(r.Signature) == 0 || len(r.Signature) > 512:
		return errors.New("signature must be 1-512 bytes")
	}
	return nil
}

func isSerial(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for _, c := range s {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// StartSession checks the card, finds its profile, and opens a session that is eligible or says why not.
func (s *Service) StartSession(ctx context.Context, c call, req identity.StartSessionRequest) (identity.Session, error) {
	if err := validStart(req); err != nil {
		return identity.Session{}, refuse(http.StatusBadRequest, errcat.ERR1012, err)
	}
	now := s.now()
	if n := s.cfg.KioskSessionsPerMinute; n > 0 {
		count, err := s.cfg.Store.SessionsSince(ctx, c.KioskID, "", now.Add(-time.Minute))
		if err != nil {
			return identity.Session{}, internal(err)
		}
		if count >= n {
			s.audit(ctx, c, AuditEntry{CardSerial: req.CardSerial, Action: "session.start", Outcome: "rate-limited", Detail: "kiosk"})
			return identity.Session{}, refuse(http.StatusTooManyRequests, errcat.ERR1013, errors.New("kiosk session limit"))
		}
	}
	ok, err := s.cfg.Store.TakeChallenge(ctx, nonceHash(req.Nonce), c.KioskID, now)
	if err != nil {
		return identity.Session{}, internal(err)
	}
	if !ok {
		s.audit(ctx, c, AuditEntry{CardSerial: req.CardSerial, Action: "session.start", Outcome: "refused", Detail: "nonce unknown, used or expired"})
		return identity.Session{}, refuse(http.StatusBadRequest, errcat.ERR1012, errors.New("nonce unknown, already used, expired or for another kiosk"))
	}
	// The card's own limits apply only when the card proved itself: a proof that fails says nothing about
	// the card it names, so it must not use up that card's sessions or lock it out.
	proof := checkCard(req, cardPolicy{roots: s.cfg.CardRoots, holderAttr: s.cfg.HolderUUIDAttribute,
		legacyCardStock: s.cfg.LegacyCardStock}, now)
	if !errors.Is(proof, errNotGenuine) {
		if n := s.cfg.CardSessionsPerHour; n > 0 {
			count, err := s.cfg.Store.SessionsSince(ctx, "", req.CardSerial, now.Add(-time.Hour))
			if err != nil {
				return identity.Session{}, internal(err)
			}
			if count >= n {
				s.audit(ctx, c, AuditEntry{CardSerial: req.CardSerial, Action: "session.start", Outcome: "rate-limited", Detail: "card"})
				return identity.Session{}, refuse(http.StatusTooManyRequests, errcat.ERR1013, errors.New("card session limit"))
			}
		}
		if err := s.checkLockout(ctx, c, req.CardSerial, req.HolderUUID, "", "session.start"); err != nil {
			return identity.Session{}, err
		}
	}

	out := identity.Session{ID: newSessionID(), ExpiresAt: now.Add(identity.SessionLifetime).UTC()}
	rec := SessionRecord{ID: out.ID, KioskID: c.KioskID, CardSerial: req.CardSerial, CreatedAt: now, ExpiresAt: out.ExpiresAt, State: stateRefused}
	var profile Profile
	reason, detail, err := s.eligibility(ctx, req, proof, &profile)
	if err != nil {
		return identity.Session{}, internal(err)
	}
	if profile.UUID != "" {
		rec.ProfileUUID = profile.UUID
	}
	if reason == "" {
		rec.State = stateOpen
		out.Eligible = true
		out.HolderName = profile.Name
		out.Methods = s.methods(profile)
	} else {
		rec.Reason = string(reason)
		out.Reason, out.Code = reason, reason.Code()
	}
	if err := s.cfg.Store.CreateSession(ctx, rec); err != nil {
		return identity.Session{}, internal(err)
	}
	outcome := "eligible"
	if reason != "" {
		outcome = "not-eligible:" + string(reason)
	}
	s.audit(ctx, c, AuditEntry{ProfileUUID: rec.ProfileUUID, CardSerial: req.CardSerial, SessionID: out.ID,
		Action: "session.start", Outcome: outcome, Detail: detail})
	return out, nil
}

// eligibility returns "" when the person may go on, or the reason not; detail is for the audit log. proof
// is checkCard's verdict on the request.
func (s *Service) eligibility(ctx context.Context, req identity.StartSessionRequest, proof error, p *Profile) (identity.Ineligibility, string, error) {
	switch {
	case errors.Is(proof, errNotGenuine):
		return identity.CardNotGenuine, proof.Error(), nil
	case errors.Is(proof, errExpired):
		return identity.CertificatesExpired, "", nil
	}
	card, err := s.cfg.Store.Card(ctx, req.CardSerial)
	if errors.Is(err, ErrNotFound) {
		return identity.NotRegistered, "card serial not registered", nil
	}
	if err != nil {
		return "", "", err
	}
	if card.ProfileUUID != req.HolderUUID {
		return identity.NotRegistered, "card registered to another profile", nil
	}
	*p, err = s.cfg.Store.Profile(ctx, card.ProfileUUID)
	if errors.Is(err, ErrNotFound) {
		return identity.NotRegistered, "profile missing", nil
	}
	if err != nil {
		return "", "", err
	}
	if len(card.SealedSOPIN) == 0 {
		return identity.NotRegistered, "no SOPIN stored for card", nil
	}
	at := strings.LastIndexByte(p.Email, '@')
	if p.Email == "" || at < 0 {
		return identity.NoEmail, "", nil
	}
	allowed, err := s.cfg.Store.DomainAllowed(ctx, p.Email[at+1:])
	if err != nil {
		return "", "", err
	}
	if !allowed {
		return identity.EmailDomainNotAllowed, "", nil
	}
	return "", "", nil
}

func (s *Service) methods(p Profile) []identity.MethodOffer {
	out := []identity.MethodOffer{{Method: identity.MethodEmail, Available: s.cfg.Email != nil}}
	if !out[0].Available {
		out[0].Note = "Email delivery is not configured."
	}
	sms := identity.MethodOffer{Method: identity.MethodSMS, Available: s.cfg.SMS != nil && p.Mobile != ""}
	if !sms.Available {
		sms.Note = "Text messages are not available for your profile."
	}
	out = append(out, sms, identity.MethodOffer{Method: identity.MethodFace, Available: false,
		Note: "Face verification is currently unavailable."})
	return out
}

// session loads a session for the calling kiosk; another kiosk's session looks like no session at all.
func (s *Service) session(ctx context.Context, c call, id string) (SessionRecord, error) {
	if len(id) != 32 || !isSerial(id) {
		return SessionRecord{}, refuse(http.StatusNotFound, errcat.ERR1014, errors.New("malformed session id"))
	}
	rec, err := s.cfg.Store.Session(ctx, id)
	if errors.Is(err, ErrNotFound) || err == nil && subtle.ConstantTimeCompare([]byte(rec.KioskID), []byte(c.KioskID)) != 1 {
		return SessionRecord{}, refuse(http.StatusNotFound, errcat.ERR1014, errors.New("no such session for this kiosk"))
	}
	if err != nil {
		return SessionRecord{}, internal(err)
	}
	return rec, nil
}

// usable refuses a session that is over, closed or out of time.
func (s *Service) usable(rec SessionRecord, now time.Time) error {
	switch rec.State {
	case stateOpen:
	case stateReleased:
		return refuse(http.StatusConflict, errcat.ERR1009, errors.New("SOPIN already released for this session"))
	case stateEnded:
		return refuse(http.StatusForbidden, errcat.ERR1007, errors.New("session ended after too many wrong codes"))
	case stateRefused:
		return refuse(http.StatusForbidden, identity.Ineligibility(rec.Reason).Code(), errors.New("session not eligible"))
	default:
		return refuse(http.StatusConflict, errcat.ERR1014, errors.New("session completed"))
	}
	if !now.Before(rec.ExpiresAt) {
		return refuse(http.StatusGone, errcat.ERR1006, errors.New("session expired"))
	}
	return nil
}

// newCode returns 6 uniformly random digits.
func newCode() (identity.Secret, error) {
	code := make(identity.Secret, identity.CodeDigits)
	var b [1]byte
	for i := 0; i < len(code); {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		if b[0] >= 250 { // keep 0-249 so each digit is equally likely
			continue
		}
		code[i] = '0' + b[0]%10
		i++
	}
	return code, nil
}

// normalEmail and normalMobile make typed and stored addresses comparable.
func normalEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func normalMobile(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	d := b.String()
	if strings.HasPrefix(d, "44") && len(d) == 12 { // +44 7700 900123 == 07700 900123
		d = "0" + d[2:]
	}
	return d
}

// SendCode sends a fresh code to the profile's address when the typed address matches it, written in the
// request's language (English when it names none). The answer does not depend on whether it matched.
func (s *Service) SendCode(ctx context.Context, c call, id string, req identity.SendCodeRequest) (identity.SendCodeResult, error) {
	defer req.Address.Zero()
	var courier Courier
	switch req.Method {
	case identity.MethodEmail:
		courier = s.cfg.Email
	case identity.MethodSMS:
		courier = s.cfg.SMS
	case identity.MethodFace:
	default:
		return identity.SendCodeResult{}, refuse(http.StatusBadRequest, errcat.ERR1012, errors.New("unknown method"))
	}
	if len(req.Address) == 0 || len(req.Address) > 320 {
		return identity.SendCodeResult{}, refuse(http.StatusBadRequest, errcat.ERR1012, errors.New("address must be 1-320 bytes"))
	}
	if !req.Language.Valid() {
		return identity.SendCodeResult{}, refuse(http.StatusBadRequest, errcat.ERR1012, errors.New("unknown language"))
	}
	rec, err := s.session(ctx, c, id)
	if err != nil {
		return identity.SendCodeResult{}, err
	}
	now := s.now()
	if err := s.usable(rec, now); err != nil {
		return identity.SendCodeResult{}, err
	}
	if err := s.checkLockout(ctx, c, rec.CardSerial, rec.ProfileUUID, rec.ID, "code.send"); err != nil {
		return identity.SendCodeResult{}, err
	}
	profile, err := s.cfg.Store.Profile(ctx, rec.ProfileUUID)
	if err != nil {
		return identity.SendCodeResult{}, internal(err)
	}
	if courier == nil || req.Method == identity.MethodSMS && profile.Mobile == "" {
		return identity.SendCodeResult{}, refuse(http.StatusConflict, errcat.ERR1015, fmt.Errorf("method %s unavailable", req.Method))
	}
	var to, typed, stored string
	if req.Method == identity.MethodEmail {
		to, typed, stored = profile.Email, normalEmail(string(req.Address)), normalEmail(profile.Email)
	} else {
		to, typed, stored = profile.Mobile, normalMobile(string(req.Address)), normalMobile(profile.Mobile)
	}
	match := stored != "" && subtle.ConstantTimeCompare([]byte(typed), []byte(stored)) == 1
	code, err := newCode()
	if err != nil {
		return identity.SendCodeResult{}, internal(err)
	}
	hash := s.cfg.Sealer.CodeHash(rec.ID, code)
	var store []byte
	if match {
		store = hash
	}
	sends, ok, err := s.cfg.Store.RecordSend(ctx, rec.ID, store, now, s.cfg.SendGap, identity.MaxSends)
	if err != nil {
		code.Zero()
		return identity.SendCodeResult{}, internal(err)
	}
	if !ok {
		code.Zero()
		return identity.SendCodeResult{}, s.sendRefusal(ctx, c, rec.ID, now)
	}
	detail := "address did not match"
	if match {
		detail = "address matched; code sent"
		w := wordingFor(req.Language)
		s.deliver(c, Message{Method: req.Method, SessionID: rec.ID, To: to, Code: code, Language: req.Language.OrDefault(),
			Subject: w.Subject, Body: codeMessage(w, code)})
	} else {
		code.Zero()
	}
	s.audit(ctx, c, AuditEntry{ProfileUUID: rec.ProfileUUID, CardSerial: rec.CardSerial, SessionID: rec.ID,
		Action: "code.send", Outcome: "accepted", Detail: string(req.Method) + ": " + detail})
	return identity.SendCodeResult{Accepted: true, SendsLeft: identity.MaxSends - sends, RetryAfterSeconds: int(s.cfg.SendGap / time.Second)}, nil
}

// sendRefusal explains why RecordSend said no.
func (s *Service) sendRefusal(ctx context.Context, c call, id string, now time.Time) error {
	rec, err := s.cfg.Store.Session(ctx, id)
	if err != nil {
		return internal(err)
	}
	if err := s.usable(rec, now); err != nil {
		return err
	}
	e := refuse(http.StatusTooManyRequests, errcat.ERR1008, errors.New("send limit reached"))
	if rec.Sends < identity.MaxSends {
		wait := rec.LastSendAt.Add(s.cfg.SendGap).Sub(now)
		e.retryAfter = int((wait + time.Second - 1) / time.Second)
		e.cause = errors.New("send too soon")
	}
	s.audit(ctx, c, AuditEntry{ProfileUUID: rec.ProfileUUID, CardSerial: rec.CardSerial, SessionID: rec.ID,
		Action: "code.send", Outcome: "refused", Detail: e.cause.Error()})
	return e
}

// deliver sends m in the background and zeroes its code and body afterwards.
func (s *Service) deliver(c call, m Message) {
	s.deliveries.Add(1)
	go func() {
		defer s.deliveries.Done()
		defer clear(m.Body)
		defer m.Code.Zero()
		ctx, cancel := context.WithTimeout(s.stop, s.cfg.DeliveryTimeout)
		defer cancel()
		courier := s.cfg.Email
		if m.Method == identity.MethodSMS {
			courier = s.cfg.SMS
		}
		if err := courier.Deliver(ctx, m); err != nil {
			s.log.Error("code delivery failed", "msg", m, "request_id", c.RequestID, "err", err)
			return
		}
		s.log.Info("code delivered", "msg", m, "request_id", c.RequestID)
	}()
}

// VerifyCode checks a code and, when right, releases the card's SOPIN once. The caller zeroes it.
func (s *Service) VerifyCode(ctx context.Context, c call, id string, req identity.VerifyCodeRequest) (identity.Release, error) {
	defer req.Code.Zero()
	rec, err := s.session(ctx, c, id)
	if err != nil {
		return identity.Release{}, err
	}
	now := s.now()
	if err := s.usable(rec, now); err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			s.audit(ctx, c, AuditEntry{ProfileUUID: rec.ProfileUUID, CardSerial: rec.CardSerial, SessionID: rec.ID,
				Action: "code.verify", Outcome: "refused", Detail: string(ae.code) + ": " + ae.cause.Error()})
		}
		return identity.Release{}, err
	}
	// Checked before the code, so sessions opened before a lockout cannot go on guessing.
	if err := s.checkLockout(ctx, c, rec.CardSerial, rec.ProfileUUID, rec.ID, "code.verify"); err != nil {
		return identity.Release{}, err
	}
	g, over, err := s.reserveGuess(ctx, c, rec)
	if err != nil {
		return identity.Release{}, internal(err)
	}
	if over {
		return identity.Release{}, lockedOut()
	}
	hash := s.cfg.Sealer.CodeHash(rec.ID, req.Code)
	if len(req.Code) != identity.CodeDigits || len(rec.CodeHash) == 0 || subtle.ConstantTimeCompare(hash, rec.CodeHash) != 1 {
		return identity.Release{}, s.wrongCode(ctx, c, rec, g)
	}
	// The right code: the check reserved in the count was not a wrong one.
	if err := s.cfg.Store.ForgetGuess(ctx, g.id); err != nil {
		return identity.Release{}, internal(err)
	}
	card, err := s.cfg.Store.Card(ctx, rec.CardSerial)
	if err != nil {
		return identity.Release{}, s.releaseFailed(ctx, c, rec, err)
	}
	sopin, err := s.cfg.Sealer.Open(card.Serial, card.SealedSOPIN)
	if err != nil {
		return identity.Release{}, s.releaseFailed(ctx, c, rec, err)
	}
	ok, err := s.cfg.Store.MarkReleased(ctx, rec.ID, hash, now)
	if err != nil || !ok {
		clear(sopin)
		if err == nil {
			err = errors.New("session changed: already released or ended")
		}
		return identity.Release{}, s.releaseFailed(ctx, c, rec, err)
	}
	s.audit(ctx, c, AuditEntry{ProfileUUID: rec.ProfileUUID, CardSerial: rec.CardSerial, SessionID: rec.ID,
		Action: "sopin.release", Outcome: "released"})
	s.log.Info("SOPIN released", "session", rec.ID, "kiosk", c.KioskID, "card", rec.CardSerial, "request_id", c.RequestID)
	return identity.Release{SOPIN: sopin}, nil
}

// lockedOut is the refusal for a card or holder locked out by wrong codes.
func lockedOut() *apiError {
	return refuse(http.StatusForbidden, errcat.ERR1016, errors.New("too many wrong codes for this card or holder: locked until an RA clears it"))
}

// checkLockout refuses, and audits, a step for a card or holder that is locked out.
func (s *Service) checkLockout(ctx context.Context, c call, cardSerial, profileUUID, sessionID, action string) error {
	locked, err := s.cfg.Store.LockedOut(ctx, cardSerial, profileUUID)
	if err != nil {
		return internal(err)
	}
	if !locked {
		return nil
	}
	s.audit(ctx, c, AuditEntry{ProfileUUID: profileUUID, CardSerial: cardSerial, SessionID: sessionID,
		Action: action, Outcome: "locked-out", Detail: "too many wrong codes; an RA must clear it"})
	return lockedOut()
}

// guess is one code check counted across sessions before the code is compared, so that concurrent checks
// cannot together go past the limit: each takes its place in the count first.
type guess struct {
	id           int64
	card, holder int // the counts within the window, this check included
}

// reserveGuess counts a code check against the card and the holder before it is made. over is true when
// the limit was already reached (the check must not be made; the card and holder are then locked out).
func (s *Service) reserveGuess(ctx context.Context, c call, rec SessionRecord) (g guess, over bool, err error) {
	now := s.now()
	if g.id, err = s.cfg.Store.RecordGuess(ctx, rec.CardSerial, rec.ProfileUUID, rec.ID, now); err != nil {
		return g, false, err
	}
	if g.card, g.holder, err = s.cfg.Store.GuessesSince(ctx, rec.CardSerial, rec.ProfileUUID, now.Add(-s.cfg.WrongCodeWindow)); err != nil {
		return g, false, err
	}
	if g.card <= s.cfg.WrongCodeLimit && g.holder <= s.cfg.WrongCodeLimit {
		return g, false, nil
	}
	return g, true, s.lockOut(ctx, c, rec, g)
}

// lockOut locks the card and its holder out and, the first time, raises an audit entry.
func (s *Service) lockOut(ctx context.Context, c call, rec SessionRecord, g guess) error {
	fresh, err := s.cfg.Store.LockOut(ctx, rec.CardSerial, rec.ProfileUUID, s.now())
	if err != nil || !fresh {
		return err
	}
	s.audit(ctx, c, AuditEntry{ProfileUUID: rec.ProfileUUID, CardSerial: rec.CardSerial, SessionID: rec.ID,
		Action: "lockout", Outcome: "locked-out",
		Detail: fmt.Sprintf("wrong codes within %s: card %d, holder %d (limit %d); an RA must clear it", s.cfg.WrongCodeWindow, g.card, g.holder, s.cfg.WrongCodeLimit)})
	s.log.Warn("card and holder locked out after too many wrong codes", "session", rec.ID, "kiosk", c.KioskID,
		"card", rec.CardSerial, "request_id", c.RequestID)
	return nil
}

// wrongCode records a wrong code in the session and, when this one (already counted by reserveGuess) reached
// the limit across sessions, locks the card and holder out.
func (s *Service) wrongCode(ctx context.Context, c call, rec SessionRecord, g guess) error {
	wrong, ok, err := s.cfg.Store.RecordWrongCode(ctx, rec.ID, identity.MaxWrongCodes)
	if err != nil {
		return internal(err)
	}
	if !ok { // the session changed under us
		fresh, err := s.cfg.Store.Session(ctx, rec.ID)
		if err != nil {
			return internal(err)
		}
		if err := s.usable(fresh, s.now()); err != nil {
			return err
		}
		return refuse(http.StatusConflict, errcat.ERR1014, errors.New("session changed"))
	}
	left := identity.MaxWrongCodes - wrong
	entry := AuditEntry{ProfileUUID: rec.ProfileUUID, CardSerial: rec.CardSerial, SessionID: rec.ID,
		Action: "code.verify", Outcome: "wrong", Detail: fmt.Sprintf("wrong codes: %d", wrong)}
	if g.card >= s.cfg.WrongCodeLimit || g.holder >= s.cfg.WrongCodeLimit {
		if err := s.lockOut(ctx, c, rec, g); err != nil {
			return internal(err)
		}
		entry.Outcome = "locked-out"
		s.audit(ctx, c, entry)
		return lockedOut()
	}
	if left <= 0 {
		entry.Outcome = "ended"
		s.audit(ctx, c, entry)
		return refuse(http.StatusForbidden, errcat.ERR1007, errors.New("too many wrong codes: session ended"))
	}
	s.audit(ctx, c, entry)
	e := refuse(http.StatusUnauthorized, errcat.ERR1011, errors.New("wrong code"))
	e.attemptsLeft = &left
	return e
}

func (s *Service) releaseFailed(ctx context.Context, c call, rec SessionRecord, cause error) error {
	s.audit(ctx, c, AuditEntry{ProfileUUID: rec.ProfileUUID, CardSerial: rec.CardSerial, SessionID: rec.ID,
		Action: "sopin.release", Outcome: "refused", Detail: cause.Error()})
	status := http.StatusConflict
	if !strings.HasPrefix(cause.Error(), "session changed") {
		status = http.StatusInternalServerError
	}
	return refuse(status, errcat.ERR1009, cause)
}

// Complete records the kiosk's outcome once; the same outcome again is accepted.
func (s *Service) Complete(ctx context.Context, c call, id string, req identity.CompleteRequest) error {
	if !req.Outcome.Valid() {
		return refuse(http.StatusBadRequest, errcat.ERR1012, errors.New("unknown outcome"))
	}
	if req.Outcome == identity.OutcomeFailed && req.Reason == "" {
		return refuse(http.StatusBadRequest, errcat.ERR1012, errors.New("a failed outcome needs a reason code"))
	}
	if req.Reason != "" {
		if _, ok := errcat.Lookup(req.Reason); !ok {
			return refuse(http.StatusBadRequest, errcat.ERR1012, errors.New("reason is not a catalogue code"))
		}
	}
	rec, err := s.session(ctx, c, id)
	if err != nil {
		return err
	}
	ok, err := s.cfg.Store.CompleteSession(ctx, rec.ID, string(req.Outcome), string(req.Reason), s.now())
	if err != nil {
		return internal(err)
	}
	if !ok {
		if rec.Outcome == string(req.Outcome) && rec.OutcomeReason == string(req.Reason) {
			return nil // a retry of the same report
		}
		return refuse(http.StatusConflict, errcat.ERR1014, errors.New("outcome already reported"))
	}
	s.audit(ctx, c, AuditEntry{ProfileUUID: rec.ProfileUUID, CardSerial: rec.CardSerial, SessionID: rec.ID,
		Action: "session.complete", Outcome: string(req.Outcome), Detail: string(req.Reason)})
	return nil
}

package enrol

import (
	"context"
	"errors"
	"time"
)

// Errors a Store returns and the server and client report; compare with errors.Is.
var (
	ErrTokenUnknown  = errors.New("enrolment token unknown")
	ErrTokenUsed     = errors.New("enrolment token already used")
	ErrTokenExpired  = errors.New("enrolment token expired")
	ErrKioskUnknown  = errors.New("kiosk unknown")
	ErrKioskRevoked  = errors.New("kiosk revoked")
	ErrAlreadyExists = errors.New("already exists")
)

// Token is an enrolment token as the store keeps it: its digest, never the token.
type Token struct {
	Digest     TokenDigest
	Site, Ward string
	Created    time.Time
	Expires    time.Time
	Used       time.Time // zero until redeemed
	KioskID    string    // the kiosk that redeemed it
}

// Kiosk is an enrolled kiosk.
type Kiosk struct {
	ID, Site, Ward string
	Enrolled       time.Time
	Revoked        time.Time // zero unless revoked
}

// Certificate is a certificate issued to a kiosk.
type Certificate struct {
	Serial   string // hex, lowercase
	KioskID  string
	Issued   time.Time
	NotAfter time.Time
}

// Revocation is a revoked certificate, for the CRL.
type Revocation struct {
	Serial  string
	KioskID string
	Revoked time.Time
}

// Store keeps tokens, kiosks and their certificates. Implementations: MemoryStore (tests and
// trials) and package sqlstore (SQLite, PostgreSQL); enroltest.TestStore checks one. Every method
// is safe for concurrent use.
type Store interface {
	// AddToken records a new token.
	AddToken(ctx context.Context, t Token) error
	// RedeemToken marks the token used by kioskID at now and returns it, or fails with
	// ErrTokenUnknown, ErrTokenUsed or ErrTokenExpired. Of two concurrent calls at most one succeeds.
	RedeemToken(ctx context.Context, d TokenDigest, kioskID string, now time.Time) (Token, error)
	// AddKiosk records an enrolled kiosk and its first certificate.
	AddKiosk(ctx context.Context, k Kiosk, c Certificate) error
	// AddCertificate records a renewed certificate of a known kiosk.
	AddCertificate(ctx context.Context, c Certificate) error
	// Kiosk returns a kiosk, or ErrKioskUnknown.
	Kiosk(ctx context.Context, id string) (Kiosk, error)
	// RevokeKiosk marks a kiosk and all its certificates revoked (ErrKioskUnknown); revoking again
	// keeps the first time.
	RevokeKiosk(ctx context.Context, id string, at time.Time) error
	// Revocations lists the revoked certificates that have not expired by now.
	Revocations(ctx context.Context, now time.Time) ([]Revocation, error)
	// RevokedKiosks lists the ids of revoked kiosks.
	RevokedKiosks(ctx context.Context) ([]string, error)
}

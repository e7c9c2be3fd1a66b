package enrol

import "time"

// Paths of the HTTP API (see the package comment).
const (
	PathTokens = "/enrol/v1/tokens"
	PathKiosks = "/enrol/v1/kiosks"
	PathRenew  = "/enrol/v1/renew"
	PathRevoke = "/enrol/v1/revoke"
	PathCRL    = "/enrol/v1/crl"
	PathCA     = "/enrol/v1/ca"
)

// TokenRequest asks for an enrolment token for a site and ward.
type TokenRequest struct {
	Site string `json:"site"`
	Ward string `json:"ward"`
}

// TokenResponse carries a new enrolment token: shown once, to IT, and never stored.
type TokenResponse struct {
	Token   string    `json:"token"`
	Site    string    `json:"site"`
	Ward    string    `json:"ward"`
	Expires time.Time `json:"expires"`
}

// EnrolRequest redeems a token for a certificate.
type EnrolRequest struct {
	Token string `json:"token"`
	CSR   string `json:"csr"` // PEM CERTIFICATE REQUEST
}

// Enrolment is what an enrolled kiosk receives: its identity, certificate, CA bundles and
// configuration.
type Enrolment struct {
	KioskID     string    `json:"kiosk_id"`
	Site        string    `json:"site"`
	Ward        string    `json:"ward"`
	Certificate string    `json:"certificate"` // PEM, CN = kiosk id
	NotAfter    time.Time `json:"not_after"`
	// CABundle is the fleet CA (PEM): it signs the kiosk's certificate and the broker's.
	CABundle string `json:"ca_bundle"`
	// ServiceCA is the CA bundle the identity service's certificate must chain to (PEM).
	ServiceCA string `json:"service_ca"`
	// CardKey is the fleet's secret for pseudonymous card keys (empty when there is no fleet broker).
	CardKey            []byte   `json:"card_key,omitempty"`
	BrokerURL          string   `json:"broker_url,omitempty"`
	IdentityURL        string   `json:"identity_url"`
	TroubleshootingURL string   `json:"troubleshooting_url,omitempty"`
	Methods            []string `json:"methods"`
}

// RenewRequest asks for a new certificate for the key of the current one.
type RenewRequest struct {
	Certificate string `json:"certificate"` // PEM: the current certificate
	CSR         string `json:"csr"`         // PEM, signed by the current certificate's key
}

// Renewal is a renewed certificate.
type Renewal struct {
	KioskID     string    `json:"kiosk_id"`
	Certificate string    `json:"certificate"`
	NotAfter    time.Time `json:"not_after"`
	CABundle    string    `json:"ca_bundle"`
}

// RevokeRequest names a kiosk to revoke.
type RevokeRequest struct {
	Kiosk string `json:"kiosk"`
}

// RevokeResponse confirms a revocation.
type RevokeResponse struct {
	Kiosk   string    `json:"kiosk"`
	Revoked time.Time `json:"revoked"`
}

// apiError is the body of every error answer. Code is one of the code* constants.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

const (
	codeBadRequest   = "bad_request"
	codeUnauthorized = "unauthorized"
	codeTokenUnknown = "token_unknown"
	codeTokenUsed    = "token_used"
	codeTokenExpired = "token_expired"
	codeKioskUnknown = "kiosk_unknown"
	codeKioskRevoked = "kiosk_revoked"
	codeInternal     = "internal"
)

var codeErrors = map[string]error{
	codeTokenUnknown: ErrTokenUnknown, codeTokenUsed: ErrTokenUsed, codeTokenExpired: ErrTokenExpired,
	codeKioskUnknown: ErrKioskUnknown, codeKioskRevoked: ErrKioskRevoked,
}

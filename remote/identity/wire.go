package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"ssu-kiosk/remote/identity/errcat"
)

// RequestIDHeader carries the request id that both the kiosk and the service log.
const RequestIDHeader = "X-Request-ID"

// Contract constants, shared by the client and the reference service.
const (
	SessionLifetime   = 15 * time.Minute
	ChallengeLifetime = time.Minute
	NonceSize         = 32
	CodeDigits        = 6
	MaxSends          = 3
	MaxWrongCodes     = 5
)

// Method is a way of proving who you are.
type Method string

// The methods a session may offer.
const (
	MethodEmail Method = "email"
	MethodSMS   Method = "sms"
	MethodFace  Method = "face"
)

// Ineligibility says why a person cannot unlock their card here.
type Ineligibility string

// The reasons a session is not eligible.
const (
	NoEmail               Ineligibility = "no-email"
	EmailDomainNotAllowed Ineligibility = "email-domain-not-allowed"
	CertificatesExpired   Ineligibility = "certificates-expired"
	NotRegistered         Ineligibility = "not-registered"
	CardNotGenuine        Ineligibility = "card-not-genuine"
)

// Code gives the catalogue code people see for the reason.
func (r Ineligibility) Code() errcat.Code {
	switch r {
	case NoEmail:
		return errcat.ERR1002
	case EmailDomainNotAllowed:
		return errcat.ERR1003
	case CertificatesExpired:
		return errcat.ERR1004
	case CardNotGenuine:
		return errcat.ERR1005
	default:
		return errcat.ERR1001
	}
}

// Outcome is what the kiosk reports at the end of a session.
type Outcome string

// The outcomes a kiosk can report.
const (
	OutcomeUnlocked        Outcome = "unlocked"
	OutcomePasscodeChanged Outcome = "passcode-changed"
	OutcomeFailed          Outcome = "failed"
)

// Valid reports whether o is one of the outcomes above.
func (o Outcome) Valid() bool {
	return o == OutcomeUnlocked || o == OutcomePasscodeChanged || o == OutcomeFailed
}

// DefaultHolderUUIDAttribute is the subject attribute of the PIV Authentication certificate that holds the
// holder UUID when a challenge names none: X.520 serialNumber, as a dotted object identifier.
const DefaultHolderUUIDAttribute = "2.5.4.5"

// Challenge is a single-use nonce for the card to sign.
type Challenge struct {
	Nonce     []byte    `json:"nonce"`
	ExpiresAt time.Time `json:"expiresAt"`
	// HolderUUIDAttribute is the subject attribute (dotted object identifier) of the PIV Authentication
	// certificate that holds the holder UUID, as the service is configured; DefaultHolderUUIDAttribute
	// when empty. The kiosk reads HolderUUID from it, so the setting lives in one place: the service.
	HolderUUIDAttribute string `json:"holderUuidAttribute,omitempty"`
}

// StartSessionRequest is the card's identity and its proof of being genuine. Certificates are DER.
type StartSessionRequest struct {
	// CardSerial is the CHUID GUID as 32 lowercase hex characters.
	CardSerial string `json:"cardSerial"`
	// HolderUUID is the PIV Authentication certificate's subject attribute the challenge named
	// (HolderUUIDAttribute; serialNumber by default).
	HolderUUID string `json:"holderUuid"`
	// PIVAuthCert is the PIV Authentication certificate (key 9A).
	PIVAuthCert []byte `json:"pivAuthCert"`
	// CardAuthCert is the Card Authentication certificate (key 9E).
	CardAuthCert []byte `json:"cardAuthCert"`
	// Nonce is the Challenge nonce, as given.
	Nonce []byte `json:"nonce"`
	// Signature is the Card Authentication key's signature over Nonce: for ECC P-256, ECDSA (ASN.1 DER)
	// over the nonce as given; for ECC P-384, ECDSA (ASN.1 DER) over SHA-384(nonce); for RSA 2048,
	// RSASSA-PKCS1-v1_5 with SHA-256 over the nonce (hal/card's Authenticate builds what the card signs).
	Signature []byte `json:"signature"`
}

// MethodOffer is one method and whether it can be used now.
type MethodOffer struct {
	Method    Method `json:"method"`
	Available bool   `json:"available"`
	// Note says, for people, why a method is unavailable.
	Note string `json:"note,omitempty"`
}

// Session is the answer to StartSession.
type Session struct {
	ID        string        `json:"sessionId"`
	ExpiresAt time.Time     `json:"expiresAt"`
	Eligible  bool          `json:"eligible"`
	Methods   []MethodOffer `json:"methods,omitempty"`
	// Reason and Code are set when Eligible is false.
	Reason Ineligibility `json:"reason,omitempty"`
	Code   errcat.Code   `json:"code,omitempty"`
	// HolderName is the profile's display name, for a greeting, when eligible.
	HolderName string `json:"holderName,omitempty"`
}

// Language is the language the person chose at the kiosk, as a BCP 47 tag; the service writes to the
// person (the code's email and text message) in it.
type Language string

// The languages of the contract. An empty Language means English, so kiosks that send none keep working.
const (
	LanguageEnglish Language = "en"
	LanguageWelsh   Language = "cy"
)

// Valid reports whether l is one of the languages above, or empty (English).
func (l Language) Valid() bool { return l == "" || l == LanguageEnglish || l == LanguageWelsh }

// UnmarshalJSON takes a JSON string and refuses null and "": the contract allows the field to be absent
// (English), never empty. Whether the string is a language of the contract is Valid's to say.
func (l *Language) UnmarshalJSON(b []byte) error {
	var s string
	if bytes.Equal(b, []byte("null")) {
		return errors.New("language: null")
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("language: %w", err)
	}
	if s == "" {
		return errors.New("language: empty")
	}
	*l = Language(s)
	return nil
}

// OrDefault is l, or English when l is empty.
func (l Language) OrDefault() Language {
	if l == "" {
		return LanguageEnglish
	}
	return l
}

// SendCodeRequest asks for a code to be sent to the address the person typed.
type SendCodeRequest struct {
	Method  Method `json:"method"`
	Address Secret `json:"address"`
	// Language is the language the code's message is written in; English when empty.
	Language Language `json:"language,omitempty"`
}

// AppendJSON appends the request as JSON, built in the byte slice so the address is never in a Go string.
func (r SendCodeRequest) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"method":`...)
	dst = Secret(r.Method).AppendJSON(dst)
	dst = append(dst, `,"address":`...)
	dst = r.Address.AppendJSON(dst)
	if r.Language != "" {
		dst = append(dst, `,"language":`...)
		dst = Secret(r.Language).AppendJSON(dst)
	}
	return append(dst, '}')
}

// jsonAppender is a request or answer that holds a secret and encodes itself into a byte slice the caller
// clears, instead of through encoding/json, whose buffers keep copies.
type jsonAppender interface {
	AppendJSON(dst []byte) []byte
}

// SendCodeResult is the same whether or not the address matched the profile.
type SendCodeResult struct {
	// Accepted is always true on success: it does not say a code was sent.
	Accepted bool `json:"accepted"`
	// SendsLeft is how many more sends this session allows.
	SendsLeft int `json:"sendsLeft"`
	// RetryAfterSeconds is the wait before the next send.
	RetryAfterSeconds int `json:"retryAfterSeconds"`
}

// VerifyCodeRequest carries the code the person typed.
type VerifyCodeRequest struct {
	Code Secret `json:"code"`
}

// AppendJSON appends the request as JSON, built in the byte slice so the code is never in a Go string.
func (r VerifyCodeRequest) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"code":`...)
	return append(r.Code.AppendJSON(dst), '}')
}

// Release is the one-time release of the card's SOPIN to this kiosk session.
type Release struct {
	SOPIN Secret `json:"sopin"`
}

// AppendJSON appends the release as JSON, built in the byte slice so the SOPIN is never in a Go string.
func (r Release) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"sopin":`...)
	return append(r.SOPIN.AppendJSON(dst), '}')
}

// CompleteRequest reports how the session ended.
type CompleteRequest struct {
	Outcome Outcome `json:"outcome"`
	// Reason is a catalogue code; required when Outcome is failed.
	Reason errcat.Code `json:"reason,omitempty"`
}

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Code      errcat.Code `json:"code"`
	Message   string      `json:"message"`
	RequestID string      `json:"requestId,omitempty"`
	// AttemptsLeft is set on a wrong code.
	AttemptsLeft *int `json:"attemptsLeft,omitempty"`
	// RetryAfterSeconds is set when a send came too soon.
	RetryAfterSeconds int `json:"retryAfterSeconds,omitempty"`
}

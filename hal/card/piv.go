package card

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"

	"ssu-kiosk/hal/card/tlv"
)

// pivAID is the PIV application identifier (800-73-4 part 1, 2.2). Cards answer SELECT by a prefix.
var pivAID = []byte{0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}

// PIV data object tags read with GET DATA (800-73-4 part 1, table 3).
const (
	tagCHUID        = 0x5fc102
	tagCertPIVAuth  = 0x5fc105 // key 9A
	tagCertCardAuth = 0x5fc101 // key 9E
	tagDataObject   = 0x53     // the wrapper of every answer
	tagTagList      = 0x5c     // the tag list in a GET DATA command
)

// Key references (800-73-4 part 1, table 4b).
const (
	keyPIN      = 0x80
	keyPUK      = 0x81
	keyCardAuth = 0x9e
)

// Cryptographic mechanism identifiers (800-78-4, table 6-2).
const (
	algRSA2048 = 0x07
	algECCP256 = 0x11
	algECCP384 = 0x14
)

// ErrNotPIV: the card has no PIV application.
var ErrNotPIV = errors.New("not a PIV card")

// ErrCardUnusable: the card is a PIV card and answers, but what it holds cannot be used here: a certificate
// that does not parse or decompress, a Card Authentication key of an algorithm this package does not
// support, or a card that refuses to sign with it. Taking the card out and in again does not help.
var ErrCardUnusable = errors.New("card cannot be used here")

// PIV is the PIV application of one card, reached through a Transport. It holds no secrets: PINs and PUKs
// passed to it are zeroed by the caller's Secret, and the padded copies it makes are zeroed before return.
type PIV struct {
	t Transport
}

// NewPIV talks PIV over t. Call Select before anything else.
func NewPIV(t Transport) *PIV { return &PIV{t: t} }

// Select selects the PIV application.
func (p *PIV) Select() error {
	_, err := transmit(p.t, Command{INS: insSelect, P1: 0x04, Data: pivAID, Le: 256})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotSupported) {
		return fmt.Errorf("select: %w: %w", ErrNotPIV, err)
	}
	if err != nil {
		return fmt.Errorf("select: %w", err)
	}
	return nil
}

// getData reads one data object and returns its content (inside tag 53).
func (p *PIV) getData(tag uint32) ([]byte, error) {
	list := tlv.Encode(tagTagList, []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)})
	resp, err := transmit(p.t, Command{INS: insGetData, P1: 0x3f, P2: 0xff, Data: list, Le: 256})
	if err != nil {
		return nil, fmt.Errorf("get data %06X: %w", tag, err)
	}
	v, err := tlv.Unwrap(resp, tagDataObject)
	if err != nil {
		return nil, fmt.Errorf("get data %06X: %w: %w", tag, ErrCardUnreadable, err)
	}
	return v, nil
}

// CHUID is the Card Holder Unique Identifier (800-73-4 part 1, 3.1.2).
type CHUID struct {
	FASCN []byte
	GUID  []byte
	// Expiry is the CHUID's expiration date as written on the card, "YYYYMMDD".
	Expiry string
}

// ReadCHUID reads and parses the CHUID.
func (p *PIV) ReadCHUID() (CHUID, error) {
	b, err := p.getData(tagCHUID)
	if err != nil {
		return CHUID{}, err
	}
	return ParseCHUID(b)
}

// ParseCHUID parses the content of the CHUID object.
func ParseCHUID(b []byte) (CHUID, error) {
	objs, err := tlv.Parse(b)
	if err != nil {
		return CHUID{}, fmt.Errorf("chuid: %w", err)
	}
	var c CHUID
	for _, o := range objs {
		switch o.Tag {
		case 0x30:
			c.FASCN = append([]byte(nil), o.Value...)
		case 0x34:
			c.GUID = append([]byte(nil), o.Value...)
		case 0x35:
			c.Expiry = string(o.Value)
		}
	}
	if len(c.GUID) != 16 {
		return CHUID{}, fmt.Errorf("chuid: %w: GUID of %d bytes", tlv.ErrMalformed, len(c.GUID))
	}
	return c, nil
}

// Slot names a PIV key and its certificate.
type Slot int

const (
	// SlotPIVAuth is key 9A, the PIV Authentication key; its certificate names the holder.
	SlotPIVAuth Slot = iota
	// SlotCardAuth is key 9E, the Card Authentication key: usable with no PIN, it proves the card is genuine.
	SlotCardAuth
)

func (s Slot) tag() uint32 {
	if s == SlotCardAuth {
		return tagCertCardAuth
	}
	return tagCertPIVAuth
}

// ReadCertificate reads the certificate of a slot. A slot with no certificate gives ErrNotFound.
func (p *PIV) ReadCertificate(s Slot) (*x509.Certificate, error) {
	b, err := p.getData(s.tag())
	if err != nil {
		return nil, err
	}
	return ParseCertificateObject(b)
}

// maxCertificate bounds a decompressed certificate, so a card cannot make the kiosk inflate without end.
const maxCertificate = 16 << 10

// certInfoCompressed is the CertInfo bit saying the certificate is gzip-compressed (800-73-4 part 1,
// appendix A, table 10: CertInfo 01).
const certInfoCompressed = 0x01

// ParseCertificateObject parses a certificate data object's content: 70 (certificate), 71 (CertInfo),
// FE (LRC). A certificate whose CertInfo says compressed (01) is gzip-inflated first, as OpenSC does.
// A certificate that does not parse or inflate gives ErrCardUnusable.
func ParseCertificateObject(b []byte) (*x509.Certificate, error) {
	der, found, err := tlv.Find(b, 0x70)
	if err != nil {
		return nil, fmt.Errorf("certificate object: %w", err)
	}
	if !found || len(der) == 0 {
		return nil, fmt.Errorf("certificate object: %w", ErrNotFound)
	}
	if info, ok, _ := tlv.Find(b, 0x71); ok && len(info) == 1 && info[0]&certInfoCompressed != 0 {
		if der, err = gunzip(der); err != nil {
			return nil, fmt.Errorf("certificate object: %w: compressed certificate: %w", ErrCardUnusable, err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certificate object: %w: %s", ErrCardUnusable, unquoted(err))
	}
	return cert, nil
}

// unquoted is an error's text cut before the first quoted value: crypto/x509 quotes what it could not
// parse (a URI, an email address), which may name the card or its holder and must not reach a log.
func unquoted(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '"'); i >= 0 {
		msg = strings.TrimRight(msg[:i], " :") + " (value left out)"
	}
	return msg
}

// gunzip inflates a compressed certificate, refusing more than maxCertificate bytes.
func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxCertificate+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxCertificate {
		return nil, fmt.Errorf("more than %d bytes inflated", maxCertificate)
	}
	return out, nil
}

// PINStatus is what an empty VERIFY tells about the PIN.
type PINStatus struct {
	// TriesLeft is the number of wrong PINs the card still accepts; -1 when the PIN is verified in
	// this session (the card then does not say).
	TriesLeft int
	Blocked   bool
}

// PINStatus asks the card how many PIN tries are left, without a PIN (VERIFY with no data).
func (p *PIV) PINStatus() (PINStatus, error) {
	_, err := transmit(p.t, Command{INS: insVerify, P2: keyPIN})
	var auth *AuthError
	switch {
	case err == nil:
		return PINStatus{TriesLeft: -1}, nil
	case errors.As(err, &auth):
		return PINStatus{TriesLeft: auth.Retries, Blocked: auth.Retries == 0}, nil
	case errors.Is(err, ErrBlocked):
		return PINStatus{Blocked: true}, nil
	}
	return PINStatus{}, fmt.Errorf("pin status: %w", err)
}

// VerifyPIN presents the PIN. A wrong one gives *AuthError with the tries left; a blocked PIN ErrBlocked.
func (p *PIV) VerifyPIN(pin Secret) error {
	data, err := pin.padded()
	if err != nil {
		return fmt.Errorf("verify pin: %w", err)
	}
	defer clear(data)
	if _, err := transmit(p.t, Command{INS: insVerify, P2: keyPIN, Data: data}); err != nil {
		return fmt.Errorf("verify pin: %w", err)
	}
	return nil
}

// ChangePIN replaces the PIN (CHANGE REFERENCE DATA on key 80).
func (p *PIV) ChangePIN(old, new Secret) error {
	return p.changeRef("change pin", keyPIN, old, new)
}

// ChangePUK replaces the PUK (CHANGE REFERENCE DATA on key 81).
func (p *PIV) ChangePUK(old, new Secret) error {
	return p.changeRef("change puk", keyPUK, old, new)
}

func (p *PIV) changeRef(what string, key byte, old, new Secret) error {
	data, err := pair(old, new)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer clear(data)
	if _, err := transmit(p.t, Command{INS: insChangeRef, P2: key, Data: data}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// ErrOutcomeUnknown is joined to an error from Unblock when the card went away while it may have been
// carrying out the reset: read the card again (Unblocked) to find out.
var ErrOutcomeUnknown = errors.New("outcome unknown until the card is read again")

// Unblock sets a new PIN with the PUK (RESET RETRY COUNTER), which also resets the PIN's tries.
// A wrong PUK gives *AuthError with the PUK tries left. If the card is removed or the reader fails while
// the reset itself is in flight, the error also matches ErrOutcomeUnknown; otherwise an error means the
// PIN was not changed.
func (p *PIV) Unblock(puk, newPIN Secret) error {
	data, err := pair(puk, newPIN)
	if err != nil {
		return fmt.Errorf("unblock: %w", err)
	}
	defer clear(data)
	_, err = transmit(p.t, Command{INS: insResetRetry, P2: keyPIN, Data: data})
	var (
		auth *AuthError
		sw   *StatusError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &auth), errors.As(err, &sw):
		// The card answered with a status word: it did not reset.
		return fmt.Errorf("unblock: %w", err)
	}
	// No status word came back (card pulled, reader or service gone, a garbled answer): the card may
	// have carried out the reset before it went.
	return fmt.Errorf("unblock: %w: %w", err, ErrOutcomeUnknown)
}

// Unblocked tells, after an unblock whose outcome was unknown, whether the PIN is usable again.
func (p *PIV) Unblocked() (bool, error) {
	st, err := p.PINStatus()
	if err != nil {
		return false, err
	}
	return !st.Blocked, nil
}

// Authenticate has the Card Authentication key (9E) sign nonce, which needs no PIN (GENERAL
// AUTHENTICATE, 800-73-4 part 2, 3.2.4 and appendix A.3). It returns the signature and the certificate
// whose key signed, so a remote service can check the card holds that key.
//
// What the card is given depends on the key's algorithm (SP 800-78-4, table 6-2); the identity contract
// (remote/identity/openapi.yaml, startSession) says the same and the service verifies exactly this:
//   - ECC P-256 (11): the nonce as given, which must be 32 bytes; the card's ECDSA signature treats it as
//     the digest. (The nonce is random and chosen by the service: no hash is needed.)
//   - ECC P-384 (14): SHA-384 of the nonce, 48 bytes; ECDSA over that digest.
//   - RSA 2048 (07): the 256-byte EMSA-PKCS1-v1_5 block of SHA-256 of the nonce (00 01 FF..FF 00
//     DigestInfo(SHA-256, digest), RFC 8017 9.2); the card's raw RSA on it is an RSASSA-PKCS1-v1_5
//     SHA-256 signature over the nonce.
//
// A key of another algorithm, or a card that refuses to sign (a status word), gives ErrCardUnusable.
func (p *PIV) Authenticate(nonce []byte) (sig []byte, cert *x509.Certificate, err error) {
	cert, err = p.ReadCertificate(SlotCardAuth)
	if err != nil {
		return nil, nil, fmt.Errorf("card authentication: %w", err)
	}
	alg, challenge, err := CardAuthChallenge(cert.PublicKey, nonce)
	if err != nil {
		return nil, nil, fmt.Errorf("card authentication: %w: %w", ErrCardUnusable, err)
	}
	tmpl := tlv.Concat(tlv.Object{Tag: 0x82}, tlv.Object{Tag: 0x81, Value: challenge})
	resp, err := transmit(p.t, Command{INS: insGeneralAuth, P1: alg, P2: keyCardAuth,
		Data: tlv.Encode(0x7c, tmpl), Le: 256})
	var sw *StatusError
	if errors.As(err, &sw) {
		return nil, nil, fmt.Errorf("card authentication: %w: %w", ErrCardUnusable, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("card authentication: %w", err)
	}
	inner, err := tlv.Unwrap(resp, 0x7c)
	if err != nil {
		return nil, nil, fmt.Errorf("card authentication: %w: %w", ErrCardUnreadable, err)
	}
	sig, found, err := tlv.Find(inner, 0x82)
	if err != nil || !found || len(sig) == 0 {
		return nil, nil, fmt.Errorf("card authentication: %w: no signature in the answer", ErrCardUnreadable)
	}
	return append([]byte(nil), sig...), cert, nil
}

// digestInfoSHA256 is the DER prefix of a DigestInfo holding a SHA-256 digest (RFC 8017, 9.2, note 1).
var digestInfoSHA256 = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
	0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// CardAuthChallenge gives the algorithm identifier (800-78-4, table 6-2) and what GENERAL AUTHENTICATE
// hands a key of type pub to sign nonce, as Authenticate describes.
func CardAuthChallenge(pub crypto.PublicKey, nonce []byte) (alg byte, challenge []byte, err error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			if len(nonce) != 32 {
				return 0, nil, fmt.Errorf("an ECC P-256 key signs a 32-byte nonce, not %d bytes", len(nonce))
			}
			return algECCP256, append([]byte(nil), nonce...), nil
		case elliptic.P384():
			d := sha512.Sum384(nonce)
			return algECCP384, d[:], nil
		}
	case *rsa.PublicKey:
		if k.N.BitLen() == 2048 {
			d := sha256.Sum256(nonce)
			block := bytes.Repeat([]byte{0xff}, 256)
			t := append(append([]byte(nil), digestInfoSHA256...), d[:]...)
			block[0], block[1] = 0x00, 0x01
			block[256-len(t)-1] = 0x00
			copy(block[256-len(t):], t)
			return algRSA2048, block, nil
		}
	}
	return 0, nil, fmt.Errorf("unsupported card authentication key %s", keyKind(pub))
}

// keyKind names a public key's type and size for an error, without the key itself.
func keyKind(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	}
	return fmt.Sprintf("%T", pub)
}

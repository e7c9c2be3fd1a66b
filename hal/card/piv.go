package card

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

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

// ParseCertificateObject parses a certificate data object's content: 70 (certificate), 71 (info), FE (LRC).
func ParseCertificateObject(b []byte) (*x509.Certificate, error) {
	der, found, err := tlv.Find(b, 0x70)
	if err != nil {
		return nil, fmt.Errorf("certificate object: %w", err)
	}
	if !found || len(der) == 0 {
		return nil, fmt.Errorf("certificate object: %w", ErrNotFound)
	}
	if info, ok, _ := tlv.Find(b, 0x71); ok && len(info) == 1 && info[0]&0x01 != 0 {
		return nil, errors.New("certificate object: compressed certificates are not supported")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certificate object: %w", err)
	}
	return cert, nil
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

// Authenticate has the Card Authentication key (9E) sign challenge, which needs no PIN
// (GENERAL AUTHENTICATE, 800-73-4 part 2, 3.2.4 and appendix A.3). It returns the signature and the
// certificate whose key signed, so a remote service can check the card holds that key.
// For ECDSA keys the card signs the challenge as given (it is the digest): a P-256 key wants 32 bytes.
func (p *PIV) Authenticate(challenge []byte) (sig []byte, cert *x509.Certificate, err error) {
	cert, err = p.ReadCertificate(SlotCardAuth)
	if err != nil {
		return nil, nil, fmt.Errorf("card authentication: %w", err)
	}
	alg, err := algorithmOf(cert)
	if err != nil {
		return nil, nil, fmt.Errorf("card authentication: %w", err)
	}
	tmpl := tlv.Concat(tlv.Object{Tag: 0x82}, tlv.Object{Tag: 0x81, Value: challenge})
	resp, err := transmit(p.t, Command{INS: insGeneralAuth, P1: alg, P2: keyCardAuth,
		Data: tlv.Encode(0x7c, tmpl), Le: 256})
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

func algorithmOf(cert *x509.Certificate) (byte, error) {
	switch k := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return algECCP256, nil
		case elliptic.P384():
			return algECCP384, nil
		}
	case *rsa.PublicKey:
		if k.N.BitLen() == 2048 {
			return algRSA2048, nil
		}
	}
	return 0, fmt.Errorf("unsupported card authentication key %T", cert.PublicKey)
}

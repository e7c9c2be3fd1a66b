package card

import (
	"errors"
	"fmt"
)

// Instruction bytes used by the PIV application (NIST SP 800-73-4 part 2, section 3 and table 20),
// plus ISO 7816-4 GET RESPONSE.
const (
	insSelect        = 0xa4 // SELECT: 800-73-4 part 2, 3.1.1
	insGetData       = 0xcb // GET DATA: 3.1.2
	insVerify        = 0x20 // VERIFY: 3.2.1
	insChangeRef     = 0x24 // CHANGE REFERENCE DATA: 3.2.2
	insResetRetry    = 0x2c // RESET RETRY COUNTER: 3.2.3
	insGeneralAuth   = 0x87 // GENERAL AUTHENTICATE: 3.2.4
	insGetResponse   = 0xc0 // GET RESPONSE: ISO 7816-4, 7.6.1
	claChain         = 0x10 // command chaining bit in CLA: ISO 7816-4, 5.1.1
	maxShortData     = 255  // Lc of a short APDU
	maxResponseBytes = 1 << 16
)

// Command is one command APDU as plain data.
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte
	// Le is the number of response bytes expected: 0 means none, 256 means "up to 256" (Le byte 00).
	Le int
}

// encode gives the short form of c; Data must fit in 255 bytes (longer data is chained by the caller).
func (c Command) encode() []byte {
	b := make([]byte, 0, 5+len(c.Data)+1)
	b = append(b, c.CLA, c.INS, c.P1, c.P2)
	if len(c.Data) > 0 {
		b = append(b, byte(len(c.Data)))
		b = append(b, c.Data...)
	}
	if c.Le > 0 {
		b = append(b, byte(c.Le)) // 256 encodes as 00
	}
	return b
}

// StatusWord is the card's two-byte answer code (SW1 SW2).
type StatusWord uint16

// Status words the PIV application answers (800-73-4 part 2, table 6 and ISO 7816-4 5.6).
const (
	swOK                StatusWord = 0x9000
	swWrongLength       StatusWord = 0x6700
	swSecurityStatus    StatusWord = 0x6982
	swAuthBlocked       StatusWord = 0x6983
	swConditionsNotMet  StatusWord = 0x6985
	swWrongData         StatusWord = 0x6a80
	swFuncNotSupported  StatusWord = 0x6a81
	swNotFound          StatusWord = 0x6a82
	swNoSpace           StatusWord = 0x6a84
	swIncorrectP1P2     StatusWord = 0x6a86
	swRefDataNotFound   StatusWord = 0x6a88
	swInsNotSupported   StatusWord = 0x6d00
	swClassNotSupported StatusWord = 0x6e00
)

func (sw StatusWord) String() string { return fmt.Sprintf("%04X", uint16(sw)) }

// Errors a card operation returns; test them with errors.Is. None of them ever holds a PIN or PUK.
var (
	// ErrNotFound: the object or application is not on the card (6A82).
	ErrNotFound = errors.New("not found on card")
	// ErrSecurityStatus: the operation needs a PIN first (6982).
	ErrSecurityStatus = errors.New("security status not satisfied")
	// ErrBlocked: the PIN or PUK has no tries left (6983).
	ErrBlocked = errors.New("blocked")
	// ErrWrongData: the card rejected the data, for example a PIN of the wrong form (6A80).
	ErrWrongData = errors.New("card rejected the data")
	// ErrNotSupported: the card does not know the instruction or parameters (6D00, 6A81, 6A86, 6E00).
	ErrNotSupported = errors.New("not supported by the card")
	// ErrCardRemoved: the card left the reader, or was reset, during the operation.
	ErrCardRemoved = errors.New("card removed")
	// ErrNoCard: the reader holds no card.
	ErrNoCard = errors.New("no card in the reader")
	// ErrCardUnreadable: the card is mute, or answered something that is not a valid response.
	ErrCardUnreadable = errors.New("card unreadable")
	// ErrReaderGone: the reader was unplugged or is unknown.
	ErrReaderGone = errors.New("card reader gone")
	// ErrServiceDown: the PC/SC service (pcscd) is not running.
	ErrServiceDown = errors.New("smartcard service not running")
	// ErrCardBusy: another program holds the card.
	ErrCardBusy = errors.New("card in use by another program")
)

// StatusError is an unexpected status word. It unwraps to the matching sentinel above, if any.
type StatusError struct {
	SW StatusWord
}

func (e *StatusError) Error() string { return "card answered " + e.SW.String() }

func (e *StatusError) Unwrap() error {
	switch e.SW {
	case swNotFound, swRefDataNotFound:
		return ErrNotFound
	case swSecurityStatus:
		return ErrSecurityStatus
	case swAuthBlocked:
		return ErrBlocked
	case swWrongData, swWrongLength:
		return ErrWrongData
	case swInsNotSupported, swFuncNotSupported, swIncorrectP1P2, swClassNotSupported:
		return ErrNotSupported
	}
	return nil
}

// AuthError is a refused PIN or PUK (63Cx): Retries tries are left. With Retries 0 it is also ErrBlocked.
type AuthError struct {
	Retries int
}

func (e *AuthError) Error() string {
	if e.Retries == 1 {
		return "wrong, 1 try left"
	}
	return fmt.Sprintf("wrong, %d tries left", e.Retries)
}

// Is makes an AuthError with no tries left match ErrBlocked.
func (e *AuthError) Is(target error) bool { return target == ErrBlocked && e.Retries == 0 }

// statusErr turns a status word into an error: nil for 9000.
func statusErr(sw StatusWord) error {
	switch {
	case sw == swOK:
		return nil
	case sw&0xfff0 == 0x63c0:
		return &AuthError{Retries: int(sw & 0x0f)}
	}
	return &StatusError{SW: sw}
}

// Transport carries one command APDU to the card and returns its raw response (data, SW1, SW2).
// The PC/SC reader implements it; tests use cardtest's fakes and transcripts.
type Transport interface {
	Transmit(cmd []byte) ([]byte, error)
}

// TransportFunc adapts a function to Transport (an in-process virtual card, a recorder).
type TransportFunc func(cmd []byte) ([]byte, error)

// Transmit calls f.
func (f TransportFunc) Transmit(cmd []byte) ([]byte, error) { return f(cmd) }

// transmit sends c, chaining data longer than a short APDU (CLA 10) and following 61xx with GET RESPONSE,
// and returns the response data. A status other than 9000 becomes an error (with the data read so far).
func transmit(t Transport, c Command) ([]byte, error) {
	data := c.Data
	for len(data) > maxShortData {
		part := c
		part.CLA |= claChain
		part.Data = data[:maxShortData]
		part.Le = 0
		if _, err := exchange(t, part); err != nil {
			return nil, err
		}
		data = data[maxShortData:]
	}
	last := c
	last.Data = data
	return exchange(t, last)
}

// exchange sends one APDU and gathers a response split by 61xx.
// The encoded command is zeroed once sent, since it may hold a PIN: a Transport must not keep it.
func exchange(t Transport, c Command) ([]byte, error) {
	enc := c.encode()
	resp, err := t.Transmit(enc)
	clear(enc)
	if err != nil {
		return nil, err
	}
	var out []byte
	for rounds := 0; ; rounds++ {
		// A whole answer takes at most maxResponseBytes/256 GET RESPONSEs: a card that asks for more
		// (61xx with little or no data, over and over) is not finishing.
		if rounds > maxResponseBytes/256 {
			return nil, fmt.Errorf("%w: more than %d GET RESPONSE rounds", ErrCardUnreadable, maxResponseBytes/256)
		}
		if len(resp) < 2 {
			return nil, fmt.Errorf("%w: response of %d bytes", ErrCardUnreadable, len(resp))
		}
		sw := StatusWord(resp[len(resp)-2])<<8 | StatusWord(resp[len(resp)-1])
		out = append(out, resp[:len(resp)-2]...)
		if len(out) > maxResponseBytes {
			return nil, fmt.Errorf("%w: response longer than %d bytes", ErrCardUnreadable, maxResponseBytes)
		}
		if sw&0xff00 != 0x6100 {
			return out, statusErr(sw)
		}
		le := int(sw & 0xff)
		if le == 0 {
			le = 256
		}
		resp, err = t.Transmit(Command{INS: insGetResponse, Le: le}.encode())
		if err != nil {
			return nil, err
		}
	}
}

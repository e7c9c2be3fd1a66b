package vcard

import (
	"errors"
	"fmt"
)

// Instruction bytes the card knows (NIST SP 800-73-4 part 2, section 3; ISO/IEC 7816-4 for GET RESPONSE).
const (
	insVerify      = 0x20 // VERIFY: 800-73-4 part 2, 3.2.1
	insChangeRef   = 0x24 // CHANGE REFERENCE DATA: 3.2.2
	insResetRetry  = 0x2c // RESET RETRY COUNTER: 3.2.3
	insGenerateKey = 0x47 // GENERATE ASYMMETRIC KEY PAIR: 3.3.2 (needs the card management key)
	insGeneralAuth = 0x87 // GENERAL AUTHENTICATE: 3.2.4
	insSelect      = 0xa4 // SELECT: 3.1.1
	insGetResponse = 0xc0 // GET RESPONSE: ISO 7816-4, 7.6.1
	insGetData     = 0xcb // GET DATA: 3.1.2
	insPutData     = 0xdb // PUT DATA: 3.3.1 (needs the card management key)
	claChainBit    = 0x10 // command chaining: ISO 7816-4, 5.4.2
)

// Status words (SW1 SW2) the card answers: 800-73-4 part 2, table 6, and ISO 7816-4, 5.6.
const (
	swOK               uint16 = 0x9000
	swMoreData         uint16 = 0x6100 // low byte: how many more bytes GET RESPONSE can fetch (00 = 256 or more)
	swVerifyFail       uint16 = 0x63c0 // low nibble: tries left
	swMemoryFailure    uint16 = 0x6581
	swWrongLength      uint16 = 0x6700
	swLastNotInChain   uint16 = 0x6883
	swSecurityStatus   uint16 = 0x6982
	swAuthBlocked      uint16 = 0x6983
	swConditionsNotMet uint16 = 0x6985
	swWrongData        uint16 = 0x6a80
	swNotFound         uint16 = 0x6a82
	swIncorrectP1P2    uint16 = 0x6a86
	swRefDataNotFound  uint16 = 0x6a88
	swINSNotSupported  uint16 = 0x6d00
	swCLANotSupported  uint16 = 0x6e00
	swNoDiagnosis      uint16 = 0x6f00
)

// errBadAPDU is wrapped by every decoding error; the card answers it with 6700 (wrong length).
var errBadAPDU = errors.New("malformed command apdu")

// command is one decoded command APDU (ISO 7816-4, 5.1), short or extended.
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
	// ne is how many response bytes the host accepts. When Le is absent it is the most one response
	// may carry (256, or 65536 for an extended command): real PIV cards send data then too.
	ne       int
	extended bool
}

// decodeCommand decodes the four APDU cases in their short and extended forms. data aliases b.
func decodeCommand(b []byte) (command, error) {
	if len(b) < 4 {
		return command{}, fmt.Errorf("%w: %d bytes, want at least 4", errBadAPDU, len(b))
	}
	c := command{cla: b[0], ins: b[1], p1: b[2], p2: b[3], ne: 256}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
		return c, nil
	case len(body) == 1: // case 2 short
		c.ne = shortNe(body[0])
		return c, nil
	case body[0] != 0: // case 3 or 4 short
		lc := int(body[0])
		switch len(body) {
		case 1 + lc:
		case 2 + lc:
			c.ne = shortNe(body[1+lc])
		default:
			return command{}, fmt.Errorf("%w: Lc %d does not match %d body bytes", errBadAPDU, lc, len(body))
		}
		c.data = body[1 : 1+lc : 1+lc]
		return c, nil
	}
	// Extended: a 00 byte, then a two-byte Lc or Le.
	c.extended = true
	c.ne = 65536
	if len(body) < 3 {
		return command{}, fmt.Errorf("%w: truncated extended length", errBadAPDU)
	}
	n := int(body[1])<<8 | int(body[2])
	if len(body) == 3 { // case 2 extended
		c.ne = extendedNe(n)
		return c, nil
	}
	if n == 0 {
		return command{}, fmt.Errorf("%w: extended Lc of 0", errBadAPDU)
	}
	switch len(body) {
	case 3 + n:
	case 5 + n:
		c.ne = extendedNe(int(body[3+n])<<8 | int(body[4+n]))
	default:
		return command{}, fmt.Errorf("%w: extended Lc %d does not match %d body bytes", errBadAPDU, n, len(body))
	}
	c.data = body[3 : 3+n : 3+n]
	return c, nil
}

func shortNe(le byte) int {
	if le == 0 {
		return 256
	}
	return int(le)
}

func extendedNe(le int) int {
	if le == 0 {
		return 65536
	}
	return le
}

// status returns a response that is only a status word.
func status(sw uint16) []byte { return []byte{byte(sw >> 8), byte(sw)} }

// withStatus appends sw to data (which it may modify).
func withStatus(data []byte, sw uint16) []byte { return append(data, byte(sw>>8), byte(sw)) }

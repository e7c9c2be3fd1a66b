package vcard

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"math/big"

	"ssu-kiosk/hal/card/tlv"
)

// Key references for VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER (800-73-4 part 2, table 4).
const (
	refPIN = 0x80 // PIV Card Application PIN
	refPUK = 0x81 // PIN Unblocking Key
)

// maxChallenge bounds what GENERAL AUTHENTICATE signs.
const maxChallenge = 1024

// selectApp answers SELECT by DF name (800-73-4 part 2, 3.1.1). The PIV AID may be given in full or cut
// short after the RID; any other AID is not found and leaves the PIV application selected.
func (c *Card) selectApp(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x04 {
		return nil, swNotFound // select by file id or path: this card has no file system
	}
	if cmd.p2&^0x0c != 0 {
		return nil, swIncorrectP1P2
	}
	if len(cmd.data) < minAIDPrefix || !bytes.HasPrefix(pivAID, cmd.data) {
		return nil, swNotFound
	}
	if cmd.p2&0x0c == 0x0c { // no response data wanted
		return nil, swOK
	}
	return selectResponse(), swOK
}

// getData answers GET DATA (800-73-4 part 2, 3.1.2): P1 P2 3F FF, data 5C <tag>.
func (c *Card) getData(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x3f || cmd.p2 != 0xff {
		return nil, swIncorrectP1P2
	}
	tagBytes, err := tlv.Unwrap(cmd.data, 0x5c)
	if err != nil || len(tagBytes) == 0 || len(tagBytes) > 3 {
		return nil, swWrongData
	}
	var tag uint32
	for _, b := range tagBytes {
		tag = tag<<8 | uint32(b)
	}
	s := c.state
	switch tag {
	case objDiscovery:
		return discovery(), swOK
	case objCHUID:
		return tlv.Encode(tagDataObject, s.CHUID), swOK
	case objCCC:
		return tlv.Encode(tagDataObject, ccc(s.GUID)), swOK
	case objPIVAuth, objCardAuth:
		slot := s.PIVAuth
		if tag == objCardAuth {
			slot = s.CardAuth
		}
		if len(slot.Cert) == 0 {
			return nil, swNotFound // never written, as on a real card whose slot holds no certificate
		}
		return tlv.Encode(tagDataObject, certificateObject(slot.Cert, s.CompressCertificates)), swOK
	case objPrinted:
		if !c.pinVerified {
			return nil, swSecurityStatus
		}
		return tlv.Encode(tagDataObject, printedInformation(s.Name, s.NotAfter, s.Serial())), swOK
	case objFingerprint, objFacial, objIris:
		if !c.pinVerified {
			return nil, swSecurityStatus
		}
		return nil, swNotFound
	}
	// Key history, the other certificates, the security object, BIT group and anything else: not on this card.
	return nil, swNotFound
}

// verify answers VERIFY (800-73-4 part 2, 3.2.1): P1 00 with no data asks the PIN's status, with 8 bytes
// checks the PIN; P1 FF with no data resets the PIN's verified status.
func (c *Card) verify(cmd command) uint16 {
	if cmd.p2 != refPIN {
		return swRefDataNotFound // the PUK cannot be verified (800-73-4 part 2, 3.2.1)
	}
	switch cmd.p1 {
	case 0xff:
		if len(cmd.data) != 0 {
			return swWrongData
		}
		c.pinVerified = false
		return swOK
	case 0x00:
	default:
		return swIncorrectP1P2
	}
	s := c.state
	if len(cmd.data) == 0 {
		switch {
		case c.pinVerified:
			return swOK
		case s.PINTriesLeft == 0:
			return swAuthBlocked
		}
		return swVerifyFail | uint16(s.PINTriesLeft)
	}
	pin, ok := splitPIN(cmd.data)
	if !ok {
		return swWrongData
	}
	sw := c.checkReference(refPIN, pin)
	c.pinVerified = sw == swOK
	return sw
}

// checkReference compares value with the PIN or PUK and counts the try. It saves the counter before
// it answers; when saving fails the card keeps its old counter and answers 6581.
func (c *Card) checkReference(ref byte, value []byte) uint16 {
	s := c.state
	left, limit, want := &s.PINTriesLeft, s.PINTriesMax, s.PIN
	if ref == refPUK {
		left, limit, want = &s.PUKTriesLeft, s.PUKTriesMax, s.PUK
	}
	if *left == 0 {
		return swAuthBlocked
	}
	old := *left
	if subtle.ConstantTimeCompare(value, want) == 1 {
		*left = limit
		if old == limit {
			return swOK
		}
		if !c.persist() {
			*left = old
			return swMemoryFailure
		}
		return swOK
	}
	*left--
	if !c.persist() {
		*left = old
		return swMemoryFailure
	}
	return swVerifyFail | uint16(*left)
}

// changeReference answers CHANGE REFERENCE DATA (800-73-4 part 2, 3.2.2): the old and new value, each
// padded to 8 bytes. A wrong old value counts as a failed try.
func (c *Card) changeReference(cmd command) uint16 {
	if cmd.p1 != 0x00 {
		return swIncorrectP1P2
	}
	if cmd.p2 != refPIN && cmd.p2 != refPUK {
		return swRefDataNotFound
	}
	if len(cmd.data) != 16 {
		return swWrongData
	}
	old, ok1 := splitPIN(cmd.data[:8])
	repl, ok2 := splitPIN(cmd.data[8:])
	if !ok1 || !ok2 || (cmd.p2 == refPIN && !validNewPIN(repl)) {
		return swWrongData
	}
	if sw := c.checkReference(cmd.p2, old); sw != swOK {
		if cmd.p2 == refPIN {
			c.pinVerified = false
		}
		return sw
	}
	s := c.state
	target := &s.PIN
	if cmd.p2 == refPUK {
		target = &s.PUK
	}
	prev := *target
	*target = bytes.Clone(repl)
	if !c.persist() {
		*target = prev
		return swMemoryFailure
	}
	clear(prev)
	if cmd.p2 == refPIN {
		c.pinVerified = true
	}
	return swOK
}

// resetRetry answers RESET RETRY COUNTER (800-73-4 part 2, 3.2.3): the PUK and a new PIN, each padded
// to 8 bytes. The right PUK sets the new PIN and gives the PIN all its tries back; a wrong one burns a
// PUK try.
func (c *Card) resetRetry(cmd command) uint16 {
	if cmd.p1 != 0x00 {
		return swIncorrectP1P2
	}
	if cmd.p2 != refPIN {
		return swRefDataNotFound
	}
	if len(cmd.data) != 16 {
		return swWrongData
	}
	puk, ok1 := splitPIN(cmd.data[:8])
	pin, ok2 := splitPIN(cmd.data[8:])
	if !ok1 || !ok2 || !validNewPIN(pin) {
		return swWrongData
	}
	c.pinVerified = false
	if sw := c.checkReference(refPUK, puk); sw != swOK {
		return sw
	}
	s := c.state
	prevPIN, prevLeft := s.PIN, s.PINTriesLeft
	s.PIN, s.PINTriesLeft = bytes.Clone(pin), s.PINTriesMax
	if !c.persist() {
		s.PIN, s.PINTriesLeft = prevPIN, prevLeft
		return swMemoryFailure
	}
	clear(prevPIN)
	return swOK
}

// generalAuthenticate answers GENERAL AUTHENTICATE (800-73-4 part 2, 3.2.4) for the internal
// authenticate case: 7C { 81 <challenge> 82 00 } → 7C { 82 <signature> }. P1 must name the key's
// algorithm. An ECC key (11 P-256, 14 P-384) signs the challenge as given, as the digest (ECDSA, ASN.1
// DER); an RSA 2048 key (07) takes a 256-byte block smaller than its modulus and answers the raw RSA
// private-key operation on it, as a card does (the host builds the padding). Key 9A needs the PIN
// verified; 9E needs nothing.
func (c *Card) generalAuthenticate(cmd command) ([]byte, uint16) {
	var slot Slot
	switch cmd.p2 {
	case KeyPIVAuth:
		slot = c.state.PIVAuth
	case KeyCardAuth:
		slot = c.state.CardAuth
	default:
		return nil, swRefDataNotFound
	}
	tmpl, err := tlv.Unwrap(cmd.data, tagDynAuth)
	if err != nil {
		return nil, swWrongData
	}
	objs, err := tlv.Parse(tmpl)
	if err != nil {
		return nil, swWrongData
	}
	var challenge []byte
	var haveChallenge, wantResponse bool
	for _, o := range objs {
		switch {
		case o.Tag == tagChallenge && !haveChallenge:
			challenge, haveChallenge = o.Value, true
		case o.Tag == tagResponse && len(o.Value) == 0 && !wantResponse:
			wantResponse = true
		default:
			return nil, swWrongData // witness, exponentiation (key agreement) and the rest: not offered
		}
	}
	if !haveChallenge || !wantResponse || len(challenge) == 0 || len(challenge) > maxChallenge {
		return nil, swWrongData
	}
	if cmd.p2 == KeyPIVAuth && !c.pinVerified {
		return nil, swSecurityStatus
	}
	key, err := slot.signer()
	if err != nil {
		return nil, swNoDiagnosis
	}
	if cmd.p1 != algorithmID(key) {
		return nil, swIncorrectP1P2
	}
	var sig []byte
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		sig, err = ecdsa.SignASN1(rand.Reader, k, challenge)
	case *rsa.PrivateKey:
		sig, err = rawRSA(k, challenge)
		if err != nil {
			return nil, swWrongData
		}
	}
	if err != nil {
		return nil, swNoDiagnosis
	}
	return tlv.Encode(tagDynAuth, tlv.Encode(tagResponse, sig)), swOK
}

// rawRSA is the RSA private-key operation on a block as long as the modulus (RFC 8017, 5.1.2 RSADP),
// what a PIV card does for an RSA key: the host has already padded the block.
func rawRSA(k *rsa.PrivateKey, block []byte) ([]byte, error) {
	size := k.Size()
	m := new(big.Int).SetBytes(block)
	if len(block) != size || m.Cmp(k.N) >= 0 {
		return nil, errors.New("the block is not smaller than the modulus")
	}
	s := new(big.Int).Exp(m, k.D, k.N)
	return s.FillBytes(make([]byte, size)), nil
}

// persist saves the state when the card has a file, and tells whether that worked.
func (c *Card) persist() bool {
	if c.path == "" {
		return true
	}
	if err := c.state.Save(c.path); err != nil {
		c.log.Error("card: cannot save the card state", "err", err)
		return false
	}
	return true
}

package vcard

import (
	"crypto/sha256"
	"path/filepath"
	"testing"

	"ssu-kiosk/hal/card/tlv"
)

// BenchmarkProcess measures the card's own work per command, with no transport.
func BenchmarkProcess(b *testing.B) {
	challenge := sha256.Sum256([]byte("challenge"))
	ga := tlv.Encode(0x7c, tlv.Concat(tlv.Object{Tag: 0x82}, tlv.Object{Tag: 0x81, Value: challenge[:]}))
	for _, bc := range []struct {
		name string
		cmd  []byte
	}{
		{"verify-status", apdu(b, "0020008000")},
		{"get-chuid", apdu(b, "00CB3FFF055C035FC10200")},
		{"get-cert-extended", apdu(b, "00CB3FFF0000055C035FC1050000")},
		{"general-authenticate-9e", append(append([]byte{0x00, 0x87, 0x11, 0x9e, byte(len(ga))}, ga...), 0x00)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := NewCard(newTestState(b))
			for b.Loop() {
				if resp := c.Process(bc.cmd); resp[len(resp)-2] != 0x90 && resp[len(resp)-2] != 0x63 {
					b.Fatalf("SW %X", resp[len(resp)-2:])
				}
			}
		})
	}
}

// BenchmarkWrongPIN measures a wrong PIN with the counter saved to disk (fsync and rename) each time.
func BenchmarkWrongPIN(b *testing.B) {
	path := filepath.Join(b.TempDir(), "card.json")
	s := newTestState(b)
	s.PINTriesMax, s.PINTriesLeft = maxTries, maxTries
	if err := s.Save(path); err != nil {
		b.Fatal(err)
	}
	c, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	wrong, right := verifyAPDU("000000"), verifyAPDU("123456")
	for b.Loop() {
		c.Process(wrong)
		b.StopTimer()
		c.Process(right) // back to full tries, so the PIN never blocks
		b.StartTimer()
	}
}

package vcard

import (
	"bytes"
	"encoding/hex"
	"sync"
	"testing"
)

// seedAPDUs are commands real hosts send (OpenSC 0.23, yubico-piv-tool 2.2, the kiosk) and a few broken ones.
var seedAPDUs = []string{
	"00A4040009A00000030800001000", "00A4040005A00000030800", "00A4040007A0000005272001",
	"00A40000023F00", "00CADF3005", "00FD000000", "00F8000000",
	"00CB3FFF035C017E00", "00CB3FFF055C035FC10700", "00CB3FFF055C035FC10C00", "00CB3FFF055C035FC10200",
	"00CB3FFF055C035FC10500", "00CB3FFF055C035FC10100", "00CB3FFF055C035FC10900", "00CB3FFF0000055C035FC1050000",
	"00C0000000", "0020008000", "0020FF8000", "00200080083132333435363738",
	"0020008008313233343536FFFF", "0024008010313233343536FFFF3131313131313131",
	"0024008110313233343536373831323334353637FF", "002C008010313233343536373836353433323130FF",
	"0087119E267C24820081203132333435363738393031323334353637383930313233343536373839303132",
	"0087119A267C24820081203132333435363738393031323334353637383930313233343536373839303132",
	"1087119E057C0382008100", "00DB3FFF035C017E", "0047", "", "00", "00A404", "00A4040000", "00A40400000005",
	"00A4040000FFFF", "80CA9F7F00", "0C20008000",
}

// frames splits fuzz input into APDUs: each is a length byte and that many bytes.
func frames(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := min(int(b[0]), len(b)-1)
		out = append(out, b[1:1+n])
		b = b[1+n:]
	}
	return out
}

func joinFrames(apdus ...[]byte) []byte {
	var out []byte
	for _, a := range apdus {
		out = append(out, byte(len(a)))
		out = append(out, a...)
	}
	return out
}

var (
	fuzzStateOnce sync.Once
	fuzzState     *State
)

// freshState is a copy of one card made once, so each fuzz input starts from the same card quickly.
func freshState(t testing.TB) *State {
	fuzzStateOnce.Do(func() { fuzzState = newTestState(t) })
	s := *fuzzState
	s.PIN, s.PUK = bytes.Clone(s.PIN), bytes.Clone(s.PUK)
	return &s
}

// FuzzProcess feeds sequences of commands to a card: it must never panic, always answer a status word,
// and keep its counters in range.
func FuzzProcess(f *testing.F) {
	for _, h := range seedAPDUs {
		b, err := hex.DecodeString(h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(joinFrames(b))
	}
	sel, _ := hex.DecodeString("00A4040005A000000308")
	ver, _ := hex.DecodeString("00200080083132333435363738")
	get, _ := hex.DecodeString("00CB3FFF055C035FC10500")
	gr, _ := hex.DecodeString("00C0000000")
	f.Add(joinFrames(sel, ver, ver, ver, ver, get, gr, gr))
	f.Fuzz(func(t *testing.T, in []byte) {
		c := NewCard(freshState(t))
		for _, cmd := range frames(in) {
			resp := c.process(bytes.Clone(cmd)) // not Process: a panic must fail the fuzz test, not be caught
			if len(resp) < 2 {
				t.Fatalf("answer of %d bytes to % X", len(resp), cmd)
			}
			s := c.state
			if s.PINTriesLeft < 0 || s.PINTriesLeft > s.PINTriesMax || s.PUKTriesLeft < 0 || s.PUKTriesLeft > s.PUKTriesMax {
				t.Fatalf("counters out of range: PIN %d/%d PUK %d/%d", s.PINTriesLeft, s.PINTriesMax, s.PUKTriesLeft, s.PUKTriesMax)
			}
			if !validPIN(s.PIN) || !validPIN(s.PUK) {
				t.Fatal("the card took an invalid PIN or PUK")
			}
			if len(c.pending) > 65536 || (c.chain != nil && len(c.chain.data) > maxChain) {
				t.Fatal("the card holds too much")
			}
		}
	})
}

// FuzzDecodeCommand checks the APDU decoder: it never panics, and what it decodes is consistent with
// the bytes it was given.
func FuzzDecodeCommand(f *testing.F) {
	for _, h := range seedAPDUs {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCommand(b)
		if err != nil {
			return
		}
		if c.ne < 1 || c.ne > 65536 {
			t.Fatalf("Ne %d", c.ne)
		}
		if len(c.data) > len(b)-4 || (len(c.data) > 0 && !bytes.Contains(b, c.data)) {
			t.Fatal("data is not from the input")
		}
		if c.cla != b[0] || c.ins != b[1] || c.p1 != b[2] || c.p2 != b[3] {
			t.Fatal("header changed")
		}
		if !c.extended && len(c.data) > 255 {
			t.Fatal("short command with more than 255 bytes of data")
		}
		if got := len(b) - 4 - len(c.data); got > 5 {
			t.Fatalf("%d length bytes", got)
		}
	})
}

func TestProcessNeverPanics(t *testing.T) {
	c := NewCard(newTestState(t))
	// Process recovers; a nil state makes every data command panic inside.
	c.state = nil
	if got := sw(c.Process(apdu(t, "00CB3FFF035C017E00"))); got != "9000" {
		t.Fatalf("discovery needs no state, answered %s", got)
	}
	if got := sw(c.Process(apdu(t, "00CB3FFF055C035FC10200"))); got != "6F00" {
		t.Fatalf("a panic answered %s, want 6F00", got)
	}
}

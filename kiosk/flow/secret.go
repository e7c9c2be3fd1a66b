package flow

import (
	"fmt"
	"log/slog"
)

// Secret holds a passcode, a security code, a SOPIN or an address a person typed. It is never printed:
// String, GoString, Format, LogValue and MarshalJSON are all redacted. Wipe it when done.
//
// A Secret inside an Effect is a copy that belongs to the runner: wipe it once the effect has been carried
// out. A Secret inside an Event (a released SOPIN) is handed over to the Machine, which wipes it.
type Secret []byte

const redacted = "[redacted]"

// String is redacted.
func (s Secret) String() string { return redacted }

// GoString is redacted.
func (s Secret) GoString() string { return redacted }

// Format is redacted for every verb, so %s, %v, %d, %x and %q never reveal the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue is redacted.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON is redacted: encoding/json (or slog's JSON handler on a struct holding one) would
// otherwise write the value in base64.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Wipe overwrites the secret in place.
func (s Secret) Wipe() { clear(s) }

// copySecret returns a fresh copy of b for an effect, so the runner may use it while the Machine wipes its own.
func copySecret(b []byte) Secret {
	if b == nil {
		return nil
	}
	c := make(Secret, len(b))
	copy(c, b)
	return c
}

// buffer is a field's text in a fixed backing array: it never grows, so no stale copy of a secret is left
// behind by append, and wipe clears every byte it ever held.
type buffer struct {
	b []byte
}

func newBuffer(max int) *buffer { return &buffer{b: make([]byte, 0, max)} }

// add appends c if there is room; it reports whether it did.
func (f *buffer) add(c byte) bool {
	if len(f.b) == cap(f.b) {
		return false
	}
	f.b = append(f.b, c)
	return true
}

// erase removes the last byte, zeroing it.
func (f *buffer) erase() {
	if n := len(f.b); n > 0 {
		f.b[n-1] = 0
		f.b = f.b[:n-1]
	}
}

// wipe zeroes the whole backing array and empties the buffer.
func (f *buffer) wipe() {
	clear(f.b[:cap(f.b)])
	f.b = f.b[:0]
}

func (f *buffer) bytes() []byte { return f.b }
func (f *buffer) len() int      { return len(f.b) }

// Proof is the card's proof of possession (certificates and a signature over the service's challenge),
// produced by the runner for ProveCard and handed back to it in StartSession. The Machine only carries it;
// it holds identifying data, so it is never printed.
type Proof struct{ v any }

// NewProof wraps the runner's own proof value.
func NewProof(v any) Proof { return Proof{v: v} }

// Value returns the runner's proof value.
func (p Proof) Value() any { return p.v }

// Format is redacted for every verb.
func (p Proof) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[card proof]")) }

// LogValue is redacted.
func (p Proof) LogValue() slog.Value { return slog.StringValue("[card proof]") }

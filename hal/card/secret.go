package card

import (
	"errors"
	"fmt"
	"log/slog"
)

// Secret holds a PIN or a PUK. It never shows its value: fmt with any verb, slog (text or JSON) and
// encoding/json all see "[secret]", so a Secret that reaches a log line, an error or a panic message
// shows nothing. Zero it when done.
type Secret []byte

const hidden = "[secret]"

// String hides the value.
func (Secret) String() string { return hidden }

// GoString hides the value from %#v.
func (Secret) GoString() string { return "card.Secret{[secret]}" }

// Format hides the value from every fmt verb (%d and %x included, which would bypass String).
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(hidden))
}

// LogValue hides the value from slog, whose handlers would otherwise print a byte slice as text.
func (Secret) LogValue() slog.Value { return slog.StringValue(hidden) }

// MarshalJSON hides the value from encoding/json, which would otherwise write it in base64.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + hidden + `"`), nil }

// Zero overwrites the value.
func (s Secret) Zero() { clear(s) }

// PIN policy for PIV (800-73-4 part 2, 3.2.1): 6 to 8 digits. PUKs are 6 to 8 bytes; in practice digits.
const (
	MinPINLength = 6
	MaxPINLength = 8
	pinBlockSize = 8
	pinPad       = 0xff
)

// ErrPINPolicy: a PIN or PUK is not 6 to 8 digits. The error never quotes the value.
var ErrPINPolicy = errors.New("must be 6 to 8 digits")

// CheckPIN tells whether s meets the PIV PIN policy.
func CheckPIN(s Secret) error {
	if len(s) < MinPINLength || len(s) > MaxPINLength {
		return fmt.Errorf("%w (got %d characters)", ErrPINPolicy, len(s))
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return fmt.Errorf("%w (not only digits)", ErrPINPolicy)
		}
	}
	return nil
}

// padded returns the 8-byte reference data block: the digits then FF padding. Zero it after use.
func (s Secret) padded() ([]byte, error) {
	if err := CheckPIN(s); err != nil {
		return nil, err
	}
	b := make([]byte, pinBlockSize)
	for i := range b {
		b[i] = pinPad
	}
	copy(b, s)
	return b, nil
}

// pair returns two padded blocks one after the other (CHANGE REFERENCE DATA, RESET RETRY COUNTER).
func pair(a, b Secret) ([]byte, error) {
	pa, err := a.padded()
	if err != nil {
		return nil, fmt.Errorf("current value %w", err)
	}
	defer clear(pa)
	pb, err := b.padded()
	if err != nil {
		return nil, fmt.Errorf("new value %w", err)
	}
	defer clear(pb)
	return append(append(make([]byte, 0, 2*pinBlockSize), pa...), pb...), nil
}

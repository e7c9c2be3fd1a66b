package identity

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Secret holds a security code, a SOPIN, or an address a person typed. It travels as a JSON string but is
// never printed: String, GoString, Format and LogValue all give "[redacted]". Zero it when done.
type Secret []byte

const redacted = "[redacted]"

// String is redacted.
func (s Secret) String() string { return redacted }

// GoString is redacted.
func (s Secret) GoString() string { return redacted }

// Format is redacted for every verb, so fmt's %s, %v, %x and %q never reveal the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue is redacted.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Zero overwrites the secret in place.
func (s Secret) Zero() {
	for i := range s {
		s[i] = 0
	}
}

// MarshalJSON writes the secret as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(string(s)) }

// UnmarshalJSON reads a JSON string (or null) into the secret.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v *string
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("secret: want a JSON string")
	}
	if v == nil {
		*s = nil
		return nil
	}
	*s = Secret(*v)
	return nil
}

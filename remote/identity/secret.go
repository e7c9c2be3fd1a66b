package identity

import (
	"fmt"
	"log/slog"
	"unicode/utf16"
	"unicode/utf8"
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

// MarshalJSON writes the secret as a JSON string, built in a byte slice (never a Go string, which cannot be
// wiped). encoding/json copies what it returns into buffers of its own: code that encodes a secret should
// use AppendJSON and clear the result instead.
func (s Secret) MarshalJSON() ([]byte, error) {
	return s.AppendJSON(make([]byte, 0, len(s)+2)), nil
}

// AppendJSON appends the secret as a JSON string to dst, escaped as encoding/json escapes strings (control
// characters, quote, backslash, <, >, &, U+2028, U+2029; invalid UTF-8 becomes U+FFFD).
func (s Secret) AppendJSON(dst []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// UnmarshalJSON reads a JSON string (or null) into the secret, decoding it straight into a new byte slice
// (never a Go string).
func (s *Secret) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = nil
		return nil
	}
	v, ok := decodeJSONString(b)
	if !ok {
		return fmt.Errorf("secret: want a JSON string")
	}
	*s = v
	return nil
}

// decodeJSONString decodes a JSON string literal, quotes included, into a new slice.
func decodeJSONString(b []byte) (Secret, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return nil, false
	}
	b = b[1 : len(b)-1]
	out := make(Secret, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '"' || c < 0x20:
			clear(out)
			return nil, false
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			clear(out)
			return nil, false
		}
		switch b[i+1] {
		case '"', '\\', '/':
			out = append(out, b[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := hexRune(b[i+2:])
			if n == 0 {
				clear(out)
				return nil, false
			}
			i += n
			if utf16.IsSurrogate(r) {
				r2, n2 := rune(-1), 0
				if len(b) >= i+2+6 && b[i+2] == '\\' && b[i+3] == 'u' {
					r2, n2 = hexRune(b[i+4:])
				}
				if d := utf16.DecodeRune(r, r2); n2 > 0 && d != utf8.RuneError {
					r = d
					i += 2 + n2
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			clear(out)
			return nil, false
		}
		i += 2
	}
	return out, true
}

// hexRune reads four hex digits; n is 4, or 0 when they are not there.
func hexRune(b []byte) (rune, int) {
	if len(b) < 4 {
		return 0, 0
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, 0
		}
		r = r<<4 | rune(c)
	}
	return r, 4
}

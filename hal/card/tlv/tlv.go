// Package tlv reads and writes the BER-TLV encoding that PIV cards use for their data objects
// (NIST SP 800-73-4 part 1, appendix; ISO/IEC 7816-4 section 5.2).
//
// It is shared by the card client (hal/card) and the virtual card (hal/vcard). It only parses
// bytes: it never logs, and its errors never quote the data they were given, which may hold a PIN.
package tlv

import (
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every parsing error.
var ErrMalformed = errors.New("malformed tlv")

// Object is one tag-length-value element. Value aliases the parsed buffer.
type Object struct {
	Tag   uint32
	Value []byte
}

// maxTagBytes bounds multi-byte tags: PIV uses at most three (5FC105 is a value, not a tag,
// but 5F2F and 7F61 are two-byte tags).
const maxTagBytes = 3

// Next parses the first element of b and returns it with the bytes that follow it.
func Next(b []byte) (Object, []byte, error) {
	if len(b) == 0 {
		return Object{}, nil, fmt.Errorf("%w: empty input", ErrMalformed)
	}
	tag := uint32(b[0])
	i := 1
	if b[0]&0x1f == 0x1f {
		for {
			if i >= len(b) {
				return Object{}, nil, fmt.Errorf("%w: truncated tag", ErrMalformed)
			}
			if i >= maxTagBytes {
				return Object{}, nil, fmt.Errorf("%w: tag longer than %d bytes", ErrMalformed, maxTagBytes)
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return Object{}, nil, fmt.Errorf("%w: missing length for tag %X", ErrMalformed, tag)
	}
	n := int(b[i])
	i++
	if n > 0x80 {
		k := n & 0x7f
		if k > 3 {
			return Object{}, nil, fmt.Errorf("%w: length of %d bytes for tag %X", ErrMalformed, k, tag)
		}
		if i+k > len(b) {
			return Object{}, nil, fmt.Errorf("%w: truncated length for tag %X", ErrMalformed, tag)
		}
		n = 0
		for _, c := range b[i : i+k] {
			n = n<<8 | int(c)
		}
		i += k
	} else if n == 0x80 {
		return Object{}, nil, fmt.Errorf("%w: indefinite length for tag %X", ErrMalformed, tag)
	}
	if n > len(b)-i {
		return Object{}, nil, fmt.Errorf("%w: tag %X wants %d bytes, %d left", ErrMalformed, tag, n, len(b)-i)
	}
	return Object{Tag: tag, Value: b[i : i+n : i+n]}, b[i+n:], nil
}

// Parse splits b into its top-level elements.
func Parse(b []byte) ([]Object, error) {
	var out []Object
	for len(b) > 0 {
		o, rest, err := Next(b)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
		b = rest
	}
	return out, nil
}

// Find returns the value of the first top-level element of b with the given tag.
// found is false when b parses but holds no such tag.
func Find(b []byte, tag uint32) (value []byte, found bool, err error) {
	objs, err := Parse(b)
	if err != nil {
		return nil, false, err
	}
	for _, o := range objs {
		if o.Tag == tag {
			return o.Value, true, nil
		}
	}
	return nil, false, nil
}

// Unwrap parses b as exactly one element with the given tag and returns its value.
func Unwrap(b []byte, tag uint32) ([]byte, error) {
	o, rest, err := Next(b)
	if err != nil {
		return nil, err
	}
	if o.Tag != tag {
		return nil, fmt.Errorf("%w: want tag %X, got %X", ErrMalformed, tag, o.Tag)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after tag %X", ErrMalformed, len(rest), tag)
	}
	return o.Value, nil
}

// Append appends the encoding of one element to dst.
func Append(dst []byte, tag uint32, value []byte) []byte {
	switch {
	case tag > 0xffff:
		dst = append(dst, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xff:
		dst = append(dst, byte(tag>>8), byte(tag))
	default:
		dst = append(dst, byte(tag))
	}
	n := len(value)
	switch {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n <= 0xff:
		dst = append(dst, 0x81, byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, value...)
}

// Encode returns the encoding of one element.
func Encode(tag uint32, value []byte) []byte {
	return Append(make([]byte, 0, len(value)+6), tag, value)
}

// Concat encodes several elements one after the other.
func Concat(objs ...Object) []byte {
	var out []byte
	for _, o := range objs {
		out = Append(out, o.Tag, o.Value)
	}
	return out
}

package tlv

import (
	"bytes"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000} {
		for _, tag := range []uint32{0x53, 0x5f2f, 0x5fc105} {
			v := bytes.Repeat([]byte{0xab}, n)
			enc := Encode(tag, v)
			got, err := Unwrap(enc, tag)
			if err != nil {
				t.Fatalf("tag %X len %d: %v", tag, n, err)
			}
			if !bytes.Equal(got, v) {
				t.Fatalf("tag %X len %d: value changed", tag, n)
			}
		}
	}
}

func TestNextEmpty(t *testing.T) {
	if _, _, err := Next(nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Next(nil) err = %v", err)
	}
}

func TestFindNested(t *testing.T) {
	inner := Concat(Object{Tag: 0x70, Value: []byte{1, 2, 3}}, Object{Tag: 0x71, Value: []byte{0}})
	outer := Encode(0x53, inner)
	v, err := Unwrap(outer, 0x53)
	if err != nil {
		t.Fatal(err)
	}
	cert, ok, err := Find(v, 0x70)
	if err != nil || !ok || !bytes.Equal(cert, []byte{1, 2, 3}) {
		t.Fatalf("Find 70 = %x %v %v", cert, ok, err)
	}
	if _, ok, _ := Find(v, 0x72); ok {
		t.Fatal("found a tag that is not there")
	}
}

func TestMalformed(t *testing.T) {
	for name, b := range map[string][]byte{
		"no length":        {0x53},
		"short value":      {0x53, 0x05, 1, 2},
		"truncated tag":    {0x5f},
		"long tag":         {0x5f, 0xc1, 0x81, 0x01, 0x00},
		"indefinite":       {0x53, 0x80, 0x00},
		"length too big":   {0x53, 0x84, 1, 2, 3, 4},
		"truncated length": {0x53, 0x82, 0x01},
	} {
		if _, err := Parse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{0x53, 0x03, 0x70, 0x01, 0x00})
	f.Add(Encode(0x7e, Concat(Object{Tag: 0x4f, Value: []byte{0xa0, 0, 0, 3, 8}}, Object{Tag: 0x5f2f, Value: []byte{0x40, 0}})))
	f.Add([]byte{0x5f, 0xc1, 0x05, 0x82, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		objs, err := Parse(b)
		if err != nil {
			return
		}
		// What parses re-encodes to something that parses to the same elements.
		again, err := Parse(Concat(objs...))
		if err != nil || len(again) != len(objs) {
			t.Fatalf("re-encoding changed the parse: %v", err)
		}
		for i := range objs {
			if objs[i].Tag != again[i].Tag || !bytes.Equal(objs[i].Value, again[i].Value) {
				t.Fatalf("element %d changed", i)
			}
		}
	})
}

package vcard

import (
	"bytes"
	"compress/gzip"
	"strings"
	"time"

	"ssu-kiosk/hal/card/tlv"
)

// pivAID is the PIV Card Application's full AID (800-73-4 part 1, 2.2): RID A0 00 00 03 08, PIX 00 00 10 00 01 00.
var pivAID = []byte{0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}

// minAIDPrefix is the shortest SELECT the card answers for PIV: the RID alone (ISO 7816-4 partial selection).
const minAIDPrefix = 5

// Data object tags: GET DATA's 5C value (800-73-4 part 1, table 3).
const (
	objDiscovery   = 0x7e
	objBIT         = 0x7f61   // biometric information templates group
	objCardAuth    = 0x5fc101 // X.509 certificate for Card Authentication (key 9E)
	objCHUID       = 0x5fc102
	objFingerprint = 0x5fc103 // PIN protected
	objPIVAuth     = 0x5fc105 // X.509 certificate for PIV Authentication (key 9A)
	objCCC         = 0x5fc107
	objFacial      = 0x5fc108 // PIN protected
	objPrinted     = 0x5fc109 // Printed Information: PIN protected
	objKeyHistory  = 0x5fc10c
	objIris        = 0x5fc121 // PIN protected
)

// BER-TLV tags of the objects' contents (800-73-4 part 1, appendix A).
const (
	tagDataObject  = 0x53
	tagCert        = 0x70
	tagCertInfo    = 0x71
	tagEDC         = 0xfe // error detection code, always empty
	tagFASCN       = 0x30
	tagGUID        = 0x34
	tagExpiry      = 0x35
	tagSignature   = 0x3e
	tagAID         = 0x4f
	tagPINPolicy   = 0x5f2f
	tagAppTemplate = 0x61
	tagAuthority   = 0x79
	tagAppLabel    = 0x50
	tagAlgorithms  = 0xac
	tagAlgID       = 0x80
	tagOID         = 0x06
	tagDynAuth     = 0x7c
	tagWitness     = 0x80
	tagChallenge   = 0x81
	tagResponse    = 0x82
)

// Cryptographic algorithm identifiers (800-78-4, table 6-2).
const (
	algRSA2048 = 0x07
	algECCP256 = 0x11
	algECCP384 = 0x14
)

// selectResponse is the Application Property Template a SELECT of the PIV AID answers (800-73-4 part 2, 3.1.1).
func selectResponse() []byte {
	return tlv.Encode(tagAppTemplate, tlv.Concat(
		tlv.Object{Tag: tagAID, Value: pivAID[minAIDPrefix:]},
		tlv.Object{Tag: tagAuthority, Value: tlv.Encode(tagAID, pivAID[:minAIDPrefix])},
		tlv.Object{Tag: tagAppLabel, Value: []byte("SSU virtual PIV")},
		tlv.Object{Tag: tagAlgorithms, Value: tlv.Concat(
			tlv.Object{Tag: tagAlgID, Value: []byte{algRSA2048}},
			tlv.Object{Tag: tagAlgID, Value: []byte{algECCP256}},
			tlv.Object{Tag: tagAlgID, Value: []byte{algECCP384}},
			tlv.Object{Tag: tagOID, Value: nil},
		)},
	))
}

// discovery is the Discovery Object (800-73-4 part 1, 3.3.2): the PIV AID and a PIN usage policy of
// "PIV Card Application PIN only".
func discovery() []byte {
	return tlv.Encode(objDiscovery, tlv.Concat(
		tlv.Object{Tag: tagAID, Value: pivAID},
		tlv.Object{Tag: tagPINPolicy, Value: []byte{0x40, 0x00}},
	))
}

// ccc is the Card Capability Container (800-73-4 part 1, 3.1.1, table 8). The card identifier is the
// GSC-IS RID, a dummy manufacturer (FF), card type 02 (Java Card) and 14 bytes of the GUID.
func ccc(guid []byte) []byte {
	id := append([]byte{0xa0, 0x00, 0x00, 0x01, 0x16, 0xff, 0x02}, guid[:14]...)
	return tlv.Concat(
		tlv.Object{Tag: 0xf0, Value: id},           // card identifier
		tlv.Object{Tag: 0xf1, Value: []byte{0x21}}, // capability container version
		tlv.Object{Tag: 0xf2, Value: []byte{0x21}}, // capability grammar version
		tlv.Object{Tag: 0xf3},                      // applications CardURL
		tlv.Object{Tag: 0xf4, Value: []byte{0x00}}, // PKCS#15: no
		tlv.Object{Tag: 0xf5, Value: []byte{0x10}}, // registered data model number
		tlv.Object{Tag: 0xf6},                      // access control rule table
		tlv.Object{Tag: 0xf7},                      // card APDUs
		tlv.Object{Tag: 0xfa},                      // redirection tag
		tlv.Object{Tag: 0xfb},                      // capability tuples
		tlv.Object{Tag: 0xfc},                      // status tuples
		tlv.Object{Tag: 0xfd},                      // next CCC
		tlv.Object{Tag: tagEDC},                    // error detection code
	)
}

// nonFederalFASCN is the FASC-N of a card that is not a federal PIV card (800-73-4 part 1, 3.1.2):
// agency 9999, system 9999, credential 999999.
const nonFederalFASCN = "S9999F9999F999999F0F1F0000000000300001E"

// chuidValue is the Card Holder Unique Identifier (800-73-4 part 1, 3.1.2, table 9): a FASC-N, the
// GUID, the expiry date and an empty issuer signature (this test card has no content signing key).
func chuidValue(guid []byte, notAfter time.Time) []byte {
	return tlv.Concat(
		tlv.Object{Tag: tagFASCN, Value: encodeFASCN(nonFederalFASCN)},
		tlv.Object{Tag: tagGUID, Value: guid},
		tlv.Object{Tag: tagExpiry, Value: []byte(notAfter.UTC().Format("20060102"))},
		tlv.Object{Tag: tagSignature},
		tlv.Object{Tag: tagEDC},
	)
}

// encodeFASCN packs a FASC-N written with S (start sentinel), F (field separator), E (end sentinel) and
// digits into its 25-byte form (TIG SCEPACS): each character is 4 bits, least significant first, and an
// odd parity bit; a longitudinal redundancy character closes it.
func encodeFASCN(s string) []byte {
	var bits []byte
	var lrc byte
	put := func(v byte) {
		ones := 0
		for i := range 4 {
			b := v >> i & 1
			bits = append(bits, b)
			ones += int(b)
		}
		bits = append(bits, byte(1-ones%2)) // odd parity
	}
	for _, r := range s {
		var v byte
		switch {
		case r >= '0' && r <= '9':
			v = byte(r - '0')
		case r == 'S':
			v = 0xb
		case r == 'F':
			v = 0xd
		case r == 'E':
			v = 0xf
		}
		lrc ^= v
		put(v)
	}
	put(lrc)
	out := make([]byte, (len(bits)+7)/8)
	for i, b := range bits {
		out[i/8] |= b << (7 - i%8)
	}
	return out
}

// printedInformation is the Printed Information object (800-73-4 part 1, 3.1.6), readable after VERIFY.
func printedInformation(name string, notAfter time.Time, serial string) []byte {
	if len(name) > 125 {
		name = name[:125]
	}
	return tlv.Concat(
		tlv.Object{Tag: 0x01, Value: []byte(name)},
		tlv.Object{Tag: 0x02, Value: []byte("Staff")},
		tlv.Object{Tag: 0x04, Value: []byte(strings.ToUpper(notAfter.UTC().Format("2006Jan02")))},
		tlv.Object{Tag: 0x05, Value: []byte(serial[:20])},
		tlv.Object{Tag: 0x06, Value: []byte("SSU Test")},
		tlv.Object{Tag: tagEDC},
	)
}

// certificateObject wraps a certificate as 800-73-4 part 1, appendix A, table 10 says: 70 cert, 71 CertInfo
// (00 as is, 01 gzip-compressed), FE (empty error detection code).
func certificateObject(der []byte, compress bool) []byte {
	info := byte(0x00)
	if compress {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(der) // writes to memory do not fail
		_ = zw.Close()
		der, info = b.Bytes(), 0x01
	}
	return tlv.Concat(
		tlv.Object{Tag: tagCert, Value: der},
		tlv.Object{Tag: tagCertInfo, Value: []byte{info}},
		tlv.Object{Tag: tagEDC},
	)
}

// pinPadding pads PIN and PUK values to 8 bytes (800-73-4 part 2, 2.4.3).
const pinPadding = 0xff

// splitPIN takes the 8-byte padded form and returns the value, or false when it is not 6-8 bytes of
// non-FF followed by FF padding.
func splitPIN(padded []byte) ([]byte, bool) {
	if len(padded) != 8 {
		return nil, false
	}
	n := 0
	for n < 8 && padded[n] != pinPadding {
		n++
	}
	for _, b := range padded[n:] {
		if b != pinPadding {
			return nil, false
		}
	}
	if n < 6 {
		return nil, false
	}
	return padded[:n], true
}

// validPIN tells whether v can be a PIN or PUK value (6-8 bytes, no padding byte).
func validPIN(v []byte) bool {
	if len(v) < 6 || len(v) > 8 {
		return false
	}
	for _, b := range v {
		if b == pinPadding {
			return false
		}
	}
	return true
}

// validNewPIN is what the card accepts as a new PIN: 6-8 digits (FIPS 201-3, 4.3.1).
func validNewPIN(v []byte) bool {
	if len(v) < 6 || len(v) > 8 {
		return false
	}
	for _, b := range v {
		if b < '0' || b > '9' {
			return false
		}
	}
	return true
}

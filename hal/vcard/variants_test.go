package vcard

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"ssu-kiosk/hal/card/tlv"
)

// TestCertificatesNameTheCard: both certificates carry the CHUID GUID as a urn:uuid subject alternative
// name, as real PIV issuers do (FIPS 201-3, 4.2.2.1), whatever the 9E algorithm.
func TestCertificatesNameTheCard(t *testing.T) {
	for _, alg := range Algorithms {
		s, err := Create(CreateOptions{HolderUUID: "555000000001", Name: "Sam Example", PIN: testPIN, PUK: testPUK,
			NotAfter: time.Date(2028, 1, 31, 0, 0, 0, 0, time.UTC), CA: testCA(t), CardAuthAlgorithm: alg})
		if err != nil {
			t.Fatal(err)
		}
		want := CardURI(s.GUID).String()
		if len(want) != len("urn:uuid:")+36 {
			t.Fatalf("card URI %q", want)
		}
		for _, key := range []byte{KeyPIVAuth, KeyCardAuth} {
			cert, err := s.Certificate(key)
			if err != nil {
				t.Fatal(err)
			}
			if len(cert.URIs) != 1 || cert.URIs[0].String() != want {
				t.Errorf("%s: certificate %02X names %v, want %s", alg, key, cert.URIs, want)
			}
		}
		// The state survives a save and a load (the key type is checked against the certificate).
		path := filepath.Join(t.TempDir(), "card.json")
		if err := s.Save(path); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadState(path); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
}

// TestGeneralAuthenticateAlgorithms: key 9E answers only the algorithm identifier of its own key, and an
// RSA key takes only a block as long as its modulus.
func TestGeneralAuthenticateAlgorithms(t *testing.T) {
	ga := func(alg byte, challenge []byte) []byte {
		tmpl := tlv.Encode(0x7c, tlv.Concat(tlv.Object{Tag: 0x82}, tlv.Object{Tag: 0x81, Value: challenge}))
		return append([]byte{0x00, 0x87, alg, 0x9e, byte(len(tmpl))}, tmpl...)
	}
	for alg, id := range map[Algorithm]byte{ECCP256: algECCP256, ECCP384: algECCP384, RSA2048: algRSA2048} {
		s, err := Create(CreateOptions{HolderUUID: "555000000001", Name: "Sam Example", PIN: testPIN, PUK: testPUK,
			NotAfter: time.Date(2028, 1, 31, 0, 0, 0, 0, time.UTC), CA: testCA(t), CardAuthAlgorithm: alg})
		if err != nil {
			t.Fatal(err)
		}
		c := NewCard(s)
		for _, other := range []byte{algECCP256, algECCP384, algRSA2048} {
			if other != id {
				expect(t, c, ga(other, make([]byte, 32)), "6A86")
			}
		}
		if alg == RSA2048 {
			expect(t, c, ga(id, bytes.Repeat([]byte{0xff}, 200)), "6A80") // not the modulus' length
		}
	}
}

// TestCompressedCertificateObject: with CompressCertificates the certificate objects say CertInfo 01 and
// hold the gzip of the certificate.
func TestCompressedCertificateObject(t *testing.T) {
	s := newTestState(t)
	s.CompressCertificates = true
	c := NewCard(s)
	resp, status := getData(t, c, "5FC105")
	if status != "9000" {
		t.Fatalf("GET DATA answered %s", status)
	}
	obj, err := tlv.Unwrap(resp, tagDataObject)
	if err != nil {
		t.Fatal(err)
	}
	if info, ok, _ := tlv.Find(obj, 0x71); !ok || !bytes.Equal(info, []byte{0x01}) {
		t.Errorf("CertInfo % X, want 01", info)
	}
	if der, _, _ := tlv.Find(obj, 0x70); len(der) < 2 || der[0] != 0x1f || der[1] != 0x8b {
		t.Errorf("the certificate is not gzip")
	}
}

package idservice

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"net/url"
	"testing"
)

// TestCardUUIDForms: the card a certificate names, whatever the spelling of its urn:uuid; a certificate that
// names two cards, or a urn:uuid that is not an RFC 4122 UUID, names none that can be trusted.
func TestCardUUIDForms(t *testing.T) {
	const want = "0123456789abcdef0123456789abcdef"
	uri := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		return u
	}
	for _, tc := range []struct {
		name string
		uris []string
		want string // "" with ok: names no card
		ok   bool
	}{
		{"plain", []string{"urn:uuid:01234567-89ab-cdef-0123-456789abcdef"}, want, true},
		{"upper case", []string{"URN:UUID:01234567-89AB-CDEF-0123-456789ABCDEF"}, want, true},
		{"the same card twice, in two cases", []string{"urn:uuid:01234567-89ab-cdef-0123-456789abcdef", "urn:UUID:01234567-89AB-cdef-0123-456789abcdef"}, want, true},
		{"another URN beside it", []string{"urn:oid:2.5.4.5", "urn:uuid:01234567-89ab-cdef-0123-456789abcdef"}, want, true},
		{"no urn:uuid", []string{"https://pki.example/card"}, "", true},
		{"two cards", []string{"urn:uuid:01234567-89ab-cdef-0123-456789abcdef", "urn:uuid:01234567-89ab-cdef-0123-456789abcdee"}, "", false},
		{"two cards, the second upper case", []string{"urn:uuid:01234567-89ab-cdef-0123-456789abcdef", "urn:uuid:11234567-89AB-CDEF-0123-456789ABCDEF"}, "", false},
		{"no dashes", []string{"urn:uuid:0123456789abcdef0123456789abcdef"}, "", false},
		{"braces", []string{"urn:uuid:{01234567-89ab-cdef-0123-456789abcdef}"}, "", false},
		{"dashes moved", []string{"urn:uuid:0123456-789ab-cdef-0123-456789abcdef"}, "", false},
		{"not hex", []string{"urn:uuid:0123456g-89ab-cdef-0123-456789abcdef"}, "", false},
		{"one character too many", []string{"urn:uuid:01234567-89ab-cdef-0123-456789abcdef0"}, "", false},
		{"empty", []string{"urn:uuid:"}, "", false},
	} {
		cert := &x509.Certificate{}
		for _, s := range tc.uris {
			cert.URIs = append(cert.URIs, uri(s))
		}
		got, err := cardUUID(cert)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s: %q, %v; want %q (ok %v)", tc.name, got, err, tc.want, tc.ok)
		}
	}
}

// TestCardSignatureDigests: a signature verifies only as the contract says for its algorithm; the same key
// signing with another digest or padding, or over the nonce unhashed where a hash is due, does not.
func TestCardSignatureDigests(t *testing.T) {
	nonce := make([]byte, 32)
	rand.Read(nonce)
	h256, h384 := sha256.Sum256(nonce), sha512.Sum384(nonce)
	h1 := sha1.Sum(nonce)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	must := func(sig []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	for _, tc := range []struct {
		name string
		pub  crypto.PublicKey
		sig  []byte
		ok   bool
	}{
		{"RSA 2048, PKCS #1 v1.5 SHA-256", &rsaKey.PublicKey, must(rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, h256[:])), true},
		{"RSA 2048, PKCS #1 v1.5 SHA-1", &rsaKey.PublicKey, must(rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA1, h1[:])), false},
		{"RSA 2048, PKCS #1 v1.5 SHA-384", &rsaKey.PublicKey, must(rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA384, h384[:])), false},
		{"RSA 2048, the nonce itself as the SHA-256 digest", &rsaKey.PublicKey, must(rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, nonce)), false},
		{"RSA 2048, no DigestInfo", &rsaKey.PublicKey, must(rsa.SignPKCS1v15(rand.Reader, rsaKey, 0, h256[:])), false},
		{"RSA 2048, PSS SHA-256", &rsaKey.PublicKey, must(rsa.SignPSS(rand.Reader, rsaKey, crypto.SHA256, h256[:], nil)), false},
		{"RSA 1024", &rsa1024.PublicKey, must(rsa.SignPKCS1v15(rand.Reader, rsa1024, crypto.SHA256, h256[:])), false},
		{"P-256 over the nonce", &p256.PublicKey, must(ecdsa.SignASN1(rand.Reader, p256, nonce)), true},
		{"P-256 over SHA-256(nonce)", &p256.PublicKey, must(ecdsa.SignASN1(rand.Reader, p256, h256[:])), false},
		{"P-384 over SHA-384(nonce)", &p384.PublicKey, must(ecdsa.SignASN1(rand.Reader, p384, h384[:])), true},
		{"P-384 over the nonce", &p384.PublicKey, must(ecdsa.SignASN1(rand.Reader, p384, nonce)), false},
		{"P-384 over SHA-256(nonce)", &p384.PublicKey, must(ecdsa.SignASN1(rand.Reader, p384, h256[:])), false},
		{"P-521", &p521.PublicKey, must(ecdsa.SignASN1(rand.Reader, p521, nonce)), false},
	} {
		err := verifyCardSignature(tc.pub, nonce, tc.sig)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

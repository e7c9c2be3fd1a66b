package card_test

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/hal/card"
	"ssu-kiosk/hal/card/tlv"
	"ssu-kiosk/hal/vcard"
	"ssu-kiosk/provisioning/pki/pkitest"
)

// inProcessPIV is a PIV over a virtual card in this process (no pcscd), selected.
func inProcessPIV(t *testing.T, alg vcard.Algorithm, compress bool) (*card.PIV, *vcard.State) {
	t.Helper()
	ca, err := vcard.LoadCA(filepath.Join("..", "..", "testdata", "pki"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := vcard.Create(vcard.CreateOptions{HolderUUID: "555000000001", Name: "Sam Example",
		PIN: []byte(testPIN), PUK: []byte(testPUK), NotAfter: time.Now().AddDate(1, 0, 0), CA: ca,
		CardAuthAlgorithm: alg, CompressCertificates: compress})
	if err != nil {
		t.Fatal(err)
	}
	c := vcard.NewCard(st)
	p := card.NewPIV(card.TransportFunc(func(cmd []byte) ([]byte, error) { return c.Process(cmd), nil }))
	if err := p.Select(); err != nil {
		t.Fatal(err)
	}
	return p, c.State()
}

// TestAuthenticateEveryAlgorithm: key 9E of each SP 800-78-4 algorithm signs the nonce as Authenticate
// documents (P-256: the nonce as given; P-384: SHA-384 of it; RSA 2048: PKCS #1 v1.5 with SHA-256), with
// the certificates stored plain or compressed.
func TestAuthenticateEveryAlgorithm(t *testing.T) {
	nonce := bytes.Repeat([]byte{0x5a}, 32)
	for _, alg := range vcard.Algorithms {
		for _, compress := range []bool{false, true} {
			p, st := inProcessPIV(t, alg, compress)
			id, err := p.ReadIdentity(card.IdentityOptions{})
			if err != nil || id.Serial != st.Serial() || id.HolderUUID != "555000000001" {
				t.Fatalf("%s compressed=%v: identity %+v, %v", alg, compress, id, err)
			}
			sig, cert, err := p.Authenticate(nonce)
			if err != nil {
				t.Fatalf("%s compressed=%v: %v", alg, compress, err)
			}
			if !cardAuthVerifies(cert.PublicKey, nonce, sig) {
				t.Errorf("%s compressed=%v: the signature does not verify as documented", alg, compress)
			}
		}
	}
}

// cardAuthVerifies checks a Card Authentication signature as the identity contract says.
func cardAuthVerifies(pub crypto.PublicKey, nonce, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		digest := nonce
		if k.Curve == elliptic.P384() {
			d := sha512.Sum384(nonce)
			digest = d[:]
		}
		return ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		d := sha256.Sum256(nonce)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
	}
	return false
}

// TestCardAuthChallengeRefusesOtherKeys: keys outside SP 800-78-4's three for 9E are unusable, not sent.
func TestCardAuthChallengeRefusesOtherKeys(t *testing.T) {
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	for _, pub := range []crypto.PublicKey{&p521.PublicKey, &rsa1024.PublicKey} {
		if _, _, err := card.CardAuthChallenge(pub, make([]byte, 32)); err == nil {
			t.Errorf("%T accepted", pub)
		}
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, _, err := card.CardAuthChallenge(&p256.PublicKey, make([]byte, 20)); err == nil {
		t.Error("a P-256 key was handed a 20-byte nonce")
	}
}

func certObject(der []byte, info byte) []byte {
	return tlv.Concat(tlv.Object{Tag: 0x70, Value: der}, tlv.Object{Tag: 0x71, Value: []byte{info}}, tlv.Object{Tag: 0xfe})
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestCompressedCertificates: a gzip-compressed certificate (CertInfo 01) is inflated; one that does not
// inflate, inflates past the bound, or is not a certificate makes the card unusable (not "unreadable").
func TestCompressedCertificates(t *testing.T) {
	_, st := inProcessPIV(t, vcard.ECCP256, false)
	der := st.PIVAuth.Cert
	cert, err := card.ParseCertificateObject(certObject(gz(der), 0x01))
	if err != nil || !bytes.Equal(cert.Raw, der) {
		t.Fatalf("compressed certificate: %v", err)
	}
	for name, obj := range map[string][]byte{
		"not gzip":         certObject(der, 0x01),
		"truncated gzip":   certObject(gz(der)[:40], 0x01),
		"inflates too far": certObject(gz(make([]byte, 1<<20)), 0x01),
		"not a cert":       certObject(gz([]byte("hello")), 0x01),
		"plain garbage":    certObject([]byte("hello"), 0x00),
	} {
		if _, err := card.ParseCertificateObject(obj); !errors.Is(err, card.ErrCardUnusable) {
			t.Errorf("%s: %v, want ErrCardUnusable", name, err)
		}
	}
}

// TestCertificateErrorsHideValues: a certificate that does not parse is reported without the value that
// failed (crypto/x509 quotes it, and it may be the card's UUID or the holder's email address).
func TestCertificateErrorsHideValues(t *testing.T) {
	ca := pkitest.NewCA(t, "test CA")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der := pkitest.SignDER(t, ca, &x509.Certificate{NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		URIs: []*url.URL{{Scheme: "https", Host: "d1e0c0de..example"}}}, &key.PublicKey)
	_, err := card.ParseCertificateObject(certObject(der, 0x00))
	if !errors.Is(err, card.ErrCardUnusable) || strings.Contains(err.Error(), "d1e0c0de") {
		t.Fatalf("error %v: want ErrCardUnusable without the value", err)
	}
}

// TestReadIdentityRefusedIsUnusable: a card that refuses to hand out its certificate (a status word other
// than "not found") is a card the kiosk cannot use, not one to turn round and insert again.
func TestReadIdentityRefusedIsUnusable(t *testing.T) {
	p := card.NewPIV(card.TransportFunc(func(cmd []byte) ([]byte, error) {
		if cmd[1] == 0xcb {
			return []byte{0x69, 0x82}, nil // security status not satisfied
		}
		return []byte{0x90, 0x00}, nil
	}))
	if _, err := p.ReadIdentity(card.IdentityOptions{}); !errors.Is(err, card.ErrCardUnusable) {
		t.Fatalf("ReadIdentity: %v, want ErrCardUnusable", err)
	}
}

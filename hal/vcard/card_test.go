package vcard

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/hal/card/tlv"
)

var (
	testPIN = []byte("123456")
	testPUK = []byte("12345678")
)

func testCA(t testing.TB) *CA {
	t.Helper()
	ca, err := LoadCA(testCADir)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func newTestState(t testing.TB) *State {
	t.Helper()
	s, err := Create(CreateOptions{
		HolderUUID: "555000000001", Name: "Sam Example",
		PIN: testPIN, PUK: testPUK,
		NotAfter: time.Date(2028, 1, 31, 0, 0, 0, 0, time.UTC),
		CA:       testCA(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// apdu builds a short command APDU from hex, with spaces allowed.
func apdu(t testing.TB, h string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", h, err)
	}
	return b
}

func pad(v string) string {
	b := append([]byte(v), bytes.Repeat([]byte{0xff}, 8-len(v))...)
	return hex.EncodeToString(b)
}

func sw(resp []byte) string { return fmt.Sprintf("%02X%02X", resp[len(resp)-2], resp[len(resp)-1]) }

// expect sends cmd and checks the status word; it returns the response data.
func expect(t *testing.T, c *Card, cmd []byte, want string) []byte {
	t.Helper()
	resp := c.Process(cmd)
	if got := sw(resp); got != want {
		t.Fatalf("% X... answered %s, want %s", cmd[:min(4, len(cmd))], got, want)
	}
	return resp[:len(resp)-2]
}

func verifyAPDU(pin string) []byte {
	return append([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, must(hex.DecodeString(pad(pin)))...)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// getData reads a whole object, following 61xx with GET RESPONSE as hosts do.
func getData(t *testing.T, c *Card, tag string) ([]byte, string) {
	t.Helper()
	tb := apdu(t, tag)
	cmd := append([]byte{0x00, 0xcb, 0x3f, 0xff, byte(len(tb) + 2), 0x5c, byte(len(tb))}, tb...)
	cmd = append(cmd, 0x00)
	resp := c.Process(cmd)
	var out []byte
	for {
		out = append(out, resp[:len(resp)-2]...)
		if resp[len(resp)-2] != 0x61 {
			return out, sw(resp)
		}
		resp = c.Process([]byte{0x00, 0xc0, 0x00, 0x00, resp[len(resp)-1]})
	}
}

func TestSelect(t *testing.T) {
	c := NewCard(newTestState(t))
	for _, aid := range []string{"A000000308000010000100", "A00000030800001000", "A000000308"} {
		data := expect(t, c, apdu(t, fmt.Sprintf("00A40400%02X%s00", len(aid)/2, aid)), "9000")
		tmpl, err := tlv.Unwrap(data, 0x61)
		if err != nil {
			t.Fatalf("select %s: %v", aid, err)
		}
		pix, ok, _ := tlv.Find(tmpl, 0x4f)
		if !ok || !bytes.Equal(pix, pivAID[5:]) {
			t.Fatalf("select %s: 4F = %X", aid, pix)
		}
	}
	// Other AIDs and probes of other drivers: not found / not supported, and PIV stays selected.
	expect(t, c, apdu(t, "00A4040007A0000005272001"), "6A82")
	expect(t, c, apdu(t, "00A4040004A0000003"), "6A82")
	expect(t, c, apdu(t, "00A40000023F00"), "6A82")
	expect(t, c, apdu(t, "00CADF3005"), "6D00")
	expect(t, c, apdu(t, "00FD000000"), "6D00")
	expect(t, c, apdu(t, "80CA9F7F00"), "6E00")
	expect(t, c, apdu(t, "00"), "6700")
	expect(t, c, apdu(t, "00A4040005A000000308FF00"), "6700")
	if _, got := getData(t, c, "7E"); got != "9000" {
		t.Fatalf("discovery after a foreign SELECT: %s", got)
	}
}

func TestDataObjects(t *testing.T) {
	s := newTestState(t)
	ca := testCA(t)
	c := NewCard(s)

	disc, st := getData(t, c, "7E")
	if st != "9000" {
		t.Fatalf("discovery: %s", st)
	}
	v, err := tlv.Unwrap(disc, 0x7e)
	if err != nil {
		t.Fatal(err)
	}
	if aid, ok, _ := tlv.Find(v, 0x4f); !ok || !bytes.Equal(aid, pivAID) {
		t.Fatalf("discovery AID %X", aid)
	}

	chuid, st := getData(t, c, "5FC102")
	if st != "9000" {
		t.Fatalf("chuid: %s", st)
	}
	v, err = tlv.Unwrap(chuid, 0x53)
	if err != nil {
		t.Fatal(err)
	}
	guid, ok, _ := tlv.Find(v, 0x34)
	if !ok || hex.EncodeToString(guid) != s.Serial() || len(s.Serial()) != 32 {
		t.Fatalf("CHUID GUID %x, serial %s", guid, s.Serial())
	}
	if fascn, _, _ := tlv.Find(v, 0x30); len(fascn) != 25 {
		t.Fatalf("FASC-N of %d bytes", len(fascn))
	}
	if exp, _, _ := tlv.Find(v, 0x35); string(exp) != "20280131" {
		t.Fatalf("CHUID expiry %q", exp)
	}

	if _, st := getData(t, c, "5FC107"); st != "9000" {
		t.Fatalf("ccc: %s", st)
	}
	for _, tag := range []string{"5FC10C", "5FC10A", "5FC10B", "5FC106", "7F61", "5FC10D", "5FFF00"} {
		if _, st := getData(t, c, tag); st != "6A82" {
			t.Fatalf("object %s: %s, want 6A82", tag, st)
		}
	}

	for _, tc := range []struct {
		tag string
		key byte
	}{{"5FC105", KeyPIVAuth}, {"5FC101", KeyCardAuth}} {
		obj, st := getData(t, c, tc.tag)
		if st != "9000" {
			t.Fatalf("%s: %s", tc.tag, st)
		}
		v, err := tlv.Unwrap(obj, 0x53)
		if err != nil {
			t.Fatal(err)
		}
		der, ok, err := tlv.Find(v, 0x70)
		if !ok || err != nil {
			t.Fatalf("%s: no certificate", tc.tag)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		if cert.Subject.CommonName != "Sam Example" || cert.Subject.SerialNumber != "555000000001" {
			t.Fatalf("%s subject %s", tc.tag, cert.Subject)
		}
		if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
			t.Fatalf("%s not issued by the test CA: %v", tc.tag, err)
		}
		if !cert.NotAfter.Equal(time.Date(2028, 1, 31, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("%s NotAfter %v", tc.tag, cert.NotAfter)
		}
		want, _ := s.Certificate(tc.key)
		if !want.Equal(cert) {
			t.Fatalf("%s is not the certificate of key %02X", tc.tag, tc.key)
		}
	}

	// Printed Information needs the PIN.
	if _, st := getData(t, c, "5FC109"); st != "6982" {
		t.Fatalf("printed information before VERIFY: %s", st)
	}
	expect(t, c, verifyAPDU("123456"), "9000")
	if _, st := getData(t, c, "5FC109"); st != "9000" {
		t.Fatalf("printed information after VERIFY: %s", st)
	}

	expect(t, c, apdu(t, "00CB3FFE055C035FC10200"), "6A86")
	expect(t, c, apdu(t, "00CB3FFF055D035FC10200"), "6A80")
}

func TestResponseChaining(t *testing.T) {
	c := NewCard(newTestState(t))
	cmd := apdu(t, "00CB3FFF055C035FC10500")
	first := c.Process(cmd)
	if len(first) != 258 || first[256] != 0x61 {
		t.Fatalf("first part: %d bytes, SW %s", len(first), sw(first))
	}
	// Any other command drops what was pending.
	expect(t, c, apdu(t, "0020008000"), "63C3")
	expect(t, c, apdu(t, "00C0000000"), "6985")

	whole, st := getData(t, c, "5FC105")
	if st != "9000" {
		t.Fatal(st)
	}
	// An extended Le gets it all at once.
	ext := c.Process(apdu(t, "00CB3FFF0000055C035FC1050000"))
	if sw(ext) != "9000" || !bytes.Equal(ext[:len(ext)-2], whole) {
		t.Fatalf("extended GET DATA: %s, %d bytes", sw(ext), len(ext))
	}
	// A small Le gets small pieces.
	resp := c.Process(apdu(t, "00CB3FFF055C035FC10510"))
	if len(resp) != 0x12 || resp[0x10] != 0x61 {
		t.Fatalf("Le 10: % X", resp)
	}
}

func TestVerifyAndBlock(t *testing.T) {
	c := NewCard(newTestState(t))
	expect(t, c, apdu(t, "0020008000"), "63C3")
	expect(t, c, verifyAPDU("654321"), "63C2")
	expect(t, c, verifyAPDU("123456"), "9000")
	expect(t, c, apdu(t, "0020008000"), "9000")
	expect(t, c, apdu(t, "0020008008"+pad("12345")), "6A80")
	// Badly formatted PINs are refused and cost nothing.
	for _, bad := range []string{pad("12345"), "31323334353637FF3839", "313233FF35363738", "FFFFFFFFFFFFFFFF", "3132333435363738FF"} {
		expect(t, c, apdu(t, fmt.Sprintf("00200080%02X%s", len(bad)/2, bad)), "6A80")
	}
	expect(t, c, apdu(t, "00200081"+"08"+pad("12345678")), "6A88") // the PUK cannot be verified
	expect(t, c, apdu(t, "00200000"+"08"+pad("123456")), "6A88")   // no global PIN
	expect(t, c, apdu(t, "0020FF8000"), "9000")                    // reset the security status
	expect(t, c, apdu(t, "0020008000"), "63C3")
	expect(t, c, verifyAPDU("111111"), "63C2")
	expect(t, c, verifyAPDU("111111"), "63C1")
	expect(t, c, verifyAPDU("111111"), "63C0")
	expect(t, c, verifyAPDU("123456"), "6983")
	expect(t, c, apdu(t, "0020008000"), "6983")
	if _, st := getData(t, c, "5FC109"); st != "6982" {
		t.Fatalf("printed information with a blocked PIN: %s", st)
	}
}

func TestChangePINAndPUK(t *testing.T) {
	c := NewCard(newTestState(t))
	change := func(p2 byte, old, repl, want string) {
		t.Helper()
		expect(t, c, apdu(t, fmt.Sprintf("002400%02X10%s%s", p2, pad(old), pad(repl))), want)
	}
	change(0x80, "000000", "24682468", "63C2")
	change(0x80, "123456", "12ab56", "6A80")   // not digits
	change(0x80, "123456", "12345", "6A80")    // too short
	change(0x80, "123456", "24682468", "9000") // counter back to 3
	expect(t, c, apdu(t, "0020008000"), "9000")
	expect(t, c, apdu(t, "0020FF8000"), "9000")
	expect(t, c, apdu(t, "0020008000"), "63C3")
	expect(t, c, verifyAPDU("123456"), "63C2")
	expect(t, c, verifyAPDU("24682468"), "9000")

	change(0x81, "11111111", "87654321", "63C2")
	change(0x81, "12345678", "87654321", "9000")
	change(0x82, "12345678", "87654321", "6A88")
	expect(t, c, apdu(t, "0024008008"+pad("123456")), "6A80")

	// The new PUK unblocks; the old one does not.
	for range 3 {
		expect(t, c, verifyAPDU("999999"), fmt.Sprintf("63C%d", 2-int(c.State().PINTriesMax-c.State().PINTriesLeft)))
	}
	expect(t, c, apdu(t, "002C008010"+pad("12345678")+pad("135790")), "63C2")
	expect(t, c, apdu(t, "002C008010"+pad("87654321")+pad("135790")), "9000")
	expect(t, c, verifyAPDU("135790"), "9000")
}

func TestResetRetryCounter(t *testing.T) {
	c := NewCard(newTestState(t))
	rrc := func(puk, pin, want string) {
		t.Helper()
		expect(t, c, apdu(t, "002C008010"+pad(puk)+pad(pin)), want)
	}
	for _, want := range []string{"63C2", "63C1", "63C0", "6983"} {
		expect(t, c, verifyAPDU("000000"), want)
	}
	rrc("12345678", "12x456", "6A80")
	expect(t, c, apdu(t, "002C008108"+pad("12345678")), "6A88")
	rrc("00000000", "654321", "63C2")
	if got := c.State().PUKTriesLeft; got != 2 {
		t.Fatalf("PUK tries left %d, want 2", got)
	}
	rrc("12345678", "654321", "9000")
	if st := c.State(); st.PUKTriesLeft != 3 || st.PINTriesLeft != 3 {
		t.Fatalf("after unblock: PIN %d PUK %d tries left", st.PINTriesLeft, st.PUKTriesLeft)
	}
	expect(t, c, apdu(t, "0020008000"), "63C3") // unblocking does not verify
	expect(t, c, verifyAPDU("654321"), "9000")

	// Three wrong PUKs block the PUK: even the right one is refused.
	rrc("00000000", "111111", "63C2")
	rrc("00000000", "111111", "63C1")
	rrc("00000000", "111111", "63C0")
	rrc("12345678", "111111", "6983")
	expect(t, c, apdu(t, "0024008110"+pad("12345678")+"3132FF3334353637"), "6A80")
	expect(t, c, apdu(t, "0024008110"+pad("12345678")+pad("87654321")), "6983")
}

func TestGeneralAuthenticate(t *testing.T) {
	s := newTestState(t)
	c := NewCard(s)
	challenge := sha256.Sum256([]byte("a challenge from the identity service"))
	ga := func(alg, key byte, tmpl []byte) []byte {
		data := tlv.Encode(0x7c, tmpl)
		return append(append([]byte{0x00, 0x87, alg, key, byte(len(data))}, data...), 0x00)
	}
	req := tlv.Concat(tlv.Object{Tag: 0x82}, tlv.Object{Tag: 0x81, Value: challenge[:]})
	check := func(key byte, resp []byte) {
		t.Helper()
		v, err := tlv.Unwrap(resp, 0x7c)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := tlv.Unwrap(v, 0x82)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := s.Certificate(key)
		if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), challenge[:], sig) {
			t.Fatalf("signature of key %02X does not verify", key)
		}
	}
	check(KeyCardAuth, expect(t, c, ga(0x11, 0x9e, req), "9000"))
	expect(t, c, ga(0x11, 0x9a, req), "6982")
	expect(t, c, verifyAPDU("123456"), "9000")
	check(KeyPIVAuth, expect(t, c, ga(0x11, 0x9a, req), "9000"))
	c.Reset()
	expect(t, c, ga(0x11, 0x9a, req), "6982")

	expect(t, c, ga(0x07, 0x9e, req), "6A86")
	expect(t, c, ga(0x11, 0x9c, req), "6A88")
	expect(t, c, ga(0x11, 0x9e, tlv.Encode(0x81, challenge[:])), "6A80")                           // no 82
	expect(t, c, ga(0x11, 0x9e, tlv.Concat(tlv.Object{Tag: 0x82}, tlv.Object{Tag: 0x81})), "6A80") // empty challenge
	expect(t, c, ga(0x11, 0x9e, tlv.Concat(tlv.Object{Tag: 0x82}, tlv.Object{Tag: 0x85, Value: []byte{4}})), "6A80")
	expect(t, c, apdu(t, "0087119E037C0181"), "6A80")

	// The same command in two chained parts.
	full := ga(0x11, 0x9e, req)
	data := full[5 : len(full)-1]
	part1 := append([]byte{0x10, 0x87, 0x11, 0x9e, 10}, data[:10]...)
	part2 := append(append([]byte{0x00, 0x87, 0x11, 0x9e, byte(len(data) - 10)}, data[10:]...), 0x00)
	expect(t, c, part1, "9000")
	check(KeyCardAuth, expect(t, c, part2, "9000"))
	// A chain whose last link is another command is refused.
	expect(t, c, part1, "9000")
	expect(t, c, apdu(t, "00CB3FFF035C017E00"), "6883")
}

func TestManagementCommandsRefused(t *testing.T) {
	c := NewCard(newTestState(t))
	expect(t, c, apdu(t, "00DB3FFF075C035FC1095300"), "6982")
	expect(t, c, apdu(t, "0047009A05AC03800111"), "6982")
}

func TestStateNeverShowsSecrets(t *testing.T) {
	s := newTestState(t)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s)} {
		if strings.Contains(out, "123456") || !strings.Contains(out, s.Serial()) {
			t.Fatalf("state prints as %q", out)
		}
	}
}

func TestFASCN(t *testing.T) {
	got := hex.EncodeToString(encodeFASCN(nonFederalFASCN))
	// The value SP 800-73-4 and the PIV-I guidance give for S9999F9999F999999F0F1F0000000000300001E.
	if want := "d4e739da739ced39ce739d836858210842108421c84210c3eb"; got != want {
		t.Fatalf("FASC-N %s, want %s", got, want)
	}
}

func TestCreateRefusesBadOptions(t *testing.T) {
	ca := testCA(t)
	good := CreateOptions{HolderUUID: "555000000001", Name: "Sam Example", PIN: testPIN, PUK: testPUK,
		NotAfter: time.Date(2028, 1, 31, 0, 0, 0, 0, time.UTC), CA: ca}
	for name, mod := range map[string]func(*CreateOptions){
		"no CA":          func(o *CreateOptions) { o.CA = nil },
		"no holder":      func(o *CreateOptions) { o.HolderUUID = "" },
		"no name":        func(o *CreateOptions) { o.Name = "" },
		"short PIN":      func(o *CreateOptions) { o.PIN = []byte("12345") },
		"letters in PIN": func(o *CreateOptions) { o.PIN = []byte("12345a") },
		"long PUK":       func(o *CreateOptions) { o.PUK = []byte("123456789") },
		"16 tries":       func(o *CreateOptions) { o.PINTries = 16 },
		"expired":        func(o *CreateOptions) { o.NotAfter = time.Now().Add(-2 * time.Hour) },
		"after the CA":   func(o *CreateOptions) { o.NotAfter = time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		o := good
		mod(&o)
		if _, err := Create(o); err == nil {
			t.Errorf("%s: Create worked", name)
		} else if strings.Contains(err.Error(), "123456") {
			t.Errorf("%s: error shows a secret: %v", name, err)
		}
	}
	o := good
	o.PINTries, o.PUKTries = 5, 10
	s, err := Create(o)
	if err != nil {
		t.Fatal(err)
	}
	if s.PINTriesLeft != 5 || s.PUKTriesMax != 10 {
		t.Fatalf("tries %d/%d", s.PINTriesLeft, s.PUKTriesMax)
	}
	other, err := Create(good)
	if err != nil {
		t.Fatal(err)
	}
	if other.Serial() == s.Serial() {
		t.Fatal("two cards with one serial")
	}
}

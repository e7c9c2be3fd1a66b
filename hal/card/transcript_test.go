package card_test

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"ssu-kiosk/hal/card"
	"ssu-kiosk/hal/card/cardtest"
	"ssu-kiosk/hal/vcard"
)

// Transcript tests replay APDU exchanges recorded from the virtual card, with no pcscd: they pin down
// exactly what hal/card sends and how it reads the answers. `go test ./hal/card -run Transcript -update`
// records them again from a fresh virtual card.

var update = flag.Bool("update", false, "record the APDU transcripts in testdata/transcripts again")

// challenge is fixed so that the recorded GENERAL AUTHENTICATE replays.
var challenge = bytes.Repeat([]byte{0x5a}, 32)

var scenarios = []struct {
	name string
	run  func(t *testing.T, p *card.PIV)
	// card changes the recorded card from the default (ECC P-256, certificates not compressed).
	card func(*vcard.CreateOptions)
}{
	{"identity", func(t *testing.T, p *card.PIV) {
		id, err := p.ReadIdentity(card.IdentityOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(id.Serial) != 32 || id.HolderUUID != "555000000001" || id.HolderName != "Sam Example" {
			t.Errorf("identity = %+v", id)
		}
		st, err := p.PINStatus()
		if err != nil || st.TriesLeft != 3 {
			t.Errorf("pin status = %+v %v", st, err)
		}
	}, nil},
	{"authenticate", func(t *testing.T, p *card.PIV) {
		sig, cert, err := p.Authenticate(challenge)
		if err != nil {
			t.Fatal(err)
		}
		if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), challenge, sig) {
			t.Error("signature does not verify")
		}
	}, nil},
	{name: "authenticate-p384-gzip", run: authenticateAs, card: func(o *vcard.CreateOptions) {
		o.CardAuthAlgorithm, o.CompressCertificates = vcard.ECCP384, true
	}},
	{name: "authenticate-rsa2048", run: authenticateAs, card: func(o *vcard.CreateOptions) {
		o.CardAuthAlgorithm = vcard.RSA2048
	}},
	{"block-unblock", func(t *testing.T, p *card.PIV) {
		for want := 2; want >= 0; want-- {
			var auth *card.AuthError
			if err := p.VerifyPIN(card.Secret("999999")); !errors.As(err, &auth) || auth.Retries != want {
				t.Fatalf("wrong PIN: %v, want %d left", err, want)
			}
		}
		if st, err := p.PINStatus(); err != nil || !st.Blocked {
			t.Fatalf("status %+v %v", st, err)
		}
		if err := p.Unblock(card.Secret(testPUK), card.Secret("246810")); err != nil {
			t.Fatal(err)
		}
		if err := p.VerifyPIN(card.Secret("246810")); err != nil {
			t.Fatal(err)
		}
	}, nil},
	{"change-pin-puk", func(t *testing.T, p *card.PIV) {
		if err := p.ChangePIN(card.Secret(testPIN), card.Secret("13572468")); err != nil {
			t.Fatal(err)
		}
		if err := p.ChangePUK(card.Secret(testPUK), card.Secret("11223344")); err != nil {
			t.Fatal(err)
		}
		var auth *card.AuthError
		if err := p.Unblock(card.Secret(testPUK), card.Secret("246810")); !errors.As(err, &auth) || auth.Retries != 2 {
			t.Fatalf("old PUK: %v", err)
		}
	}, nil},
}

// authenticateAs reads the identity and has key 9E sign the challenge, checking the signature as the
// identity service does.
func authenticateAs(t *testing.T, p *card.PIV) {
	if _, err := p.ReadIdentity(card.IdentityOptions{}); err != nil {
		t.Fatal(err)
	}
	sig, cert, err := p.Authenticate(challenge)
	if err != nil {
		t.Fatal(err)
	}
	if !cardAuthVerifies(cert.PublicKey, challenge, sig) {
		t.Error("signature does not verify")
	}
}

func TestTranscripts(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			path := filepath.Join("..", "..", "testdata", "transcripts", sc.name+".txt")
			if *update {
				_, st := newCardFile(t, sc.card)
				vc := vcard.NewCard(st)
				rec := &cardtest.Transport{Card: func(cmd []byte) ([]byte, error) { return vc.Process(cmd), nil }}
				p := card.NewPIV(rec)
				if err := p.Select(); err != nil {
					t.Fatal(err)
				}
				sc.run(t, p)
				var b bytes.Buffer
				comment := "APDUs of hal/card's " + sc.name + " against ssu-vcard (test card, test PIN and PUK).\nRecord again: go test ./hal/card -run Transcripts -update"
				if err := cardtest.WriteTranscript(&b, comment, rec.Exchanges()); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			xs, err := cardtest.LoadTranscript(path)
			if err != nil {
				t.Fatalf("%v (record with -update)", err)
			}
			pb := cardtest.NewPlayback(xs)
			p := card.NewPIV(pb)
			if err := p.Select(); err != nil {
				t.Fatal(err)
			}
			sc.run(t, p)
			if err := pb.Done(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/hal/card"
	"ssu-kiosk/hal/vcard"
	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/idtest"
)

// variant is one kind of card people carry: the Card Authentication key's algorithm and whether the
// certificates are stored compressed.
type variant struct {
	alg      vcard.Algorithm
	compress bool
}

func (v variant) String() string {
	if v.compress {
		return string(v.alg) + "-gzip"
	}
	return string(v.alg)
}

func variants() []variant {
	var out []variant
	for _, alg := range vcard.Algorithms {
		out = append(out, variant{alg, false}, variant{alg, true})
	}
	return out
}

// TestVariantsUnlockThroughPCSCD creates a card of every variant (algorithm x compression) with the
// command, inserts it into the private pcscd through vpcd, and unlocks it end to end with the reference
// identity service: hal/card reads the (compressed) certificates and has key 9E sign the service's nonce
// as its algorithm needs, the service verifies the proof, a code goes out, the SOPIN comes back, and the
// card takes it (RESET RETRY COUNTER) and the new PIN. It logs how many variants unlocked.
func TestVariantsUnlockThroughPCSCD(t *testing.T) {
	caCert := loadTestCA(t)
	r := daemon.Readers()[0]
	unlocked := 0
	for i, v := range variants() {
		t.Run(v.String(), func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "card.json")
			holder := fmt.Sprintf("55500000010%d", i)
			args := replace(createArgs(state), "555000000001", holder)
			args = append(args, "--card-auth-alg", string(v.alg))
			if v.compress {
				args = append(args, "--compress-certs")
			}
			code, out, errOut := runCLI(args...)
			if code != 0 {
				t.Fatalf("create: exit %d: %s", code, errOut)
			}
			serial := strings.TrimSpace(out)
			svc := idtest.StartServiceWith(t, "uuid,name,email,mobile,card_serial,sopin\n"+
				holder+",Sam Example,sam.example@nhs.net,,"+serial+",12345678\n",
				idtest.ServiceOptions{CardRoots: []*x509.Certificate{caCert}})

			vc, err := vcard.Open(state)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			inserted := make(chan error, 1)
			go func() { inserted <- vcard.Insert(ctx, r.VPCDAddr, vc, vcard.Faults{}) }()
			t.Cleanup(func() {
				cancel()
				<-inserted
				daemon.WaitCard(t, r.Name, false)
			})
			daemon.WaitCard(t, r.Name, true)

			opCtx, opCancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer opCancel()
			// The holder locked the card: three wrong PINs.
			err = card.WithPIV(opCtx, r.Name, func(p *card.PIV) error {
				for range 3 {
					_ = p.VerifyPIN(card.Secret("999999"))
				}
				if st, err := p.PINStatus(); err != nil || !st.Blocked {
					return fmt.Errorf("PIN not blocked: %+v, %v", st, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			ch, err := svc.Client.Challenge(opCtx)
			if err != nil {
				t.Fatal(err)
			}
			attr, err := card.ParseOID(ch.HolderUUIDAttribute)
			if err != nil {
				t.Fatal(err)
			}
			var req identity.StartSessionRequest
			err = card.WithPIV(opCtx, r.Name, func(p *card.PIV) error {
				id, err := p.ReadIdentity(card.IdentityOptions{HolderUUIDAttribute: attr})
				if err != nil {
					return err
				}
				sig, cardAuth, err := p.Authenticate(ch.Nonce)
				if err != nil {
					return err
				}
				if !keyIs(cardAuth.PublicKey, v.alg) {
					return fmt.Errorf("card authentication key %T, want %s", cardAuth.PublicKey, v.alg)
				}
				req = identity.StartSessionRequest{CardSerial: id.Serial, HolderUUID: id.HolderUUID,
					PIVAuthCert: id.Certificate.Raw, CardAuthCert: cardAuth.Raw, Nonce: ch.Nonce, Signature: sig}
				return nil
			})
			if err != nil {
				t.Fatalf("card proof: %v", err)
			}
			sess, err := svc.Client.StartSession(opCtx, req)
			if err != nil || !sess.Eligible {
				t.Fatalf("start session: %+v, %v", sess, err)
			}
			if _, err := svc.Client.SendCode(opCtx, sess.ID, identity.SendCodeRequest{Method: identity.MethodEmail,
				Address: identity.Secret("sam.example@nhs.net")}); err != nil {
				t.Fatal(err)
			}
			rel, err := svc.Client.VerifyCode(opCtx, sess.ID, svc.Code(t, sess.ID))
			if err != nil {
				t.Fatalf("verify code: %v", err)
			}
			err = card.WithPIV(opCtx, r.Name, func(p *card.PIV) error {
				if err := p.Unblock(card.Secret(rel.SOPIN), card.Secret("246810")); err != nil {
					return err
				}
				return p.VerifyPIN(card.Secret("246810"))
			})
			if err != nil {
				t.Fatalf("unblock with the released SOPIN: %v", err)
			}
			unlocked++
		})
	}
	t.Logf("card variants (algorithm x compression) unlocked end to end through pcscd: %d of %d", unlocked, len(variants()))
}

func loadTestCA(t *testing.T) *x509.Certificate {
	t.Helper()
	ca, err := vcard.LoadCA(testCA)
	if err != nil {
		t.Fatal(err)
	}
	return ca.Cert
}

func keyIs(pub any, alg vcard.Algorithm) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return (alg == vcard.ECCP256 && k.Curve == elliptic.P256()) || (alg == vcard.ECCP384 && k.Curve == elliptic.P384())
	case *rsa.PublicKey:
		return alg == vcard.RSA2048 && k.N.BitLen() == 2048
	}
	return false
}

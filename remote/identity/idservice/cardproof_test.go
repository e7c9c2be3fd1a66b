package idservice_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"testing"
	"time"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/errcat"
	"ssu-kiosk/remote/identity/idservice"
	"ssu-kiosk/remote/identity/idtest"
)

// startWith runs Challenge and StartSession with a request built for the nonce.
func (h *harness) startWith(build func(nonce []byte) identity.StartSessionRequest) identity.Session {
	h.t.Helper()
	ctx := context.Background()
	ch, err := h.client.Challenge(ctx)
	if err != nil {
		h.t.Fatalf("challenge: %v", err)
	}
	s, err := h.client.StartSession(ctx, build(ch.Nonce))
	if err != nil {
		h.t.Fatalf("start session: %v", err)
	}
	return s
}

func wantNotGenuine(t *testing.T, what string, s identity.Session) {
	t.Helper()
	if s.Eligible || s.Reason != identity.CardNotGenuine || s.Code != errcat.ERR1005 {
		t.Errorf("%s: session = %+v, want card-not-genuine", what, s)
	}
}

// TestCardProofBindsOneCard is the attack of issue #11: one card's PIV Authentication certificate and serial
// (readable without a PIN) with another genuine card's Card Authentication certificate and key. Both
// certificates must name the same card, the one whose serial the request gives.
func TestCardProofBindsOneCard(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	// Sam's PIV Authentication certificate and serial; the attacker's own genuine card (Jo's) signs.
	swap := func(victim, attacker *idtest.Card) func([]byte) identity.StartSessionRequest {
		return func(n []byte) identity.StartSessionRequest {
			r := attacker.StartRequest(t, n)
			r.CardSerial, r.HolderUUID, r.PIVAuthCert = victim.Serial, victim.HolderUUID, victim.PIVAuthCert
			return r
		}
	}
	wantNotGenuine(t, "cards that name themselves", h.startWith(swap(h.cards[samSerial], h.cards[joSerial])))

	// The same with cards as the project's CAs issued them before: no urn:uuid in either certificate.
	legacySam := h.cardCA.IssueCard(t, samSerial, samUUID, idtest.CardOptions{NoCardUUID: true})
	legacyJo := h.cardCA.IssueCard(t, joSerial, joUUID, idtest.CardOptions{NoCardUUID: true})
	wantNotGenuine(t, "cards that do not name themselves", h.startWith(swap(legacySam, legacyJo)))
	wantNotGenuine(t, "a card that does not name itself", h.startWith(func(n []byte) identity.StartSessionRequest {
		return legacySam.StartRequest(t, n)
	}))

	// A card whose certificates name another card than the serial sent.
	other := h.cardCA.IssueCard(t, joSerial, samUUID, idtest.CardOptions{})
	wantNotGenuine(t, "certificates of another card", h.startWith(func(n []byte) identity.StartSessionRequest {
		r := other.StartRequest(t, n)
		r.CardSerial = samSerial
		return r
	}))
	// Only one of the two certificates names another card.
	wantNotGenuine(t, "Card Authentication certificate of another card", h.startWith(func(n []byte) identity.StartSessionRequest {
		r := h.cards[samSerial].StartRequest(t, n)
		r.CardAuthCert, r.Signature = other.CardAuthCert, other.Sign(t, n)
		return r
	}))

	// The genuine card still works.
	if s := h.start(h.client, samSerial); !s.Eligible {
		t.Errorf("genuine card: session = %+v", s)
	}
}

// TestLegacyCardStock: certificates that do not name their card pass only when the service is set to
// accept legacy card stock; a UUID they do carry must still match.
func TestLegacyCardStock(t *testing.T) {
	h := newHarness(t, sqliteDSN(t), func(c *idservice.Config) { c.LegacyCardStock = true })
	legacy := h.cardCA.IssueCard(t, samSerial, samUUID, idtest.CardOptions{NoCardUUID: true})
	if s := h.startWith(func(n []byte) identity.StartSessionRequest { return legacy.StartRequest(t, n) }); !s.Eligible {
		t.Errorf("legacy card with the option on: session = %+v", s)
	}
	other := h.cardCA.IssueCard(t, joSerial, samUUID, idtest.CardOptions{})
	wantNotGenuine(t, "legacy option, certificates of another card", h.startWith(func(n []byte) identity.StartSessionRequest {
		r := other.StartRequest(t, n)
		r.CardSerial = samSerial
		return r
	}))

	// Legacy cards that carry FASC-Ns: both certificates must carry the same one.
	fascnSam := h.cardCA.IssueCard(t, samSerial, samUUID, idtest.CardOptions{NoCardUUID: true, FASCN: bytes.Repeat([]byte{0xd1}, 25)})
	fascnJo := h.cardCA.IssueCard(t, joSerial, joUUID, idtest.CardOptions{NoCardUUID: true, FASCN: bytes.Repeat([]byte{0xd2}, 25)})
	if s := h.startWith(func(n []byte) identity.StartSessionRequest { return fascnSam.StartRequest(t, n) }); !s.Eligible {
		t.Errorf("legacy card with a FASC-N: session = %+v", s)
	}
	wantNotGenuine(t, "legacy option, another card's FASC-N", h.startWith(func(n []byte) identity.StartSessionRequest {
		r := fascnJo.StartRequest(t, n)
		r.CardSerial, r.HolderUUID, r.PIVAuthCert = samSerial, samUUID, fascnSam.PIVAuthCert
		return r
	}))
}

// TestCardAuthAlgorithms: a Card Authentication key of each SP 800-78-4 algorithm for key 9E proves the
// card, signing what the contract says; a signature over another nonce does not.
func TestCardAuthAlgorithms(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	for _, alg := range []idtest.CardAlgorithm{idtest.ECCP256, idtest.ECCP384, idtest.RSA2048} {
		card := h.cardCA.IssueCard(t, samSerial, samUUID, idtest.CardOptions{Algorithm: alg})
		if s := h.startWith(func(n []byte) identity.StartSessionRequest { return card.StartRequest(t, n) }); !s.Eligible {
			t.Errorf("%s: session = %+v", alg, s)
		}
		wantNotGenuine(t, string(alg)+" over another nonce", h.startWith(func(n []byte) identity.StartSessionRequest {
			r := card.StartRequest(t, n)
			r.Signature = card.Sign(t, append([]byte{1}, n[1:]...))
			return r
		}))
	}
}

// TestHolderUUIDAttribute: the service's holder UUID attribute is named in every challenge, and it is the
// attribute the service compares with the request's holder UUID.
func TestHolderUUIDAttribute(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	ch, err := h.client.Challenge(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ch.HolderUUIDAttribute != identity.DefaultHolderUUIDAttribute {
		t.Errorf("challenge names attribute %q, want %q", ch.HolderUUIDAttribute, identity.DefaultHolderUUIDAttribute)
	}

	cn, err := idservice.ParseHolderUUIDAttribute("2.5.4.3")
	if err != nil {
		t.Fatal(err)
	}
	h = newHarness(t, sqliteDSN(t), func(c *idservice.Config) { c.HolderUUIDAttribute = cn })
	if ch, err = h.client.Challenge(context.Background()); err != nil || ch.HolderUUIDAttribute != "2.5.4.3" {
		t.Fatalf("challenge = %+v, %v; want attribute 2.5.4.3", ch, err)
	}
	// Sam's card holds the UUID in serialNumber, not in the common name the service now reads.
	wantNotGenuine(t, "holder UUID in another attribute", h.start(h.client, samSerial))
}

func TestParseHolderUUIDAttribute(t *testing.T) {
	for _, ok := range []string{"2.5.4.5", "0.9.2342.19200300.100.1.1"} {
		if oid, err := idservice.ParseHolderUUIDAttribute(ok); err != nil || oid.String() != ok {
			t.Errorf("%q: %v, %v", ok, oid, err)
		}
	}
	for _, bad := range []string{"", "2", "2..5", "2.5.4.x", "serialNumber", "2.+5", "2.-5"} {
		if _, err := idservice.ParseHolderUUIDAttribute(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestCardAuthCertMustBeASigningLeaf: the Card Authentication key proves the card only when its certificate
// is the card's signing end-entity certificate. The attack: a certificate from the card CA that names the
// victim's card and whose private key the attacker holds without the card, such as the card's Key
// Management certificate (key 9D, whose key issuers escrow; key usage keyAgreement or keyEncipherment) or
// a CA certificate, offered as the Card Authentication certificate and signed with that key.
func TestCardAuthCertMustBeASigningLeaf(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	victim := h.cards[samSerial]
	forge := func(tmpl *x509.Certificate) func([]byte) identity.StartSessionRequest {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
		tmpl.URIs = []*url.URL{idtest.CardURI(samSerial)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, h.cardCA.Cert, &key.PublicKey, h.cardCA.Key)
		if err != nil {
			t.Fatal(err)
		}
		escrowed := &idtest.Card{Serial: samSerial, HolderUUID: samUUID, CardAuthKey: key}
		return func(n []byte) identity.StartSessionRequest {
			r := victim.StartRequest(t, n)
			r.CardAuthCert, r.Signature = der, escrowed.Sign(t, n)
			return r
		}
	}
	wantNotGenuine(t, "Key Management certificate (key agreement)", h.startWith(forge(&x509.Certificate{
		Subject: pkix.Name{CommonName: "Key Management"}, KeyUsage: x509.KeyUsageKeyAgreement})))
	wantNotGenuine(t, "certificate with no key usage", h.startWith(forge(&x509.Certificate{
		Subject: pkix.Name{CommonName: "No usage"}})))
	wantNotGenuine(t, "CA certificate", h.startWith(forge(&x509.Certificate{
		Subject: pkix.Name{CommonName: "Sub CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature})))
	// The card's own Card Authentication certificate still proves it.
	if s := h.start(h.client, samSerial); !s.Eligible {
		t.Errorf("genuine card: session = %+v", s)
	}
}

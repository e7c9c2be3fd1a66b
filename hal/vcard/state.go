package vcard

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"ssu-kiosk/provisioning/pki"
)

// stateVersion is the format of the state file; LoadState refuses others.
const stateVersion = 1

// Key references of the two keys a virtual card holds (800-73-4 part 1, table 4b).
const (
	KeyPIVAuth  byte = 0x9a // PIV Authentication: needs the PIN
	KeyCardAuth byte = 0x9e // Card Authentication: needs nothing
)

// Retry counter limits: the low nibble of 63Cx carries what is left.
const (
	defaultTries = 3
	maxTries     = 15
)

// oidPIVCardAuth is the extended key usage id-PIV-cardAuth (FIPS 201-3, appendix B.2).
var oidPIVCardAuth = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 6, 8}

// Slot is one key with its certificate.
type Slot struct {
	Key  []byte `json:"key"`  // PKCS #8 DER
	Cert []byte `json:"cert"` // X.509 DER
}

// State is a virtual card at rest: everything that survives removal and restart.
// It holds secrets: print it only through String or LogValue, which show the serial alone.
type State struct {
	Version    int       `json:"version"`
	HolderUUID string    `json:"holder_uuid"`
	Name       string    `json:"name"`
	GUID       []byte    `json:"guid"` // the CHUID GUID: 16 bytes
	NotAfter   time.Time `json:"not_after"`
	CHUID      []byte    `json:"chuid"` // the CHUID object's value (what follows tag 53)

	PIN          []byte `json:"pin"` // unpadded, 6-8 bytes
	PUK          []byte `json:"puk"` // unpadded, 6-8 bytes
	PINTriesLeft int    `json:"pin_tries_left"`
	PINTriesMax  int    `json:"pin_tries_max"`
	PUKTriesLeft int    `json:"puk_tries_left"`
	PUKTriesMax  int    `json:"puk_tries_max"`

	PIVAuth  Slot `json:"piv_auth"`  // key 9A, certificate object 5FC105
	CardAuth Slot `json:"card_auth"` // key 9E, certificate object 5FC101

	// CompressCertificates makes the card hand out its certificates gzip-compressed (CertInfo 01), as
	// some issuers' cards do.
	CompressCertificates bool `json:"compress_certificates,omitempty"`
}

// Algorithm is a key algorithm of SP 800-78-4 that the Card Authentication key (9E) may use.
type Algorithm = pki.KeyAlgorithm

// The algorithms a virtual card's 9E key can have.
const (
	ECCP256 = pki.ECCP256
	ECCP384 = pki.ECCP384
	RSA2048 = pki.RSA2048
)

// Algorithms lists every Algorithm, in the order tests try them.
var Algorithms = []Algorithm{ECCP256, ECCP384, RSA2048}

// ParseAlgorithm reads an Algorithm's name ("p256", "p384", "rsa2048").
func ParseAlgorithm(s string) (Algorithm, error) {
	for _, a := range Algorithms {
		if string(a) == s {
			return a, nil
		}
	}
	return "", fmt.Errorf("unknown key algorithm %q (want p256, p384 or rsa2048)", s)
}

// CreateOptions describe a new card. PINTries and PUKTries default to 3; NotBefore defaults to now.
type CreateOptions struct {
	HolderUUID, Name    string
	PIN, PUK            []byte
	NotBefore, NotAfter time.Time
	PINTries, PUKTries  int
	CA                  *CA
	// CardAuthAlgorithm is the 9E key's algorithm; ECC P-256 when empty.
	CardAuthAlgorithm Algorithm
	// CompressCertificates stores the certificates gzip-compressed (CertInfo 01).
	CompressCertificates bool
	// GUID is the CHUID GUID (16 bytes); a random version 4 UUID when nil. For remaking a card with the
	// same serial.
	GUID []byte
}

// Create makes a new card: fresh keys for 9A (PIV Authentication, ECC P-256) and 9E (Card
// Authentication, opts.CardAuthAlgorithm), their certificates signed by opts.CA, and a CHUID with a
// random GUID. As real PIV issuers do (FIPS 201-3, 4.2.2.1), both certificates name the card: their
// subject alternative name holds the CHUID GUID as a urn:uuid URI.
func Create(opts CreateOptions) (*State, error) {
	if opts.CA == nil {
		return nil, errors.New("create card: no CA")
	}
	if opts.HolderUUID == "" || len(opts.HolderUUID) > 64 {
		return nil, errors.New("create card: the holder uuid must be 1-64 characters")
	}
	if opts.Name == "" || len(opts.Name) > 64 {
		return nil, errors.New("create card: the name must be 1-64 characters")
	}
	if !validNewPIN(opts.PIN) {
		return nil, errors.New("create card: the PIN must be 6-8 digits")
	}
	if !validNewPIN(opts.PUK) {
		return nil, errors.New("create card: the PUK must be 6-8 digits")
	}
	if opts.PINTries == 0 {
		opts.PINTries = defaultTries
	}
	if opts.PUKTries == 0 {
		opts.PUKTries = defaultTries
	}
	if opts.PINTries < 1 || opts.PINTries > maxTries || opts.PUKTries < 1 || opts.PUKTries > maxTries {
		return nil, fmt.Errorf("create card: retry counters must be 1-%d", maxTries)
	}
	if opts.NotBefore.IsZero() {
		opts.NotBefore = time.Now().Add(-time.Hour).Truncate(time.Second)
	}
	if !opts.NotAfter.After(opts.NotBefore) {
		return nil, errors.New("create card: not-after must be later than not-before")
	}
	if opts.NotAfter.After(opts.CA.Cert.NotAfter) {
		return nil, fmt.Errorf("create card: not-after is later than the CA's own expiry %s",
			opts.CA.Cert.NotAfter.Format(time.DateOnly))
	}

	s := &State{
		Version:      stateVersion,
		HolderUUID:   opts.HolderUUID,
		Name:         opts.Name,
		NotAfter:     opts.NotAfter,
		PIN:          bytes.Clone(opts.PIN),
		PUK:          bytes.Clone(opts.PUK),
		PINTriesLeft: opts.PINTries,
		PINTriesMax:  opts.PINTries,
		PUKTriesLeft: opts.PUKTries,
		PUKTriesMax:  opts.PUKTries,
		GUID:         bytes.Clone(opts.GUID),

		CompressCertificates: opts.CompressCertificates,
	}
	switch {
	case s.GUID == nil:
		s.GUID = make([]byte, 16)
		if _, err := rand.Read(s.GUID); err != nil {
			return nil, fmt.Errorf("create card: guid: %w", err)
		}
		s.GUID[6] = s.GUID[6]&0x0f | 0x40 // RFC 4122 version 4
		s.GUID[8] = s.GUID[8]&0x3f | 0x80 // RFC 4122 variant
	case len(s.GUID) != 16:
		return nil, errors.New("create card: the GUID must be 16 bytes")
	}
	s.CHUID = chuidValue(s.GUID, s.NotAfter)

	subject := pkix.Name{CommonName: opts.Name, SerialNumber: opts.HolderUUID}
	cardURI := CardURI(s.GUID)
	var err error
	if s.PIVAuth, err = newSlot(opts, ECCP256, subject, cardURI, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil); err != nil {
		return nil, fmt.Errorf("create card: piv authentication: %w", err)
	}
	if s.CardAuth, err = newSlot(opts, opts.CardAuthAlgorithm, subject, cardURI, nil, []asn1.ObjectIdentifier{oidPIVCardAuth}); err != nil {
		return nil, fmt.Errorf("create card: card authentication: %w", err)
	}
	return s, nil
}

// CardURI is the name a PIV certificate gives its card (FIPS 201-3, 4.2.2.1; RFC 4122, 3): the CHUID GUID
// as a urn:uuid URI, "urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
func CardURI(guid []byte) *url.URL { return pki.CardURI(guid) }

func newSlot(opts CreateOptions, alg Algorithm, subject pkix.Name, cardURI *url.URL, eku []x509.ExtKeyUsage, unknownEKU []asn1.ObjectIdentifier) (Slot, error) {
	key, err := pki.NewKey(alg)
	if err != nil {
		return Slot{}, fmt.Errorf("generate key: %w", err)
	}
	certDER, err := opts.CA.IssueCard(pki.CardCertificate{Subject: subject, CardURI: cardURI, NotBefore: opts.NotBefore,
		NotAfter: opts.NotAfter, ExtKeyUsage: eku, UnknownExtKeyUsage: unknownEKU}, key.Public())
	if err != nil {
		return Slot{}, fmt.Errorf("sign certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Slot{}, fmt.Errorf("encode key: %w", err)
	}
	return Slot{Key: keyDER, Cert: certDER}, nil
}

// Serial is the CHUID GUID as 32 lowercase hex characters: the card's serial everywhere in the project.
func (s *State) Serial() string { return hex.EncodeToString(s.GUID) }

// String shows the serial only, never the PIN or PUK.
func (s *State) String() string { return "virtual PIV card " + s.Serial() }

// GoString keeps %#v from printing the PIN and PUK.
func (s *State) GoString() string { return s.String() }

// LogValue makes slog show the serial only.
func (s *State) LogValue() slog.Value { return slog.GroupValue(slog.String("serial", s.Serial())) }

// Certificate returns the certificate of key 9A or 9E.
func (s *State) Certificate(key byte) (*x509.Certificate, error) {
	slot, ok := s.slot(key)
	if !ok {
		return nil, fmt.Errorf("no key %02X on this card", key)
	}
	if len(slot.Cert) == 0 {
		return nil, fmt.Errorf("no certificate for key %02X on this card", key)
	}
	return x509.ParseCertificate(slot.Cert)
}

func (s *State) slot(key byte) (Slot, bool) {
	switch key {
	case KeyPIVAuth:
		return s.PIVAuth, true
	case KeyCardAuth:
		return s.CardAuth, true
	}
	return Slot{}, false
}

// Save writes the state atomically: a temporary file in the same directory, fsync, rename, mode 0600.
func (s *State) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("save card state: %w", err)
	}
	defer clear(b)
	if err := pki.WriteFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save card state: %w", err)
	}
	return nil
}

// LoadState reads and checks a state file written by Save.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load card state: %w", err)
	}
	defer clear(b)
	var s State
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		// json errors quote no values of []byte fields, only offsets and types.
		return nil, fmt.Errorf("load card state %s: %w", path, err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("load card state %s: %w", path, err)
	}
	return &s, nil
}

// check tells what is wrong with a loaded state, without quoting any secret.
func (s *State) check() error {
	switch {
	case s.Version != stateVersion:
		return fmt.Errorf("format version %d, want %d", s.Version, stateVersion)
	case len(s.GUID) != 16:
		return errors.New("the guid is not 16 bytes")
	case len(s.CHUID) == 0:
		return errors.New("no chuid")
	case !validPIN(s.PIN):
		return errors.New("the PIN is not 6-8 bytes")
	case !validPIN(s.PUK):
		return errors.New("the PUK is not 6-8 bytes")
	case s.PINTriesMax < 1 || s.PINTriesMax > maxTries || s.PINTriesLeft < 0 || s.PINTriesLeft > s.PINTriesMax:
		return errors.New("the PIN retry counter is out of range")
	case s.PUKTriesMax < 1 || s.PUKTriesMax > maxTries || s.PUKTriesLeft < 0 || s.PUKTriesLeft > s.PUKTriesMax:
		return errors.New("the PUK retry counter is out of range")
	}
	for _, key := range []byte{KeyPIVAuth, KeyCardAuth} {
		slot, _ := s.slot(key)
		priv, err := slot.signer()
		if err != nil {
			return fmt.Errorf("key %02X: %w", key, err)
		}
		if len(slot.Cert) == 0 {
			continue // a key whose certificate object was never written: the card answers 6A82
		}
		cert, err := x509.ParseCertificate(slot.Cert)
		if err != nil {
			return fmt.Errorf("certificate %02X: %w", key, err)
		}
		if pub, ok := priv.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
			return fmt.Errorf("certificate %02X does not match its key", key)
		}
	}
	return nil
}

// signer parses the slot's private key: ECDSA P-256 or P-384, or RSA 2048.
func (sl Slot) signer() (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(sl.Key)
	if err != nil {
		return nil, errors.New("the private key does not parse as PKCS #8")
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return k, nil
		}
	case *rsa.PrivateKey:
		if k.N.BitLen() == 2048 {
			return k, nil
		}
	}
	return nil, errors.New("the private key is not ECDSA P-256, P-384 or RSA 2048")
}

// algorithmID is the key's cryptographic algorithm identifier (800-78-4, table 6-2).
func algorithmID(k crypto.Signer) byte {
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P384() {
			return algECCP384
		}
		return algECCP256
	case *rsa.PrivateKey:
		return algRSA2048
	}
	return 0
}

package vcard

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
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
}

// CreateOptions describe a new card. PINTries and PUKTries default to 3; NotBefore defaults to now.
type CreateOptions struct {
	HolderUUID, Name    string
	PIN, PUK            []byte
	NotBefore, NotAfter time.Time
	PINTries, PUKTries  int
	CA                  *CA
}

// Create makes a new card: fresh P-256 keys for 9A (PIV Authentication) and 9E (Card Authentication),
// their certificates signed by opts.CA, and a CHUID with a random GUID.
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
		GUID:         make([]byte, 16),
	}
	if _, err := rand.Read(s.GUID); err != nil {
		return nil, fmt.Errorf("create card: guid: %w", err)
	}
	s.GUID[6] = s.GUID[6]&0x0f | 0x40 // RFC 4122 version 4
	s.GUID[8] = s.GUID[8]&0x3f | 0x80 // RFC 4122 variant
	s.CHUID = chuidValue(s.GUID, s.NotAfter)

	subject := pkix.Name{CommonName: opts.Name, SerialNumber: opts.HolderUUID}
	var err error
	if s.PIVAuth, err = newSlot(opts, subject, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil); err != nil {
		return nil, fmt.Errorf("create card: piv authentication: %w", err)
	}
	if s.CardAuth, err = newSlot(opts, subject, nil, []asn1.ObjectIdentifier{oidPIVCardAuth}); err != nil {
		return nil, fmt.Errorf("create card: card authentication: %w", err)
	}
	return s, nil
}

func newSlot(opts CreateOptions, subject pkix.Name, eku []x509.ExtKeyUsage, unknownEKU []asn1.ObjectIdentifier) (Slot, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Slot{}, fmt.Errorf("generate key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return Slot{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:       serial,
		Subject:            subject,
		NotBefore:          opts.NotBefore,
		NotAfter:           opts.NotAfter,
		KeyUsage:           x509.KeyUsageDigitalSignature,
		ExtKeyUsage:        eku,
		UnknownExtKeyUsage: unknownEKU,
	}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, opts.CA.Cert, &key.PublicKey, opts.CA.Key)
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
	if err := writeFileAtomic(path, append(b, '\n'), 0o600); err != nil {
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
		if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&priv.PublicKey) {
			return fmt.Errorf("certificate %02X does not match its key", key)
		}
	}
	return nil
}

// signer parses the slot's private key.
func (sl Slot) signer() (*ecdsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(sl.Key)
	if err != nil {
		return nil, errors.New("the private key does not parse as PKCS #8")
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, errors.New("the private key is not ECDSA P-256")
	}
	return ek, nil
}

// writeFileAtomic replaces path with data so that a crash leaves either the old or the new file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // make the rename durable; not every file system can sync a directory
		d.Close()
	}
	return nil
}

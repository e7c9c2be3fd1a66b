package idservice

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the size of the service key: AES-256 for SOPINs at rest, and the root of the code-hash key.
const KeySize = 32

// Sealer encrypts SOPINs at rest (AES-256-GCM, the card serial bound in as associated data) and hashes
// security codes (HMAC-SHA-256 under a key derived from the same file).
type Sealer struct {
	aead    cipher.AEAD
	codeKey []byte
}

// NewSealer takes a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("sealer: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealer: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("ssu-idservice security code hash v1"))
	return &Sealer{aead: aead, codeKey: m.Sum(nil)}, nil
}

// LoadKeyFile reads a key file holding 64 hex characters (or 32 raw bytes).
func LoadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	defer clear(b)
	if len(b) == KeySize {
		return append([]byte(nil), b...), nil
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("key file %s: want %d hex characters", path, 2*KeySize)
	}
	return key, nil
}

// EnsureKeyFile creates a key file with a fresh random key (mode 0600) when there is none.
func EnsureKeyFile(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("make key: %w", err)
	}
	defer clear(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("make key file: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	return f.Close()
}

func sopinAD(serial string) []byte { return []byte("sopin:" + serial) }

// Seal encrypts a card's SOPIN.
func (s *Sealer) Seal(serial string, sopin []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return s.aead.Seal(nonce, nonce, sopin, sopinAD(serial)), nil
}

// Open decrypts a card's SOPIN; the caller zeroes it.
func (s *Sealer) Open(serial string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errors.New("open sealed SOPIN: too short")
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], sopinAD(serial))
	if err != nil {
		return nil, errors.New("open sealed SOPIN: wrong key or tampered")
	}
	return out, nil
}

// CodeHash is the stored form of a security code: bound to its session, useless without the key.
func (s *Sealer) CodeHash(sessionID string, code []byte) []byte {
	m := hmac.New(sha256.New, s.codeKey)
	m.Write([]byte(sessionID))
	m.Write([]byte{0})
	m.Write(code)
	return m.Sum(nil)
}

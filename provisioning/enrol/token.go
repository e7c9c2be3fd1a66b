package enrol

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// tokenPrefix marks enrolment tokens, so secret scanners and people recognise them.
const (
	tokenPrefix = "ssuet_"
	adminPrefix = "ssuat_"
)

// TokenDigest is the SHA-256 of a token: all the server keeps of it.
type TokenDigest [sha256.Size]byte

// String returns the digest in hex.
func (d TokenDigest) String() string { return hex.EncodeToString(d[:]) }

// DigestOf returns the digest of a token.
func DigestOf(token []byte) TokenDigest { return sha256.Sum256(bytes.TrimSpace(token)) }

// newSecret returns prefix + 32 random bytes in unpadded base64url (43 characters).
func newSecret(prefix string) []byte {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	out := make([]byte, len(prefix)+base64.RawURLEncoding.EncodedLen(len(raw)))
	copy(out, prefix)
	base64.RawURLEncoding.Encode(out[len(prefix):], raw[:])
	clear(raw[:])
	return out
}

// wellFormed reports whether a token has the prefix and length newSecret gives, so a typing mistake
// gets a clear error before anything is sent.
func wellFormed(token []byte, prefix string) bool {
	if len(token) != len(prefix)+43 || !bytes.HasPrefix(token, []byte(prefix)) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(string(token[len(prefix):]))
	return err == nil
}

// NewAdminToken makes an admin API token and its digest. The token goes to IT (a 0600 file, see
// WriteSecretFile); the digest, in hex, into the server's list of admin digests.
func NewAdminToken() (token []byte, digest TokenDigest) {
	token = newSecret(adminPrefix)
	return token, DigestOf(token)
}

// ParseAdminDigests reads admin token digests: one hex SHA-256 per line; # starts a comment.
func ParseAdminDigests(r io.Reader) ([]TokenDigest, error) {
	var out []TokenDigest
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		b, err := hex.DecodeString(strings.TrimPrefix(text, "sha256:"))
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("admin digests: line %d: want a hex SHA-256 (64 characters)", line)
		}
		out = append(out, TokenDigest(b))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("admin digests: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("admin digests: none found")
	}
	return out, nil
}

// LoadAdminDigests reads ParseAdminDigests' format from a file.
func LoadAdminDigests(path string) ([]TokenDigest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("admin digests: %w", err)
	}
	defer f.Close()
	return ParseAdminDigests(f)
}

// ReadSecret reads a token from r (a file or standard input): the first line, trimmed. The caller
// should clear the result after use.
func ReadSecret(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return nil, fmt.Errorf("read token: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	tok := bytes.Clone(bytes.TrimSpace(line))
	clear(b)
	if len(tok) == 0 {
		return nil, errors.New("read token: empty")
	}
	return tok, nil
}

// ReadSecretFile reads a token from a file with ReadSecret.
func ReadSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read token: %w", err)
	}
	defer f.Close()
	return ReadSecret(f)
}

// matchesAny compares a digest with each allowed digest in constant time.
func matchesAny(d TokenDigest, allowed []TokenDigest) bool {
	ok := 0
	for _, a := range allowed {
		ok |= subtle.ConstantTimeCompare(d[:], a[:])
	}
	return ok == 1
}

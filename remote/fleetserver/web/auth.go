package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// Roles of web accounts.
const (
	RoleITAdmin = "it-admin" // fleet health and commands, every report
	RoleRA      = "ra"       // usage reports of their own sites only
	RoleViewer  = "viewer"   // fleet health and every report, read only
)

// ValidRole reports whether r is a role.
func ValidRole(r string) bool { return r == RoleITAdmin || r == RoleRA || r == RoleViewer }

// KDF is the Argon2id cost of new password hashes. A hash records its own cost, so changing this
// only affects hashes made afterwards.
type KDF struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultKDF follows OWASP's Argon2id recommendation (19 MiB, 2 passes, 1 lane).
var DefaultKDF = KDF{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

// HashPassword returns a PHC-format Argon2id hash of a password: $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func HashPassword(password []byte, k KDF) (string, error) {
	if len(password) < 12 {
		return "", errors.New("password: at least 12 characters")
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	sum := argon2.IDKey(password, salt, k.Time, k.MemoryKiB, k.Threads, 32)
	enc := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, k.MemoryKiB, k.Time, k.Threads, enc(salt), enc(sum)), nil
}

// CheckPassword reports whether password matches a hash made by HashPassword.
func CheckPassword(hash string, password []byte) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var k KDF
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &k.MemoryKiB, &k.Time, &k.Threads); err != nil || k.MemoryKiB > 1<<21 || k.Time > 64 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey(password, salt, k.Time, k.MemoryKiB, k.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked when a user does not exist, so that takes as long as a wrong password.
var dummyHash, _ = HashPassword([]byte("not-a-real-password-at-all"), DefaultKDF)

// newToken returns a random token and the hash under which it is stored.
func newToken() (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, tokenHash(token)
}

func tokenHash(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// limiter refuses logins after too many failures from one address or for one account within a window.
type limiter struct {
	mu       sync.Mutex
	max      int
	window   time.Duration
	failures map[string][]time.Time
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, failures: map[string][]time.Time{}}
}

// take reports whether key may try now and, when it may, counts the attempt as a failure at once (forgive
// takes it back when it succeeds). Counting before the password is checked is what keeps attempts sent at
// the same time from passing the limit together: each takes its place in the count first.
func (l *limiter) take(now time.Time, key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.recent(key, now)) >= l.max {
		return false
	}
	if len(l.failures) > maxLimiterKeys {
		l.shed(now)
	}
	l.failures[key] = append(l.recent(key, now), now)
	return true
}

// maxLimiterKeys bounds a limiter's table against a flood of made-up names (see shed).
const maxLimiterKeys = 100000

// shed makes room in a full table: entries past the window go first, then those below the limit, which
// lock no one. Keys at the limit stay, so a flood of made-up names cannot lift a lockout in force.
func (l *limiter) shed(now time.Time) {
	for k := range l.failures {
		l.recent(k, now) // drops the entry when all its failures are past the window
	}
	if len(l.failures) <= maxLimiterKeys {
		return
	}
	for k, f := range l.failures {
		if len(f) < l.max {
			delete(l.failures, k)
		}
	}
}

// forgive takes back the attempt take counted at now.
func (l *limiter) forgive(now time.Time, key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.failures[key]
	for i := len(f) - 1; i >= 0; i-- {
		if f[i].Equal(now) {
			l.failures[key] = append(f[:i:i], f[i+1:]...)
			break
		}
	}
	if len(l.failures[key]) == 0 {
		delete(l.failures, key)
	}
}

func (l *limiter) succeed(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.failures, k)
	}
}

func (l *limiter) recent(k string, now time.Time) []time.Time {
	f := l.failures[k]
	i := 0
	for i < len(f) && now.Sub(f[i]) > l.window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(l.failures, k)
		return nil
	}
	l.failures[k] = f
	return f
}

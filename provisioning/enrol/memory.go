package enrol

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// MemoryStore is a Store in memory, for tests and trials.
type MemoryStore struct {
	mu     sync.Mutex
	tokens map[TokenDigest]Token
	kiosks map[string]Kiosk
	certs  map[string]Certificate
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{tokens: map[TokenDigest]Token{}, kiosks: map[string]Kiosk{}, certs: map[string]Certificate{}}
}

// AddToken implements Store.
func (m *MemoryStore) AddToken(_ context.Context, t Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tokens[t.Digest]; ok {
		return fmt.Errorf("add token: %w", ErrAlreadyExists)
	}
	m.tokens[t.Digest] = t
	return nil
}

// RedeemToken implements Store.
func (m *MemoryStore) RedeemToken(_ context.Context, d TokenDigest, kioskID string, now time.Time) (Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[d]
	switch {
	case !ok:
		return Token{}, ErrTokenUnknown
	case !t.Used.IsZero():
		return Token{}, ErrTokenUsed
	case !now.Before(t.Expires):
		return Token{}, ErrTokenExpired
	}
	t.Used, t.KioskID = now, kioskID
	m.tokens[d] = t
	return t, nil
}

// AddKiosk implements Store.
func (m *MemoryStore) AddKiosk(_ context.Context, k Kiosk, c Certificate) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.kiosks[k.ID]; ok {
		return fmt.Errorf("add kiosk %s: %w", k.ID, ErrAlreadyExists)
	}
	if _, ok := m.certs[c.Serial]; ok {
		return fmt.Errorf("add certificate: %w", ErrAlreadyExists)
	}
	m.kiosks[k.ID] = k
	m.certs[c.Serial] = c
	return nil
}

// AddCertificate implements Store.
func (m *MemoryStore) AddCertificate(_ context.Context, c Certificate) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.kiosks[c.KioskID]; !ok {
		return fmt.Errorf("add certificate: %w", ErrKioskUnknown)
	}
	if _, ok := m.certs[c.Serial]; ok {
		return fmt.Errorf("add certificate: %w", ErrAlreadyExists)
	}
	m.certs[c.Serial] = c
	return nil
}

// Kiosk implements Store.
func (m *MemoryStore) Kiosk(_ context.Context, id string) (Kiosk, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.kiosks[id]
	if !ok {
		return Kiosk{}, ErrKioskUnknown
	}
	return k, nil
}

// RevokeKiosk implements Store.
func (m *MemoryStore) RevokeKiosk(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.kiosks[id]
	if !ok {
		return ErrKioskUnknown
	}
	if k.Revoked.IsZero() {
		k.Revoked = at
		m.kiosks[id] = k
	}
	return nil
}

// Revocations implements Store.
func (m *MemoryStore) Revocations(_ context.Context, now time.Time) ([]Revocation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Revocation
	for _, c := range m.certs {
		k := m.kiosks[c.KioskID]
		if !k.Revoked.IsZero() && c.NotAfter.After(now) {
			out = append(out, Revocation{Serial: c.Serial, KioskID: c.KioskID, Revoked: k.Revoked})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Serial < out[j].Serial })
	return out, nil
}

// RevokedKiosks implements Store.
func (m *MemoryStore) RevokedKiosks(_ context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for id, k := range m.kiosks {
		if !k.Revoked.IsZero() {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out, nil
}

var _ Store = (*MemoryStore)(nil)

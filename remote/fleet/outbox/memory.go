package outbox

import (
	"context"
	"errors"
	"sync"
)

// Memory is an outbox held in memory, with the same behaviour as Outbox except that nothing survives
// the process. It is for tests and for the fleet simulator, which runs a thousand agents in one process.
type Memory struct {
	mu       sync.Mutex
	bound    int
	seq      int64
	items    []Item
	ids      map[string]bool
	dropped  int64
	lost     int64
	full     bool // SetFull: Put fails as on a full disk
	conn     uint64
	commands map[string]bool
}

// NewMemory returns an empty in-memory outbox keeping at most bound events (0: DefaultBound).
func NewMemory(bound int) *Memory {
	if bound <= 0 {
		bound = DefaultBound
	}
	return &Memory{bound: bound, ids: map[string]bool{}, commands: map[string]bool{}}
}

// Put stores an event; see Outbox.Put.
func (m *Memory) Put(_ context.Context, id string, payload []byte) error {
	if id == "" {
		return errors.New("put: empty event id")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.full {
		m.lost++
		return ErrFull
	}
	if m.ids[id] {
		return nil
	}
	m.seq++
	m.items = append(m.items, Item{Seq: m.seq, ID: id, Payload: append([]byte(nil), payload...)})
	m.ids[id] = true
	for len(m.items) > m.bound {
		delete(m.ids, m.items[0].ID)
		m.items = m.items[1:]
		m.dropped++
	}
	return nil
}

// Pending returns events after seq after; see Outbox.Pending.
func (m *Memory) Pending(_ context.Context, after int64, limit int) ([]Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Item
	for _, it := range m.items {
		if it.Seq > after && len(out) < limit {
			out = append(out, it)
		}
	}
	return out, nil
}

// Ack deletes acknowledged events; see Outbox.Ack.
func (m *Memory) Ack(_ context.Context, ids []string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	gone := map[string]bool{}
	for _, id := range ids {
		if m.ids[id] {
			gone[id] = true
			delete(m.ids, id)
		}
	}
	if len(gone) == 0 {
		return 0, nil
	}
	kept := m.items[:0]
	for _, it := range m.items {
		if !gone[it.ID] {
			kept = append(kept, it)
		}
	}
	m.items = kept
	return len(gone), nil
}

// Stats returns the depth, bound and dropped count.
func (m *Memory) Stats(context.Context) (Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{Depth: len(m.items), Bound: m.bound, Dropped: m.dropped, Lost: m.lost, Full: m.full}, nil
}

// ErrFull is what Memory.Put returns while SetFull holds.
var ErrFull = errors.New("put: database or disk is full")

// SetFull makes Put fail, and count the event lost, as Outbox does on a full disk (true), or work again.
func (m *Memory) SetFull(full bool) {
	m.mu.Lock()
	m.full = full
	m.mu.Unlock()
}

// NextConn adds one to the connection counter and returns it.
func (m *Memory) NextConn(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.conn++
	return m.conn, nil
}

// ClaimCommand records a command id; false when it was claimed before.
func (m *Memory) ClaimCommand(_ context.Context, id, _ string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.commands[id] {
		return false, nil
	}
	m.commands[id] = true
	return true, nil
}

package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/ingest"
	"ssu-kiosk/remote/fleetserver/store"
)

// Store keeps rollouts and the audit log; *store.Store implements it.
type Store interface {
	PutRollout(ctx context.Context, id, state string, body []byte, at time.Time) error
	RolloutBodies(ctx context.Context) ([][]byte, error)
	AddAudit(ctx context.Context, e store.AuditEntry) error
}

// Sender sends a command to a kiosk over the signed command channel; *ingest.Receiver implements it.
type Sender interface {
	Send(ctx context.Context, kiosk string, cmd fleet.Command) error
}

// SenderFunc adapts a function to Sender (to wire a Manager to a receiver that is built with its Tap).
type SenderFunc func(ctx context.Context, kiosk string, cmd fleet.Command) error

// Send implements Sender.
func (f SenderFunc) Send(ctx context.Context, kiosk string, cmd fleet.Command) error {
	return f(ctx, kiosk, cmd)
}

// Alerter tells people that a rollout halted itself (AlertChannels: the fleet's alert channels).
type Alerter interface {
	Halted(ctx context.Context, r *Rollout, kiosk, reason string) error
}

// Fleet lists the kiosks a rollout is planned over.
type Fleet interface {
	Kiosks(ctx context.Context) ([]Kiosk, error)
}

// Releases finds a published release by version (for a roll back).
type Releases interface {
	Release(ctx context.Context, version string) (Release, bool, error)
}

// Clock tells the time; tests pass a fast one.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Config wires a Manager. Store, Sender and Fleet are required.
type Config struct {
	Store    Store
	Sender   Sender
	Fleet    Fleet
	Releases Releases // nil: roll back is refused
	Alerter  Alerter  // nil: halts are logged and audited only
	Clock    Clock    // nil: the system clock
	Log      *slog.Logger
}

// Manager drives the fleet's rollouts. At most one rollout is under way (running, paused or halted)
// at a time: a kiosk is never told to install two releases at once.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	rollouts map[string]*Rollout
	dirty    map[string]bool
	changed  chan struct{} // closed and replaced on every change
}

// System is the actor recorded in the audit log for what a rollout does by itself.
const System = "rollout"

// NewManager loads the stored rollouts and returns a Manager.
func NewManager(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.Sender == nil || cfg.Fleet == nil {
		return nil, errors.New("rollout manager: store, sender and fleet are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	m := &Manager{cfg: cfg, log: cfg.Log, rollouts: map[string]*Rollout{}, dirty: map[string]bool{}, changed: make(chan struct{})}
	bodies, err := cfg.Store.RolloutBodies(ctx)
	if err != nil {
		return nil, fmt.Errorf("rollout manager: %w", err)
	}
	for _, b := range bodies {
		r := &Rollout{}
		if err := json.Unmarshal(b, r); err != nil {
			return nil, fmt.Errorf("rollout manager: stored rollout: %w", err)
		}
		m.rollouts[r.ID] = r
	}
	return m, nil
}

// ErrBusy: another rollout is under way.
var ErrBusy = errors.New("another rollout is under way: abort it first")

// ErrNotFound: no rollout has that id.
var ErrNotFound = errors.New("no such rollout")

// Start plans a rollout of rel to target and sends its first wave.
func (m *Manager) Start(ctx context.Context, who string, rel Release, target Target, plan Plan) (Rollout, error) {
	return m.start(ctx, who, rel, target, plan, nil)
}

// start is Start with what a rollout knows of kiosks' versions (running) taking precedence over the
// fleet list, which may lag.
func (m *Manager) start(ctx context.Context, who string, rel Release, target Target, plan Plan, running map[string]string) (Rollout, error) {
	kiosks, err := m.cfg.Fleet.Kiosks(ctx)
	if err != nil {
		return Rollout{}, fmt.Errorf("start rollout: %w", err)
	}
	for i, k := range kiosks {
		if v, ok := running[k.ID]; ok {
			kiosks[i].Version = v
		}
	}
	m.mu.Lock()
	if cur := m.current(); cur != nil {
		m.mu.Unlock()
		return Rollout{}, fmt.Errorf("start rollout: %w (%s is %s)", ErrBusy, cur.ID, cur.State)
	}
	now := m.cfg.Clock.Now()
	r, eff, err := New(uuid.Must(uuid.NewV7()).String()[:18], rel, target, plan, kiosks, who, now)
	if err != nil {
		m.mu.Unlock()
		return Rollout{}, fmt.Errorf("start rollout: %w", err)
	}
	m.rollouts[r.ID] = r
	out := m.effects(r, eff)
	snap := r.copy()
	m.mu.Unlock()
	m.audit(ctx, who, "start", r.ID, fmt.Sprintf("release %s to %d kiosks in %d waves", rel.Version, len(r.Kiosks), len(r.Waves)))
	m.flush(ctx, out)
	return snap, nil
}

// current returns the rollout under way, if any. m.mu is held.
func (m *Manager) current() *Rollout {
	for _, r := range m.rollouts {
		if r.State == Running || r.State == Paused || r.State == Halted {
			return r
		}
	}
	return nil
}

// Pause pauses a running rollout.
func (m *Manager) Pause(ctx context.Context, who, id string) error {
	return m.act(ctx, who, "pause", id, func(r *Rollout, now time.Time) (Effects, error) { return Effects{}, r.Pause(now) })
}

// Resume resumes a paused or halted rollout.
func (m *Manager) Resume(ctx context.Context, who, id string) error {
	return m.act(ctx, who, "resume", id, func(r *Rollout, now time.Time) (Effects, error) { return r.Resume(now) })
}

// Abort ends a rollout; kiosks not yet updated stay as they are.
func (m *Manager) Abort(ctx context.Context, who, id string) error {
	return m.act(ctx, who, "abort", id, func(r *Rollout, now time.Time) (Effects, error) { return Effects{}, r.Abort(now) })
}

// Rollback aborts rollout id (if not finished) and starts a rollout of the release its kiosks ran
// before, to the kiosks it reached, in one wave, installing the older version on purpose.
func (m *Manager) Rollback(ctx context.Context, who, id string) (Rollout, error) {
	if m.cfg.Releases == nil {
		return Rollout{}, errors.New("roll back: no release catalogue")
	}
	m.mu.Lock()
	r, ok := m.rollouts[id]
	if !ok {
		m.mu.Unlock()
		return Rollout{}, fmt.Errorf("roll back %s: %w", id, ErrNotFound)
	}
	prev, reached, plan := r.Previous, r.Reached(), r.Plan
	running := map[string]string{}
	for _, p := range r.Kiosks {
		if p.Phase == Updated {
			running[p.ID] = r.Release.Version
		}
	}
	m.mu.Unlock()
	rel, ok, err := m.cfg.Releases.Release(ctx, prev)
	if err != nil {
		return Rollout{}, fmt.Errorf("roll back %s: %w", id, err)
	}
	if !ok {
		return Rollout{}, fmt.Errorf("roll back %s: the previous release %q is not published", id, prev)
	}
	if len(reached) == 0 {
		return Rollout{}, fmt.Errorf("roll back %s: no kiosk was sent the update", id)
	}
	if err := m.Abort(ctx, who, id); err != nil {
		m.log.Info("rollout: rolling back a finished rollout", "rollout", id, "err", err)
	}
	// One wave: going back to what ran before is urgent, and that release is known good.
	plan.AllowOlder = true
	plan.Canary, plan.CanaryPercent = len(reached), 0
	nr, err := m.start(ctx, who, rel, Target{Kiosks: reached}, plan, running)
	if err != nil {
		return Rollout{}, fmt.Errorf("roll back %s: %w", id, err)
	}
	m.audit(ctx, who, "rollback", id, "to "+prev+" as rollout "+nr.ID)
	return nr, nil
}

func (m *Manager) act(ctx context.Context, who, action, id string, f func(*Rollout, time.Time) (Effects, error)) error {
	m.mu.Lock()
	r, ok := m.rollouts[id]
	if !ok {
		m.mu.Unlock()
		return fmt.Errorf("%s %s: %w", action, id, ErrNotFound)
	}
	eff, err := f(r, m.cfg.Clock.Now())
	if err != nil {
		m.mu.Unlock()
		return err
	}
	out := m.effects(r, eff)
	m.mu.Unlock()
	m.audit(ctx, who, action, id, "")
	m.flush(ctx, out)
	return nil
}

// outcome is what must be done outside the lock after a change.
type outcome struct {
	sends  []send
	halts  []halt
	saves  map[string][]byte
	states map[string]string
}

type send struct {
	kiosk string
	cmd   fleet.Command
}

type halt struct {
	r             Rollout
	kiosk, reason string
}

// effects turns a rollout's Effects into commands and alerts, and marks it for saving. m.mu is held.
func (m *Manager) effects(r *Rollout, e Effects) outcome {
	now := m.cfg.Clock.Now()
	var o outcome
	for _, k := range e.Send {
		o.sends = append(o.sends, send{k, fleet.Command{V: fleet.Version, ID: r.CommandID(k), Name: fleet.CmdUpdate,
			IssuedAt: now.UTC(), URL: r.Release.URL, SHA256: r.Release.SHA256, Version: r.Release.Version,
			Size: r.Release.Size, AllowOlder: r.Plan.AllowOlder, BusyHours: r.Plan.BusyHours[r.Kiosks[k].Site]}})
	}
	if e.Halt != "" {
		o.halts = append(o.halts, halt{r.copy(), e.Kiosk, e.Halt})
	}
	m.dirty[r.ID] = true
	o.saves, o.states = map[string][]byte{}, map[string]string{}
	for id := range m.dirty {
		b, err := json.Marshal(m.rollouts[id])
		if err != nil {
			continue
		}
		o.saves[id], o.states[id] = b, string(m.rollouts[id].State)
	}
	clear(m.dirty)
	return o
}

// flush saves, alerts and sends, outside the lock, then wakes Wait.
func (m *Manager) flush(ctx context.Context, o outcome) {
	defer func() {
		m.mu.Lock()
		close(m.changed)
		m.changed = make(chan struct{})
		m.mu.Unlock()
	}()
	now := m.cfg.Clock.Now()
	for id, b := range o.saves {
		if err := m.cfg.Store.PutRollout(ctx, id, o.states[id], b, now); err != nil {
			m.log.Error("rollout: save failed", "rollout", id, "err", err)
			m.mu.Lock()
			m.dirty[id] = true
			m.mu.Unlock()
		}
	}
	for _, h := range o.halts {
		m.log.Warn("rollout: halted", "rollout", h.r.ID, "kiosk", h.kiosk, "reason", h.reason)
		m.audit(ctx, System, "halt", h.r.ID, h.reason)
		if m.cfg.Alerter != nil {
			if err := m.cfg.Alerter.Halted(ctx, &h.r, h.kiosk, h.reason); err != nil {
				m.log.Warn("rollout: alert failed", "rollout", h.r.ID, "err", err)
			}
		}
	}
	for _, s := range o.sends {
		if err := m.cfg.Sender.Send(ctx, s.kiosk, s.cmd); err != nil {
			// The broker keeps a QoS 1 command for a kiosk with a session; if it could not take it,
			// the kiosk is sent it again when next seen.
			m.log.Warn("rollout: update command not sent", "kiosk", s.kiosk, "err", err)
			m.mu.Lock()
			for _, r := range m.rollouts {
				if p, ok := r.Kiosks[s.kiosk]; ok && p.Phase == Sent && r.active() {
					p.Phase = Waiting
				}
			}
			m.mu.Unlock()
		}
	}
}

func (m *Manager) audit(ctx context.Context, who, action, id, detail string) {
	if err := m.cfg.Store.AddAudit(ctx, store.AuditEntry{At: m.cfg.Clock.Now(), Who: who, Action: "rollout." + action, Subject: id, Detail: detail}); err != nil {
		m.log.Error("rollout: audit failed", "action", action, "rollout", id, "err", err)
	}
}

// Observe applies what kiosks sent (update steps in their events, their status and health) to the
// rollout under way.
func (m *Manager) Observe(ctx context.Context, b ingest.Batch) {
	if len(b.Events)+len(b.Statuses)+len(b.Health) == 0 {
		return
	}
	m.mu.Lock()
	r := m.current()
	if r == nil {
		m.mu.Unlock()
		return
	}
	now := m.cfg.Clock.Now()
	var eff Effects
	for _, s := range b.Statuses {
		eff.merge(r.Seen(s.Kiosk, s.Online, s.AppVersion, s.Conn, now))
	}
	for _, h := range b.Health {
		if p, ok := r.Kiosks[h.Kiosk]; ok && (!p.Online || p.Phase == Rebooting || h.AppVersion == r.Release.Version && p.Phase != Updated && p.Phase != Skipped) {
			eff.merge(r.Seen(h.Kiosk, true, h.AppVersion, 0, now))
		}
	}
	for _, e := range b.Events {
		if e.Kind != fleet.UpdateStep || e.Release != r.Release.Version {
			continue
		}
		eff.merge(r.Report(e.Kiosk, Step(e.Step), e.AppVersion, e.Reason, now))
	}
	out := m.effects(r, eff)
	m.mu.Unlock()
	m.flush(ctx, out)
}

// Tick checks the rollout under way against the clock; Run calls it every second.
func (m *Manager) Tick(ctx context.Context) {
	m.mu.Lock()
	r := m.current()
	if r == nil {
		m.mu.Unlock()
		return
	}
	before := r.State
	wave := r.Wave
	eff := r.Tick(m.cfg.Clock.Now())
	if r.State == before && r.Wave == wave && len(eff.Send) == 0 {
		m.mu.Unlock()
		return
	}
	out := m.effects(r, eff)
	m.mu.Unlock()
	if eff.Done {
		m.audit(ctx, System, "done", r.ID, "")
	}
	m.flush(ctx, out)
}

// Run ticks every interval until ctx ends.
func (m *Manager) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Tick(ctx)
		}
	}
}

// Get returns a copy of a rollout.
func (m *Manager) Get(id string) (Rollout, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rollouts[id]
	if !ok {
		return Rollout{}, false
	}
	return r.copy(), true
}

// List returns copies of every rollout, newest first.
func (m *Manager) List() []Rollout {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Rollout
	for _, r := range m.rollouts {
		out = append(out, r.copy())
	}
	slices.SortFunc(out, func(a, b Rollout) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out
}

// Wait returns when cond holds for rollout id (checked after every change) or ctx ends.
func (m *Manager) Wait(ctx context.Context, id string, cond func(Rollout) bool) (Rollout, error) {
	for {
		m.mu.Lock()
		ch := m.changed
		r, ok := m.rollouts[id]
		var snap Rollout
		if ok {
			snap = r.copy()
		}
		m.mu.Unlock()
		if ok && cond(snap) {
			return snap, nil
		}
		select {
		case <-ctx.Done():
			return snap, fmt.Errorf("wait for rollout %s: %w", id, ctx.Err())
		case <-ch:
		}
	}
}

// copy is a deep copy, safe to read outside the lock.
func (r *Rollout) copy() Rollout {
	c := *r
	c.Waves = slices.Clone(r.Waves)
	c.Kiosks = make(map[string]*Progress, len(r.Kiosks))
	for id, p := range r.Kiosks {
		q := *p
		c.Kiosks[id] = &q
	}
	return c
}

// Tap is an ingest.Store that saves a batch in Store and then shows it to Manager, so rollouts learn
// of kiosks' update steps from the messages the fleet server stores anyway.
type Tap struct {
	ingest.Store
	Manager *Manager
}

// Save implements ingest.Store.
func (t Tap) Save(ctx context.Context, b ingest.Batch) (int, error) {
	n, err := t.Store.Save(ctx, b)
	if err == nil {
		t.Manager.Observe(ctx, b)
	}
	return n, err
}

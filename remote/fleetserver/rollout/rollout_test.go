package rollout

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/ingest"
	"ssu-kiosk/remote/fleetserver/store"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type fakeSender struct {
	mu   sync.Mutex
	sent map[string][]fleet.Command
}

func (s *fakeSender) Send(_ context.Context, kiosk string, cmd fleet.Command) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := cmd.Validate(); err != nil {
		return err
	}
	s.sent[kiosk] = append(s.sent[kiosk], cmd)
	return nil
}

func (s *fakeSender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

type fleetList []Kiosk

func (f fleetList) Kiosks(context.Context) ([]Kiosk, error) { return f, nil }

type haltLog struct {
	mu      sync.Mutex
	reasons []string
}

func (h *haltLog) Halted(_ context.Context, r *Rollout, kiosk, reason string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reasons = append(h.reasons, kiosk+": "+reason)
	return nil
}

var rel = Release{Version: "v1.1.0", Size: 1000, SHA256: fmt.Sprintf("%064x", 1), Signer: "CN=test", URL: "https://fleet.test/releases/v1.1.0.raucb"}

func newFleet(n, sites int, ver string) fleetList {
	var f fleetList
	for i := 1; i <= n; i++ {
		f = append(f, Kiosk{ID: fmt.Sprintf("kiosk-%04d", i), Site: fmt.Sprintf("site-%d", i%sites), Ward: "w", Version: ver, Online: true})
	}
	return f
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "fleet.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newManager(t *testing.T, f Fleet) (*Manager, *fakeSender, *fakeClock, *haltLog, *store.Store) {
	st := openStore(t)
	s := &fakeSender{sent: map[string][]fleet.Command{}}
	c := &fakeClock{now: time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)}
	h := &haltLog{}
	m, err := NewManager(context.Background(), Config{Store: st, Sender: s, Fleet: f, Clock: c, Alerter: h})
	if err != nil {
		t.Fatal(err)
	}
	return m, s, c, h, st
}

// report feeds the manager a kiosk's update event, as the Tap would.
func report(m *Manager, kiosk, step, running, reason string) {
	m.Observe(context.Background(), batchOf(fleet.UsageEvent{Kind: fleet.UpdateStep, Kiosk: kiosk, Step: step, AppVersion: running, Release: rel.Version, Reason: reason}))
}

func update(m *Manager, kiosk string) {
	report(m, kiosk, fleet.StepDownloading, "v1.0.0", "")
	report(m, kiosk, fleet.StepInstalled, "v1.0.0", "")
	report(m, kiosk, fleet.StepRebooting, "v1.0.0", "")
	report(m, kiosk, fleet.StepRunning, rel.Version, "")
}

func TestWavesAdvanceOnlyAfterSoak(t *testing.T) {
	ctx := context.Background()
	m, s, c, _, st := newManager(t, newFleet(100, 2, "v1.0.0"))
	r, err := m.Start(ctx, "alice", rel, Target{}, Plan{Soak: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Waves[0]) != 2 || s.count() != 2 {
		t.Fatalf("canary: %d kiosks, %d sent; want one per site (2)", len(r.Waves[0]), s.count())
	}
	for w := 0; w < len(r.Waves); w++ {
		for _, id := range r.Waves[w] {
			update(m, id)
		}
		m.Tick(ctx)
		if got, _ := m.Get(r.ID); got.Wave != w {
			t.Fatalf("wave %d advanced before its soak", w)
		}
		c.Add(time.Minute)
		m.Tick(ctx)
	}
	got, _ := m.Get(r.ID)
	if got.State != Done || s.count() != 100 {
		t.Fatalf("state %s, %d kiosks sent the update; want done, 100", got.State, s.count())
	}
	audit, _ := st.Audit(ctx, 10)
	if len(audit) < 2 || audit[len(audit)-1].Who != "alice" || audit[len(audit)-1].Action != "rollout.start" {
		t.Fatalf("audit log %+v", audit)
	}
	// A new manager over the same store finds the rollout as it was.
	m2, err := NewManager(ctx, Config{Store: st, Sender: s, Fleet: fleetList{}})
	if err != nil {
		t.Fatal(err)
	}
	if again, ok := m2.Get(r.ID); !ok || again.State != Done || again.Counts()[Updated] != 100 {
		t.Fatalf("reloaded rollout: %v %+v", ok, again.Counts())
	}
}

func TestHalts(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		do   func(t *testing.T, m *Manager, c *fakeClock, canary string)
	}{
		{"fell back", func(t *testing.T, m *Manager, _ *fakeClock, k string) {
			report(m, k, fleet.StepRebooting, "v1.0.0", "")
			report(m, k, fleet.StepFellBack, "v1.0.0", "boot_failed")
		}},
		{"came back on the old version", func(t *testing.T, m *Manager, _ *fakeClock, k string) {
			m.Observe(ctx, statusOf(k, true, "v1.0.0"))
			report(m, k, fleet.StepRebooting, "v1.0.0", "")
			// A health report sent before the reboot, received after, is no sign of anything.
			m.Observe(ctx, ingest.Batch{Health: []fleet.Health{{Kiosk: k, AppVersion: "v1.0.0"}}})
			if r, _ := m.Get(m.List()[0].ID); r.State != Running {
				t.Fatalf("halted on a health report from before the reboot: %s", r.Reason)
			}
			m.Observe(ctx, statusOf(k, true, "v1.0.0"))
		}},
		{"failed twice", func(t *testing.T, m *Manager, _ *fakeClock, k string) {
			report(m, k, fleet.StepFailed, "v1.0.0", "sha256_mismatch")
			report(m, k, fleet.StepFailed, "v1.0.0", "sha256_mismatch")
		}},
		{"offline after reboot", func(t *testing.T, m *Manager, c *fakeClock, k string) {
			report(m, k, fleet.StepRebooting, "v1.0.0", "")
			c.Add(DefaultOfflineBound + time.Second)
			m.Tick(ctx)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, s, c, h, _ := newManager(t, newFleet(1000, 1, "v1.0.0"))
			r, err := m.Start(ctx, "alice", rel, Target{}, Plan{Soak: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			tc.do(t, m, c, r.Waves[0][0])
			got, _ := m.Get(r.ID)
			if got.State != Halted || len(h.reasons) != 1 {
				t.Fatalf("state %s, alerts %q; want halted and one alert", got.State, h.reasons)
			}
			c.Add(time.Hour)
			m.Tick(ctx)
			if n := s.count(); n != 1 {
				t.Fatalf("%d kiosks were sent the update; want only the canary", n)
			}
		})
	}
}

func TestOfflineKioskGetsUpdateWhenSeen(t *testing.T) {
	ctx := context.Background()
	f := newFleet(3, 1, "v1.0.0")
	f[1].Online = false
	m, s, c, _, _ := newManager(t, f)
	r, err := m.Start(ctx, "alice", rel, Target{}, Plan{Canary: 1, Soak: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	update(m, r.Waves[0][0])
	c.Add(time.Minute)
	m.Tick(ctx)
	if got, _ := m.Get(r.ID); got.Wave != 1 || s.count() != 2 {
		t.Fatalf("wave %d, %d sent; want wave 1 with the offline kiosk held back", got.Wave, s.count())
	}
	m.Observe(ctx, statusOf(f[1].ID, true, "v1.0.0"))
	if s.count() != 3 {
		t.Fatalf("the kiosk that came back was not sent the update")
	}
}

func TestAbortAndNeverOlder(t *testing.T) {
	ctx := context.Background()
	f := newFleet(10, 1, "v1.0.0")
	f[9].Version = "v1.2.0" // newer than the release: skipped
	m, s, _, _, st := newManager(t, f)
	r, err := m.Start(ctx, "alice", rel, Target{}, Plan{Canary: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Kiosks[f[9].ID]; p.Phase != Skipped {
		t.Fatalf("a kiosk on a newer version is %s; want skipped", p.Phase)
	}
	if _, err := m.Start(ctx, "bob", rel, Target{}, Plan{}); err == nil {
		t.Fatal("a second rollout started while one is under way")
	}
	if err := m.Abort(ctx, "bob", r.ID); err != nil {
		t.Fatal(err)
	}
	update(m, r.Waves[0][0])
	m.Observe(ctx, statusOf(f[5].ID, true, "v1.0.0"))
	if s.count() != 1 {
		t.Fatalf("%d kiosks sent the update after the abort; want 1", s.count())
	}
	audit, _ := st.Audit(ctx, 1)
	if audit[0].Who != "bob" || audit[0].Action != "rollout.abort" {
		t.Fatalf("audit %+v", audit)
	}
	// With AllowOlder the newer kiosk is included.
	r2, err := m.Start(ctx, "alice", rel, Target{Kiosks: []string{f[9].ID}}, Plan{AllowOlder: true})
	if err != nil {
		t.Fatal(err)
	}
	if cmd := s.sent[f[9].ID]; len(cmd) != 1 || !cmd[0].AllowOlder || r2.Kiosks[f[9].ID].Phase != Sent {
		t.Fatalf("allow-older rollout: %+v", cmd)
	}
}

func TestPauseResume(t *testing.T) {
	ctx := context.Background()
	m, s, c, _, _ := newManager(t, newFleet(20, 1, "v1.0.0"))
	r, _ := m.Start(ctx, "alice", rel, Target{}, Plan{Canary: 1, Soak: time.Minute})
	update(m, r.Waves[0][0])
	if err := m.Pause(ctx, "alice", r.ID); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Hour)
	m.Tick(ctx)
	if s.count() != 1 {
		t.Fatal("a paused rollout started a wave")
	}
	if err := m.Resume(ctx, "alice", r.ID); err != nil {
		t.Fatal(err)
	}
	if s.count() != 5 {
		t.Fatalf("%d sent after resume; want the canary and a wave of 4", s.count())
	}
}

func batchOf(evs ...fleet.UsageEvent) ingest.Batch { return ingest.Batch{Events: evs} }

var conns atomic.Uint64

// statusOf is a birth (or offline) on a new connection.
func statusOf(k string, online bool, v string) ingest.Batch {
	return ingest.Batch{Statuses: []fleet.Status{{Kiosk: k, Online: online, AppVersion: v, Conn: conns.Add(1)}}}
}

type catalogue map[string]Release

func (c catalogue) Release(_ context.Context, v string) (Release, bool, error) {
	r, ok := c[v]
	return r, ok, nil
}

func TestRollbackInstallsThePreviousReleaseOnKiosksReached(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	s := &fakeSender{sent: map[string][]fleet.Command{}}
	old := Release{Version: "v1.0.0", Size: 1, SHA256: fmt.Sprintf("%064x", 2), URL: "https://fleet.test/releases/old.raucb"}
	m, err := NewManager(ctx, Config{Store: st, Sender: s, Fleet: newFleet(30, 1, "v1.0.0"), Releases: catalogue{"v1.0.0": old},
		Clock: &fakeClock{now: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.Start(ctx, "alice", rel, Target{}, Plan{Canary: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range r.Waves[0] {
		update(m, k)
	}
	back, err := m.Rollback(ctx, "bob", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get(r.ID); got.State != Aborted {
		t.Fatalf("the rolled back rollout is %s", got.State)
	}
	if back.Release.Version != "v1.0.0" || len(back.Kiosks) != 2 || !back.Plan.AllowOlder {
		t.Fatalf("roll back: %s to %d kiosks, allow older %v", back.Release.Version, len(back.Kiosks), back.Plan.AllowOlder)
	}
	// The kiosks reached run v1.1.0 (the fleet list says v1.0.0, but the rollout knows better)...
	for _, k := range r.Waves[0] {
		if cmds := s.sent[k]; len(cmds) != 2 || cmds[1].Version != "v1.0.0" || !cmds[1].AllowOlder {
			t.Fatalf("%s was sent %+v", k, cmds)
		}
	}
}

func TestLostCommandIsSentAgain(t *testing.T) {
	ctx := context.Background()
	m, s, c, _, _ := newManager(t, newFleet(5, 1, "v1.0.0"))
	r, err := m.Start(ctx, "alice", rel, Target{}, Plan{Canary: 1})
	if err != nil {
		t.Fatal(err)
	}
	k := r.Waves[0][0]
	c.Add(DefaultResendAfter - time.Second)
	m.Tick(ctx)
	if n := len(s.sent[k]); n != 1 {
		t.Fatalf("%d commands before the resend time", n)
	}
	c.Add(2 * time.Second)
	m.Tick(ctx)
	if cmds := s.sent[k]; len(cmds) != 2 || cmds[0].ID == cmds[1].ID {
		t.Fatalf("the lost command was not sent again under a new id: %+v", cmds)
	}
	report(m, k, fleet.StepDownloading, "v1.0.0", "")
	c.Add(time.Hour)
	m.Tick(ctx)
	if n := len(s.sent[k]); n != 2 {
		t.Fatalf("a kiosk that is downloading was sent the command again (%d)", n)
	}
}

package sim_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"ssu-kiosk/provisioning/update"
	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/fleettest"
	"ssu-kiosk/remote/fleet/ingest"
	"ssu-kiosk/remote/fleet/sim"
	"ssu-kiosk/remote/fleetserver/releases"
	"ssu-kiosk/remote/fleetserver/rollout"
	"ssu-kiosk/remote/fleetserver/store"
)

// acceptAll stands in for RAUC when publishing test bundles (provisioning/update tests the real one).
type acceptAll struct{ version string }

func (a acceptAll) Verify(context.Context, string) (update.Verified, error) {
	return update.Verified{Bundle: update.Bundle{Version: a.version, Compatible: "sim"}, Signer: "CN=sim release"}, nil
}

// rig is a fleet server (broker, ingest into the fleet store, rollout manager, release downloads)
// and a simulated fleet on v1.0.0.
type rig struct {
	m     *rollout.Manager
	st    *store.Store
	fleet *sim.Fleet
	cat   *releases.Catalog
	rel   rollout.Release
	halts atomic.Int64
}

func (r *rig) Halted(context.Context, *rollout.Rollout, string, string) error {
	r.halts.Add(1)
	return nil
}

func startRig(t *testing.T, kiosks int, speed float64, updates sim.Updates) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p := fleettest.NewPKI(t)
	url := fleettest.StartEmbedded(t, p).URL()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "fleet.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &rig{st: st}

	// Releases: a 1 MiB bundle, served over HTTPS to the fleet CA's certificates.
	r.cat = &releases.Catalog{Dir: t.TempDir(), Store: st, Verifier: acceptAll{"v1.1.0"}}
	dl := httptest.NewUnstartedServer(r.cat.Downloads())
	dl.TLS = p.CA.ServerTLS(p.Server)
	dl.StartTLS()
	t.Cleanup(dl.Close)
	r.cat.BaseURL = dl.URL
	bundle := make([]byte, 1<<20)
	rand.Read(bundle)
	stored, err := r.cat.Publish(ctx, "it-admin", bytes.NewReader(bundle))
	if err != nil {
		t.Fatal(err)
	}
	r.rel = r.cat.ForRollout(stored)

	var rec *ingest.Receiver
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	r.m, err = rollout.NewManager(ctx, rollout.Config{Store: st, Fleet: rollout.StoreFleet{Store: st}, Releases: r.cat, Alerter: r,
		Clock: rollout.NewFastClock(speed), Log: log,
		Sender: rollout.SenderFunc(func(ctx context.Context, k string, c fleet.Command) error { return rec.Send(ctx, k, c) })})
	if err != nil {
		t.Fatal(err)
	}
	rec, err = ingest.NewReceiver(ingest.Config{Identity: fleettest.FleetID, Broker: url, TLS: p.Client(t, fleettest.FleetID),
		Store: rollout.Tap{Store: st, Manager: r.m}, BatchSize: 4000, BatchWait: 50 * time.Millisecond, MaxReconnect: time.Second, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { rec.Run(ctx); close(done) }()
	go r.m.Run(ctx, 20*time.Millisecond)
	t.Cleanup(func() { cancel(); <-done })
	fleettest.Eventually(t, 15*time.Second, rec.Connected, "the receiver connects")
	time.Sleep(100 * time.Millisecond) // its subscriptions are made in OnConnect

	updates.Dir = t.TempDir()
	r.fleet, err = sim.Start(ctx, sim.Config{Kiosks: kiosks, Broker: url, TLS: sim.FromCA(p.CA), Version: "v1.0.0",
		Updates: &updates, HealthEvery: time.Hour, MaxBackoff: 2 * time.Second, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.fleet.Stop() })
	var on int
	fleettest.Eventually(t, 5*time.Minute, func() bool {
		on, _, _ = st.OnlineCount(ctx)
		return on == kiosks
	}, fmt.Sprintf("all %d kiosks are online in the fleet store (%d are)", kiosks, on))
	return r
}

func (r *rig) wait(t *testing.T, id string, timeout time.Duration, what string, cond func(rollout.Rollout) bool) rollout.Rollout {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ro, err := r.m.Wait(ctx, id, cond)
	if err != nil {
		t.Fatalf("%s: %v (state %s, wave %d/%d, phases %v)", what, err, ro.State, ro.Wave+1, len(ro.Waves), ro.Counts())
	}
	return ro
}

func (r *rig) versions() map[string]int {
	v := map[string]int{}
	for _, k := range r.fleet.Kiosks {
		v[k.Version()]++
	}
	return v
}

// TestRollout1000 rolls a release out to 1,000 simulated kiosks with the default waves (a canary of
// one per site, then waves four times larger) and a 1-minute soak on a clock running 60 times fast.
func TestRollout1000(t *testing.T) {
	n := fleetSize(t)
	r := startRig(t, n, 60, sim.Updates{})
	start := time.Now()
	ro, err := r.m.Start(context.Background(), "it-admin", r.rel, rollout.Target{}, rollout.Plan{Soak: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	waves := len(ro.Waves)
	done := r.wait(t, ro.ID, 10*time.Minute, "the rollout finishes", func(ro rollout.Rollout) bool { return ro.State == rollout.Done })
	took := time.Since(start)
	fleettest.Eventually(t, time.Minute, func() bool { return r.versions()["v1.1.0"] == n }, "every kiosk runs v1.1.0")
	bytes, gets := r.cat.Served()
	t.Logf("%d kiosks, %d waves, soak 1 min at 60x: %v real (%v on the rollout's clock); %d bytes served in %d requests (%.0f bytes per kiosk, bundle %d)",
		n, waves, took.Round(time.Millisecond), done.FinishedAt.Sub(done.CreatedAt).Round(time.Second), bytes, gets, float64(bytes)/float64(n), r.rel.Size)
	if bytes > int64(n+1)*r.rel.Size {
		t.Errorf("%d bytes served; want about one bundle per kiosk", bytes)
	}
}

// TestCanaryFallBackHalts: the canary falls back to its old slot; the rollout halts, alerts once, and
// the other 999 kiosks are never sent the update.
func TestCanaryFallBackHalts(t *testing.T) {
	n := fleetSize(t)
	var canary atomic.Value
	canary.Store("")
	r := startRig(t, n, 60, sim.Updates{FallBack: func(k string) bool { return k == canary.Load().(string) }})
	// The canary is chosen when the rollout is planned; the fleet's kiosks are sorted, so it is the first.
	canary.Store(sim.KioskID(1))
	ro, err := r.m.Start(context.Background(), "it-admin", r.rel, rollout.Target{}, rollout.Plan{Soak: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if ro.Waves[0][0] != sim.KioskID(1) || len(ro.Waves[0]) != 1 {
		t.Fatalf("canary %v", ro.Waves[0])
	}
	halted := r.wait(t, ro.ID, 2*time.Minute, "the rollout halts", func(ro rollout.Rollout) bool { return ro.State == rollout.Halted })
	fellBackAt := halted.Kiosks[sim.KioskID(1)].Since
	t.Logf("halted %v (rollout clock, 60x) after the canary's fall-back report was applied: %s", halted.HaltedAt.Sub(fellBackAt), halted.Reason)
	if r.halts.Load() != 1 {
		t.Fatalf("%d alerts; want 1", r.halts.Load())
	}
	time.Sleep(2 * time.Second) // two soak times on the rollout's clock: no wave may start
	got, _ := r.m.Get(ro.ID)
	if n := len(got.Reached()); n != 1 || got.State != rollout.Halted {
		t.Fatalf("%d kiosks were sent the update (state %s); want only the canary", n, got.State)
	}
	if v := r.versions(); v["v1.0.0"] != n {
		t.Fatalf("versions %v; want all %d on v1.0.0", v, n)
	}
}

// fleetSize is 1,000 kiosks, or SSU_SIM_KIOSKS (the race detector makes 1,000 TLS agents slow on a
// small machine: `go test -race` runs the same tests with fewer), or 100 in -short.
func fleetSize(t *testing.T) int {
	if v := os.Getenv("SSU_SIM_KIOSKS"); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil || n < 2 {
			t.Fatalf("SSU_SIM_KIOSKS=%q: want a number of kiosks, at least 2", v)
		}
		return n
	}
	if testing.Short() {
		return 100
	}
	return 1000
}

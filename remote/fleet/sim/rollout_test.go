package sim_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

func startRig(t testing.TB, kiosks int, speed float64, updates sim.Updates) *rig {
	return startRigCut(t, kiosks, speed, updates, false)
}

// cutFirst cuts the first download of every kiosk halfway.
type cutFirst struct {
	next http.Handler
	mu   sync.Mutex
	seen map[string]bool
}

func (c *cutFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cn := ""
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		cn = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	c.mu.Lock()
	first := !c.seen[cn]
	c.seen[cn] = true
	c.mu.Unlock()
	if first {
		w = &halfWriter{ResponseWriter: w, left: 512 << 10}
	}
	c.next.ServeHTTP(w, r)
}

type halfWriter struct {
	http.ResponseWriter
	left int
}

func (h *halfWriter) Write(b []byte) (int, error) {
	if h.left == 0 {
		return 0, errors.New("cut") // the server closes a connection whose body fell short
	}
	if len(b) > h.left {
		b = b[:h.left]
	}
	n, err := h.ResponseWriter.Write(b)
	h.left -= n
	return n, err
}

func startRigCut(t testing.TB, kiosks int, speed float64, updates sim.Updates, cut bool) *rig {
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
	var h http.Handler = r.cat.Downloads()
	if cut {
		h = &cutFirst{next: h, seen: map[string]bool{}}
	}
	dl := httptest.NewUnstartedServer(h)
	dl.Config.ErrorLog = log.New(io.Discard, "", 0)
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
	lg := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	r.m, err = rollout.NewManager(ctx, rollout.Config{Store: st, Fleet: rollout.StoreFleet{Store: st}, Releases: r.cat, Alerter: r,
		Clock: rollout.NewFastClock(speed), Log: lg,
		Sender: rollout.SenderFunc(func(ctx context.Context, k string, c fleet.Command) error { return rec.Send(ctx, k, c) })})
	if err != nil {
		t.Fatal(err)
	}
	rec, err = ingest.NewReceiver(ingest.Config{Identity: fleettest.FleetID, Broker: url, TLS: p.Client(t, fleettest.FleetID),
		Store: rollout.Tap{Store: st, Manager: r.m}, BatchSize: 4000, BatchWait: 50 * time.Millisecond, MaxReconnect: time.Second, Log: lg})
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
		Updates: &updates, HealthEvery: time.Hour, MaxBackoff: 2 * time.Second, Log: lg})
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

func (r *rig) wait(t testing.TB, id string, timeout time.Duration, what string, cond func(rollout.Rollout) bool) rollout.Rollout {
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
func TestRollout1000(t *testing.T) { rolloutAll(t, fleetSize(t)) }

// BenchmarkRollout1000 measures the same rollout. The soak runs on a clock 60 times fast, so the
// figure that matters is "propagation-s": real time beyond the soaks (commands, downloads, installs,
// reboots, reports); with real 1-minute soaks a rollout takes waves x 1 min + that.
func BenchmarkRollout1000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		rolloutAll(b, 1000)
	}
}

func rolloutAll(t testing.TB, n int) {
	const speed = 60
	r := startRig(t, n, speed, sim.Updates{})
	start := time.Now()
	ro, err := r.m.Start(context.Background(), "it-admin", r.rel, rollout.Target{}, rollout.Plan{Soak: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	waves := len(ro.Waves)
	r.wait(t, ro.ID, 10*time.Minute, "the rollout finishes", func(ro rollout.Rollout) bool { return ro.State == rollout.Done })
	took := time.Since(start)
	fleettest.Eventually(t, time.Minute, func() bool { return r.versions()["v1.1.0"] == n }, "every kiosk runs v1.1.0")
	bytes, gets := r.cat.Served()
	soaks := time.Duration(waves) * time.Minute / speed
	t.Logf("%d kiosks, %d waves, 1-min soak at %dx: %v real, of which %v propagation; with real soaks about %v. %d bytes served in %d requests: %.0f per kiosk (bundle %d)",
		n, waves, speed, took.Round(time.Millisecond), (took - soaks).Round(time.Millisecond),
		(time.Duration(waves)*time.Minute + took - soaks).Round(time.Second), bytes, gets, float64(bytes)/float64(n), r.rel.Size)
	if b, ok := t.(*testing.B); ok {
		b.ReportMetric((took - soaks).Seconds(), "propagation-s")
		b.ReportMetric(float64(waves), "waves")
		b.ReportMetric(float64(bytes)/float64(n), "bytes/kiosk")
	}
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
	var bootedAt atomic.Int64 // when the canary came back on its old slot
	r := startRig(t, n, 60, sim.Updates{FallBack: func(k string) bool { return k == canary.Load().(string) },
		Booted: func(k, _ string) {
			if k == canary.Load().(string) {
				bootedAt.Store(time.Now().UnixNano())
			}
		}})
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
	t.Logf("halted %v (real time) after the canary came back on its old slot: %s",
		time.Since(time.Unix(0, bootedAt.Load())).Round(time.Millisecond), halted.Reason)
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

// fleetSize is 1,000 kiosks, or SSU_SIM_KIOSKS, or 100 in -short and under the race detector (which
// makes 1,000 TLS agents too slow to connect on a small machine; the same code runs).
func fleetSize(t testing.TB) int {
	if v := os.Getenv("SSU_SIM_KIOSKS"); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil || n < 2 {
			t.Fatalf("SSU_SIM_KIOSKS=%q: want a number of kiosks, at least 2", v)
		}
		return n
	}
	if testing.Short() || raceEnabled {
		return 100
	}
	return 1000
}

// TestOfflineKioskAndInterruptedDownloads: every kiosk's first download is cut halfway and resumes;
// a kiosk offline when its wave starts is updated when it comes back.
func TestOfflineKioskAndInterruptedDownloads(t *testing.T) {
	r := startRigCut(t, 20, 60, sim.Updates{}, true)
	ctx := context.Background()
	away := r.fleet.Kiosks[2] // kiosk-0003: in the second wave
	if err := away.SetOffline(true); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, time.Minute, func() bool {
		k, _, _ := r.st.Kiosk(ctx, away.ID)
		return !k.Online
	}, "the fleet store sees the kiosk offline")
	ro, err := r.m.Start(ctx, "it-admin", r.rel, rollout.Target{}, rollout.Plan{Canary: 1, Soak: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if ro.Kiosks[away.ID].Wave != 1 {
		t.Fatalf("%s is in wave %d; want 1", away.ID, ro.Kiosks[away.ID].Wave)
	}
	r.wait(t, ro.ID, 2*time.Minute, "the second wave's online kiosks run the release", func(ro rollout.Rollout) bool {
		return ro.Wave >= 1 && ro.Kiosks[sim.KioskID(2)].Phase == rollout.Updated && ro.Kiosks[sim.KioskID(5)].Phase == rollout.Updated
	})
	if p, _ := r.m.Get(ro.ID); p.Kiosks[away.ID].Phase != rollout.Waiting || away.Installs() != 0 {
		t.Fatalf("the offline kiosk is %s", p.Kiosks[away.ID].Phase)
	}
	if err := away.SetOffline(false); err != nil {
		t.Fatal(err)
	}
	r.wait(t, ro.ID, 2*time.Minute, "the rollout finishes", func(ro rollout.Rollout) bool { return ro.State == rollout.Done })
	if away.Version() != "v1.1.0" {
		t.Fatalf("the kiosk that came back runs %s", away.Version())
	}
	bytes, gets := r.cat.Served()
	t.Logf("20 kiosks, each first download cut at 512 KiB: %d requests, %d bytes (%.0f per kiosk, bundle %d)", gets, bytes, float64(bytes)/20, r.rel.Size)
	if gets != 40 || bytes > 20*r.rel.Size+20*(64<<10) || bytes < 20*r.rel.Size {
		t.Fatalf("%d requests, %d bytes: the downloads did not resume where they were cut", gets, bytes)
	}
}

// TestAbortLeavesTheRest: an abort after the canary leaves every other kiosk on its version, and is
// in the audit log with who did it.
func TestAbortLeavesTheRest(t *testing.T) {
	r := startRig(t, 20, 60, sim.Updates{})
	ctx := context.Background()
	ro, err := r.m.Start(ctx, "it-admin", r.rel, rollout.Target{}, rollout.Plan{Canary: 1, Soak: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, ro.ID, 2*time.Minute, "the canary runs the release", func(ro rollout.Rollout) bool {
		return ro.Kiosks[sim.KioskID(1)].Phase == rollout.Updated
	})
	if err := r.m.Abort(ctx, "estates-admin", ro.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // two minutes on the rollout's clock: nothing more is sent
	got, _ := r.m.Get(ro.ID)
	if got.State != rollout.Aborted || len(got.Reached()) != 1 {
		t.Fatalf("state %s, %d kiosks reached", got.State, len(got.Reached()))
	}
	if v := r.versions(); v["v1.1.0"] != 1 || v["v1.0.0"] != 19 {
		t.Fatalf("versions %v", v)
	}
	audit, err := r.st.Audit(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if audit[0].Action != "rollout.abort" || audit[0].Who != "estates-admin" {
		t.Fatalf("audit log %+v", audit)
	}
}

// TestInstallFailingTwiceHalts: the canary's installer refuses the bundle; the kiosk reports the
// failure, is sent the update once more, fails again, and the rollout halts with nobody else reached.
func TestInstallFailingTwiceHalts(t *testing.T) {
	r := startRig(t, 20, 60, sim.Updates{FailInstall: func(k string) bool { return k == sim.KioskID(1) }})
	ro, err := r.m.Start(context.Background(), "it-admin", r.rel, rollout.Target{}, rollout.Plan{Canary: 1, Soak: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	halted := r.wait(t, ro.ID, 2*time.Minute, "the rollout halts", func(ro rollout.Rollout) bool { return ro.State == rollout.Halted })
	p := halted.Kiosks[sim.KioskID(1)]
	if p.Attempts != 2 || p.Failures != 2 || p.Reason != "install_failed" || len(halted.Reached()) != 1 {
		t.Fatalf("canary %+v, %d reached; want two attempts, two install failures, nobody else", p, len(halted.Reached()))
	}
	if !strings.Contains(halted.Reason, "failed to install 2 times") {
		t.Fatalf("reason %q", halted.Reason)
	}
}

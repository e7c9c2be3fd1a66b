package sim_test

import (
	"context"
	"testing"
	"time"

	"ssu-kiosk/remote/fleet/fleettest"
	"ssu-kiosk/remote/fleet/sim"
)

// TestHealthEveryInterval: an idle kiosk, nothing changing, still reports its health every HealthEvery
// (30 s in service; half a second here), so the fleet server sees a heartbeat.
func TestHealthEveryInterval(t *testing.T) {
	p := fleettest.NewPKI(t)
	url := fleettest.StartEmbedded(t, p).URL()
	in := fleettest.StartIngest(t, p, url)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := sim.Start(ctx, sim.Config{Kiosks: 1, Broker: url, TLS: sim.FromCA(p.CA), DataDir: t.TempDir(),
		HealthEvery: 500 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	kiosk := sim.KioskID(1)
	seen := map[time.Time]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < 5 && time.Now().Before(deadline) {
		if h, ok, err := in.Store.Health(ctx, kiosk); err != nil {
			t.Fatal(err)
		} else if ok {
			seen[h.At] = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(seen) < 5 {
		t.Fatalf("%d health reports from an idle kiosk in 10 s at one every 0.5 s", len(seen))
	}
}

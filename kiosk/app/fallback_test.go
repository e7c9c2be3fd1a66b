package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"ssu-kiosk/provisioning/update"
	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/link"
	"ssu-kiosk/remote/fleet/outbox"
)

// fakeStatus is UpdateStatus for tests: the status RAUC would give.
type fakeStatus struct {
	st  update.Status
	err error
}

func (f fakeStatus) Status(context.Context) (update.Status, error) { return f.st, f.err }

// fellBackStatus: B was installed last (1.3.0) and marked bad; the kiosk runs A (1.2.0) again.
func fellBackStatus() update.Status {
	return update.Status{Booted: "A", Slots: []update.Slot{
		{Name: "rootfs.0", Bootname: "A", State: "booted", BootStatus: "good", Version: "1.2.0", Installed: "2026-12-01T10:00:00Z"},
		{Name: "rootfs.1", Bootname: "B", State: "inactive", BootStatus: "bad", Version: "1.3.0", Installed: "2026-12-07T10:00:00Z"},
	}}
}

// fallbackAgent is a fleet agent (not connected) over an outbox in dir, as OpenFleet makes it.
func fallbackAgent(t *testing.T, dir string, control *FleetControl) (*link.Agent, *outbox.Outbox) {
	t.Helper()
	ob, err := outbox.Open(filepath.Join(dir, "outbox.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	a, err := link.New(link.Config{Kiosk: fleetKiosk, AppVersion: "1.2.0", Broker: "tls://127.0.0.1:1",
		TLS: &tls.Config{}, Outbox: ob, FleetKey: testFleetKey, Health: control, Commands: control, Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	return a, ob
}

// updateEvents returns the update events waiting in ob.
func updateEvents(t *testing.T, ob *outbox.Outbox) []fleet.UsageEvent {
	t.Helper()
	items, err := ob.Pending(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []fleet.UsageEvent
	for _, it := range items {
		var ev fleet.UsageEvent
		if err := json.Unmarshal(it.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Kind == fleet.UpdateStep {
			out = append(out, ev)
		}
	}
	return out
}

// TestFallbackReportedOnce: a kiosk that fell back reports it as a fell-back update event (the step a
// rollout halts on) naming the failed version and the one it is back on, once: a restart over the same
// state folder does not report it again; and every health report carries it.
func TestFallbackReportedOnce(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for start := range 2 {
		control := NewFleetControl(Config{}, &fleetLights{}, nil, "", discardLog())
		control.Runner = newRig(t).r
		agent, ob := fallbackAgent(t, dir, control)
		fb, ok := CheckFallback(ctx, fakeStatus{st: fellBackStatus()}, agent, dir, "1.2.0", discardLog())
		if !ok || fb.FailedVersion != "1.3.0" || fb.RunningVersion != "1.2.0" {
			t.Fatalf("start %d: CheckFallback = %+v, %v", start, fb, ok)
		}
		control.SetFallback(fb)
		evs := updateEvents(t, ob)
		if len(evs) != 1 {
			t.Fatalf("start %d: %d update events, want 1 in all: %+v", start, len(evs), evs)
		}
		ev := evs[0]
		if ev.Step != fleet.StepFellBack || ev.Release != "1.3.0" || ev.Reason != "back_on_1.2.0" {
			t.Errorf("start %d: event step %q release %q reason %q", start, ev.Step, ev.Release, ev.Reason)
		}
		h := agent.Health(ctx)
		if h.FallbackFailedVersion != "1.3.0" || h.FallbackRunningVersion != "1.2.0" {
			t.Errorf("start %d: health fallback %q, %q", start, h.FallbackFailedVersion, h.FallbackRunningVersion)
		}
		if err := h.Validate(); err != nil {
			t.Errorf("start %d: health with a fallback does not validate: %v", start, err)
		}
		ob.Close()
	}
}

// TestNoFallbackNoReport: with both slots good, or RAUC unreadable, nothing is reported and the health
// has no fallback; once the fallback is over, a new one is reported again.
func TestNoFallbackNoReport(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	control := NewFleetControl(Config{}, &fleetLights{}, nil, "", discardLog())
	control.Runner = newRig(t).r
	agent, ob := fallbackAgent(t, dir, control)
	good := fellBackStatus()
	good.Slots[1].BootStatus = "good"
	good.Slots[1].Installed = "2026-11-01T10:00:00Z"
	for _, st := range []fakeStatus{{st: good}, {err: errors.New("rauc: no such service")}} {
		if fb, ok := CheckFallback(ctx, st, agent, dir, "1.2.0", discardLog()); ok {
			t.Errorf("status %+v: a fallback %+v", st, fb)
		}
	}
	if evs := updateEvents(t, ob); len(evs) != 0 {
		t.Errorf("update events without a fallback: %+v", evs)
	}
	if h := agent.Health(ctx); h.FallbackFailedVersion != "" || h.FallbackRunningVersion != "" {
		t.Errorf("health fallback %q, %q without one", h.FallbackFailedVersion, h.FallbackRunningVersion)
	}
	// Fell back, recovered, fell back again: two reports.
	for _, st := range []update.Status{fellBackStatus(), good, fellBackStatus()} {
		CheckFallback(ctx, fakeStatus{st: st}, agent, dir, "1.2.0", discardLog())
	}
	if evs := updateEvents(t, ob); len(evs) != 2 {
		t.Errorf("%d update events, want 2 (one per fallback)", len(evs))
	}
}

// TestFallbackFactorySlot: a running slot written at the factory has no bundle version in RAUC's
// status; the image's own version names it.
func TestFallbackFactorySlot(t *testing.T) {
	dir := t.TempDir()
	control := NewFleetControl(Config{}, &fleetLights{}, nil, "", discardLog())
	control.Runner = newRig(t).r
	agent, ob := fallbackAgent(t, dir, control)
	st := fellBackStatus()
	st.Slots[0].Version, st.Slots[0].Installed = "", ""
	fb, ok := CheckFallback(context.Background(), fakeStatus{st: st}, agent, dir, "1.1.0", discardLog())
	if !ok || fb.RunningVersion != "1.1.0" {
		t.Fatalf("CheckFallback = %+v, %v", fb, ok)
	}
	if evs := updateEvents(t, ob); len(evs) != 1 || evs[0].Reason != "back_on_1.1.0" {
		t.Errorf("events %+v", evs)
	}
}

// TestFallbackOddVersions: versions the fleet contract would refuse (free text, a long run of digits)
// are reported as "unknown", so the health reports that carry them are still taken.
func TestFallbackOddVersions(t *testing.T) {
	dir := t.TempDir()
	control := NewFleetControl(Config{}, &fleetLights{}, nil, "", discardLog())
	control.Runner = newRig(t).r
	agent, ob := fallbackAgent(t, dir, control)
	st := fellBackStatus()
	st.Slots[0].Version, st.Slots[1].Version = "", "build 2026120801"
	fb, ok := CheckFallback(context.Background(), fakeStatus{st: st}, agent, dir, "", discardLog())
	if !ok || fb.FailedVersion != "unknown" || fb.RunningVersion != "unknown" {
		t.Fatalf("CheckFallback = %+v, %v", fb, ok)
	}
	control.SetFallback(fb)
	if err := agent.Health(context.Background()).Validate(); err != nil {
		t.Errorf("health: %v", err)
	}
	if evs := updateEvents(t, ob); len(evs) != 1 || evs[0].Release != "unknown" {
		t.Errorf("events %+v", evs)
	}
}

// TestFallbackReasonDigits: a running version whose commit holds six digits would be refused in the
// reason; the slot is named instead, and the event still validates.
func TestFallbackReasonDigits(t *testing.T) {
	fb := update.Fallback{FailedVersion: "0.0.50-g1234567", RunningVersion: "0.0.49-g1234567", RunningSlot: "A"}
	if r := backOn(fb); r != "back_on_slot_A" {
		t.Errorf("backOn = %q", r)
	}
}

package link

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/outbox"
)

type fakeKiosk struct{ h KioskHealth }

func (f *fakeKiosk) KioskHealth() KioskHealth { return f.h }

func newAgent(t *testing.T) (*Agent, *outbox.Memory) {
	t.Helper()
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	is, err := ca.IssueClient("kiosk-0001", 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ob := outbox.NewMemory(10)
	a, err := New(Config{Kiosk: "kiosk-0001", Site: "rlh", Ward: "ward-7", AppVersion: "1.0.0", Broker: "ssl://127.0.0.1:1",
		TLS: ca.ClientTLS(is), Outbox: ob, FleetKey: []byte("0123456789abcdef0123"),
		Health: &fakeKiosk{KioskHealth{Reader: "ready", LED: "idle", PCSCD: "running", ConfigVersion: "7"}}})
	if err != nil {
		t.Fatal(err)
	}
	return a, ob
}

func TestNewRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"bad id":    {Kiosk: "Kiosk 1", Broker: "ssl://x:1"},
		"no broker": {Kiosk: "kiosk-0001"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRecordIsDurableAndValidated(t *testing.T) {
	a, ob := newAgent(t)
	ctx := context.Background()
	key, err := a.CardKey("00112233445566778899aabbccddeeff")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := a.Record(ctx, fleet.UsageEvent{Kind: fleet.Unlocked, CardKey: key, Method: "email", DurationMS: 61000})
	if err != nil {
		t.Fatal(err)
	}
	if ev.V != 1 || ev.Kiosk != "kiosk-0001" || ev.Site != "rlh" || ev.Ward != "ward-7" || ev.AppVersion != "1.0.0" || ev.At.IsZero() {
		t.Fatalf("event not filled in: %+v", ev)
	}
	items, _ := ob.Pending(ctx, 0, 10)
	if len(items) != 1 || items[0].ID != ev.ID || !strings.Contains(string(items[0].Payload), key) {
		t.Fatalf("outbox = %+v", items)
	}
	// An event carrying what looks like an email address or a code is refused and not stored.
	for _, bad := range []fleet.UsageEvent{
		{Kind: fleet.CodeRefused, Reason: "jo@nhs.net"},
		{Kind: fleet.CodeRefused, Step: "code-493817"},
		{Kind: "made_up"},
	} {
		if _, err := a.Record(ctx, bad); !errors.Is(err, fleet.ErrInvalid) {
			t.Errorf("Record(%+v) = %v, want ErrInvalid", bad, err)
		}
		if strings.Contains(errString(a.Record(ctx, bad)), "jo@nhs.net") || strings.Contains(errString(a.Record(ctx, bad)), "493817") {
			t.Errorf("the error repeats the refused value")
		}
	}
	if st, _ := ob.Stats(ctx); st.Depth != 1 {
		t.Fatalf("outbox depth %d after refused events, want 1", st.Depth)
	}
}

func errString(_ fleet.UsageEvent, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestHealthReport(t *testing.T) {
	a, _ := newAgent(t)
	ctx := context.Background()
	a.Record(ctx, fleet.UsageEvent{Kind: fleet.SessionStarted})
	h := a.Health(ctx)
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if h.Reader != "ready" || h.PCSCD != "running" || h.ConfigVersion != "7" || h.OutboxDepth != 1 || h.OutboxBound != 10 {
		t.Fatalf("health = %+v", h)
	}
	if h.DiskFreeBytes == 0 || h.MemAvailBytes == 0 || h.AgentRSSBytes == 0 {
		t.Fatalf("machine figures missing: %+v", h)
	}
	if d := time.Until(h.CertExpiry); d < 47*time.Hour || d > 49*time.Hour {
		t.Fatalf("certificate expiry %v", h.CertExpiry)
	}
}

func TestSetBusy(t *testing.T) {
	a, _ := newAgent(t)
	a.SetBusy(true)
	a.mu.Lock()
	idle := a.idle
	a.mu.Unlock()
	select {
	case <-idle:
		t.Fatal("idle while busy")
	default:
	}
	a.SetBusy(false)
	select {
	case <-idle:
	case <-time.After(time.Second):
		t.Fatal("not idle after SetBusy(false)")
	}
}

// TestHealthReportsTheOutboxBound: past its bound the outbox keeps the newest events, and health says
// how many it dropped, so the fleet sees what a long outage cost.
func TestHealthReportsTheOutboxBound(t *testing.T) {
	a, _ := newAgent(t) // an outbox of 10, and no broker to take them
	ctx := context.Background()
	for range 13 {
		if _, err := a.Record(ctx, fleet.UsageEvent{Kind: fleet.SessionStarted}); err != nil {
			t.Fatal(err)
		}
	}
	h := a.Health(ctx)
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if h.OutboxDepth != 10 || h.OutboxBound != 10 || h.OutboxDropped != 3 {
		t.Fatalf("outbox in health: depth %d, bound %d, dropped %d; want 10, 10, 3", h.OutboxDepth, h.OutboxBound, h.OutboxDropped)
	}
}

// TestHealthReportsADiskFullOutbox: events the outbox cannot write for lack of space are lost; health
// says so (outbox_full, outbox_lost), so the fleet server can raise an alert.
func TestHealthReportsADiskFullOutbox(t *testing.T) {
	a, ob := newAgent(t)
	ctx := context.Background()
	if _, err := a.Record(ctx, fleet.UsageEvent{Kind: fleet.SessionStarted}); err != nil {
		t.Fatal(err)
	}
	ob.SetFull(true)
	for range 2 {
		if _, err := a.Record(ctx, fleet.UsageEvent{Kind: fleet.SessionStarted}); err == nil {
			t.Fatal("Record succeeded on a full outbox")
		}
	}
	h := a.Health(ctx)
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if !h.OutboxFull || h.OutboxLost != 2 || h.OutboxDepth != 1 {
		t.Fatalf("health: full %v, lost %d, depth %d; want true, 2, 1", h.OutboxFull, h.OutboxLost, h.OutboxDepth)
	}
	b, _ := json.Marshal(h)
	if !strings.Contains(string(b), `"outbox_full":true`) || !strings.Contains(string(b), `"outbox_lost":2`) {
		t.Fatalf("health message lacks the disk-full fields: %s", b)
	}
}

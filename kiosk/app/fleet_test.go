package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ssu-kiosk/hal/card"
	"ssu-kiosk/hal/led"
	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/provisioning/version"
	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/fleettest"
	"ssu-kiosk/remote/fleet/link"
	"ssu-kiosk/remote/fleet/outbox"
)

// fleetLights is FleetLights for tests: Identify shows "identify" until its context ends or it is told.
type fleetLights struct {
	identifying atomic.Bool
	stop        chan struct{}
}

func (l *fleetLights) Identify(ctx context.Context) error {
	l.identifying.Store(true)
	defer l.identifying.Store(false)
	select {
	case <-ctx.Done():
	case <-l.stop:
	}
	return nil
}

func (l *fleetLights) Current() led.Pattern {
	if l.identifying.Load() {
		return led.Identify
	}
	return led.Idle
}

// keptEvents records through the agent and keeps the ids it gave.
type keptEvents struct {
	agent *link.Agent
	mu    sync.Mutex
	ids   []string
	kinds []fleet.EventKind
}

func (k *keptEvents) Record(ctx context.Context, ev fleet.UsageEvent) (fleet.UsageEvent, error) {
	ev, err := k.agent.Record(ctx, ev)
	if err == nil {
		k.mu.Lock()
		k.ids, k.kinds = append(k.ids, ev.ID), append(k.kinds, ev.Kind)
		k.mu.Unlock()
	}
	return ev, err
}

// fleetRig is a runner (with fakes for the card and the identity service) connected through a real
// fleet link to the embedded broker and the fleet server's receiver.
type fleetRig struct {
	*rig
	ing     *fleettest.Ingest
	agent   *link.Agent
	outbox  *outbox.Outbox
	kept    *keptEvents
	control *FleetControl
	lights  *fleetLights
	logs    *LogRing
	reboots chan struct{}
}

const fleetKiosk = "kiosk-0042"

func newFleetRig(t *testing.T) *fleetRig {
	t.Helper()
	p := fleettest.NewPKI(t)
	b := fleettest.StartEmbedded(t, p)
	f := &fleetRig{ing: fleettest.StartIngest(t, p, b.URL()), lights: &fleetLights{stop: make(chan struct{})},
		logs: NewLogRing(100), reboots: make(chan struct{}, 4)}
	ob, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	f.outbox = ob
	log := f.logs.Tee(discardLog().Handler(), slog.LevelInfo)
	cfg := Config{KioskID: fleetKiosk, Version: "3f2a.91c0.ab12", Methods: []flow.Method{flow.MethodEmail, flow.MethodSMS}}
	f.control = NewFleetControl(cfg, f.lights, f.logs, "", log)
	f.agent, err = link.New(link.Config{Kiosk: fleetKiosk, Site: "st-examples", Ward: "outpatients", AppVersion: "dev",
		Broker: b.URL(), TLS: p.Client(t, fleetKiosk), Outbox: ob, FleetKey: testFleetKey, Health: f.control,
		Commands: f.control, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	f.kept = &keptEvents{agent: f.agent}
	f.rig = newRigWith(t, func(c *RunnerConfig) {
		c.Usage = FleetSink{Events: f.kept, CardKey: f.agent.CardKey, Log: log}
		c.Reboot = func() { f.reboots <- struct{}{} }
		c.Log = log
	})
	f.rig.afterExecute = func() { f.agent.SetBusy(f.m.Busy()) }
	f.control.Runner = f.r
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.agent.Run(ctx) }()
	// Cleanups run last-in first-out: the runner stops first (newRigWith), then the agent, then the outbox.
	t.Cleanup(func() { ob.Close() })
	t.Cleanup(func() { cancel(); <-done })
	t.Cleanup(func() { close(f.lights.stop) })
	fleettest.Eventually(t, 15*time.Second, func() bool { return f.agent.Counters().Connected }, "the kiosk connects")
	return f
}

// command sends a command as the fleet server does and waits for the kiosk's answers, until one has
// status final.
func (f *fleetRig) command(cmd fleet.Command, final fleet.ResultStatus) []fleet.CommandResult {
	f.t.Helper()
	ctx := context.Background()
	if err := f.ing.Send(ctx, fleetKiosk, cmd); err != nil {
		f.t.Fatal(err)
	}
	var res []fleet.CommandResult
	fleettest.Eventually(f.t, 10*time.Second, func() bool {
		res, _ = f.ing.Store.Results(ctx, fleetKiosk, cmd.ID)
		return slices.ContainsFunc(res, func(r fleet.CommandResult) bool { return r.Status == final })
	}, "the kiosk answers "+cmd.ID+" with "+string(final))
	return res
}

// drain hands the runner's events to the walk-through for a while (the UI loop's part).
func (f *fleetRig) drain(d time.Duration) {
	deadline := time.After(d)
	for {
		select {
		case ev := <-f.r.Events():
			f.do(ev)
		case <-deadline:
			return
		}
	}
}

// TestFleetStoresASessionOnce runs a whole unlock and checks that every event of it is stored by the
// fleet server exactly once, acknowledged, and gone from the kiosk's outbox.
func TestFleetStoresASessionOnce(t *testing.T) {
	f := newFleetRig(t)
	f.unlock(testSerial)
	f.r.cardEvent(card.Event{Kind: card.CardRemoved, Reader: "Reader 0", State: card.StateNoCard, Time: time.Now()})
	f.until(flow.Welcome)
	ctx := context.Background()
	fleettest.Eventually(t, 10*time.Second, func() bool {
		f.kept.mu.Lock()
		defer f.kept.mu.Unlock()
		return len(f.kept.ids) == 5
	}, "the session's events are recorded")
	want := []fleet.EventKind{fleet.SessionStarted, fleet.MethodChosen, fleet.CodeSent, fleet.CodeRefused, fleet.Unlocked}
	if !slices.Equal(f.kept.kinds, want) {
		t.Fatalf("recorded %v, want %v", f.kept.kinds, want)
	}
	fleettest.Eventually(t, 10*time.Second, func() bool {
		st, _ := f.outbox.Stats(ctx)
		return st.Depth == 0
	}, "the fleet server acknowledges every event")
	stored, err := f.ing.Store.EventIDs(ctx, fleetKiosk)
	if err != nil {
		t.Fatal(err)
	}
	total, distinct, err := f.ing.Store.CountEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if total != 5 || distinct != 5 || len(stored) != 5 {
		t.Fatalf("stored %d events (%d distinct, %d of this kiosk), want 5 once each", total, distinct, len(stored))
	}
	for _, id := range f.kept.ids {
		if !stored[id] {
			t.Errorf("event %s not stored", id)
		}
	}
	// Health reaches the fleet server with the kiosk's own view.
	fleettest.Eventually(t, 10*time.Second, func() bool {
		h, ok, _ := f.ing.Store.Health(ctx, fleetKiosk)
		return ok && h.Reader == "ready" && h.PCSCD == "running" && h.ConfigVersion == "3f2a.91c0.ab12" && h.IdentityReachable
	}, "a health report says the reader is ready")
}

// TestFleetCommandsReachTheWalkthrough: maintenance, methods, reboot (deferred while a session is in
// progress), identify and logs, sent as the fleet server sends them.
func TestFleetCommandsReachTheWalkthrough(t *testing.T) {
	f := newFleetRig(t)
	on, off := true, false
	f.command(fleet.Command{ID: "m1", Name: fleet.CmdMaintenance, On: &on, Message: "Back at 2pm."}, fleet.ResultOK)
	f.until(flow.OutOfService)
	if body := strings.Join(f.m.Screen().Body, " "); !strings.Contains(body, "Back at 2pm.") {
		t.Errorf("out of service says %q", body)
	}
	ctx := context.Background()
	fleettest.Eventually(t, 10*time.Second, func() bool {
		h, ok, _ := f.ing.Store.Health(ctx, fleetKiosk)
		return ok && h.Maintenance
	}, "health reports maintenance")
	f.command(fleet.Command{ID: "m2", Name: fleet.CmdMaintenance, On: &off}, fleet.ResultOK)
	f.until(flow.Welcome)

	// Methods: SMS off, then an unknown method refuses the command and changes nothing.
	f.command(fleet.Command{ID: "x1", Name: fleet.CmdMethods, Disable: []string{"sms"}}, fleet.ResultOK)
	if res := f.command(fleet.Command{ID: "x2", Name: fleet.CmdMethods, Enable: []string{"pigeon"}}, fleet.ResultFailed); !strings.Contains(res[0].Reason, "unknown method") {
		t.Errorf("reason %q", res[0].Reason)
	}
	f.drain(50 * time.Millisecond)

	// Reboot while a session is in progress: deferred until it ends.
	f.card.status = flow.CardStatus{PINBlocked: true, CertificatesNotAfter: time.Now().AddDate(1, 0, 0), Fingerprint: testSerial}
	f.r.cardEvent(card.Event{Kind: card.CardInserted, Reader: "Reader 0", State: card.StateCardPresent, Time: time.Now()})
	f.until(flow.StartNow)
	f.do(flow.Pressed{At: time.Now(), Button: flow.ButtonStart})
	f.until(flow.ChooseMethod)
	if b, ok := f.m.Screen().Button(flow.ButtonSMS); ok && b.Enabled {
		t.Error("SMS still offered after the fleet disabled it")
	}
	f.command(fleet.Command{ID: "r1", Name: fleet.CmdReboot}, fleet.ResultDeferred)
	f.drain(200 * time.Millisecond)
	select {
	case <-f.reboots:
		t.Fatal("rebooted mid-session")
	default:
	}
	f.do(flow.Pressed{At: time.Now(), Button: flow.ButtonCancel})
	f.r.cardEvent(card.Event{Kind: card.CardRemoved, Reader: "Reader 0", State: card.StateNoCard, Time: time.Now()})
	f.until(flow.Welcome)
	deadline := time.After(10 * time.Second)
	for rebooted := false; !rebooted; {
		select {
		case ev := <-f.r.Events():
			f.do(ev)
		case <-f.reboots:
			rebooted = true
		case <-deadline:
			t.Fatal("no reboot once the session ended")
		}
	}
	f.command(fleet.Command{ID: "r1-done", Name: fleet.CmdIdentify}, fleet.ResultOK)
	if res, _ := f.ing.Store.Results(ctx, fleetKiosk, "r1"); !slices.ContainsFunc(res, func(r fleet.CommandResult) bool { return r.Status == fleet.ResultOK }) {
		t.Errorf("reboot results %+v", res)
	}
	fleettest.Eventually(t, 5*time.Second, func() bool {
		h, ok, _ := f.ing.Store.Health(ctx, fleetKiosk)
		return ok && h.LED == "identify"
	}, "health reports the LEDs identifying")

	// Logs come back scrubbed.
	f.control.Log.Info("a line that must not leave as is", "who", "sam.example@nhs.net", "n", 482913)
	res := f.command(fleet.Command{ID: "l1", Name: fleet.CmdLogs, Lines: 50}, fleet.ResultOK)
	all := strings.Join(res[len(res)-1].Lines, "\n")
	if !strings.Contains(all, "a line that must not leave") || strings.Contains(all, "sam.example") || strings.Contains(all, "482913") {
		t.Errorf("logs sent:\n%s", all)
	}
}

func TestReloadConfigAppliesWhatItCan(t *testing.T) {
	g := newRig(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "kiosk.conf")
	write := func(extra string) {
		t.Helper()
		conf := "kiosk-id = kiosk-0042\nidentity-url = https://id.example\nservice-ca = ca.pem\nclient-cert = k.pem\n" +
			"client-key = k.key\ntroubleshooting-url = https://help.example/k\n" + extra
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("methods = email, sms\n")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	c := NewFleetControl(cfg, nil, nil, path, newTextLog(&logged))
	c.Runner = g.r
	write("methods = email\nmaintenance = true\nmaintenance-message = Closed today.\nidle-timeout = 90s\n")
	if err := c.ReloadConfig(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.until(flow.OutOfService)
	if body := strings.Join(g.m.Screen().Body, " "); !strings.Contains(body, "Closed today.") {
		t.Errorf("out of service says %q", body)
	}
	if h := c.KioskHealth(); !h.Maintenance || h.ConfigVersion == cfg.Version || h.ConfigVersion == "" {
		t.Errorf("health after reload %+v", h)
	}
	if !strings.Contains(logged.String(), "IdleTimeout") {
		t.Errorf("the idle timeout needs a restart, and the log does not say so: %s", logged.String())
	}
	if !slices.Equal(c.methods, []flow.Method{flow.MethodEmail}) {
		t.Errorf("methods %v", c.methods)
	}
	// A broken file changes nothing.
	if err := os.WriteFile(path, []byte("colour = blue\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.ReloadConfig(context.Background()); err == nil || !strings.Contains(err.Error(), "unknown setting") {
		t.Errorf("reload of a broken file: %v", err)
	}
	if h := c.KioskHealth(); !h.Maintenance {
		t.Error("a failed reload changed the kiosk")
	}
}

// TestOpenFleetReportsTheBuildVersion: the fleet link the kiosk opens reports this build's version
// (package provisioning/version) in its health, the dashboard's Version column.
func TestOpenFleetReportsTheBuildVersion(t *testing.T) {
	p := fleettest.NewPKI(t)
	b := fleettest.StartEmbedded(t, p)
	dir := t.TempDir()
	is, err := p.CA.IssueClient(fleetKiosk, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := is.WriteFiles(dir, fleetKiosk)
	if err != nil {
		t.Fatal(err)
	}
	cardKey := filepath.Join(dir, "card-key")
	if err := os.WriteFile(cardKey, testFleetKey, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{KioskID: fleetKiosk, Fleet: FleetConfig{Broker: b.URL(), CA: p.CAFile, Cert: cert, Key: key,
		CardKeyFile: cardKey, Outbox: filepath.Join(dir, "outbox.db"), Site: "st-examples", Ward: "outpatients"}}
	log := discardLog()
	control := NewFleetControl(cfg, &fleetLights{}, NewLogRing(10), "", log)
	control.Runner = newRig(t).r
	l, err := OpenFleet(cfg, control, log)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	h := l.Agent.Health(context.Background())
	if h.AppVersion != version.String() || h.AppVersion == "" {
		t.Errorf("health app_version %q, want %q", h.AppVersion, version.String())
	}
	if err := h.Validate(); err != nil {
		t.Errorf("the kiosk's health does not validate: %v", err)
	}
}

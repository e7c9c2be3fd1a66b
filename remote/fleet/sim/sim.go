// Package sim is the fleet simulator: N kiosk agents in one process, each the real fleet-link code
// (package link) with its own client certificate and outbox, producing usage events at a given total
// rate. It drives the fleet-link tests and benchmark and `ssu-ctl simulate`.
//
// Its kiosks are fakes: they report healthy hardware, count the commands they receive, and their
// "recent logs" are made-up lines (including an email address, a phone number and a code, so the
// scrubber is exercised end to end). It never handles a real card or person.
package sim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/link"
	"ssu-kiosk/remote/fleet/outbox"
)

// Config configures a simulated fleet.
type Config struct {
	Kiosks   int           // how many kiosks
	First    int           // number of the first kiosk (kiosk-0001 is 1); default 1
	Rate     float64       // usage events per second, in total over all kiosks; 0 for none
	Duration time.Duration // how long to produce events; 0 until ctx ends
	Count    int           // stop after this many events; 0 for no limit
	Drain    time.Duration // after Duration, how long to wait for every event to be acknowledged

	Broker string // e.g. ssl://127.0.0.1:8883
	// Client certificates: TLS returns the configuration of one kiosk identity.
	TLS func(identity string) (*tls.Config, error)

	DataDir string // SQLite outboxes in DataDir/<kiosk>.db; "" for in-memory outboxes

	Keepalive   time.Duration
	HealthEvery time.Duration
	ResendAfter time.Duration
	MaxBackoff  time.Duration
	Log         *slog.Logger

	// Recorded, if set, is called after each event is durably recorded.
	Recorded func(fleet.UsageEvent)

	Version string   // the version the kiosks run at first; default "sim-1"
	Updates *Updates // nil: the kiosks refuse update commands
}

// Updates makes simulated kiosks carry out update commands with the real agent's update code (the
// download, its resume and checksum, the steps it reports, the reboot when idle) and a fake installer.
// A simulated reboot restarts the kiosk's agent, running the installed version.
type Updates struct {
	Dir string // downloads and update state in Dir/<kiosk>
	// FallBack: this kiosk's new slot does not stay booted: after its reboot it runs the old version.
	FallBack func(kiosk string) bool
	// FailInstall: the fake installer refuses this kiosk's bundle.
	FailInstall func(kiosk string) bool
	// Download is the HTTP client kiosks download with; nil: HTTPS with each kiosk's certificate.
	Download func(kiosk string) *http.Client
	// Booted, if set, is called when a kiosk's agent starts again after a simulated reboot.
	Booted func(kiosk, version string)
}

// FromCA returns a Config.TLS issuing a fresh certificate per identity from ca.
func FromCA(ca *pki.CA) func(string) (*tls.Config, error) {
	return func(id string) (*tls.Config, error) {
		is, err := ca.IssueClient(id, 365*24*time.Hour)
		if err != nil {
			return nil, err
		}
		return ca.ClientTLS(is), nil
	}
}

// FromDir returns a Config.TLS reading dir/<identity>.crt and .key, trusting caFile.
func FromDir(dir, caFile string) (func(string) (*tls.Config, error), error) {
	pool, err := pki.LoadPool(caFile)
	if err != nil {
		return nil, err
	}
	return func(id string) (*tls.Config, error) {
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, id+".crt"), filepath.Join(dir, id+".key"))
		if err != nil {
			return nil, fmt.Errorf("certificate of %s: %w", id, err)
		}
		return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
	}, nil
}

// Kiosk is one simulated kiosk: its agent and its fake hardware.
type Kiosk struct {
	ID    string
	Agent *link.Agent

	mu          sync.Mutex
	maintenance bool
	message     string
	methods     map[string]bool
	reboots     int
	reloads     int
	identifies  int
	config      int
	outbox      link.Outbox
	closeOutbox func() error

	fleet     *Fleet
	tls       *tls.Config
	log       *slog.Logger
	version   string // the version it runs
	installed string // the version its other slot holds, to run after a reboot; "" none
	installs  int
	stop      context.CancelFunc // stops its agent; nil when not running
	stopped   chan struct{}      // closed when its agent has stopped
}

// Fleet is a running simulated fleet.
type Fleet struct {
	cfg      Config
	Kiosks   []*Kiosk
	recorded atomic.Int64
	failed   atomic.Int64
	cancel   context.CancelFunc
	ctx      context.Context
	wg       sync.WaitGroup
	produce  sync.WaitGroup
	started  time.Time
}

// KioskID returns the identity of kiosk number n: kiosk-0001 for 1.
func KioskID(n int) string { return fmt.Sprintf("kiosk-%04d", n) }

// Start starts the fleet's agents and its event producer.
func Start(ctx context.Context, cfg Config) (*Fleet, error) {
	if cfg.Kiosks <= 0 {
		return nil, errors.New("simulate: at least one kiosk")
	}
	if cfg.TLS == nil || cfg.Broker == "" {
		return nil, errors.New("simulate: broker and certificates are required")
	}
	if cfg.First <= 0 {
		cfg.First = 1
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Version == "" {
		cfg.Version = "sim-1"
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &Fleet{cfg: cfg, cancel: cancel, ctx: ctx, started: time.Now()}
	for i := 0; i < cfg.Kiosks; i++ {
		k, err := f.newKiosk(KioskID(cfg.First+i), log)
		if err != nil {
			cancel()
			f.closeAll()
			return nil, err
		}
		f.Kiosks = append(f.Kiosks, k)
	}
	for _, k := range f.Kiosks {
		k.mu.Lock()
		k.run()
		k.mu.Unlock()
	}
	if cfg.Rate > 0 {
		f.produce.Add(1)
		go func() { defer f.produce.Done(); f.Produce(ctx, cfg.Rate, cfg.Count, cfg.Duration) }()
	}
	return f, nil
}

func (f *Fleet) newKiosk(id string, log *slog.Logger) (*Kiosk, error) {
	tlsCfg, err := f.cfg.TLS(id)
	if err != nil {
		return nil, fmt.Errorf("simulate %s: %w", id, err)
	}
	k := &Kiosk{ID: id, methods: map[string]bool{"email": true, "sms": true}, closeOutbox: func() error { return nil },
		fleet: f, tls: tlsCfg, log: log, version: f.cfg.Version}
	var ob link.Outbox = outbox.NewMemory(0)
	if f.cfg.DataDir != "" {
		if err := os.MkdirAll(f.cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("simulate: %w", err)
		}
		db, err := outbox.Open(filepath.Join(f.cfg.DataDir, id+".db"), 0)
		if err != nil {
			return nil, fmt.Errorf("simulate %s: %w", id, err)
		}
		ob, k.closeOutbox = db, db.Close
	}
	k.outbox = ob
	if k.Agent, err = k.newAgent(); err != nil {
		k.closeOutbox()
		return nil, fmt.Errorf("simulate %s: %w", id, err)
	}
	return k, nil
}

// newAgent makes the kiosk's agent, running k.version. k.mu is held, or the kiosk is not yet shared.
func (k *Kiosk) newAgent() (*link.Agent, error) {
	f := k.fleet
	cfg := link.Config{
		Kiosk: k.ID, Site: "sim-site", Ward: "ward-1", AppVersion: k.version,
		Broker: f.cfg.Broker, TLS: k.tls, Outbox: k.outbox, FleetKey: []byte("simulated-fleet-key-0123456789"),
		Health: k, Commands: k,
		Keepalive: f.cfg.Keepalive, HealthEvery: f.cfg.HealthEvery, ResendAfter: f.cfg.ResendAfter,
		MaxBackoff: f.cfg.MaxBackoff, DiskPath: os.TempDir(), Log: k.log,
	}
	if u := f.cfg.Updates; u != nil {
		cfg.Installer, cfg.UpdateDir = fakeInstaller{k}, filepath.Join(u.Dir, k.ID)
		if u.Download != nil {
			cfg.Download = u.Download(k.ID)
		}
	}
	return link.New(cfg)
}

// run starts the kiosk's agent. k.mu is held.
func (k *Kiosk) run() {
	ctx, stop := context.WithCancel(k.fleet.ctx)
	done := make(chan struct{})
	k.stop, k.stopped = stop, done
	a := k.Agent
	k.fleet.wg.Add(1)
	go func() {
		defer k.fleet.wg.Done()
		defer close(done)
		a.Run(ctx)
	}()
}

// halt stops the kiosk's agent and waits for it, as a power cut would (no goodbye is skipped: the
// agent publishes offline as it stops; the broker's Will covers a real cut).
func (k *Kiosk) halt() {
	k.mu.Lock()
	stop, stopped := k.stop, k.stopped
	k.stop = nil
	k.mu.Unlock()
	if stop != nil {
		stop()
		<-stopped
	}
}

// boot starts a new agent for the kiosk, on the version its next boot runs.
func (k *Kiosk) boot() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stop != nil || k.fleet.ctx.Err() != nil {
		return nil
	}
	if k.installed != "" {
		u := k.fleet.cfg.Updates
		if u == nil || u.FallBack == nil || !u.FallBack(k.ID) {
			k.version = k.installed
		}
		k.installed = ""
	}
	a, err := k.newAgent()
	if err != nil {
		return err
	}
	k.Agent = a
	k.run()
	if u := k.fleet.cfg.Updates; u != nil && u.Booted != nil {
		u.Booted(k.ID, k.version)
	}
	return nil
}

// CurrentAgent returns the kiosk's agent: a simulated reboot replaces Agent.
func (k *Kiosk) CurrentAgent() *link.Agent {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.Agent
}

// SetOffline takes the kiosk off the network (its agent stops) or brings it back (a new agent starts).
func (k *Kiosk) SetOffline(off bool) error {
	if off {
		k.halt()
		return nil
	}
	return k.boot()
}

// Version returns the version the kiosk runs.
func (k *Kiosk) Version() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.version
}

// Installs returns how many bundles the kiosk's fake installer has installed.
func (k *Kiosk) Installs() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.installs
}

// fakeInstaller stands in for provisioning/update: it "writes the other slot" by remembering the version.
type fakeInstaller struct{ k *Kiosk }

func (i fakeInstaller) Install(_ context.Context, bundle, version string, _ bool) error {
	if _, err := os.Stat(bundle); err != nil {
		return err
	}
	u := i.k.fleet.cfg.Updates
	if u.FailInstall != nil && u.FailInstall(i.k.ID) {
		return errors.New("simulated install failure")
	}
	i.k.mu.Lock()
	defer i.k.mu.Unlock()
	i.k.installed = version
	i.k.installs++
	return nil
}

var kinds = []fleet.EventKind{fleet.SessionStarted, fleet.MethodChosen, fleet.CodeSent, fleet.Unlocked, fleet.PasscodeChanged}

// Produce records usage events at rate per second in total, round robin over the kiosks, until count
// events (0: no limit) or duration (0: no limit) or ctx ends. Start calls it when Config.Rate is set.
func (f *Fleet) Produce(ctx context.Context, rate float64, count int, duration time.Duration) {
	if rate <= 0 {
		return
	}
	interval := time.Duration(float64(time.Second) / rate)
	var end <-chan time.Time
	if duration > 0 {
		end = time.After(duration)
	}
	sem := make(chan struct{}, 64) // Record waits for fsync: let a few run at once
	var wg sync.WaitGroup
	defer wg.Wait()
	next := time.Now()
	for n := 0; count == 0 || n < count; n++ {
		next = next.Add(interval)
		select {
		case <-ctx.Done():
			return
		case <-end:
			return
		case <-time.After(time.Until(next)):
		}
		a := f.Kiosks[n%len(f.Kiosks)].CurrentAgent()
		ev := fleet.UsageEvent{Kind: kinds[n%len(kinds)], Method: "email", DurationMS: int64(n % 90000)}
		if ev.Kind == fleet.Unlocked {
			ev.CardKey, _ = a.CardKey(fmt.Sprintf("%032x", n%5000))
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			rec, err := a.Record(ctx, ev)
			if err != nil {
				f.failed.Add(1)
				return
			}
			f.recorded.Add(1)
			if f.cfg.Recorded != nil {
				f.cfg.Recorded(rec)
			}
		}()
	}
}

// Result sums up a simulation.
type Result struct {
	Kiosks    int     `json:"kiosks"`
	Connected int     `json:"connected"`
	Recorded  int64   `json:"recorded"`  // events durably recorded
	Failed    int64   `json:"failed"`    // events that could not be recorded
	Published int64   `json:"published"` // event publications the broker acknowledged (resends included)
	Acked     int64   `json:"acked"`     // events the fleet server acknowledged
	Pending   int     `json:"pending"`   // events still in outboxes
	Seconds   float64 `json:"seconds"`
}

// Result returns the fleet's counters now.
func (f *Fleet) Result() Result {
	r := Result{Kiosks: len(f.Kiosks), Recorded: f.recorded.Load(), Failed: f.failed.Load(), Seconds: time.Since(f.started).Seconds()}
	for _, k := range f.Kiosks {
		c := k.CurrentAgent().Counters()
		if c.Connected {
			r.Connected++
		}
		r.Published += c.Published
		r.Acked += c.Acked
		if st, err := k.outbox.Stats(context.Background()); err == nil {
			r.Pending += st.Depth
		}
	}
	return r
}

// WaitProduced waits until the producer has finished (Duration elapsed or ctx ended).
func (f *Fleet) WaitProduced() { f.produce.Wait() }

// Stop stops producing, stops every agent (each publishes offline) and closes the outboxes.
func (f *Fleet) Stop() Result {
	f.cancel()
	f.produce.Wait()
	f.wg.Wait()
	r := f.Result()
	f.closeAll()
	return r
}

func (f *Fleet) closeAll() {
	for _, k := range f.Kiosks {
		k.closeOutbox()
	}
}

// Run runs a fleet for cfg.Duration (or until ctx ends), then waits up to cfg.Drain for every event
// to be acknowledged, and stops it.
func Run(ctx context.Context, cfg Config) (Result, error) {
	f, err := Start(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	if cfg.Rate > 0 {
		f.WaitProduced()
	} else if cfg.Duration > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Duration):
		}
	} else {
		<-ctx.Done()
	}
	deadline := time.Now().Add(cfg.Drain)
	for ctx.Err() == nil && time.Now().Before(deadline) && f.Result().Pending > 0 {
		time.Sleep(100 * time.Millisecond)
	}
	return f.Stop(), nil
}

// KioskHealth reports healthy fake hardware.
func (k *Kiosk) KioskHealth() link.KioskHealth {
	k.mu.Lock()
	defer k.mu.Unlock()
	return link.KioskHealth{Reader: "ready", LED: "idle", PCSCD: "running", IdentityReachable: true,
		Maintenance: k.maintenance, ConfigVersion: fmt.Sprint("cfg-", k.config)}
}

// SetMaintenance implements link.Commands.
func (k *Kiosk) SetMaintenance(_ context.Context, on bool, message string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.maintenance, k.message = on, message
	return nil
}

// Reboot implements link.Commands: it counts, and when an update is installed it restarts the
// kiosk's agent on the new version (or, for a kiosk set to fall back, on the old one).
func (k *Kiosk) Reboot(context.Context) error {
	k.mu.Lock()
	k.reboots++
	restart := k.installed != ""
	k.mu.Unlock()
	if restart {
		// Not from the agent's own goroutine, which the restart waits for.
		go func() {
			k.halt()
			if err := k.boot(); err != nil {
				k.log.Error("simulated reboot failed", "kiosk", k.ID, "err", err)
			}
		}()
	}
	return nil
}

// ReloadConfig implements link.Commands.
func (k *Kiosk) ReloadConfig(context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reloads++
	k.config++
	return nil
}

// SetMethods implements link.Commands.
func (k *Kiosk) SetMethods(_ context.Context, enable, disable []string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, m := range enable {
		k.methods[m] = true
	}
	for _, m := range disable {
		k.methods[m] = false
	}
	return nil
}

// Identify implements link.Commands.
func (k *Kiosk) Identify(context.Context, time.Duration) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.identifies++
	return nil
}

// RecentLogs implements link.Commands with made-up lines that hold things the scrubber must remove.
func (k *Kiosk) RecentLogs(_ context.Context, n int) ([]string, error) {
	lines := []string{
		"2026-11-22T09:00:00Z level=INFO msg=\"card inserted\" reader=\"Virtual PCD 00 00\"",
		"2026-11-22T09:00:05Z level=INFO msg=\"code sent\" to=jo.bloggs@nhs.net",
		"2026-11-22T09:00:06Z level=INFO msg=\"code sent\" to=\"07700 900123\"",
		"2026-11-22T09:01:00Z level=WARN msg=\"code refused\" entered=493817",
		"2026-11-22T09:02:00Z level=INFO msg=unlocked",
	}
	if n < len(lines) {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}

// Counts says what commands a simulated kiosk has carried out.
type Counts struct {
	Reboots, Reloads, Identifies int
	Maintenance                  bool
	Message                      string
	Methods                      map[string]bool
}

// Counts returns what commands the kiosk has carried out.
func (k *Kiosk) Counts() Counts {
	k.mu.Lock()
	defer k.mu.Unlock()
	m := map[string]bool{}
	for name, on := range k.methods {
		m[name] = on
	}
	return Counts{Reboots: k.reboots, Reloads: k.reloads, Identifies: k.identifies, Maintenance: k.maintenance, Message: k.message, Methods: m}
}

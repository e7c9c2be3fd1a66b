package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"time"

	"ssu-kiosk/hal/led"
	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/provisioning/update"
	"ssu-kiosk/provisioning/version"
	"ssu-kiosk/remote/fleet/link"
	"ssu-kiosk/remote/fleet/outbox"
)

// FleetLights is what remote commands and health reports need of the status LEDs, as *led.Panel has it.
type FleetLights interface {
	Identify(ctx context.Context) error
	Current() led.Pattern
}

var _ FleetLights = (*led.Panel)(nil)

// FleetControl is the kiosk as the fleet link sees it: it reports the kiosk's health
// (link.HealthSource) and carries out remote commands (link.Commands) through the Runner, which hands
// them to the walk-through as events. Set Runner before the agent runs.
type FleetControl struct {
	Runner *Runner
	// Lights may be nil (no LEDs: identify is refused).
	Lights FleetLights
	// Logs answers the logs command; nil answers with no lines.
	Logs *LogRing
	// ConfigPath is the file ReloadConfig reads again; "" refuses reload (the demo has no file).
	ConfigPath string
	Log        *slog.Logger

	mu      sync.Mutex
	cfg     Config          // the configuration last applied
	methods []flow.Method   // the methods offered now
	fell    update.Fallback // the fallback this kiosk runs after, if any
}

var (
	_ link.HealthSource = (*FleetControl)(nil)
	_ link.Commands     = (*FleetControl)(nil)
)

// NewFleetControl returns a FleetControl for a kiosk started with cfg.
func NewFleetControl(cfg Config, lights FleetLights, logs *LogRing, configPath string, log *slog.Logger) *FleetControl {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	methods := cfg.Methods
	if methods == nil {
		methods = []flow.Method{flow.MethodEmail, flow.MethodSMS} // flow's default
	}
	return &FleetControl{Lights: lights, Logs: logs, ConfigPath: configPath, Log: log, cfg: cfg,
		methods: slices.Clone(methods)}
}

// KioskHealth implements link.HealthSource.
func (c *FleetControl) KioskHealth() link.KioskHealth {
	h := c.Runner.Health()
	pattern := h.LED
	if c.Lights != nil {
		pattern = c.Lights.Current() // "identify" while blinking
	}
	c.mu.Lock()
	version, fell := c.cfg.Version, c.fell
	c.mu.Unlock()
	return link.KioskHealth{Reader: h.Reader, CardPresent: h.CardPresent, LED: pattern.String(), PCSCD: h.PCSCD,
		IdentityReachable: h.IdentityReachable, Maintenance: h.Maintenance, ConfigVersion: version,
		FallbackFailed: fell.FailedVersion, FallbackRunning: fell.RunningVersion}
}

// SetFallback makes every health report carry fb: the kiosk fell back (CheckFallback).
func (c *FleetControl) SetFallback(fb update.Fallback) {
	c.mu.Lock()
	c.fell = fb
	c.mu.Unlock()
}

// SetMaintenance implements link.Commands: the walk-through goes out of service (or back) once no
// session is in progress. An empty message shows the configured one.
func (c *FleetControl) SetMaintenance(_ context.Context, on bool, message string) error {
	c.Runner.SetMaintenance(on, message)
	return nil
}

// Reboot implements link.Commands: the walk-through reboots once no session is in progress, through
// the runner's Reboot (RebootCommand on a kiosk).
func (c *FleetControl) Reboot(context.Context) error {
	c.Runner.Post(flow.RebootRequested{At: time.Now()})
	return nil
}

// SetMethods implements link.Commands: the methods offered change at once (flow.MethodsChanged).
// An unknown method refuses the whole command.
func (c *FleetControl) SetMethods(_ context.Context, enable, disable []string) error {
	known := []flow.Method{flow.MethodEmail, flow.MethodSMS, flow.MethodFace}
	for _, m := range append(slices.Clone(enable), disable...) {
		if !slices.Contains(known, flow.Method(m)) {
			return fmt.Errorf("unknown method %q (email, sms, face)", m)
		}
	}
	c.mu.Lock()
	var next []flow.Method
	for _, m := range known { // a stable order, whatever the command's
		on := slices.Contains(c.methods, m) || slices.Contains(enable, string(m))
		if on && !slices.Contains(disable, string(m)) {
			next = append(next, m)
		}
	}
	c.methods = next
	c.mu.Unlock()
	c.Log.Info("methods set by the fleet", "methods", fmt.Sprint(next))
	c.Runner.Post(flow.MethodsChanged{At: time.Now(), Methods: next})
	return nil
}

// ReloadConfig implements link.Commands: it reads the configuration file again and applies what can
// change while the kiosk runs, where the file changed it: maintenance mode and message, and methods.
// Other changed settings take effect at the next start (it logs which). A file that does not parse
// changes nothing.
func (c *FleetControl) ReloadConfig(context.Context) error {
	if c.ConfigPath == "" {
		return errors.New("this kiosk was not started from a configuration file")
	}
	next, err := LoadConfig(c.ConfigPath)
	if err != nil {
		return err
	}
	c.mu.Lock()
	prev := c.cfg
	c.cfg = next
	methodsChanged := !slices.Equal(next.Methods, prev.Methods)
	if methodsChanged {
		c.methods = slices.Clone(next.Methods)
		if c.methods == nil {
			c.methods = []flow.Method{flow.MethodEmail, flow.MethodSMS}
		}
	}
	methods := slices.Clone(c.methods)
	c.mu.Unlock()
	if next.Maintenance != prev.Maintenance || next.MaintenanceMessage != prev.MaintenanceMessage {
		c.Runner.SetMaintenance(next.Maintenance, next.MaintenanceMessage)
	}
	if methodsChanged {
		c.Runner.Post(flow.MethodsChanged{At: time.Now(), Methods: methods})
	}
	if later := restartSettings(prev, next); len(later) > 0 {
		c.Log.Warn("configuration reloaded; some changes take effect at the next start", "settings", fmt.Sprint(later))
	} else {
		c.Log.Info("configuration reloaded", "version", next.Version)
	}
	return nil
}

// restartSettings names the settings that differ between a and b and apply only at start.
func restartSettings(a, b Config) []string {
	a.Maintenance, a.MaintenanceMessage, a.Methods, a.Version = b.Maintenance, b.MaintenanceMessage, b.Methods, b.Version
	var out []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, va.Type().Field(i).Name)
		}
	}
	return out
}

// Identify implements link.Commands: the LEDs blink for led.IdentifyDuration (15 s); it returns once
// the blinking has started.
func (c *FleetControl) Identify(ctx context.Context, _ time.Duration) error {
	if c.Lights == nil {
		return errors.New("no status LEDs are fitted")
	}
	go func() {
		if err := c.Lights.Identify(ctx); err != nil && ctx.Err() == nil {
			c.Log.Warn("identify", "err", err)
		}
	}()
	return nil
}

// RecentLogs implements link.Commands: the last n log lines, scrubbed.
func (c *FleetControl) RecentLogs(_ context.Context, n int) ([]string, error) {
	if c.Logs == nil {
		return nil, nil
	}
	return c.Logs.Recent(n), nil
}

// fallbackCheckTimeout bounds reading RAUC's status at start.
const fallbackCheckTimeout = 15 * time.Second

// FleetLink is the kiosk's running fleet link: the agent, its outbox, and the usage sink that feeds it.
type FleetLink struct {
	Agent  *link.Agent
	Outbox *outbox.Outbox
	Sink   FleetSink
}

// OpenFleet opens the outbox and makes the agent from the configuration's fleet settings; the caller
// runs Agent.Run and closes the link once the agent has stopped. The agent reports this build's version
// (version.String()) in its birth message, health and usage events.
func OpenFleet(cfg Config, control *FleetControl, log *slog.Logger) (*FleetLink, error) {
	f := cfg.Fleet
	key, err := os.ReadFile(f.CardKeyFile)
	if err != nil {
		return nil, fmt.Errorf("fleet card key: %w", err)
	}
	key = bytes.TrimSpace(key)
	if len(key) < 16 {
		return nil, fmt.Errorf("fleet card key %s: want at least 16 bytes", f.CardKeyFile)
	}
	pool, err := pki.LoadPool(f.CA)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("fleet client certificate: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(f.Outbox), 0o700); err != nil {
		return nil, fmt.Errorf("fleet outbox: %w", err)
	}
	ob, err := outbox.Open(f.Outbox, 0)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	lc := link.Config{Kiosk: cfg.KioskID, Site: f.Site, Ward: f.Ward, AppVersion: version.String(),
		Broker: f.Broker, TLS: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
		Outbox: ob, FleetKey: key, Health: control, Commands: control, Log: log}
	// Fleet rollouts: on an image with RAUC (its system.conf and IMAGE_VERSION), update commands are
	// downloaded beside the outbox and installed through RAUC; elsewhere they are refused.
	sys, raucErr := update.ReadSystem("/etc/rauc/system.conf", "/etc/os-release")
	if raucErr == nil {
		lc.Installer = update.FleetInstaller{System: sys}
		lc.UpdateDir = filepath.Join(filepath.Dir(f.Outbox), "updates")
	}
	agent, err := link.New(lc)
	if err != nil {
		ob.Close()
		return nil, fmt.Errorf("fleet: %w", err)
	}
	if lc.Installer != nil {
		// After a fallback the kiosk says so: once as an update event (which halts a rollout), and in
		// every health report while it runs on the old slot.
		ctx, cancel := context.WithTimeout(context.Background(), fallbackCheckTimeout)
		if fb, ok := CheckFallback(ctx, update.Rauc{}, agent, filepath.Dir(f.Outbox), sys.Version, log); ok {
			control.SetFallback(fb)
		}
		cancel()
	}
	return &FleetLink{Agent: agent, Outbox: ob, Sink: FleetSink{Events: agent, CardKey: agent.CardKey, Log: log}}, nil
}

// Close closes the outbox.
func (l *FleetLink) Close() error { return l.Outbox.Close() }

// CommandReboot returns a Runner.Reboot that runs argv (DefaultRebootCommand when empty), e.g.
// "systemctl reboot": systemd then stops the kiosk with SIGTERM like any other service.
func CommandReboot(argv []string, log *slog.Logger) func() {
	if len(argv) == 0 {
		argv = DefaultRebootCommand
	}
	return func() {
		log.Warn("rebooting at the fleet's request", "command", fmt.Sprint(argv))
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			log.Error("reboot failed", "err", err, "output", string(out))
		}
	}
}

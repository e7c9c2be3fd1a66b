package fleet

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ErrInvalid marks a message that fails validation; the wrapping error says which field and why.
var ErrInvalid = errors.New("invalid message")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Status is the retained message on StatusTopic: the kiosk's birth (Online) or its Will (offline).
type Status struct {
	V      int       `json:"v"`
	Kiosk  string    `json:"kiosk"`
	Online bool      `json:"online"`
	Conn   uint64    `json:"conn"` // connection counter: a lower value than already seen is stale
	At     time.Time `json:"at,omitzero"`
	// Birth information, only when Online.
	AppVersion string    `json:"app_version,omitempty"`
	Site       string    `json:"site,omitempty"`
	Ward       string    `json:"ward,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
}

// Newer reports whether s should replace prev as the kiosk's current status.
func (s Status) Newer(prev Status) bool {
	if s.Conn != prev.Conn {
		return s.Conn > prev.Conn
	}
	return !s.Online // same connection: offline follows online
}

// Validate checks a Status.
func (s Status) Validate() error {
	if s.V != Version {
		return invalid("status: version %d, want %d", s.V, Version)
	}
	if err := ValidKioskID(s.Kiosk); err != nil {
		return invalid("status: %v", err)
	}
	return checkTokens("status", map[string]string{"app_version": maskCommit(s.AppVersion), "site": s.Site, "ward": s.Ward})
}

// Health is a kiosk's periodic report on HealthTopic.
type Health struct {
	V          int       `json:"v"`
	Kiosk      string    `json:"kiosk"`
	At         time.Time `json:"at"`
	AppVersion string    `json:"app_version"`
	UptimeS    int64     `json:"uptime_s"` // seconds since the agent started

	Reader            string `json:"reader"` // reader state, e.g. "ready", "missing"
	CardPresent       bool   `json:"card_present"`
	LED               string `json:"led"`   // LED pattern, e.g. "idle", "busy", "identify"
	PCSCD             string `json:"pcscd"` // pcscd state, e.g. "running", "down"
	IdentityReachable bool   `json:"identity_reachable"`

	OutboxDepth   int   `json:"outbox_depth"`   // events written but not yet acknowledged
	OutboxBound   int   `json:"outbox_bound"`   // most events the outbox keeps
	OutboxDropped int64 `json:"outbox_dropped"` // events discarded at the bound since the outbox was made
	// OutboxLost counts events the outbox could not write since the agent started (its disk full, or
	// another write error): they are gone. OutboxFull: the latest write failed for lack of space.
	OutboxLost int64 `json:"outbox_lost,omitempty"`
	OutboxFull bool  `json:"outbox_full,omitempty"`

	DiskFreeBytes uint64    `json:"disk_free_bytes"`
	MemAvailBytes uint64    `json:"mem_available_bytes"`
	AgentRSSBytes uint64    `json:"agent_rss_bytes"`
	TemperatureC  *float64  `json:"temperature_c,omitempty"` // absent where unreadable
	CertExpiry    time.Time `json:"cert_expiry,omitzero"`
	ConfigVersion string    `json:"config_version"`
	Maintenance   bool      `json:"maintenance"`
	// FallbackFailedVersion and FallbackRunningVersion are set while the kiosk runs after a fallback:
	// the version installed last did not stay booted (FailedVersion) and the kiosk is back on the
	// other slot's (RunningVersion). Versions only; both absent otherwise.
	FallbackFailedVersion  string `json:"fallback_failed_version,omitempty"`
	FallbackRunningVersion string `json:"fallback_running_version,omitempty"`
}

// Validate checks a Health.
func (h Health) Validate() error {
	if h.V != Version {
		return invalid("health: version %d, want %d", h.V, Version)
	}
	if err := ValidKioskID(h.Kiosk); err != nil {
		return invalid("health: %v", err)
	}
	return checkTokens("health", map[string]string{
		"app_version": maskCommit(h.AppVersion), "reader": h.Reader, "led": h.LED, "pcscd": h.PCSCD, "config_version": h.ConfigVersion,
		"fallback_failed_version": maskCommit(h.FallbackFailedVersion), "fallback_running_version": maskCommit(h.FallbackRunningVersion),
	})
}

// EventKind says what happened in a kiosk session.
type EventKind string

// The usage events a kiosk reports.
const (
	SessionStarted  EventKind = "session_started"
	Ineligible      EventKind = "ineligible"       // Reason says why
	MethodChosen    EventKind = "method_chosen"    // Method says which
	CodeSent        EventKind = "code_sent"        // Method says where to (kind, never the address)
	CodeRefused     EventKind = "code_refused"     // a wrong or expired security code
	Unlocked        EventKind = "unlocked"         // the PIN was reset
	PasscodeChanged EventKind = "passcode_changed" // the person chose a new passcode
	Abandoned       EventKind = "abandoned"        // Step says where
	TimedOut        EventKind = "timed_out"        // Step says where
	CardRemoved     EventKind = "card_removed"     // Step says where
	ErrorRaised     EventKind = "error"            // ErrorCode says which
	// UpdateStep: a step of an update command: Step is downloading, installed, rebooting, running,
	// failed (Reason says why, as a token) or fell-back; Release the version being installed and
	// AppVersion the version running.
	UpdateStep EventKind = "update"
)

// Update steps, in UsageEvent.Step of an UpdateStep event.
const (
	StepDownloading = "downloading"
	StepInstalled   = "installed"
	StepRebooting   = "rebooting"
	StepRunning     = "running"
	StepFailed      = "failed"
	StepFellBack    = "fell-back"
)

var eventKinds = map[EventKind]bool{
	SessionStarted: true, Ineligible: true, MethodChosen: true, CodeSent: true, CodeRefused: true,
	Unlocked: true, PasscodeChanged: true, Abandoned: true, TimedOut: true, CardRemoved: true, ErrorRaised: true,
	UpdateStep: true,
}

// UsageEvent is one thing that happened at a kiosk, published on EventsTopic.
type UsageEvent struct {
	V          int       `json:"v"`
	ID         string    `json:"id"` // UUIDv7, unique per event: the fleet server de-duplicates by it
	Kind       EventKind `json:"kind"`
	Kiosk      string    `json:"kiosk"`
	Site       string    `json:"site,omitempty"`
	Ward       string    `json:"ward,omitempty"`
	At         time.Time `json:"at"`                    // when it happened
	SessionAt  time.Time `json:"session_at,omitzero"`   // when its session started
	DurationMS int64     `json:"duration_ms,omitempty"` // since the session started
	StepMS     int64     `json:"step_ms,omitempty"`     // time spent in the step that ended
	AppVersion string    `json:"app_version,omitempty"`
	CardKey    string    `json:"card_key,omitempty"` // CardKey(serial, fleet key): pseudonymous
	Method     string    `json:"method,omitempty"`   // e.g. "email", "sms"
	Step       string    `json:"step,omitempty"`     // e.g. "enter_code"
	Reason     string    `json:"reason,omitempty"`   // e.g. "no_allowed_email"
	ErrorCode  string    `json:"error_code,omitempty"`
	Release    string    `json:"release,omitempty"` // UpdateStep: the version being installed
}

// NewEventID returns a fresh UUIDv7 for a UsageEvent.
func NewEventID() string { return uuid.Must(uuid.NewV7()).String() }

// Validate checks a UsageEvent. Free-text fields must be short tokens with no '@' and no run of six or
// more digits, so an email address, phone number, code or PIN cannot ride in them.
func (e UsageEvent) Validate() error {
	if e.V != Version {
		return invalid("event: version %d, want %d", e.V, Version)
	}
	id, err := uuid.Parse(e.ID)
	if err != nil || id.Version() != 7 || id.String() != e.ID {
		return invalid("event: id %q is not a lowercase UUIDv7", e.ID)
	}
	if !eventKinds[e.Kind] {
		return invalid("event %s: unknown kind %q", e.ID, e.Kind)
	}
	if err := ValidKioskID(e.Kiosk); err != nil {
		return invalid("event %s: %v", e.ID, err)
	}
	if e.At.IsZero() {
		return invalid("event %s: no time", e.ID)
	}
	if e.DurationMS < 0 || e.StepMS < 0 {
		return invalid("event %s: negative duration", e.ID)
	}
	if e.CardKey != "" && !isHex(e.CardKey, 64) {
		return invalid("event %s: card key must be 64 lowercase hex characters", e.ID)
	}
	return checkTokens("event "+e.ID, map[string]string{
		"site": e.Site, "ward": e.Ward, "app_version": maskCommit(e.AppVersion), "method": e.Method,
		"step": e.Step, "reason": e.Reason, "error_code": e.ErrorCode, "release": maskCommit(e.Release),
	})
}

// CardKey returns the pseudonymous key of a card: hex HMAC-SHA256 of its serial (the CHUID GUID, 32
// lowercase hex characters) under the fleet key. The same card gives the same key across kiosks of a
// fleet, so repeat lock-outs can be counted without knowing whose card it is.
func CardKey(serial string, fleetKey []byte) (string, error) {
	if !isHex(serial, 32) {
		return "", invalid("card serial must be 32 lowercase hex characters")
	}
	if len(fleetKey) < 16 {
		return "", invalid("fleet key must be at least 16 bytes")
	}
	m := hmac.New(sha256.New, fleetKey)
	m.Write([]byte(serial))
	return hex.EncodeToString(m.Sum(nil)), nil
}

// Ack is the fleet server's acknowledgement on AckTopic: these events are stored.
type Ack struct {
	V   int      `json:"v"`
	IDs []string `json:"ids"`
}

// Validate checks an Ack.
func (a Ack) Validate() error {
	if a.V != Version {
		return invalid("ack: version %d, want %d", a.V, Version)
	}
	for _, id := range a.IDs {
		if _, err := uuid.Parse(id); err != nil {
			return invalid("ack: id %q is not a UUID", id)
		}
	}
	return nil
}

// CommandName names a remote command.
type CommandName string

// The remote commands.
const (
	CmdMaintenance CommandName = "maintenance" // On, Message
	CmdReboot      CommandName = "reboot"      // deferred until no unlock is under way
	CmdReload      CommandName = "reload"      // reload configuration
	CmdMethods     CommandName = "methods"     // Enable, Disable
	CmdIdentify    CommandName = "identify"    // blink the LEDs for 15 s
	CmdLogs        CommandName = "logs"        // Lines: how many recent lines (at most MaxLogLines)
	// CmdUpdate: download the bundle at URL (HTTPS, the kiosk's client certificate), check its SHA256,
	// install it to the other slot and reboot when idle. Version is the release's; a kiosk refuses a
	// version older than it runs unless AllowOlder.
	CmdUpdate CommandName = "update"
)

// MaxLogLines is the most log lines a logs command returns.
const MaxLogLines = 500

// Command is a remote command on CommandTopic.
type Command struct {
	V         int         `json:"v"`
	ID        string      `json:"id"` // unique per command; a kiosk runs an id at most once
	Name      CommandName `json:"name"`
	IssuedAt  time.Time   `json:"issued_at"`
	ExpiresAt time.Time   `json:"expires_at,omitzero"` // refused after this, if set

	On      *bool    `json:"on,omitempty"`      // maintenance
	Message string   `json:"message,omitempty"` // maintenance: shown on screen
	Enable  []string `json:"enable,omitempty"`  // methods
	Disable []string `json:"disable,omitempty"` // methods
	Lines   int      `json:"lines,omitempty"`   // logs

	URL        string `json:"url,omitempty"`         // update
	SHA256     string `json:"sha256,omitempty"`      // update: lowercase hex
	Version    string `json:"version,omitempty"`     // update
	Size       int64  `json:"size,omitempty"`        // update: bytes
	AllowOlder bool   `json:"allow_older,omitempty"` // update
	// BusyHours (update): "HH:MM-HH:MM" in the kiosk's local time, when it must not reboot into the
	// new version (its site's busy hours); the window may run past midnight.
	BusyHours string `json:"busy_hours,omitempty"`
}

// ParseCommand decodes and validates a Command; unknown fields are refused.
func ParseCommand(b []byte) (Command, error) {
	var c Command
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return Command{}, invalid("command: malformed JSON: %v", err)
	}
	if d.More() {
		return Command{}, invalid("command: trailing data")
	}
	return c, c.Validate()
}

// Validate checks a Command.
func (c Command) Validate() error {
	if c.V != Version {
		return invalid("command: version %d, want %d", c.V, Version)
	}
	if c.ID == "" || len(c.ID) > 64 || !isToken(c.ID) {
		return invalid("command: id must be 1-64 characters of a-z, A-Z, 0-9, '-', '_', '.', ':'")
	}
	if c.IssuedAt.IsZero() {
		return invalid("command %s: no issued_at", c.ID)
	}
	switch c.Name {
	case CmdMaintenance:
		if c.On == nil {
			return invalid("command %s: maintenance needs \"on\"", c.ID)
		}
		if len(c.Message) > 200 {
			return invalid("command %s: message longer than 200 characters", c.ID)
		}
	case CmdMethods:
		if len(c.Enable)+len(c.Disable) == 0 {
			return invalid("command %s: methods needs \"enable\" or \"disable\"", c.ID)
		}
		for _, m := range append(append([]string{}, c.Enable...), c.Disable...) {
			if !isToken(m) || m == "" {
				return invalid("command %s: method %q is not a name", c.ID, m)
			}
		}
	case CmdLogs:
		if c.Lines < 0 || c.Lines > MaxLogLines {
			return invalid("command %s: lines must be 0-%d", c.ID, MaxLogLines)
		}
	case CmdUpdate:
		u, err := url.Parse(c.URL)
		if err != nil || u.Scheme != "https" || u.Host == "" || len(c.URL) > 512 {
			return invalid("command %s: update needs an https URL", c.ID)
		}
		if !isHex(c.SHA256, 64) {
			return invalid("command %s: update needs a sha256 of 64 lowercase hex characters", c.ID)
		}
		if c.Version == "" || len(c.Version) > 64 || !isToken(c.Version) {
			return invalid("command %s: update needs a version", c.ID)
		}
		if c.Size < 0 {
			return invalid("command %s: negative size", c.ID)
		}
		if c.BusyHours != "" {
			if _, _, err := ParseBusyHours(c.BusyHours); err != nil {
				return invalid("command %s: %v", c.ID, err)
			}
		}
	case CmdReboot, CmdReload, CmdIdentify:
	default:
		return invalid("command %s: unknown command %q", c.ID, c.Name)
	}
	return nil
}

// ResultStatus is how a command ended.
type ResultStatus string

// Command outcomes.
const (
	ResultOK       ResultStatus = "ok"
	ResultDeferred ResultStatus = "deferred" // accepted, runs later (reboot while an unlock is under way)
	ResultRefused  ResultStatus = "refused"  // replayed, unknown, expired or malformed: not run
	ResultFailed   ResultStatus = "failed"   // run, and it failed
)

// CommandResult answers a Command on ResultTopic.
type CommandResult struct {
	V      int          `json:"v"`
	ID     string       `json:"id"` // the command's id; empty when the payload could not be read
	Kiosk  string       `json:"kiosk"`
	Name   CommandName  `json:"name,omitempty"`
	Status ResultStatus `json:"status"`
	Reason string       `json:"reason,omitempty"`
	At     time.Time    `json:"at"`
	Lines  []string     `json:"lines,omitempty"` // logs: scrubbed
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func isToken(s string) bool {
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("-_.:+", r)
		if !ok {
			return false
		}
	}
	return true
}

// ValidVersion checks a version as every message's version fields are checked (app_version, release,
// the fallback's): a short token, whose only run of six digits may be in a git commit abbreviation.
func ValidVersion(v string) error {
	return checkTokens("version", map[string]string{"version": maskCommit(v)})
}

// maskCommit hides from checkTokens' digit rule the abbreviated commit in an app version (git describe's
// "-gabcdef0", which may hold six digits in a row by chance: 0.0.49-g1234567), keeping its length. Only a
// part after a '-' that is "g" and 7 to 40 lowercase hex digits is masked; everything else is checked.
func maskCommit(v string) string {
	parts := strings.Split(v, "-")
	for i, p := range parts {
		if i > 0 && len(p) >= 8 && len(p) <= 41 && p[0] == 'g' && isHex(p[1:], len(p)-1) {
			parts[i] = "g" + strings.Repeat("x", len(p)-1)
		}
	}
	return strings.Join(parts, "-")
}

// checkTokens refuses free-text values that are not short tokens or that hold six or more digits in a row.
func checkTokens(what string, fields map[string]string) error {
	for name, v := range fields {
		if len(v) > 64 || !isToken(v) {
			return invalid("%s: %s must be at most 64 characters of a-z, A-Z, 0-9, '-', '_', '.', ':', '+'", what, name)
		}
		run := 0
		for _, r := range v {
			if r >= '0' && r <= '9' {
				run++
				if run >= 6 {
					return invalid("%s: %s holds six or more digits in a row", what, name)
				}
			} else {
				run = 0
			}
		}
	}
	return nil
}

// ParseBusyHours reads "HH:MM-HH:MM" as minutes after midnight.
func ParseBusyHours(s string) (from, until int, err error) {
	var fh, fm, uh, um int
	if n, _ := fmt.Sscanf(s, "%d:%d-%d:%d", &fh, &fm, &uh, &um); n != 4 || len(s) != len("00:00-00:00") ||
		fh > 23 || uh > 23 || fm > 59 || um > 59 || fh < 0 || uh < 0 || fm < 0 || um < 0 {
		return 0, 0, fmt.Errorf("busy hours %q are not HH:MM-HH:MM", s)
	}
	return fh*60 + fm, uh*60 + um, nil
}

// InBusyHours reports whether t (in its own location) falls in the busy hours window s; an empty or
// unreadable window holds no time.
func InBusyHours(s string, t time.Time) bool {
	from, until, err := ParseBusyHours(s)
	if s == "" || err != nil || from == until {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	if from < until {
		return m >= from && m < until
	}
	return m >= from || m < until // past midnight
}

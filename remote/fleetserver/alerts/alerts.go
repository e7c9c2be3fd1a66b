// Package alerts watches the fleet's health and opens an alert when a kiosk needs people: offline for
// longer than a while, its card reader missing, a spike of errors, a growing backlog of unsent events,
// its outbox losing events to a full disk, its device certificate about to expire. An alert is cleared when its condition goes away. Raising and
// clearing are announced to Notifiers (webhook, email).
//
// It must never notify about an alert twice, and a failing notifier must never stop the checks.
package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"ssu-kiosk/remote/fleetserver/store"
)

// Alert kinds.
const (
	Offline       = "offline"
	ReaderMissing = "reader-missing"
	ErrorSpike    = "error-spike"
	OutboxBacklog = "outbox-backlog"
	OutboxFull    = "outbox-full" // the kiosk's disk is full: new usage events are lost
	CertExpiring  = "cert-expiring"
)

// Store is what the checks read and write.
type Store interface {
	Kiosks(ctx context.Context, f store.KioskFilter) ([]store.Kiosk, error)
	HealthHistory(ctx context.Context, kiosk string, since time.Time, limit int) ([]store.HealthSample, error)
	ErrorCounts(ctx context.Context, since time.Time) (map[string]int, error)
	OpenAlerts(ctx context.Context, sites []string) ([]store.Alert, error)
	RaiseAlert(ctx context.Context, kiosk, kind, detail string, at time.Time) (store.Alert, bool, error)
	ClearAlert(ctx context.Context, kiosk, kind string, at time.Time) (store.Alert, bool, error)
	MarkNotified(ctx context.Context, id int64) error
}

// Notice is an alert raised or cleared.
type Notice struct {
	Alert      store.Alert
	Raised     bool // false: cleared
	Site, Ward string
}

// Notifier tells people about a Notice.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// Rules are the thresholds; zero fields take the defaults.
type Rules struct {
	OfflineAfter   time.Duration // default 15 min
	ErrorWindow    time.Duration // default 1 h
	ErrorSpike     int           // errors within ErrorWindow; default 5
	BacklogSamples int           // health reports in a row with a growing outbox; default 4
	BacklogMin     int           // and at least this many events waiting; default 20
	CertWarning    time.Duration // default 30 days
}

func (r Rules) withDefaults() Rules {
	if r.OfflineAfter <= 0 {
		r.OfflineAfter = 15 * time.Minute
	}
	if r.ErrorWindow <= 0 {
		r.ErrorWindow = time.Hour
	}
	if r.ErrorSpike <= 0 {
		r.ErrorSpike = 5
	}
	if r.BacklogSamples <= 1 {
		r.BacklogSamples = 4
	}
	if r.BacklogMin <= 0 {
		r.BacklogMin = 20
	}
	if r.CertWarning <= 0 {
		r.CertWarning = 30 * 24 * time.Hour
	}
	return r
}

// Checker evaluates Rules over the fleet.
type Checker struct {
	store     Store
	rules     Rules
	notifiers []Notifier
	log       *slog.Logger

	mu      sync.Mutex
	backlog map[string][]store.HealthSample // each kiosk's latest health reports, newest first
}

// NewChecker returns a Checker.
func NewChecker(st Store, rules Rules, log *slog.Logger, notifiers ...Notifier) *Checker {
	if log == nil {
		log = slog.Default()
	}
	return &Checker{store: st, rules: rules.withDefaults(), notifiers: notifiers, log: log, backlog: map[string][]store.HealthSample{}}
}

// Run checks every interval until ctx ends.
func (c *Checker) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := c.Check(ctx, time.Now()); err != nil && ctx.Err() == nil {
			c.log.Error("alerts: check failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// condition is the state of one rule on one kiosk: known false when the rule cannot tell (then the
// alert is left as it is).
type condition struct {
	kind   string
	on     bool
	known  bool
	detail string
}

// Check evaluates every rule on every kiosk once, raising and clearing alerts.
func (c *Checker) Check(ctx context.Context, now time.Time) error {
	kiosks, err := c.store.Kiosks(ctx, store.KioskFilter{})
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	errs, err := c.store.ErrorCounts(ctx, now.Add(-c.rules.ErrorWindow))
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	open, err := c.store.OpenAlerts(ctx, nil)
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	isOpen := map[[2]string]bool{}
	for _, a := range open {
		isOpen[[2]string{a.Kiosk, a.Kind}] = true
	}
	var failed error
	for _, k := range kiosks {
		for _, cond := range c.conditions(ctx, k, errs[k.ID], now) {
			if !cond.known || cond.on == isOpen[[2]string{k.ID, cond.kind}] {
				continue // nothing to change
			}
			if err := c.apply(ctx, k, cond, now); err != nil {
				failed = errors.Join(failed, err)
			}
		}
	}
	return failed
}

func (c *Checker) conditions(ctx context.Context, k store.Kiosk, errCount int, now time.Time) []condition {
	r := c.rules
	offFor := now.Sub(k.Since)
	haveHealth := !k.LastHealth.IsZero() && k.Online
	out := []condition{
		{kind: Offline, known: k.Known, on: k.Known && !k.Online && offFor > r.OfflineAfter,
			detail: fmt.Sprintf("offline since %s (%s)", k.Since.In(time.Local).Format("2006-01-02 15:04"), offFor.Round(time.Minute))},
		{kind: ReaderMissing, known: haveHealth, on: k.Reader != "" && k.Reader != "ready",
			detail: fmt.Sprintf("card reader %q", k.Reader)},
		{kind: ErrorSpike, known: true, on: errCount >= r.ErrorSpike,
			detail: fmt.Sprintf("%d errors in the last %s", errCount, r.ErrorWindow)},
		{kind: OutboxFull, known: haveHealth, on: k.OutboxFull,
			detail: fmt.Sprintf("disk full: usage events cannot be kept (%d lost since the kiosk started, %d MiB free)", k.OutboxLost, k.DiskFree>>20)},
		{kind: CertExpiring, known: !k.CertExpiry.IsZero(), on: k.CertExpiry.Sub(now) < r.CertWarning,
			detail: fmt.Sprintf("device certificate expires %s", k.CertExpiry.Format("2006-01-02"))},
	}
	backlog := condition{kind: OutboxBacklog, known: haveHealth}
	if haveHealth && k.OutboxDepth >= r.BacklogMin {
		hist, err := c.recentHealth(ctx, k)
		if err != nil {
			backlog.known = false
		} else if len(hist) == r.BacklogSamples {
			backlog.on = true
			for i := 0; i+1 < len(hist); i++ { // newest first: each must be above the one before it
				if hist[i].OutboxDepth <= hist[i+1].OutboxDepth {
					backlog.on = false
				}
			}
			backlog.detail = fmt.Sprintf("%d events waiting, growing over the last %d reports", k.OutboxDepth, r.BacklogSamples)
		}
	}
	return append(out, backlog)
}

// recentHealth returns a kiosk's latest BacklogSamples health reports, newest first. It reads them
// from the store once, then follows the latest report of each check, so a check costs no query per
// kiosk.
func (c *Checker) recentHealth(ctx context.Context, k store.Kiosk) ([]store.HealthSample, error) {
	c.mu.Lock()
	hist, ok := c.backlog[k.ID]
	c.mu.Unlock()
	if !ok {
		var err error
		if hist, err = c.store.HealthHistory(ctx, k.ID, k.LastHealth.Add(-24*time.Hour), c.rules.BacklogSamples); err != nil {
			return nil, err
		}
	} else if len(hist) == 0 || k.LastHealth.After(hist[0].At) {
		hist = append([]store.HealthSample{{At: k.LastHealth, OutboxDepth: k.OutboxDepth, Reader: k.Reader}}, hist...)
	}
	if len(hist) > c.rules.BacklogSamples {
		hist = hist[:c.rules.BacklogSamples]
	}
	c.mu.Lock()
	c.backlog[k.ID] = hist
	c.mu.Unlock()
	return hist, nil
}

func (c *Checker) apply(ctx context.Context, k store.Kiosk, cond condition, now time.Time) error {
	var a store.Alert
	var changed bool
	var err error
	if cond.on {
		a, changed, err = c.store.RaiseAlert(ctx, k.ID, cond.kind, cond.detail, now)
	} else {
		a, changed, err = c.store.ClearAlert(ctx, k.ID, cond.kind, now)
	}
	if err != nil || !changed {
		return err
	}
	c.log.Info("alerts: "+map[bool]string{true: "raised", false: "cleared"}[cond.on], "kiosk", k.ID, "kind", cond.kind)
	n := Notice{Alert: a, Raised: cond.on, Site: k.Site, Ward: k.Ward}
	ok := true
	for _, nt := range c.notifiers {
		if err := nt.Notify(ctx, n); err != nil {
			ok = false
			c.log.Warn("alerts: notification failed", "kiosk", k.ID, "kind", cond.kind, "err", err)
		}
	}
	if ok && cond.on && len(c.notifiers) > 0 {
		return c.store.MarkNotified(ctx, a.ID)
	}
	return nil
}

package rollout

import (
	"context"
	"errors"
	"time"

	"ssu-kiosk/remote/fleetserver/alerts"
	"ssu-kiosk/remote/fleetserver/store"
)

// AlertKind is the kind of the alert a halted rollout raises on the kiosk that halted it.
const AlertKind = "rollout-halted"

// AlertStore is where AlertChannels opens its alerts; *store.Store implements it.
type AlertStore interface {
	RaiseAlert(ctx context.Context, kiosk, kind, detail string, at time.Time) (store.Alert, bool, error)
	MarkNotified(ctx context.Context, id int64) error
}

// AlertChannels raises a "rollout-halted" alert on the kiosk that halted a rollout (shown with the
// kiosk's other alerts) and announces it through the fleet's notifiers (webhook, email).
type AlertChannels struct {
	Store     AlertStore
	Notifiers []alerts.Notifier
	Clock     Clock // nil: the system clock
}

// Halted implements Alerter.
func (a AlertChannels) Halted(ctx context.Context, r *Rollout, kiosk, reason string) error {
	clock := a.Clock
	if clock == nil {
		clock = systemClock{}
	}
	detail := "rollout " + r.ID + " of " + r.Release.Version + " halted: " + reason
	al, opened, err := a.Store.RaiseAlert(ctx, kiosk, AlertKind, detail, clock.Now())
	if err != nil || !opened {
		return err
	}
	var site, ward string
	if p, ok := r.Kiosks[kiosk]; ok {
		site, ward = p.Site, p.Ward
	}
	var failed error
	for _, n := range a.Notifiers {
		failed = errors.Join(failed, n.Notify(ctx, alerts.Notice{Alert: al, Raised: true, Site: site, Ward: ward}))
	}
	if failed == nil && len(a.Notifiers) > 0 {
		return a.Store.MarkNotified(ctx, al.ID)
	}
	return failed
}

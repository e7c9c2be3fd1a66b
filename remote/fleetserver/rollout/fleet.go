package rollout

import (
	"context"
	"time"

	"ssu-kiosk/remote/fleetserver/store"
)

// StoreFleet lists the kiosks of the fleet store (their place, the version they last said they run,
// and whether they are online) for planning rollouts.
type StoreFleet struct {
	Store interface {
		Kiosks(ctx context.Context, f store.KioskFilter) ([]store.Kiosk, error)
	}
}

// Kiosks implements Fleet.
func (f StoreFleet) Kiosks(ctx context.Context) ([]Kiosk, error) {
	ks, err := f.Store.Kiosks(ctx, store.KioskFilter{})
	if err != nil {
		return nil, err
	}
	out := make([]Kiosk, 0, len(ks))
	for _, k := range ks {
		out = append(out, Kiosk{ID: k.ID, Site: k.Site, Ward: k.Ward, Version: k.AppVersion, Online: k.Online})
	}
	return out, nil
}

// FastClock runs Speed times faster than the system clock from when it was made: a simulation with
// a 1-minute soak at Speed 60 soaks for a second. For tests and `ssu-ctl simulate` only.
type FastClock struct {
	Speed float64
	start time.Time
}

// NewFastClock returns a clock running speed times faster than real time.
func NewFastClock(speed float64) *FastClock { return &FastClock{Speed: speed, start: time.Now()} }

// Now implements Clock.
func (c *FastClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.start)) * c.Speed))
}

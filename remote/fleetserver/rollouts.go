package fleetserver

import (
	"context"
	"errors"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/ingest"
	"ssu-kiosk/remote/fleetserver/releases"
	"ssu-kiosk/remote/fleetserver/rollout"
)

// ReleaseOptions configure releases and rollouts.
type ReleaseOptions struct {
	Dir      string            // where bundles are kept (beside the store)
	BaseURL  string            // where kiosks download them: the HTTPS listener serving Catalog.Downloads
	Verifier releases.Verifier // the fleet's update keyring (update.Rauc with Keyring set)
	Clock    rollout.Clock     // nil: the system clock
	// Refused says whether a kiosk is refused downloads (revoked); nil refuses none but those whose
	// certificate does not verify.
	Refused func(ctx context.Context, kiosk string) (bool, error)
}

type rollouts struct {
	manager *rollout.Manager
	catalog *releases.Catalog
}

// newRollouts builds the release catalogue and the rollout manager. The manager sends through the
// receiver, which is built after it (its store is the manager's Tap): rec returns it once built.
func newRollouts(o Options, rec func() *ingest.Receiver) (rollouts, error) {
	ro := o.Releases
	if ro == nil {
		return rollouts{}, nil
	}
	if ro.Dir == "" || ro.BaseURL == "" || ro.Verifier == nil {
		return rollouts{}, errors.New("fleet server: releases need a folder, a download URL and the update keyring")
	}
	cat := &releases.Catalog{Dir: ro.Dir, Store: o.Store, Verifier: ro.Verifier, BaseURL: ro.BaseURL, Refused: ro.Refused}
	m, err := rollout.NewManager(context.Background(), rollout.Config{
		Store: o.Store, Fleet: rollout.StoreFleet{Store: o.Store}, Releases: cat, Clock: ro.Clock, Log: o.Log,
		Alerter: rollout.AlertChannels{Store: o.Store, Notifiers: o.Notifiers, Clock: ro.Clock},
		Sender: rollout.SenderFunc(func(ctx context.Context, kiosk string, cmd fleet.Command) error {
			return rec().Send(ctx, kiosk, cmd)
		}),
	})
	if err != nil {
		return rollouts{}, err
	}
	return rollouts{manager: m, catalog: cat}, nil
}

package fleetserver_test

import (
	"encoding/json"

	"ssu-kiosk/remote/fleet/sim"
	"ssu-kiosk/remote/fleetserver/store"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// simEnrolment is where the enrolment service would have placed simulated kiosks 1…n: the place the
// simulator's kiosks also claim, so tests see them where they expect.
func simEnrolment(n int) store.EnrolledPlaces {
	e := store.EnrolledPlaces{}
	for i := 1; i <= n; i++ {
		e[sim.KioskID(i)] = store.Place{Site: "sim-site", Ward: "ward-1"}
	}
	return e
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"

	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/provisioning/update"
	"ssu-kiosk/remote/fleet"
)

// UpdateStatus reads the state of the A/B root slots; provisioning/update.Rauc has it, tests a fake.
type UpdateStatus interface {
	Status(ctx context.Context) (update.Status, error)
}

// fallbackFile, in the kiosk's state folder, holds the fallback last reported to the fleet, so a
// restart does not report it again.
const fallbackFile = "fallback-reported.json"

// CheckFallback reads the update status and, when the kiosk fell back (the version installed last did
// not stay booted), returns the fallback. It is reported to the fleet once, as an update event with the
// step the rollout engine halts on (fleet.StepFellBack, Release the failed version, Reason naming the
// version back on); stateDir remembers it across restarts. With no fallback the memory is cleared, so a
// later fallback is reported again. imageVersion, the running image's own (os-release), names the
// version back on where RAUC knows none (a slot written at the factory, not by a bundle). Errors are
// logged: a kiosk must start whatever its update status.
func CheckFallback(ctx context.Context, st UpdateStatus, events EventRecorder, stateDir, imageVersion string, log *slog.Logger) (update.Fallback, bool) {
	status, err := st.Status(ctx)
	if err != nil {
		log.Warn("update status unread: a fallback is not reported", "err", err)
		return update.Fallback{}, false
	}
	path := filepath.Join(stateDir, fallbackFile)
	fb, ok := status.Fallback()
	if !ok {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Warn("fallback memory not cleared", "err", err)
		}
		return update.Fallback{}, false
	}
	if fb.RunningVersion == "" {
		fb.RunningVersion = imageVersion
	}
	// A version the fleet contract refuses would have the fleet server refuse every health report.
	for _, v := range []*string{&fb.FailedVersion, &fb.RunningVersion} {
		if err := fleet.ValidVersion(*v); err != nil || *v == "" {
			log.Warn("fallback: a version the fleet cannot take is reported as unknown", "err", err)
			*v = "unknown"
		}
	}
	log.Warn("this kiosk fell back", "failed", fb.FailedVersion, "failed_slot", fb.FailedSlot,
		"running", fb.RunningVersion, "running_slot", fb.RunningSlot)
	if b, err := os.ReadFile(path); err == nil {
		var was update.Fallback
		if json.Unmarshal(b, &was) == nil && was == fb {
			return fb, true // reported before a restart
		}
	}
	if _, err := events.Record(ctx, fleet.UsageEvent{Kind: fleet.UpdateStep, Step: fleet.StepFellBack,
		Release: fb.FailedVersion, Reason: backOn(fb)}); err != nil {
		log.Warn("fallback not reported to the fleet", "err", err)
		return fb, true // tried again at the next start
	}
	b, _ := json.Marshal(fb)
	if err := writeStateFile(path, b); err != nil {
		log.Warn("fallback reported but not remembered: a restart reports it again", "err", err)
	}
	return fb, true
}

// backOn is the fallback event's reason: "back_on_VERSION", or "back_on_slot_NAME" where the version
// would not pass the event's reason check (six digits in a row, as a commit abbreviation may hold).
func backOn(fb update.Fallback) string {
	r := "back_on_" + fb.RunningVersion
	run := 0
	for _, c := range r {
		if c >= '0' && c <= '9' {
			if run++; run >= 6 {
				return "back_on_slot_" + fb.RunningSlot
			}
		} else {
			run = 0
		}
	}
	if len(r) > 64 {
		return "back_on_slot_" + fb.RunningSlot
	}
	return r
}

// writeStateFile writes a file of the kiosk's state folder atomically (pki.WriteFileAtomic), making the
// folder if it is not there yet.
func writeStateFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return pki.WriteFileAtomic(path, b, 0o600)
}

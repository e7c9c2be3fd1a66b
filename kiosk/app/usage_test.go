package app

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/identity/errcat"
)

const testSerial = "00112233445566778899aabbccddeeff"

var testFleetKey = []byte("a fleet key of 32 bytes, or so..")

// session builds a usage record: steps visited one after another from t0, step events at given steps.
func session(outcome flow.Outcome, code errcat.Code, reason flow.IneligibleReason, method flow.Method,
	steps []flow.ScreenID, events ...flow.StepEvent) flow.UsageRecord {
	t0 := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	rec := flow.UsageRecord{KioskID: "kiosk-0042", Outcome: outcome, ErrorCode: code, Reason: reason, Method: method,
		StartedAt: t0}
	at := t0
	for _, s := range steps {
		rec.Steps = append(rec.Steps, flow.StepTiming{Step: s, Start: at, Duration: 10 * time.Second})
		at = at.Add(10 * time.Second)
	}
	rec.EndedAt, rec.Duration = at, at.Sub(t0)
	if len(steps) > 0 {
		rec.StepReached = steps[len(steps)-1]
	}
	rec.Events = append([]flow.StepEvent{{At: t0, Kind: flow.EventSessionStarted, Step: flow.ReadingCard}}, events...)
	rec.Events = append(rec.Events, flow.StepEvent{At: at, Kind: flow.EventSessionEnded, Step: rec.StepReached, Code: code})
	return rec
}

// stepEvent is a step event d into the session.
func stepEvent(d time.Duration, kind flow.StepEventKind, step flow.ScreenID, method flow.Method) flow.StepEvent {
	return flow.StepEvent{At: time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC).Add(d), Kind: kind, Step: step, Method: method,
		TriesLeft: 4}
}

func TestUsageEventsForEveryOutcome(t *testing.T) {
	unlockSteps := []flow.ScreenID{flow.ReadingCard, flow.StartNow, flow.CheckingEligibility, flow.ChooseMethod,
		flow.EnterAddress, flow.SendingCode, flow.EnterCode, flow.VerifyingCode, flow.EnterCode, flow.VerifyingCode,
		flow.ChoosePasscode, flow.Unlocking, flow.Unlocked}
	unlockEvents := []flow.StepEvent{
		stepEvent(35*time.Second, flow.EventMethodChosen, flow.ChooseMethod, flow.MethodEmail),
		stepEvent(45*time.Second, flow.EventAddressRefused, flow.EnterAddress, ""),
		stepEvent(60*time.Second, flow.EventCodeSent, flow.SendingCode, ""),
		stepEvent(85*time.Second, flow.EventCodeRefused, flow.VerifyingCode, ""),
		stepEvent(105*time.Second, flow.EventCodeAccepted, flow.VerifyingCode, ""),
	}
	for _, tc := range []struct {
		name  string
		rec   flow.UsageRecord
		kinds []fleet.EventKind
		check func(t *testing.T, end fleet.UsageEvent)
	}{
		{"unlocked", session(flow.OutcomeUnlocked, "", "", flow.MethodEmail, unlockSteps, unlockEvents...),
			[]fleet.EventKind{fleet.SessionStarted, fleet.MethodChosen, fleet.CodeSent, fleet.CodeRefused, fleet.Unlocked},
			func(t *testing.T, end fleet.UsageEvent) {
				if end.Method != "email" || end.DurationMS != 130_000 || end.ErrorCode != "" {
					t.Errorf("unlocked = %+v", end)
				}
			}},
		{"passcode changed", session(flow.OutcomePasscodeChanged, "", "", "",
			[]flow.ScreenID{flow.ReadingCard, flow.StartNow, flow.ChangePasscode, flow.ChangingPasscode, flow.PasscodeChanged},
			stepEvent(15*time.Second, flow.EventChangeChosen, flow.StartNow, "")),
			[]fleet.EventKind{fleet.SessionStarted, fleet.PasscodeChanged}, nil},
		{"ineligible", session(flow.OutcomeIneligible, errcat.ERR1002, flow.NoEmail, "",
			[]flow.ScreenID{flow.ReadingCard, flow.StartNow, flow.CheckingEligibility, flow.NotEligible}),
			[]fleet.EventKind{fleet.SessionStarted, fleet.Ineligible},
			func(t *testing.T, end fleet.UsageEvent) {
				if end.Reason != "no-email" || end.Step != "not-eligible" {
					t.Errorf("ineligible = %+v", end)
				}
			}},
		{"certificates expired", session(flow.OutcomeIneligible, errcat.ERR1004, flow.CertificatesExpired, "",
			[]flow.ScreenID{flow.ReadingCard, flow.CardExpired}),
			[]fleet.EventKind{fleet.SessionStarted, fleet.Ineligible},
			func(t *testing.T, end fleet.UsageEvent) {
				if end.Reason != "certificates-expired" {
					t.Errorf("expired = %+v", end)
				}
			}},
		{"abandoned", session(flow.OutcomeAbandoned, "", "", flow.MethodSMS,
			[]flow.ScreenID{flow.ReadingCard, flow.StartNow, flow.CheckingEligibility, flow.ChooseMethod, flow.EnterAddress, flow.RemoveCard},
			stepEvent(35*time.Second, flow.EventMethodChosen, flow.ChooseMethod, flow.MethodSMS)),
			[]fleet.EventKind{fleet.SessionStarted, fleet.MethodChosen, fleet.Abandoned},
			func(t *testing.T, end fleet.UsageEvent) {
				if end.Step != "remove-card" || end.Method != "sms" || end.StepMS != 10_000 {
					t.Errorf("abandoned = %+v", end)
				}
			}},
		{"timed out", session(flow.OutcomeTimedOut, "", "", "",
			[]flow.ScreenID{flow.ReadingCard, flow.StartNow, flow.MoreTime, flow.RemoveCard}),
			[]fleet.EventKind{fleet.SessionStarted, fleet.TimedOut}, nil},
		{"card removed", session(flow.OutcomeCardRemoved, errcat.ERR2003, "", "",
			[]flow.ScreenID{flow.ReadingCard, flow.StartNow, flow.CardRemovedScreen}),
			[]fleet.EventKind{fleet.SessionStarted, fleet.CardRemoved},
			func(t *testing.T, end fleet.UsageEvent) {
				if end.Step != "card-removed" || end.ErrorCode != "ERR2003" {
					t.Errorf("card removed = %+v", end)
				}
			}},
		{"error", session(flow.OutcomeError, errcat.ERR1007, "", flow.MethodEmail, unlockSteps[:10], unlockEvents[:4]...),
			[]fleet.EventKind{fleet.SessionStarted, fleet.MethodChosen, fleet.CodeSent, fleet.CodeRefused, fleet.ErrorRaised},
			func(t *testing.T, end fleet.UsageEvent) {
				if end.ErrorCode != "ERR1007" {
					t.Errorf("error = %+v", end)
				}
			}},
		{"unreadable card", session(flow.OutcomeError, errcat.ERR2001, "", "", []flow.ScreenID{flow.ReadingCard, flow.CardUnreadable}),
			[]fleet.EventKind{fleet.SessionStarted, fleet.ErrorRaised}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := fleet.CardKey(testSerial, testFleetKey)
			if err != nil {
				t.Fatal(err)
			}
			evs := UsageEvents(tc.rec, key)
			var kinds []fleet.EventKind
			for _, ev := range evs {
				kinds = append(kinds, ev.Kind)
				if !ev.SessionAt.Equal(tc.rec.StartedAt) || ev.CardKey != key || ev.At.Before(tc.rec.StartedAt) {
					t.Errorf("%s: session %v, card key %q, at %v", ev.Kind, ev.SessionAt, ev.CardKey, ev.At)
				}
				// As the agent sends it: it must pass the fleet contract.
				ev.V, ev.ID, ev.Kiosk, ev.Site, ev.Ward, ev.AppVersion = fleet.Version, fleet.NewEventID(), "kiosk-0042", "st-examples", "ward-7", "dev"
				if err := ev.Validate(); err != nil {
					t.Errorf("%s does not validate: %v", ev.Kind, err)
				}
			}
			if !slices.Equal(kinds, tc.kinds) {
				t.Fatalf("kinds %v, want %v", kinds, tc.kinds)
			}
			if evs[0].DurationMS != 0 {
				t.Errorf("session started %d ms into the session", evs[0].DurationMS)
			}
			for _, ev := range evs[1 : len(evs)-1] {
				if ev.StepMS <= 0 || ev.Step == "" {
					t.Errorf("%s: step %q, %d ms", ev.Kind, ev.Step, ev.StepMS)
				}
			}
			if tc.check != nil {
				tc.check(t, evs[len(evs)-1])
			}
		})
	}
}

// recorded keeps the events a FleetSink records.
type recorded struct{ evs []fleet.UsageEvent }

func (r *recorded) Record(_ context.Context, ev fleet.UsageEvent) (fleet.UsageEvent, error) {
	ev.ID = fleet.NewEventID()
	r.evs = append(r.evs, ev)
	return ev, nil
}

// TestUsageEventsHoldNoPersonalData: the record type has no field for personal data, and the card
// serial becomes a keyed hash; what goes on the wire holds neither the serial nor anything a person typed.
func TestUsageEventsHoldNoPersonalData(t *testing.T) {
	rec := session(flow.OutcomeUnlocked, "", "", flow.MethodEmail,
		[]flow.ScreenID{flow.ReadingCard, flow.ChooseMethod, flow.EnterAddress, flow.EnterCode, flow.Unlocked},
		stepEvent(15*time.Second, flow.EventMethodChosen, flow.ChooseMethod, flow.MethodEmail),
		stepEvent(25*time.Second, flow.EventCodeSent, flow.EnterAddress, ""))
	r := &recorded{}
	sink := FleetSink{Events: r, CardKey: func(s string) (string, error) { return fleet.CardKey(s, testFleetKey) }}
	if err := sink.RecordUsage(context.Background(), rec, testSerial); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r.evs)
	for _, bad := range []string{testSerial, strings.ToUpper(testSerial), "@", "kiosk-0042"} {
		if strings.Contains(string(b), bad) {
			t.Errorf("the events carry %q: %s", bad, b)
		}
	}
	want, _ := fleet.CardKey(testSerial, testFleetKey)
	if len(r.evs) != 4 || r.evs[0].CardKey != want {
		t.Fatalf("events %+v", r.evs)
	}
	// A serial that is not a CHUID GUID gives no card key, and is not logged.
	var logged strings.Builder
	r.evs = nil
	sink.Log = newTextLog(&logged)
	if err := sink.RecordUsage(context.Background(), rec, "c0ffee-not-a-guid"); err != nil {
		t.Fatal(err)
	}
	if r.evs[0].CardKey != "" || strings.Contains(logged.String(), "c0ffee") {
		t.Errorf("card key %q; log %q", r.evs[0].CardKey, logged.String())
	}
}

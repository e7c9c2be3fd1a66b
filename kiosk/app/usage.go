package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/remote/fleet"
)

// UsageSink takes a finished session's usage record, with the serial of the session's card ("" when
// no card was read), which only a pseudonymous card key may be made from. RecordUsage returns once the
// record is kept (on disk, for the fleet link).
type UsageSink interface {
	RecordUsage(ctx context.Context, rec flow.UsageRecord, cardSerial string) error
}

// LogSink logs usage records (they hold no personal data) when the kiosk has no fleet link. It never
// logs the card serial.
type LogSink struct{ Log *slog.Logger }

// RecordUsage implements UsageSink.
func (l LogSink) RecordUsage(_ context.Context, rec flow.UsageRecord, _ string) error {
	l.Log.Info("usage", "outcome", rec.Outcome, "method", rec.Method, "step", rec.StepReached,
		"error_code", rec.ErrorCode, "reason", rec.Reason, "seconds", rec.Duration.Seconds(), "steps", len(rec.Steps))
	return nil
}

// EventRecorder keeps fleet usage events durably; *link.Agent implements it.
type EventRecorder interface {
	Record(ctx context.Context, ev fleet.UsageEvent) (fleet.UsageEvent, error)
}

// FleetSink turns usage records into fleet usage events and records each one durably before
// RecordUsage returns.
type FleetSink struct {
	Events EventRecorder
	// CardKey makes the pseudonymous key of a card serial (link.Agent.CardKey; fleet.CardKey).
	CardKey func(serial string) (string, error)
	Log     *slog.Logger
}

// RecordUsage implements UsageSink. An event the fleet contract refuses is logged by kind and skipped;
// the others are still recorded.
func (s FleetSink) RecordUsage(ctx context.Context, rec flow.UsageRecord, cardSerial string) error {
	key := ""
	if cardSerial != "" && s.CardKey != nil {
		k, err := s.CardKey(cardSerial)
		if err != nil {
			// The error names no serial (fleet.CardKey says only what is wrong with it).
			s.log().Warn("usage: no card key for this session", "err", err)
		} else {
			key = k
		}
	}
	var errs []error
	for _, ev := range UsageEvents(rec, key) {
		if _, err := s.Events.Record(ctx, ev); err != nil {
			errs = append(errs, fmt.Errorf("usage event %s: %w", ev.Kind, err))
		}
	}
	return errors.Join(errs...)
}

func (s FleetSink) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// UsageEvents turns one session's usage record into the fleet's usage events, in order: session
// started, then method chosen, code sent and code refused as they happened, then one event for how the
// session ended (ineligible, unlocked, passcode changed, abandoned, timed out, card removed or error).
// Every event carries the session's start (SessionAt), which is how the fleet server groups them, and
// cardKey. The agent fills in the id, kiosk, site, ward and app version.
func UsageEvents(rec flow.UsageRecord, cardKey string) []fleet.UsageEvent {
	start := rec.StartedAt
	base := func(kind fleet.EventKind, at time.Time) fleet.UsageEvent {
		if at.IsZero() || at.Before(start) {
			at = start
		}
		return fleet.UsageEvent{Kind: kind, At: at, SessionAt: start, DurationMS: at.Sub(start).Milliseconds(), CardKey: cardKey}
	}
	out := []fleet.UsageEvent{base(fleet.SessionStarted, start)}
	method := ""
	for _, se := range rec.Events {
		var ev fleet.UsageEvent
		switch se.Kind {
		case flow.EventMethodChosen:
			method = string(se.Method)
			ev = base(fleet.MethodChosen, se.At)
		case flow.EventCodeSent:
			ev = base(fleet.CodeSent, se.At)
		case flow.EventCodeRefused:
			ev = base(fleet.CodeRefused, se.At)
		default:
			continue
		}
		ev.Method, ev.Step = method, string(se.Step)
		ev.StepMS = stepMS(rec.Steps, se.Step, se.At)
		out = append(out, ev)
	}
	end := base(endKind(rec.Outcome), rec.EndedAt)
	end.Method, end.Step, end.ErrorCode = string(rec.Method), string(rec.StepReached), string(rec.ErrorCode)
	end.StepMS = stepMS(rec.Steps, rec.StepReached, rec.EndedAt)
	if rec.Outcome == flow.OutcomeIneligible {
		end.Reason = string(rec.Reason)
		if end.Reason == "" {
			end.Reason = "unspecified"
		}
	}
	return append(out, end)
}

func endKind(o flow.Outcome) fleet.EventKind {
	switch o {
	case flow.OutcomeUnlocked:
		return fleet.Unlocked
	case flow.OutcomePasscodeChanged:
		return fleet.PasscodeChanged
	case flow.OutcomeIneligible:
		return fleet.Ineligible
	case flow.OutcomeAbandoned:
		return fleet.Abandoned
	case flow.OutcomeTimedOut:
		return fleet.TimedOut
	case flow.OutcomeCardRemoved:
		return fleet.CardRemoved
	}
	return fleet.ErrorRaised
}

// stepMS is the time spent on step up to at, from the last visit to step that began by at.
func stepMS(steps []flow.StepTiming, step flow.ScreenID, at time.Time) int64 {
	for i := len(steps) - 1; i >= 0; i-- {
		st := steps[i]
		if st.Step == step && !st.Start.After(at) {
			return max(at.Sub(st.Start), 0).Milliseconds()
		}
	}
	return 0
}

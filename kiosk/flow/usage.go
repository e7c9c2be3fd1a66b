package flow

import (
	"time"

	"ssu-kiosk/remote/identity/errcat"
)

// Outcome is how a session ended.
type Outcome string

// The outcomes.
const (
	OutcomeUnlocked        Outcome = "unlocked"
	OutcomePasscodeChanged Outcome = "passcode-changed"
	OutcomeIneligible      Outcome = "ineligible"
	OutcomeAbandoned       Outcome = "abandoned"
	OutcomeTimedOut        Outcome = "timed-out"
	OutcomeCardRemoved     Outcome = "card-removed"
	OutcomeError           Outcome = "error"
)

// StepEventKind is something that happened during a session, for fleet events.
type StepEventKind string

// The step events.
const (
	EventSessionStarted       StepEventKind = "session-started"
	EventCardRead             StepEventKind = "card-read"
	EventUnlockChosen         StepEventKind = "unlock-chosen"
	EventChangeChosen         StepEventKind = "change-chosen"
	EventEligible             StepEventKind = "eligible"
	EventNotEligible          StepEventKind = "not-eligible"
	EventMethodChosen         StepEventKind = "method-chosen"
	EventAddressRefused       StepEventKind = "address-refused"
	EventCodeSent             StepEventKind = "code-sent"
	EventSendRefused          StepEventKind = "send-refused"
	EventCodeRefused          StepEventKind = "code-refused"
	EventCodeAccepted         StepEventKind = "code-accepted"
	EventFaceRefused          StepEventKind = "face-refused"
	EventFaceAccepted         StepEventKind = "face-accepted"
	EventPasscodeRefused      StepEventKind = "passcode-refused"
	EventUnlockStarted        StepEventKind = "unlock-started"
	EventUnlockUnknown        StepEventKind = "unlock-unknown"
	EventCardReinserted       StepEventKind = "card-reinserted"
	EventCurrentRefused       StepEventKind = "current-passcode-refused"
	EventCardLocked           StepEventKind = "card-locked"
	EventChangeStarted        StepEventKind = "change-started"
	EventMoreTimeShown        StepEventKind = "more-time-shown"
	EventMoreTimeTaken        StepEventKind = "more-time-taken"
	EventCancelled            StepEventKind = "cancelled"
	EventOperationTimedOut    StepEventKind = "operation-timed-out"
	EventSessionEnded         StepEventKind = "session-ended"
	EventIdleTimedOut         StepEventKind = "idle-timed-out"
	EventCardRemoved          StepEventKind = "card-removed"
	EventPasscodeChangeFailed StepEventKind = "passcode-change-failed"
)

// StepEvent is one event of a session. It holds no personal data.
type StepEvent struct {
	At   time.Time
	Kind StepEventKind
	// Step is the screen the person was on.
	Step ScreenID
	// TriesLeft is set on refusals that count tries.
	TriesLeft int
	// Method is set on method-chosen.
	Method Method
	// Code is set when an error code applies.
	Code errcat.Code
}

// StepTiming is the time spent on one step (a screen, visited once).
type StepTiming struct {
	Step     ScreenID
	Start    time.Time
	Duration time.Duration
}

// UsageRecord describes one session for fleet statistics. It has no personal data at all: no name, UUID,
// card serial, email, phone number, code or passcode.
type UsageRecord struct {
	KioskID string
	Outcome Outcome
	// Reason is set when Outcome is OutcomeIneligible.
	Reason IneligibleReason
	// Method is the method last chosen ("" if none).
	Method Method
	// StepReached is the last step the person was on before the session ended.
	StepReached ScreenID
	// ErrorCode is the catalogue code shown, if any.
	ErrorCode errcat.Code
	StartedAt time.Time
	EndedAt   time.Time
	Duration  time.Duration
	Steps     []StepTiming
	Events    []StepEvent
}

// UsageRecorder takes usage records off the kiosk; the fleet link implements it and the runner hands it
// each RecordUsage effect. It must not block the UI: queue durably and return.
type UsageRecorder interface {
	RecordUsage(UsageRecord) error
}

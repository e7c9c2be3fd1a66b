package flow

import (
	"ssu-kiosk/kiosk/flow/texts"
	"ssu-kiosk/remote/identity/errcat"
)

// Effect is work for the runner. Effects that reach the card or the service carry Seq; the runner reports
// back with an event holding the same Seq. Secrets in effects are copies the runner owns and wipes.
type Effect interface {
	effect()
}

// ReadCard: read the card's status (certificates' expiry, passcode tries) and answer CardRead.
type ReadCard struct{ Seq uint64 }

// ProveCard: get a challenge from the identity service, have the card sign it, answer CardProved.
type ProveCard struct{ Seq uint64 }

// StartSession: start an identity session with the card's proof, answer SessionStarted.
type StartSession struct {
	Seq   uint64
	Proof Proof
}

// SendCode: ask the service to send a code to the address typed, written in Lang (the language the
// screens are shown in when it is sent), answer CodeSent.
type SendCode struct {
	Seq     uint64
	Method  Method
	Address Secret
	Lang    texts.Lang
}

// VerifyCode: check the security code typed, answer CodeChecked.
type VerifyCode struct {
	Seq  uint64
	Code Secret
}

// VerifyFace: run face verification, answer FaceChecked.
type VerifyFace struct{ Seq uint64 }

// UnblockCard: reset the card's passcode with the SOPIN (PIV PUK), answer CardUnblocked. Running it twice
// with the same SOPIN and passcode is harmless, which is how an unknown outcome is settled.
type UnblockCard struct {
	Seq    uint64
	SOPIN  Secret
	NewPIN Secret
}

// ChangePIN: change the card's passcode from Current to New, answer PINChanged.
type ChangePIN struct {
	Seq     uint64
	Current Secret
	New     Secret
}

// CancelOperation: the answer to Seq is no longer wanted; stop the work if it can still be stopped.
type CancelOperation struct{ Seq uint64 }

// CompleteSession: report how an identity session ended to the service (fire and forget).
type CompleteSession struct {
	Outcome Outcome
	Code    errcat.Code
}

// RecordUsage: hand the session's usage record to the fleet link. Emitted exactly once per session.
type RecordUsage struct{ Record UsageRecord }

// SetLED: show this pattern on the status LEDs.
type SetLED struct{ LED LED }

// Reboot: reboot now; no session is in progress.
type Reboot struct{}

func (ReadCard) effect()        {}
func (ProveCard) effect()       {}
func (StartSession) effect()    {}
func (SendCode) effect()        {}
func (VerifyCode) effect()      {}
func (VerifyFace) effect()      {}
func (UnblockCard) effect()     {}
func (ChangePIN) effect()       {}
func (CancelOperation) effect() {}
func (CompleteSession) effect() {}
func (RecordUsage) effect()     {}
func (SetLED) effect()          {}
func (Reboot) effect()          {}

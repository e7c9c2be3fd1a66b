package app

import (
	"context"

	"ssu-kiosk/hal/led"
	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/remote/identity"
)

// Card is what the runner needs of the smartcard in a reader. Every method holds the card exclusively
// for its duration. Errors carry an errcat code (ERR2001 unreadable, ERR2002 not PIV, ERR2003 removed,
// ERR2004 reader gone, ERR2005 smartcard service down).
type Card interface {
	// Read tells the card's certificates' expiry and its passcode's state.
	Read(ctx context.Context, reader string) (flow.CardStatus, error)
	// Prove reads the card's identity (the holder UUID from the subject attribute the challenge names)
	// and has its Card Authentication key sign the challenge's nonce.
	Prove(ctx context.Context, reader string, ch identity.Challenge) (identity.StartSessionRequest, error)
	// Unblock sets newPIN with the PUK (SOPIN). The result says whether the card was written.
	Unblock(ctx context.Context, reader string, puk, newPIN []byte) (flow.WriteResult, error)
	// ChangePIN changes the passcode. A refused current passcode gives wrongCurrent and the tries left.
	ChangePIN(ctx context.Context, reader string, current, newPIN []byte) (res flow.WriteResult, wrongCurrent bool, triesLeft int, err error)
}

// Identity is the identity service contract, as *identity.Client implements it.
type Identity interface {
	Challenge(ctx context.Context) (identity.Challenge, error)
	StartSession(ctx context.Context, req identity.StartSessionRequest) (identity.Session, error)
	SendCode(ctx context.Context, sessionID string, req identity.SendCodeRequest) (identity.SendCodeResult, error)
	VerifyCode(ctx context.Context, sessionID string, code identity.Secret) (identity.Release, error)
	Complete(ctx context.Context, sessionID string, req identity.CompleteRequest) error
}

// Lights are the status LEDs, as *led.Panel implements them.
type Lights interface {
	Show(led.Pattern) error
}

var _ Identity = (*identity.Client)(nil)
var _ Lights = (*led.Panel)(nil)

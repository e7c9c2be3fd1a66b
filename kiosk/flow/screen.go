package flow

import (
	"time"

	"ssu-kiosk/kiosk/flow/texts"

	"ssu-kiosk/remote/identity/errcat"
)

// ScreenID names a screen of the walk-through.
type ScreenID string

// The screens.
const (
	Welcome             ScreenID = "welcome"
	ReadingCard         ScreenID = "reading-card"
	CardExpired         ScreenID = "card-expired"
	CardUnreadable      ScreenID = "card-unreadable"
	CardNotSupported    ScreenID = "card-not-supported"
	StartNow            ScreenID = "start-now"
	CheckingEligibility ScreenID = "checking-eligibility"
	NotEligible         ScreenID = "not-eligible"
	ChooseMethod        ScreenID = "choose-method"
	EnterAddress        ScreenID = "enter-address"
	SendingCode         ScreenID = "sending-code"
	EnterCode           ScreenID = "enter-code"
	VerifyingCode       ScreenID = "verifying-code"
	FaceVerification    ScreenID = "face-verification"
	ChoosePasscode      ScreenID = "choose-passcode"
	Unlocking           ScreenID = "unlocking"
	Unlocked            ScreenID = "unlocked"
	ReinsertCard        ScreenID = "reinsert-card"
	ChangePasscode      ScreenID = "change-passcode"
	ChangingPasscode    ScreenID = "changing-passcode"
	PasscodeChanged     ScreenID = "passcode-changed"
	CardRemovedScreen   ScreenID = "card-removed"
	RemoveCard          ScreenID = "remove-card"
	ErrorScreen         ScreenID = "error"
	ServiceUnreachable  ScreenID = "service-unreachable"
	MoreTime            ScreenID = "more-time"
	OutOfService        ScreenID = "out-of-service"
)

// LED is a status LED pattern.
type LED string

// The patterns.
const (
	LEDIdle         LED = "idle"
	LEDBusy         LED = "busy"
	LEDSuccess      LED = "success"
	LEDError        LED = "error"
	LEDOutOfService LED = "out-of-service"
)

// FieldID names an input field.
type FieldID string

// The fields.
const (
	FieldAddress FieldID = "address"
	FieldCode    FieldID = "code"
	FieldCurrent FieldID = "current-passcode"
	FieldNew     FieldID = "new-passcode"
	FieldConfirm FieldID = "confirm-passcode"
)

// FieldKind says what a field holds, so the UI can pick a keypad.
type FieldKind string

// The kinds.
const (
	KindEmail    FieldKind = "email"
	KindMobile   FieldKind = "mobile"
	KindCode     FieldKind = "code"
	KindPasscode FieldKind = "passcode"
)

// Field is an input field. A masked field exposes only its length.
type Field struct {
	ID     FieldID
	Kind   FieldKind
	Label  string
	Masked bool
	// Length is the number of characters typed.
	Length int
	// MaxLength is the most characters the field takes.
	MaxLength int
	// Value is what was typed, for unmasked fields only (an email or mobile number being typed).
	Value string
	// Error explains what is wrong with the field, in plain words.
	Error string
}

// ButtonID names a button.
type ButtonID string

// The buttons.
const (
	ButtonStart          ButtonID = "start"
	ButtonChangePasscode ButtonID = "change-passcode"
	ButtonEmail          ButtonID = "email"
	ButtonSMS            ButtonID = "sms"
	ButtonFace           ButtonID = "face"
	ButtonContinue       ButtonID = "continue"
	ButtonBack           ButtonID = "back"
	ButtonResend         ButtonID = "resend"
	ButtonConfirm        ButtonID = "confirm"
	ButtonMoreTime       ButtonID = "more-time"
	ButtonCancel         ButtonID = "cancel"
	ButtonStartAgain     ButtonID = "start-again"
)

// Button is a button on a screen.
type Button struct {
	ID      ButtonID
	Label   string
	Primary bool
	Enabled bool
}

// ErrorInfo is what an error screen shows for support: the code, the kiosk and where to get help (the UI
// renders TroubleshootingURL as a QR code).
type ErrorInfo struct {
	Code               errcat.Code
	KioskID            string
	TroubleshootingURL string
}

// Screen is everything the UI draws. It never holds a secret.
type Screen struct {
	ID    ScreenID
	Title string
	Body  []string
	// Fields and Focus: Focus is the field typed characters go to ("" when none).
	Fields []Field
	Focus  FieldID
	// Buttons in display order.
	Buttons []Button
	// Busy asks for a spinner: the kiosk is waiting for the card or the service.
	Busy bool
	// Error is set on screens that explain a failure.
	Error *ErrorInfo
	LED   LED
	// Countdown is the time left on the "Do you need more time?" prompt.
	Countdown time.Duration
	// CodeTimeLeft is how long the security code stays valid (enter-code screen).
	CodeTimeLeft time.Duration
	// TriesLeft is the tries left for the security code or the current passcode (0 when not shown).
	TriesLeft int
	// Lang is the language the texts are in.
	Lang texts.Lang
}

// Button returns the button with id, if the screen has it.
func (s Screen) Button(id ButtonID) (Button, bool) {
	for _, b := range s.Buttons {
		if b.ID == id {
			return b, true
		}
	}
	return Button{}, false
}

// Field returns the field with id, if the screen has it.
func (s Screen) Field(id FieldID) (Field, bool) {
	for _, f := range s.Fields {
		if f.ID == id {
			return f, true
		}
	}
	return Field{}, false
}

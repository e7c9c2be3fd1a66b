package flow

import "time"

// Event is something that happened: the person, the card reader, the runner or the fleet says so.
// Every event carries the time it happened (the runner's clock), which is all the Machine knows of time.
type Event interface {
	Time() time.Time
}

// Tick is the clock: the runner sends one about every second so timeouts and countdowns advance.
type Tick struct{ At time.Time }

// CardInserted: a card is in the reader.
type CardInserted struct{ At time.Time }

// CardRemoved: the reader is empty.
type CardRemoved struct{ At time.Time }

// Typed is one character typed into the focused field (on-screen keypad or keyboard).
type Typed struct {
	At   time.Time
	Char rune
}

// Erased is backspace in the focused field.
type Erased struct{ At time.Time }

// Submitted is the Enter key: it moves to the next empty field or presses the screen's primary button.
type Submitted struct{ At time.Time }

// Focused moves the focus to a field (a touch on it).
type Focused struct {
	At    time.Time
	Field FieldID
}

// Pressed is a button press; a button that is not on the screen or not enabled is ignored.
type Pressed struct {
	At     time.Time
	Button ButtonID
}

// MaintenanceChanged turns maintenance mode on or off (from the configuration or the fleet). While a
// session is in progress it takes effect when the session ends.
type MaintenanceChanged struct {
	At      time.Time
	On      bool
	Message string
}

// RebootRequested asks for a reboot; it is deferred until no session is in progress (see Reboot).
type RebootRequested struct{ At time.Time }

// MethodsChanged replaces the methods this kiosk offers (from the fleet or a configuration reload).
// Unknown methods are ignored; an empty list offers none. It applies at once: the choice of methods is
// drawn from it on the next screen.
type MethodsChanged struct {
	At      time.Time
	Methods []Method
}

// CardStatus is what reading a card found out.
type CardStatus struct {
	// CertificatesNotAfter is when the first of the card's certificates expires.
	CertificatesNotAfter time.Time
	// PINBlocked is true when the passcode is locked (too many wrong tries).
	PINBlocked bool
	// PINTriesLeft is how many wrong passcodes the card still allows.
	PINTriesLeft int
	// Fingerprint tells cards apart (for example a hash of the CHUID); it is compared, never shown or recorded.
	Fingerprint string
}

// CardRead answers ReadCard. Err carries an errcat code: ERR2001 unreadable, ERR2002 not a PIV card,
// ERR2003 removed, ERR2004/ERR2005 reader or smartcard service broken.
type CardRead struct {
	At     time.Time
	Seq    uint64
	Status CardStatus
	Err    error
}

// CardProved answers ProveCard: the service's challenge signed by the card.
type CardProved struct {
	At    time.Time
	Seq   uint64
	Proof Proof
	Err   error
}

// IneligibleReason says why the identity service will not let this person unlock here.
type IneligibleReason string

// The reasons the identity service gives.
const (
	NoEmail               IneligibleReason = "no-email"
	EmailDomainNotAllowed IneligibleReason = "email-domain-not-allowed"
	CertificatesExpired   IneligibleReason = "certificates-expired"
	NotRegistered         IneligibleReason = "not-registered"
	CardNotGenuine        IneligibleReason = "card-not-genuine"
)

// MethodOffer is one method the service offers and whether it can be used now.
type MethodOffer struct {
	Method    Method
	Available bool
	// Note says, in plain words, why a method is unavailable (optional).
	Note string
}

// SessionStarted answers StartSession.
type SessionStarted struct {
	At       time.Time
	Seq      uint64
	Eligible bool
	Methods  []MethodOffer
	Reason   IneligibleReason
	// ExpiresAt is when the session (and so any code) stops being valid; zero means At + CodeValidity.
	ExpiresAt time.Time
	Err       error
}

// CodeSent answers SendCode. It says nothing about whether the address matched.
type CodeSent struct {
	At  time.Time
	Seq uint64
	// SendsLeft is how many more sends the service allows; RetryAfter is the wait before the next.
	SendsLeft  int
	RetryAfter time.Duration
	Err        error
}

// CodeChecked answers VerifyCode. On success SOPIN is handed over to the Machine, which wipes it.
type CodeChecked struct {
	At        time.Time
	Seq       uint64
	OK        bool
	SOPIN     Secret
	TriesLeft int
	Err       error
}

// FaceChecked answers VerifyFace, like CodeChecked.
type FaceChecked struct {
	At    time.Time
	Seq   uint64
	OK    bool
	SOPIN Secret
	Err   error
}

// WriteResult is the truthful outcome of writing to the card.
type WriteResult int

// A card write is done, not done, or unknown (the card was pulled or the reader failed mid-write).
const (
	WriteUnknown WriteResult = iota
	WriteDone
	WriteNotDone
)

// CardUnblocked answers UnblockCard.
type CardUnblocked struct {
	At     time.Time
	Seq    uint64
	Result WriteResult
	Err    error
}

// PINChanged answers ChangePIN. WrongCurrent says the current passcode was refused; TriesLeft is then
// what the card allows (0: now locked).
type PINChanged struct {
	At           time.Time
	Seq          uint64
	Result       WriteResult
	WrongCurrent bool
	TriesLeft    int
	Err          error
}

func (e Tick) Time() time.Time               { return e.At }
func (e CardInserted) Time() time.Time       { return e.At }
func (e CardRemoved) Time() time.Time        { return e.At }
func (e Typed) Time() time.Time              { return e.At }
func (e Erased) Time() time.Time             { return e.At }
func (e Submitted) Time() time.Time          { return e.At }
func (e Focused) Time() time.Time            { return e.At }
func (e Pressed) Time() time.Time            { return e.At }
func (e MaintenanceChanged) Time() time.Time { return e.At }
func (e RebootRequested) Time() time.Time    { return e.At }
func (e MethodsChanged) Time() time.Time     { return e.At }
func (e CardRead) Time() time.Time           { return e.At }
func (e CardProved) Time() time.Time         { return e.At }
func (e SessionStarted) Time() time.Time     { return e.At }
func (e CodeSent) Time() time.Time           { return e.At }
func (e CodeChecked) Time() time.Time        { return e.At }
func (e FaceChecked) Time() time.Time        { return e.At }
func (e CardUnblocked) Time() time.Time      { return e.At }
func (e PINChanged) Time() time.Time         { return e.At }

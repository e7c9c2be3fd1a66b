package flow

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Method is a way for a person to prove who they are.
type Method string

// The methods a kiosk knows about.
const (
	MethodEmail Method = "email"
	MethodSMS   Method = "sms"
	MethodFace  Method = "face"
)

// Defaults used for zero fields of Config.
const (
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMoreTimeCountdown = 30 * time.Second
	DefaultNoticeTime        = 15 * time.Second
	DefaultOperationTimeout  = 30 * time.Second
	DefaultUnlockTimeout     = 60 * time.Second
	DefaultCodeValidity      = 15 * time.Minute
	DefaultMaxCodeSends      = 3
	DefaultResendWait        = 30 * time.Second
	DefaultMaxCodeTries      = 5
	DefaultMaxUnlockAttempts = 3
	DefaultRAHelp            = "To find your Registration Authority (RA), ask your IT service desk or search your " +
		"organisation's intranet for \"Registration Authority\"."
	DefaultMaintenanceMessage = "Please use another kiosk."
)

// Config is what a kiosk's configuration (and its fleet) says about the walk-through.
type Config struct {
	// KioskID is shown on error screens so a help desk knows which kiosk it was.
	KioskID string
	// Methods are the methods this kiosk offers; nil means email and SMS. Face verification is offered only
	// when listed here and the identity service says it is available.
	Methods []Method
	// IdleTimeout is the inactivity before "Do you need more time?" (default 60 s).
	IdleTimeout time.Duration
	// MoreTimeCountdown is how long that prompt waits before the session is ended (default 30 s).
	MoreTimeCountdown time.Duration
	// NoticeTime is how long a closing message stays up once no card is in the reader (default 15 s).
	NoticeTime time.Duration
	// OperationTimeout bounds every card read and service call (default 30 s).
	OperationTimeout time.Duration
	// UnlockTimeout bounds writing the card: unblock or passcode change (default 60 s).
	UnlockTimeout time.Duration
	// CodeValidity is how long a security code is good from when the person started, when the service does
	// not say (default 15 minutes).
	CodeValidity time.Duration
	// MaxCodeSends is how many codes a session may send (default 3).
	MaxCodeSends int
	// ResendWait is the wait between sends when the service does not say (default 30 s).
	ResendWait time.Duration
	// MaxCodeTries is how many wrong codes end a session (default 5).
	MaxCodeTries int
	// MaxUnlockAttempts bounds how often a person is asked to reinsert the card after an unlock whose
	// outcome is unknown (default 3).
	MaxUnlockAttempts int
	// TroubleshootingURL opens from the QR code on error screens.
	TroubleshootingURL string
	// RAHelp says how to find a Registration Authority (default DefaultRAHelp).
	RAHelp string
	// Maintenance starts the kiosk out of service, showing MaintenanceMessage.
	Maintenance        bool
	MaintenanceMessage string
	// PasscodeBlocklist adds passcodes to the built-in list of common ones.
	PasscodeBlocklist []string
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Methods == nil {
		c.Methods = []Method{MethodEmail, MethodSMS}
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setDur(&c.IdleTimeout, DefaultIdleTimeout)
	setDur(&c.MoreTimeCountdown, DefaultMoreTimeCountdown)
	setDur(&c.NoticeTime, DefaultNoticeTime)
	setDur(&c.OperationTimeout, DefaultOperationTimeout)
	setDur(&c.UnlockTimeout, DefaultUnlockTimeout)
	setDur(&c.CodeValidity, DefaultCodeValidity)
	setDur(&c.ResendWait, DefaultResendWait)
	if c.MaxCodeSends == 0 {
		c.MaxCodeSends = DefaultMaxCodeSends
	}
	if c.MaxCodeTries == 0 {
		c.MaxCodeTries = DefaultMaxCodeTries
	}
	if c.MaxUnlockAttempts == 0 {
		c.MaxUnlockAttempts = DefaultMaxUnlockAttempts
	}
	if c.RAHelp == "" {
		c.RAHelp = DefaultRAHelp
	}
	if c.MaintenanceMessage == "" {
		c.MaintenanceMessage = DefaultMaintenanceMessage
	}
	return c
}

// Validate reports every problem with c (after defaults), joined.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.KioskID == "" {
		errs = append(errs, errors.New("kiosk id is empty"))
	}
	if u, err := url.Parse(c.TroubleshootingURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("troubleshooting url %q is not an http(s) address", c.TroubleshootingURL))
	}
	for _, m := range c.Methods {
		if m != MethodEmail && m != MethodSMS && m != MethodFace {
			errs = append(errs, fmt.Errorf("unknown method %q", m))
		}
	}
	for name, d := range map[string]time.Duration{
		"idle timeout": c.IdleTimeout, "more-time countdown": c.MoreTimeCountdown, "notice time": c.NoticeTime,
		"operation timeout": c.OperationTimeout, "unlock timeout": c.UnlockTimeout,
		"code validity": c.CodeValidity, "resend wait": c.ResendWait,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", name, d))
		}
	}
	for name, n := range map[string]int{
		"max code sends": c.MaxCodeSends, "max code tries": c.MaxCodeTries, "max unlock attempts": c.MaxUnlockAttempts,
	} {
		if n < 0 {
			errs = append(errs, fmt.Errorf("%s %d is negative", name, n))
		}
	}
	for i, p := range c.PasscodeBlocklist {
		if !allDigits([]byte(p)) || len(p) < MinPasscodeDigits || len(p) > MaxPasscodeDigits {
			errs = append(errs, fmt.Errorf("passcode blocklist entry %d is not 6-8 digits", i+1))
		}
	}
	return errors.Join(errs...)
}

func (c Config) methodEnabled(m Method) bool {
	for _, x := range c.Methods {
		if x == m {
			return true
		}
	}
	return false
}

package flow

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"ssu-kiosk/remote/identity/errcat"
)

// Words people read. Quoted texts of the service guide are used as they are.
const (
	textInsertCard         = "Insert your smartcard"
	textRemoveCard         = "Remove your card."
	textUnlockingTitle     = "Unlocking: keep your card in the reader"
	textUnlockedBody       = "You can now use your smartcard with your new passcode. Remove your card."
	textMoreTimeTitle      = "Do you need more time?"
	textCodeResent         = "We have sent you a new security code. Use the newest code."
	textFaceRefused        = "Face verification could not confirm who you are. Choose another way to get a security code."
	textCurrentLength      = "Your current passcode is 6 to 8 digits long."
	textReinsertUnreadable = "Your smartcard could not be read. Take it out and insert it again."
	textReinsertOtherCard  = "This is not the smartcard you were unlocking. Take it out and insert that smartcard."
	textFaceUnavailable    = "Face verification is currently unavailable."
	textPasscodeRules      = "Your passcode must be 6 to 8 digits. Do not use a passcode that is easy to guess, such as 123456."
)

func textWrongCode(left int) string {
	return fmt.Sprintf("The security code is not correct. You have %s left.", plural(left, "try", "tries"))
}

func textWrongCurrent(left int) string {
	msg := fmt.Sprintf("The current passcode is not correct. You have %s left.", plural(left, "try", "tries"))
	if left == 1 {
		msg += " " + textLastTry
	}
	return msg
}

const textLastTry = "If you enter it wrongly once more, your smartcard will be locked."

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func minutesLeft(d time.Duration) string {
	if d < time.Minute {
		return "less than a minute"
	}
	return plural(int((d+time.Minute-1)/time.Minute), "minute", "minutes")
}

// checkAddress returns what is wrong with an email address or mobile number, in plain words ("" if nothing).
func checkAddress(m Method, b []byte) string {
	if m == MethodSMS {
		digits := 0
		for i, c := range b {
			switch {
			case c >= '0' && c <= '9':
				digits++
			case c == '+' && i == 0, c == ' ':
			default:
				return "Enter a mobile phone number using numbers only, like 07700 900123."
			}
		}
		if digits < 10 || digits > 15 {
			return "Enter a mobile phone number, like 07700 900123."
		}
		return ""
	}
	at := -1
	for i, c := range b {
		if c == '@' {
			if at >= 0 {
				return "Enter an email address in the right format, like name@nhs.net."
			}
			at = i
		}
	}
	if at <= 0 || at == len(b)-1 {
		return "Enter an email address in the right format, like name@nhs.net."
	}
	domain := b[at+1:]
	dot := bytes.LastIndexByte(domain, '.')
	if dot <= 0 || dot == len(domain)-1 {
		return "Enter an email address in the right format, like name@nhs.net."
	}
	return ""
}

func (m *Machine) errorInfo(code errcat.Code) *ErrorInfo {
	if code == "" {
		return nil
	}
	return &ErrorInfo{Code: code, KioskID: m.cfg.KioskID, TroubleshootingURL: m.cfg.TroubleshootingURL}
}

func cancelButton() Button { return Button{ID: ButtonCancel, Label: "Cancel", Enabled: true} }

// methodAvailable reports whether method can be used now: this kiosk offers it and the service says so.
func (m *Machine) methodAvailable(method Method) (bool, string) {
	if !m.cfg.methodEnabled(method) {
		return false, ""
	}
	for _, o := range m.sess.offers {
		if o.Method == method {
			return o.Available, o.Note
		}
	}
	return false, ""
}

// Screen returns the model of what the UI should draw now. It holds no secret.
func (m *Machine) Screen() Screen {
	sc := Screen{ID: m.state, LED: LEDIdle}
	s := m.sess
	switch m.state {
	case Welcome:
		sc.Title = textInsertCard
		sc.Body = []string{"Unlock your smartcard or change its passcode here.",
			"Put your smartcard in the reader, chip end first."}
	case OutOfService:
		sc.LED = LEDOutOfService
		sc.Title = "This kiosk is out of service"
		sc.Body = []string{m.maintenanceMsg}
	case ReadingCard:
		sc.LED, sc.Busy = LEDBusy, true
		sc.Title = "Reading your smartcard"
		sc.Body = []string{"Keep your card in the reader."}
		sc.Buttons = []Button{cancelButton()}
	case StartNow:
		sc.LED = LEDBusy
		if s.card.PINBlocked {
			sc.Title = "Unlock your smartcard"
			sc.Body = []string{"Your smartcard is locked."}
			if s.lockedByChange {
				sc.Body = []string{"Your smartcard is now locked because the current passcode was entered wrongly too many times.",
					"You can unlock it here."}
			}
			sc.Buttons = []Button{{ID: ButtonStart, Label: "Start now", Primary: true, Enabled: true}}
		} else {
			sc.Title = "Your smartcard is not locked"
			sc.Body = []string{"If you know your passcode, you can change it.",
				"If you have forgotten it, select Start now to choose a new one."}
			sc.Buttons = []Button{
				{ID: ButtonStart, Label: "Start now", Primary: true, Enabled: true},
				{ID: ButtonChangePasscode, Label: "Change my passcode", Enabled: true},
			}
		}
		sc.Body = append(sc.Body,
			"To unlock it, you will need a security code sent to the email address or mobile phone on your profile.",
			fmt.Sprintf("The security code is valid for %s from when you start.", minutesLeft(m.cfg.CodeValidity)))
		sc.Buttons = append(sc.Buttons, cancelButton())
	case CheckingEligibility:
		sc.LED, sc.Busy = LEDBusy, true
		sc.Title = "Checking your details"
		sc.Body = []string{"Keep your card in the reader."}
		sc.Buttons = []Button{cancelButton()}
	case ChooseMethod:
		sc.LED = LEDBusy
		sc.Title = "How do you want to confirm it is you?"
		for _, b := range []struct {
			id     ButtonID
			method Method
			label  string
			off    string
		}{
			{ButtonEmail, MethodEmail, "Email security code", "Email security code is currently unavailable."},
			{ButtonSMS, MethodSMS, "Mobile phone security code", "Mobile phone security code is currently unavailable."},
			{ButtonFace, MethodFace, "Face verification", textFaceUnavailable},
		} {
			ok, note := m.methodAvailable(b.method)
			sc.Buttons = append(sc.Buttons, Button{ID: b.id, Label: b.label, Enabled: ok})
			if !ok {
				if note == "" {
					note = b.off
				}
				sc.Body = append(sc.Body, note)
			}
		}
		sc.Buttons = append(sc.Buttons, cancelButton())
	case EnterAddress:
		sc.LED = LEDBusy
		f := Field{ID: FieldAddress, Value: string(s.address.bytes()), Length: s.address.len()}
		if s.method == MethodSMS {
			sc.Title = "Enter your mobile phone number"
			sc.Body = []string{"Enter the mobile phone number on your profile. If it matches, we will send a security code to it."}
			f.Kind, f.Label, f.MaxLength = KindMobile, "Mobile phone number", maxMobileLen
		} else {
			sc.Title = "Enter your email address"
			sc.Body = []string{"Enter the email address on your profile. If it matches, we will send a security code to it."}
			f.Kind, f.Label, f.MaxLength = KindEmail, "Email address", maxAddressLen
		}
		sc.Fields = []Field{f}
		sc.Buttons = []Button{
			{ID: ButtonContinue, Label: "Continue", Primary: true, Enabled: s.address.len() > 0},
			{ID: ButtonBack, Label: "Back", Enabled: true},
			cancelButton(),
		}
	case SendingCode:
		sc.LED, sc.Busy = LEDBusy, true
		sc.Title = "Sending your security code"
		sc.Buttons = []Button{cancelButton()}
	case EnterCode:
		sc.LED = LEDBusy
		sc.Title = "Enter the security code"
		where := "email address"
		if s.method == MethodSMS {
			where = "mobile phone number"
		}
		sc.CodeTimeLeft = max(s.expires.Sub(m.now), 0)
		sc.TriesLeft = s.codeTriesLeft
		sc.Body = []string{
			fmt.Sprintf("If the %s you entered matches the one on your profile, we have sent a 6-digit security code to it.", where),
			fmt.Sprintf("The code is valid for %s more. You have %s.", minutesLeft(sc.CodeTimeLeft), plural(s.codeTriesLeft, "try", "tries")),
		}
		resend := Button{ID: ButtonResend, Label: "Resend code", Enabled: s.sendsLeft > 0 && !m.now.Before(s.nextSend)}
		switch {
		case s.sendsLeft <= 0:
			sc.Body = append(sc.Body, "No more codes can be sent in this session.")
		case m.now.Before(s.nextSend):
			resend.Label = fmt.Sprintf("Resend code (in %d s)", int((s.nextSend.Sub(m.now)+time.Second-1)/time.Second))
		}
		sc.Fields = []Field{{ID: FieldCode, Kind: KindCode, Label: "Security code", Masked: true,
			Length: s.code.len(), MaxLength: CodeDigits}}
		sc.Buttons = []Button{
			{ID: ButtonContinue, Label: "Continue", Primary: true, Enabled: s.code.len() == CodeDigits},
			resend,
			cancelButton(),
		}
	case VerifyingCode:
		sc.LED, sc.Busy = LEDBusy, true
		sc.Title = "Checking your security code"
		sc.Buttons = []Button{cancelButton()}
	case FaceVerification:
		sc.LED, sc.Busy = LEDBusy, true
		sc.Title = "Face verification"
		sc.Body = []string{"Follow the instructions on the camera screen."}
		sc.Buttons = []Button{cancelButton()}
	case ChoosePasscode:
		sc.LED = LEDBusy
		sc.Title = "Choose a new passcode"
		sc.Body = []string{textPasscodeRules}
		sc.Fields = []Field{
			passcodeField(FieldNew, "New passcode", s.newPIN),
			passcodeField(FieldConfirm, "Enter the new passcode again", s.confirm),
		}
		sc.Buttons = []Button{
			{ID: ButtonConfirm, Label: "Confirm", Primary: true, Enabled: s.newPIN.len() > 0 && s.confirm.len() > 0},
			cancelButton(),
		}
	case Unlocking:
		sc.LED, sc.Busy = LEDBusy, true
		sc.Title = textUnlockingTitle
	case Unlocked:
		sc.LED = LEDSuccess
		sc.Title = "Your smartcard is unlocked"
		sc.Body = []string{textUnlockedBody}
	case ReinsertCard:
		sc.LED = LEDError
		e := errcat.MustLookup(errcat.ERR2007)
		sc.Title = "Insert your smartcard again"
		sc.Body = []string{e.Title + ".", "Take your smartcard out if it is still in the reader, then insert it again. " +
			"The kiosk will check it and finish unlocking it."}
		sc.Error = m.errorInfo(errcat.ERR2007)
		sc.Buttons = []Button{cancelButton()}
	case ChangePasscode:
		sc.LED = LEDBusy
		sc.Title = "Change your passcode"
		sc.TriesLeft = s.pinTriesLeft
		sc.Body = []string{textPasscodeRules}
		if s.pinTriesLeft > 0 {
			sc.Body = append(sc.Body, fmt.Sprintf("You have %s left to enter your current passcode.", plural(s.pinTriesLeft, "try", "tries")))
			if s.pinTriesLeft == 1 {
				sc.Body = append(sc.Body, textLastTry)
			}
		}
		sc.Fields = []Field{
			passcodeField(FieldCurrent, "Current passcode", s.current),
			passcodeField(FieldNew, "New passcode", s.newPIN),
			passcodeField(FieldConfirm, "Enter the new passcode again", s.confirm),
		}
		sc.Buttons = []Button{
			{ID: ButtonConfirm, Label: "Confirm", Primary: true,
				Enabled: s.current.len() > 0 && s.newPIN.len() > 0 && s.confirm.len() > 0},
			cancelButton(),
		}
	case ChangingPasscode:
		sc.LED, sc.Busy = LEDBusy, true
		sc.Title = "Changing your passcode: keep your card in the reader"
	case PasscodeChanged:
		sc.LED = LEDSuccess
		sc.Title = "Your passcode has been changed"
		sc.Body = []string{textUnlockedBody}
	case RemoveCard:
		sc.Title = "Your session has ended"
		if s.outcome == OutcomeTimedOut {
			sc.Title = "Your session has timed out"
			sc.Body = []string{"Everything you typed has been cleared."}
		}
		sc.Body = append(sc.Body, textRemoveCard)
		sc.Buttons = []Button{{ID: ButtonStartAgain, Label: "Start again", Enabled: m.cardPresent}}
	case MoreTime:
		sc.LED = LEDBusy
		sc.Countdown = max(m.moreTime.until.Sub(m.now), 0)
		sc.Title = textMoreTimeTitle
		secs := int((sc.Countdown + time.Second - 1) / time.Second)
		sc.Body = []string{fmt.Sprintf("For your security, this session will end in %s and everything you typed will be cleared.",
			plural(secs, "second", "seconds"))}
		sc.Buttons = []Button{{ID: ButtonMoreTime, Label: "Yes, I need more time", Primary: true, Enabled: true}}
	case CardExpired, CardUnreadable, CardNotSupported, NotEligible, CardRemovedScreen, ErrorScreen, ServiceUnreachable:
		sc.LED = LEDError
		e, ok := errcat.Lookup(s.errCode)
		if !ok {
			e = errcat.MustLookup(codeGeneric)
		}
		sc.Title = e.Title
		sc.Body = []string{e.Advice}
		if mentionsRA(e.Advice) {
			sc.Body = append(sc.Body, m.cfg.RAHelp)
		}
		if m.cardPresent {
			sc.Body = append(sc.Body, textRemoveCard)
		}
		sc.Error = m.errorInfo(e.Code)
		if m.state == ServiceUnreachable {
			sc.Buttons = []Button{{ID: ButtonStartAgain, Label: "Try again", Enabled: m.cardPresent}}
		}
	}
	if s != nil && !s.finished {
		sc.Body = append(sc.Body, s.notice...)
		sc.Focus = s.focus
		for i := range sc.Fields {
			sc.Fields[i].Error = s.fieldErr[sc.Fields[i].ID]
		}
	}
	return sc
}

func mentionsRA(s string) bool { return strings.Contains(s, "Registration Authority") }

func passcodeField(id FieldID, label string, b *buffer) Field {
	return Field{ID: id, Kind: KindPasscode, Label: label, Masked: true, Length: b.len(), MaxLength: MaxPasscodeDigits}
}

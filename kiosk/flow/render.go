package flow

import (
	"bytes"
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

func textWrongCode(left int) Text {
	return Text{Key: "The security code is not correct. You have %s left.", Args: []any{Text{Key: "%d tries", Args: []any{left}}}}
}

func textWrongCurrent(left int) Text {
	if left == 1 {
		return Text{Key: "The current passcode is not correct. You have %s left. " + textLastTry, Args: []any{Text{Key: "%d tries", Args: []any{left}}}}
	}
	return Text{Key: "The current passcode is not correct. You have %s left.", Args: []any{Text{Key: "%d tries", Args: []any{left}}}}
}

const textLastTry = "If you enter it wrongly once more, your smartcard will be locked."

func (m *Machine) minutesLeft(d time.Duration) string {
	if d < time.Minute {
		return m.t("less than a minute")
	}
	return m.t("%d minutes", int((d+time.Minute-1)/time.Minute))
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
	return &ErrorInfo{Code: code, KioskID: m.cfg.KioskID, TroubleshootingURL: m.helpURL()}
}

func (m *Machine) cancelButton() Button {
	return Button{ID: ButtonCancel, Label: m.t("Cancel"), Enabled: true}
}

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
	sc := Screen{ID: m.state, LED: LEDIdle, Lang: m.Language()}
	s := m.sess
	switch m.state {
	case Welcome:
		sc.Title = m.t(textInsertCard)
		sc.Body = []string{m.t("Unlock your smartcard or change its passcode here."),
			m.t("Put your smartcard in the reader, chip end first.")}
	case OutOfService:
		sc.LED = LEDOutOfService
		sc.Title = m.t("This kiosk is out of service")
		sc.Body = []string{m.tIfKnown(m.maintenanceMsg)}
	case ReadingCard:
		sc.LED, sc.Busy = LEDBusy, true
		sc.Title = m.t("Reading your smartcard")
		sc.Body = []string{m.t("Keep your card in the reader.")}
		sc.Buttons = []Button{m.cancelButton()}
	case StartNow:
		sc.LED = LEDBusy
		if s.card.PINBlocked {
			sc.Title = m.t("Unlock your smartcard")
			sc.Body = []string{m.t("Your smartcard is locked.")}
			if s.lockedByChange {
				sc.Body = []string{m.t("Your smartcard is now locked because the current passcode was entered wrongly too many times."),
					m.t("You can unlock it here.")}
			}
			sc.Buttons = []Button{{ID: ButtonStart, Label: m.t("Start now"), Primary: true, Enabled: true}}
		} else {
			sc.Title = m.t("Your smartcard is not locked")
			sc.Body = []string{m.t("If you know your passcode, you can change it."),
				m.t("If you have forgotten it, select Start now to choose a new one.")}
			sc.Buttons = []Button{
				{ID: ButtonStart, Label: m.t("Start now"), Primary: true, Enabled: true},
				{ID: ButtonChangePasscode, Label: m.t("Change my passcode"), Enabled: true},
			}
		}
		sc.Body = append(sc.Body,
			m.t("To unlock it, you will need a security code sent to the email address or mobile phone on your profile."),
			m.t("The security code is valid for %s from when you start.", m.minutesLeft(m.cfg.CodeValidity)))
		sc.Buttons = append(sc.Buttons, m.cancelButton())
	case CheckingEligibility:
		sc.LED, sc.Busy = LEDBusy, true
		sc.Title = m.t("Checking your details")
		sc.Body = []string{m.t("Keep your card in the reader.")}
		sc.Buttons = []Button{m.cancelButton()}
	case ChooseMethod:
		sc.LED = LEDBusy
		sc.Title = m.t("How do you want to confirm it is you?")
		for _, b := range []struct {
			id     ButtonID
			method Method
			label  string
			off    string
		}{
			{ButtonEmail, MethodEmail, m.t("Email security code"), m.t("Email security code is currently unavailable.")},
			{ButtonSMS, MethodSMS, m.t("Mobile phone security code"), m.t("Mobile phone security code is currently unavailable.")},
			{ButtonFace, MethodFace, m.t("Face verification"), m.t(textFaceUnavailable)},
		} {
			ok, note := m.methodAvailable(b.method)
			sc.Buttons = append(sc.Buttons, Button{ID: b.id, Label: b.label, Enabled: ok})
			if !ok {
				if note == "" {
					note = b.off
				} else {
					note = m.tIfKnown(note)
				}
				sc.Body = append(sc.Body, note)
			}
		}
		sc.Buttons = append(sc.Buttons, m.cancelButton())
	case EnterAddress:
		sc.LED = LEDBusy
		f := Field{ID: FieldAddress, Value: string(s.address.bytes()), Length: s.address.len()}
		if s.method == MethodSMS {
			sc.Title = m.t("Enter your mobile phone number")
			sc.Body = []string{m.t("Enter the mobile phone number on your profile. If it matches, we will send a security code to it.")}
			f.Kind, f.Label, f.MaxLength = KindMobile, m.t("Mobile phone number"), maxMobileLen
		} else {
			sc.Title = m.t("Enter your email address")
			sc.Body = []string{m.t("Enter the email address on your profile. If it matches, we will send a security code to it.")}
			f.Kind, f.Label, f.MaxLength = KindEmail, m.t("Email address"), maxAddressLen
		}
		sc.Fields = []Field{f}
		sc.Buttons = []Button{
			{ID: ButtonContinue, Label: m.t("Continue"), Primary: true, Enabled: s.address.len() > 0},
			{ID: ButtonBack, Label: m.t("Back"), Enabled: true},
			m.cancelButton(),
		}
	case SendingCode:
		sc.LED, sc.Busy = LEDBusy, true
		sc.Title = m.t("Sending your security code")
		sc.Buttons = []Button{m.cancelButton()}
	case EnterCode:
		sc.LED = LEDBusy
		sc.Title = m.t("Enter the security code")
		sent := m.t("If the email address you entered matches the one on your profile, we have sent a 6-digit security code to it.")
		if s.method == MethodSMS {
			sent = m.t("If the mobile phone number you entered matches the one on your profile, we have sent a 6-digit security code to it.")
		}
		sc.CodeTimeLeft = max(s.expires.Sub(m.now), 0)
		sc.TriesLeft = s.codeTriesLeft
		sc.Body = []string{
			sent,
			m.t("The code is valid for %s more. You have %s.", m.minutesLeft(sc.CodeTimeLeft), m.t("%d tries", s.codeTriesLeft)),
		}
		resend := Button{ID: ButtonResend, Label: m.t("Resend code"), Enabled: s.sendsLeft > 0 && !m.now.Before(s.nextSend)}
		switch {
		case s.sendsLeft <= 0:
			sc.Body = append(sc.Body, m.t("No more codes can be sent in this session."))
		case m.now.Before(s.nextSend):
			resend.Label = m.t("Resend code (in %d s)", int((s.nextSend.Sub(m.now)+time.Second-1)/time.Second))
		}
		sc.Fields = []Field{{ID: FieldCode, Kind: KindCode, Label: m.t("Security code"), Masked: true,
			Length: s.code.len(), MaxLength: CodeDigits}}
		sc.Buttons = []Button{
			{ID: ButtonContinue, Label: m.t("Continue"), Primary: true, Enabled: s.code.len() == CodeDigits},
			resend,
			m.cancelButton(),
		}
	case VerifyingCode:
		sc.LED, sc.Busy = LEDBusy, true
		sc.Title = m.t("Checking your security code")
		sc.Buttons = []Button{m.cancelButton()}
	case FaceVerification:
		sc.LED, sc.Busy = LEDBusy, true
		sc.Title = m.t("Face verification")
		sc.Body = []string{m.t("Follow the instructions on the camera screen.")}
		sc.Buttons = []Button{m.cancelButton()}
	case ChoosePasscode:
		sc.LED = LEDBusy
		sc.Title = m.t("Choose a new passcode")
		sc.Body = []string{m.t(textPasscodeRules)}
		sc.Fields = []Field{
			passcodeField(FieldNew, m.t("New passcode"), s.newPIN),
			passcodeField(FieldConfirm, m.t("Enter the new passcode again"), s.confirm),
		}
		sc.Buttons = []Button{
			{ID: ButtonConfirm, Label: m.t("Confirm"), Primary: true, Enabled: s.newPIN.len() > 0 && s.confirm.len() > 0},
			m.cancelButton(),
		}
	case Unlocking:
		sc.LED, sc.Busy = LEDBusy, true
		sc.Title = m.t(textUnlockingTitle)
	case Unlocked:
		sc.LED = LEDSuccess
		sc.Title = m.t("Your smartcard is unlocked")
		sc.Body = []string{m.t(textUnlockedBody)}
	case ReinsertCard:
		sc.LED = LEDError
		e := errcat.MustLookup(errcat.ERR2007)
		sc.Title = m.t("Insert your smartcard again")
		sc.Body = []string{m.t(e.Title) + ".", m.t("Take your smartcard out if it is still in the reader, then insert it again. " +
			"The kiosk will check it and finish unlocking it.")}
		sc.Error = m.errorInfo(errcat.ERR2007)
		sc.Buttons = []Button{m.cancelButton()}
	case ChangePasscode:
		sc.LED = LEDBusy
		sc.Title = m.t("Change your passcode")
		sc.TriesLeft = s.pinTriesLeft
		sc.Body = []string{m.t(textPasscodeRules)}
		if s.pinTriesLeft > 0 {
			sc.Body = append(sc.Body, m.t("You have %s left to enter your current passcode.", m.t("%d tries", s.pinTriesLeft)))
			if s.pinTriesLeft == 1 {
				sc.Body = append(sc.Body, m.t(textLastTry))
			}
		}
		sc.Fields = []Field{
			passcodeField(FieldCurrent, m.t("Current passcode"), s.current),
			passcodeField(FieldNew, m.t("New passcode"), s.newPIN),
			passcodeField(FieldConfirm, m.t("Enter the new passcode again"), s.confirm),
		}
		sc.Buttons = []Button{
			{ID: ButtonConfirm, Label: m.t("Confirm"), Primary: true,
				Enabled: s.current.len() > 0 && s.newPIN.len() > 0 && s.confirm.len() > 0},
			m.cancelButton(),
		}
	case ChangingPasscode:
		sc.LED, sc.Busy = LEDBusy, true
		sc.Title = m.t("Changing your passcode: keep your card in the reader")
	case PasscodeChanged:
		sc.LED = LEDSuccess
		sc.Title = m.t("Your passcode has been changed")
		sc.Body = []string{m.t(textUnlockedBody)}
	case RemoveCard:
		sc.Title = m.t("Your session has ended")
		if s.outcome == OutcomeTimedOut {
			sc.Title = m.t("Your session has timed out")
			sc.Body = []string{m.t("Everything you typed has been cleared.")}
		}
		sc.Body = append(sc.Body, m.t(textRemoveCard))
		sc.Buttons = []Button{{ID: ButtonStartAgain, Label: m.t("Start again"), Enabled: m.cardPresent}}
	case MoreTime:
		sc.LED = LEDBusy
		sc.Countdown = max(m.moreTime.until.Sub(m.now), 0)
		sc.Title = m.t(textMoreTimeTitle)
		secs := int((sc.Countdown + time.Second - 1) / time.Second)
		sc.Body = []string{m.t("For your security, this session will end in %s and everything you typed will be cleared.",
			m.t("%d seconds", secs))}
		sc.Buttons = []Button{{ID: ButtonMoreTime, Label: m.t("Yes, I need more time"), Primary: true, Enabled: true}}
	case CardExpired, CardUnreadable, CardNotSupported, NotEligible, CardRemovedScreen, ErrorScreen, ServiceUnreachable:
		sc.LED = LEDError
		e, ok := errcat.Lookup(s.errCode)
		if !ok {
			e = errcat.MustLookup(codeGeneric)
		}
		sc.Title = m.t(e.Title)
		sc.Body = []string{m.t(e.Advice)}
		if mentionsRA(e.Advice) {
			sc.Body = append(sc.Body, m.tIfKnown(m.cfg.RAHelp))
		}
		if m.cardPresent {
			sc.Body = append(sc.Body, m.t(textRemoveCard))
		}
		sc.Error = m.errorInfo(e.Code)
		if m.state == ServiceUnreachable {
			sc.Buttons = []Button{{ID: ButtonStartAgain, Label: m.t("Try again"), Enabled: m.cardPresent}}
		}
	}
	if s != nil && !s.finished {
		for _, n := range s.notice {
			sc.Body = append(sc.Body, m.say(n))
		}
		sc.Focus = s.focus
		for i := range sc.Fields {
			if e, ok := s.fieldErr[sc.Fields[i].ID]; ok {
				sc.Fields[i].Error = m.say(e)
			}
		}
	}
	return sc
}

func mentionsRA(s string) bool { return strings.Contains(s, "Registration Authority") }

func passcodeField(id FieldID, label string, b *buffer) Field {
	return Field{ID: id, Kind: KindPasscode, Label: label, Masked: true, Length: b.len(), MaxLength: MaxPasscodeDigits}
}

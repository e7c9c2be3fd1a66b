package flow

import (
	"fmt"
	"time"

	"ssu-kiosk/kiosk/flow/texts"
	"ssu-kiosk/remote/identity/errcat"
)

// Kiosk-side codes this package uses beyond the card and service ones.
const (
	codeGeneric       = errcat.ERR2009
	codeChangeFailed  = errcat.ERR2010
	codeChangeUnknown = errcat.ERR2011
)

type opKind int

const (
	opNone opKind = iota
	opRead
	opProve
	opStart
	opSend
	opVerify
	opFace
	opUnblock
	opChange
)

// pending is the one card or service call the Machine is waiting for.
type pending struct {
	seq      uint64
	op       opKind
	deadline time.Time
}

// Machine is the kiosk's walk-through. It is not safe for concurrent use: drive it from one goroutine.
type Machine struct {
	cfg    Config
	policy PasscodePolicy

	now   time.Time
	state ScreenID
	seq   uint64
	pend  pending
	led   LED

	cardPresent  bool
	lastActivity time.Time
	// noticeSince is when a closing screen with no card in the reader began to count down to welcome.
	noticeSince time.Time
	moreTime    struct {
		prev  ScreenID
		until time.Time
	}

	maintenance    bool
	maintenanceMsg string
	rebootPending  bool

	sess *session
	out  []Effect

	// lang is the language chosen for this session ("" is English); printers format the catalogue in it.
	lang     texts.Lang
	printers map[texts.Lang]*texts.Printer
}

// session is everything about one person's visit; its secrets are wiped by finish.
type session struct {
	started time.Time
	card    CardStatus
	proof   Proof
	// live is true while an eligible identity session is open at the service.
	live    bool
	expires time.Time
	offers  []MethodOffer
	method  Method

	address, code, current, newPIN, confirm *buffer
	sopin                                   Secret

	sends          int
	sendsLeft      int
	nextSend       time.Time
	codeSentOnce   bool
	codeTriesLeft  int
	pinTriesLeft   int
	unlockAttempts int
	reinserting    bool
	lockedByChange bool

	notice   []Text
	fieldErr map[FieldID]Text
	focus    FieldID

	finished bool
	outcome  Outcome
	reason   IneligibleReason
	errCode  errcat.Code

	stepStart   time.Time
	stepReached ScreenID
	steps       []StepTiming
	events      []StepEvent
}

// New returns a Machine showing the welcome (or out-of-service) screen. now is the runner's clock.
func New(cfg Config, now time.Time) (*Machine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("flow config: %w", err)
	}
	cfg = cfg.withDefaults()
	m := &Machine{
		cfg:            cfg,
		policy:         NewPasscodePolicy(cfg.PasscodeBlocklist),
		now:            now,
		maintenance:    cfg.Maintenance,
		maintenanceMsg: cfg.MaintenanceMessage,
	}
	m.state = m.idleScreen()
	m.led = m.Screen().LED
	return m, nil
}

// Busy reports whether a session is in progress (or its closing message is still up): a reboot or
// maintenance mode waits until it is false.
func (m *Machine) Busy() bool { return m.state != Welcome && m.state != OutOfService }

// State is the current screen's id (cheaper than Screen).
func (m *Machine) State() ScreenID { return m.state }

// Handle applies one event and returns the effects for the runner to carry out, in order.
func (m *Machine) Handle(ev Event) []Effect {
	m.out = nil
	if t := ev.Time(); t.After(m.now) {
		m.now = t
	}
	m.checkTimers()
	switch e := ev.(type) {
	case Tick:
	case CardInserted:
		m.onCardInserted()
	case CardRemoved:
		m.onCardRemoved()
	case Typed:
		m.lastActivity = m.now
		m.onTyped(e.Char)
	case Erased:
		m.lastActivity = m.now
		m.onErased()
	case Submitted:
		m.lastActivity = m.now
		m.onSubmitted()
	case Focused:
		m.lastActivity = m.now
		m.onFocused(e.Field)
	case Pressed:
		m.lastActivity = m.now
		m.onPressed(e.Button)
	case MaintenanceChanged:
		m.onMaintenance(e)
	case RebootRequested:
		m.rebootPending = true
		m.rebootIfIdle()
	case MethodsChanged:
		m.onMethodsChanged(e)
	case LanguageChosen:
		m.lastActivity = m.now
		m.onLanguageChosen(e)
	case CardRead:
		m.onCardRead(e)
	case CardProved:
		m.onCardProved(e)
	case SessionStarted:
		m.onSessionStarted(e)
	case CodeSent:
		m.onCodeSent(e)
	case CodeChecked:
		m.onCodeChecked(e)
	case FaceChecked:
		m.onFaceChecked(e)
	case CardUnblocked:
		m.onCardUnblocked(e)
	case PINChanged:
		m.onPINChanged(e)
	}
	if led := m.Screen().LED; led != m.led {
		m.led = led
		m.emit(SetLED{LED: led})
	}
	out := m.out
	m.out = nil
	return out
}

func (m *Machine) emit(e Effect) { m.out = append(m.out, e) }

// ---- states and sessions ----

func (m *Machine) idleScreen() ScreenID {
	if m.maintenance {
		return OutOfService
	}
	return Welcome
}

// interactive screens wait for the person, so inactivity there brings the more-time prompt.
func interactive(s ScreenID) bool {
	switch s {
	case StartNow, ChooseMethod, EnterAddress, EnterCode, ChoosePasscode, ChangePasscode, ReinsertCard:
		return true
	}
	return false
}

// closing screens come after a session has finished.
func closing(s ScreenID) bool {
	switch s {
	case CardExpired, CardUnreadable, CardNotSupported, NotEligible, Unlocked, PasscodeChanged,
		CardRemovedScreen, RemoveCard, ErrorScreen, ServiceUnreachable:
		return true
	}
	return false
}

// setState moves to screen s, starting a new step: notices, field errors and focus are reset (staying on
// the same screen only clears notices and field errors).
func (m *Machine) setState(s ScreenID) {
	if m.state == s && m.sess != nil {
		m.sess.notice, m.sess.fieldErr = nil, nil
		return
	}
	m.closeStep()
	m.state = s
	m.lastActivity = m.now // the idle clock starts when a screen appears
	if m.sess != nil {
		m.sess.notice, m.sess.fieldErr = nil, nil
		m.sess.focus = ""
		if fs := m.fieldIDs(); len(fs) > 0 {
			m.sess.focus = fs[0]
		}
	}
}

// closeStep records the time spent on the current step.
func (m *Machine) closeStep() {
	s := m.sess
	if s == nil || s.finished {
		return
	}
	s.steps = append(s.steps, StepTiming{Step: m.state, Start: s.stepStart, Duration: m.now.Sub(s.stepStart)})
	if m.state != MoreTime {
		s.stepReached = m.state
	}
	s.stepStart = m.now
}

func (m *Machine) note(kind StepEventKind, f func(*StepEvent)) {
	if m.sess == nil || m.sess.finished {
		return
	}
	e := StepEvent{At: m.now, Kind: kind, Step: m.state}
	if f != nil {
		f(&e)
	}
	m.sess.events = append(m.sess.events, e)
}

// startSession begins a new session for the card in the reader.
func (m *Machine) startSession() {
	if m.maintenance {
		m.toIdle()
		return
	}
	m.sess = &session{
		started:       m.now,
		stepStart:     m.now,
		address:       newBuffer(maxAddressLen),
		code:          newBuffer(CodeDigits),
		current:       newBuffer(MaxPasscodeDigits),
		newPIN:        newBuffer(MaxPasscodeDigits),
		confirm:       newBuffer(MaxPasscodeDigits),
		codeTriesLeft: m.cfg.MaxCodeTries,
		sendsLeft:     m.cfg.MaxCodeSends,
	}
	m.state = ReadingCard
	m.lastActivity = m.now
	m.note(EventSessionStarted, nil)
	m.emit(ReadCard{Seq: m.begin(opRead, m.cfg.OperationTimeout)})
}

// finish ends the session: the service is told, the usage record is handed over once, secrets are wiped
// and the closing screen next is shown.
func (m *Machine) finish(o Outcome, code errcat.Code, next ScreenID) {
	s := m.sess
	if s == nil || s.finished {
		return
	}
	m.cancelPending()
	m.closeStep()
	m.note(EventSessionEnded, func(e *StepEvent) { e.Code = code })
	if s.live {
		m.emit(CompleteSession{Outcome: o, Code: code})
		s.live = false
	}
	rec := UsageRecord{
		KioskID:     m.cfg.KioskID,
		Outcome:     o,
		Method:      s.method,
		StepReached: s.stepReached,
		ErrorCode:   code,
		StartedAt:   s.started,
		EndedAt:     m.now,
		Duration:    m.now.Sub(s.started),
		Steps:       s.steps,
		Events:      s.events,
	}
	if o == OutcomeIneligible {
		rec.Reason = s.reason
	}
	m.emit(RecordUsage{Record: rec})
	s.wipe()
	s.finished, s.outcome, s.errCode = true, o, code
	s.notice, s.fieldErr, s.focus = nil, nil, ""
	m.state = next
	m.noticeSince = m.now
}

// wipe zeroes every secret the session holds.
func (s *session) wipe() {
	for _, b := range []*buffer{s.address, s.code, s.current, s.newPIN, s.confirm} {
		b.wipe()
	}
	s.sopin.Wipe()
	s.sopin = nil
	s.proof = Proof{}
}

// toIdle drops the finished session and shows welcome (or out of service); a deferred reboot happens now.
func (m *Machine) toIdle() {
	if m.sess != nil && !m.sess.finished {
		m.sess.wipe() // never reached with a live session, but never leave secrets behind
	}
	m.sess = nil
	m.lang = "" // the language chosen ends with the session
	m.cancelPending()
	m.state = m.idleScreen()
	m.rebootIfIdle()
}

func (m *Machine) rebootIfIdle() {
	if m.rebootPending && !m.Busy() {
		m.rebootPending = false
		m.emit(Reboot{})
	}
}

// ---- card and service calls ----

func (m *Machine) begin(op opKind, timeout time.Duration) uint64 {
	m.cancelPending()
	m.seq++
	m.pend = pending{seq: m.seq, op: op, deadline: m.now.Add(timeout)}
	return m.seq
}

// accept reports whether an answer is the one awaited, and stops awaiting it.
func (m *Machine) accept(op opKind, seq uint64) bool {
	if m.pend.op != op || m.pend.seq != seq || m.sess == nil || m.sess.finished {
		return false
	}
	m.pend = pending{}
	return true
}

func (m *Machine) cancelPending() {
	if m.pend.op != opNone {
		m.emit(CancelOperation{Seq: m.pend.seq})
		m.pend = pending{}
	}
}

func codeOf(err error, def errcat.Code) errcat.Code {
	if c, ok := errcat.CodeOf(err); ok {
		return c
	}
	return def
}

// failed ends the session for a card or service error, on the screen that explains it.
func (m *Machine) failed(err error, def errcat.Code) {
	code := codeOf(err, def)
	switch code {
	case errcat.ERR2003:
		m.cardPresent = false
		m.finish(OutcomeCardRemoved, code, CardRemovedScreen)
	case errcat.ERR2001:
		m.finish(OutcomeError, code, CardUnreadable)
	case errcat.ERR2002:
		m.finish(OutcomeError, code, CardNotSupported)
	case errcat.ERR2008, errcat.ERR1010:
		m.finish(OutcomeError, code, ServiceUnreachable)
	default:
		m.finish(OutcomeError, code, ErrorScreen)
	}
}

// ---- timers ----

func (m *Machine) checkTimers() {
	if m.pend.op != opNone && !m.now.Before(m.pend.deadline) {
		m.operationTimedOut()
	}
	s := m.sess
	if s == nil {
		return
	}
	if !s.finished {
		if m.state == MoreTime && !m.now.Before(m.moreTime.until) {
			m.sessionTimedOut()
			return
		}
		if s.live && s.sopin == nil && !m.now.Before(s.expires) && (interactive(m.state) || m.state == MoreTime) {
			m.finish(OutcomeError, errcat.ERR1006, ErrorScreen)
			return
		}
		if interactive(m.state) && m.now.Sub(m.lastActivity) >= m.cfg.IdleTimeout {
			m.moreTime.prev, m.moreTime.until = m.state, m.now.Add(m.cfg.MoreTimeCountdown)
			m.note(EventMoreTimeShown, nil)
			m.closeStep()
			m.state = MoreTime
		}
		return
	}
	if closing(m.state) && !m.cardPresent && m.now.Sub(m.noticeSince) >= m.cfg.NoticeTime {
		m.toIdle()
	}
}

func (m *Machine) operationTimedOut() {
	op := m.pend.op
	m.note(EventOperationTimedOut, nil)
	m.cancelPending()
	switch op {
	case opRead:
		if m.sess != nil && m.sess.reinserting {
			m.sess.reinserting = false
			m.setState(ReinsertCard)
			m.sess.notice = []Text{{Key: textReinsertUnreadable}}
			m.lastActivity = m.now
			return
		}
		m.finish(OutcomeError, errcat.ERR2001, CardUnreadable)
	case opUnblock:
		m.finish(OutcomeError, errcat.ERR2007, ErrorScreen)
	case opChange:
		m.finish(OutcomeError, codeChangeUnknown, ErrorScreen)
	default:
		m.finish(OutcomeError, errcat.ERR2008, ServiceUnreachable)
	}
}

func (m *Machine) sessionTimedOut() {
	var code errcat.Code
	if m.moreTime.prev == ReinsertCard {
		code = errcat.ERR2007
	}
	m.note(EventIdleTimedOut, nil)
	m.finish(OutcomeTimedOut, code, RemoveCard)
	if !m.cardPresent {
		m.toIdle()
	}
}

// ---- card presence ----

func (m *Machine) onCardInserted() {
	wasPresent := m.cardPresent
	m.cardPresent = true
	m.lastActivity = m.now
	if m.state == MoreTime {
		m.resume()
	}
	switch {
	case m.state == Welcome:
		m.startSession()
	case m.state == ReinsertCard:
		s := m.sess
		s.reinserting = true
		m.setState(ReadingCard)
		m.emit(ReadCard{Seq: m.begin(opRead, m.cfg.OperationTimeout)})
	case closing(m.state) && !wasPresent:
		m.toIdle()
		if m.state == Welcome {
			m.startSession()
		}
	}
}

func (m *Machine) onCardRemoved() {
	was := m.cardPresent
	m.cardPresent = false
	s := m.sess
	if s == nil {
		return
	}
	if s.finished {
		if !was {
			return
		}
		switch m.state {
		case Unlocked, PasscodeChanged, RemoveCard:
			m.toIdle() // "welcome once the card is out"
		default:
			m.noticeSince = m.now // an explanation (and its QR code) stays up a while
		}
		return
	}
	switch {
	case m.state == Unlocking || m.state == ChangingPasscode:
		// the runner will say whether the write happened: wait for it
		m.note(EventCardRemoved, nil)
	case m.state == ReinsertCard:
	case m.state == ReadingCard && s.reinserting:
		s.reinserting = false
		m.cancelPending()
		m.setState(ReinsertCard)
		m.lastActivity = m.now
	case m.state == MoreTime && m.moreTime.prev == ReinsertCard:
	default:
		m.note(EventCardRemoved, nil)
		m.finish(OutcomeCardRemoved, errcat.ERR2003, CardRemovedScreen)
	}
}

// ---- typing ----

const (
	maxAddressLen = 254
	maxMobileLen  = 20
)

func (m *Machine) fieldBuffer(id FieldID) *buffer {
	s := m.sess
	if s == nil || s.finished {
		return nil
	}
	switch id {
	case FieldAddress:
		return s.address
	case FieldCode:
		return s.code
	case FieldCurrent:
		return s.current
	case FieldNew:
		return s.newPIN
	case FieldConfirm:
		return s.confirm
	}
	return nil
}

// fieldIDs lists the current screen's fields in order.
func (m *Machine) fieldIDs() []FieldID {
	switch m.state {
	case EnterAddress:
		return []FieldID{FieldAddress}
	case EnterCode:
		return []FieldID{FieldCode}
	case ChoosePasscode:
		return []FieldID{FieldNew, FieldConfirm}
	case ChangePasscode:
		return []FieldID{FieldCurrent, FieldNew, FieldConfirm}
	}
	return nil
}

// accepts reports whether c may be typed into field id.
func (m *Machine) accepts(id FieldID, c rune, n int) bool {
	switch id {
	case FieldAddress:
		if m.sess.method == MethodSMS {
			return n < maxMobileLen && (c >= '0' && c <= '9' || c == '+' || c == ' ')
		}
		return c > ' ' && c < 0x7f
	default:
		return c >= '0' && c <= '9'
	}
}

// focused returns the buffer typing goes to, if the current screen shows the focused field.
func (m *Machine) focused() *buffer {
	s := m.sess
	if s == nil || s.focus == "" {
		return nil
	}
	for _, f := range m.fieldIDs() {
		if f == s.focus {
			return m.fieldBuffer(f)
		}
	}
	return nil
}

func (m *Machine) onTyped(c rune) {
	b := m.focused()
	if b == nil || !m.accepts(m.sess.focus, c, b.len()) {
		return
	}
	if b.add(byte(c)) {
		delete(m.sess.fieldErr, m.sess.focus)
	}
}

func (m *Machine) onErased() {
	if b := m.focused(); b != nil {
		b.erase()
	}
}

func (m *Machine) onFocused(id FieldID) {
	for _, f := range m.fieldIDs() {
		if f == id {
			m.sess.focus = id
		}
	}
}

// onSubmitted moves on to the next empty field, or presses the primary button.
func (m *Machine) onSubmitted() {
	fs := m.fieldIDs()
	if s := m.sess; s != nil && len(fs) > 1 {
		for i, f := range fs {
			if f == s.focus && i+1 < len(fs) && m.fieldBuffer(fs[i+1]).len() == 0 {
				s.focus = fs[i+1]
				return
			}
		}
	}
	for _, b := range m.Screen().Buttons {
		if b.Primary && b.Enabled {
			m.onPressed(b.ID)
			return
		}
	}
}

// ---- buttons ----

func (m *Machine) onPressed(id ButtonID) {
	if b, ok := m.Screen().Button(id); !ok || !b.Enabled {
		return
	}
	s := m.sess
	switch id {
	case ButtonCancel:
		m.cancel()
	case ButtonMoreTime:
		m.note(EventMoreTimeTaken, nil)
		m.resume()
	case ButtonStartAgain:
		m.toIdle()
		if m.state == Welcome && m.cardPresent {
			m.startSession()
		}
	case ButtonStart:
		m.note(EventUnlockChosen, nil)
		m.setState(CheckingEligibility)
		m.emit(ProveCard{Seq: m.begin(opProve, m.cfg.OperationTimeout)})
	case ButtonChangePasscode:
		m.note(EventChangeChosen, nil)
		m.setState(ChangePasscode)
	case ButtonEmail, ButtonSMS:
		s.method = MethodEmail
		if id == ButtonSMS {
			s.method = MethodSMS
		}
		s.address.wipe()
		m.note(EventMethodChosen, func(e *StepEvent) { e.Method = s.method })
		m.setState(EnterAddress)
	case ButtonFace:
		s.method = MethodFace
		m.note(EventMethodChosen, func(e *StepEvent) { e.Method = s.method })
		m.setState(FaceVerification)
		m.emit(VerifyFace{Seq: m.begin(opFace, m.cfg.OperationTimeout)})
	case ButtonBack:
		s.address.wipe()
		m.setState(ChooseMethod)
	case ButtonContinue:
		m.onContinue()
	case ButtonResend:
		m.sendCode()
	case ButtonConfirm:
		m.onConfirm()
	}
}

// cancel ends the session at the person's request.
func (m *Machine) cancel() {
	s := m.sess
	if s == nil || s.finished {
		return
	}
	m.note(EventCancelled, nil)
	if m.state == ReinsertCard || s.reinserting {
		m.finish(OutcomeError, errcat.ERR2007, ErrorScreen)
		return
	}
	m.finish(OutcomeAbandoned, "", RemoveCard)
}

// resume leaves the more-time prompt for the step the person was on, as they left it.
func (m *Machine) resume() {
	if m.state != MoreTime {
		return
	}
	m.closeStep()
	m.state = m.moreTime.prev
	m.lastActivity = m.now
}

func (m *Machine) onContinue() {
	s := m.sess
	switch m.state {
	case EnterAddress:
		if msg := checkAddress(s.method, s.address.bytes()); msg != "" {
			m.note(EventAddressRefused, nil)
			s.fieldErr = map[FieldID]Text{FieldAddress: {Key: msg}}
			return
		}
		m.sendCode()
	case EnterCode:
		seq := m.begin(opVerify, m.cfg.OperationTimeout)
		code := copySecret(s.code.bytes())
		s.code.wipe()
		m.setState(VerifyingCode)
		m.emit(VerifyCode{Seq: seq, Code: code})
	}
}

func (m *Machine) sendCode() {
	s := m.sess
	seq := m.begin(opSend, m.cfg.OperationTimeout)
	s.code.wipe()
	m.setState(SendingCode)
	m.emit(SendCode{Seq: seq, Method: s.method, Address: copySecret(s.address.bytes()), Lang: m.Language()})
}

func (m *Machine) onConfirm() {
	s := m.sess
	switch m.state {
	case ChoosePasscode:
		if p := m.policy.Check(s.newPIN.bytes(), s.confirm.bytes(), nil); p != PasscodeOK {
			m.refusePasscode(p)
			return
		}
		s.confirm.wipe()
		m.unblock()
	case ChangePasscode:
		if n := s.current.len(); n < MinPasscodeDigits || n > MaxPasscodeDigits {
			m.note(EventPasscodeRefused, nil)
			s.fieldErr = map[FieldID]Text{FieldCurrent: {Key: textCurrentLength}}
			s.focus = FieldCurrent
			return
		}
		if p := m.policy.Check(s.newPIN.bytes(), s.confirm.bytes(), s.current.bytes()); p != PasscodeOK {
			m.refusePasscode(p)
			return
		}
		seq := m.begin(opChange, m.cfg.UnlockTimeout)
		cur, nw := copySecret(s.current.bytes()), copySecret(s.newPIN.bytes())
		for _, b := range []*buffer{s.current, s.newPIN, s.confirm} {
			b.wipe()
		}
		m.note(EventChangeStarted, nil)
		m.setState(ChangingPasscode)
		m.emit(ChangePIN{Seq: seq, Current: cur, New: nw})
	}
}

func (m *Machine) refusePasscode(p PasscodeProblem) {
	s := m.sess
	m.note(EventPasscodeRefused, nil)
	s.confirm.wipe()
	field := FieldConfirm
	if p != PasscodeMismatch {
		s.newPIN.wipe()
		field = FieldNew
	}
	s.fieldErr = map[FieldID]Text{field: {Key: p.Message()}}
	s.focus = field
}

// unblock writes the new passcode with the SOPIN; it is repeated, unchanged, after an unknown outcome.
func (m *Machine) unblock() {
	s := m.sess
	s.unlockAttempts++
	seq := m.begin(opUnblock, m.cfg.UnlockTimeout)
	m.note(EventUnlockStarted, nil)
	m.setState(Unlocking)
	m.emit(UnblockCard{Seq: seq, SOPIN: copySecret(s.sopin), NewPIN: copySecret(s.newPIN.bytes())})
}

// ---- answers ----

func (m *Machine) onCardRead(e CardRead) {
	if !m.accept(opRead, e.Seq) {
		return
	}
	s := m.sess
	if s.reinserting {
		s.reinserting = false
		switch {
		case e.Err != nil:
			m.setState(ReinsertCard)
			s.notice = []Text{{Key: textReinsertUnreadable}}
		case s.card.Fingerprint != "" && e.Status.Fingerprint != s.card.Fingerprint:
			m.setState(ReinsertCard)
			s.notice = []Text{{Key: textReinsertOtherCard}}
		default:
			m.note(EventCardReinserted, nil)
			m.unblock()
			return
		}
		m.lastActivity = m.now
		return
	}
	if e.Err != nil {
		m.failed(e.Err, errcat.ERR2001)
		return
	}
	s.card = e.Status
	s.pinTriesLeft = e.Status.PINTriesLeft
	m.note(EventCardRead, nil)
	if na := e.Status.CertificatesNotAfter; !na.IsZero() && m.now.After(na) {
		s.reason = CertificatesExpired
		m.finish(OutcomeIneligible, errcat.ERR1004, CardExpired)
		return
	}
	m.setState(StartNow)
}

func (m *Machine) onCardProved(e CardProved) {
	if !m.accept(opProve, e.Seq) {
		return
	}
	if e.Err != nil {
		m.failed(e.Err, codeGeneric)
		return
	}
	m.sess.proof = e.Proof
	m.emit(StartSession{Seq: m.begin(opStart, m.cfg.OperationTimeout), Proof: e.Proof})
}

func (m *Machine) onSessionStarted(e SessionStarted) {
	if !m.accept(opStart, e.Seq) {
		return
	}
	s := m.sess
	s.proof = Proof{}
	if e.Err != nil {
		m.failed(e.Err, codeGeneric)
		return
	}
	if !e.Eligible {
		s.reason = e.Reason
		m.note(EventNotEligible, func(ev *StepEvent) { ev.Code = reasonCode(e.Reason) })
		m.finish(OutcomeIneligible, reasonCode(e.Reason), NotEligible)
		return
	}
	s.live = true
	s.expires = e.ExpiresAt
	if s.expires.IsZero() {
		s.expires = m.now.Add(m.cfg.CodeValidity)
	}
	s.offers = append([]MethodOffer(nil), e.Methods...)
	m.note(EventEligible, nil)
	m.lastActivity = m.now
	m.setState(ChooseMethod)
}

func (m *Machine) onCodeSent(e CodeSent) {
	if !m.accept(opSend, e.Seq) {
		return
	}
	s := m.sess
	m.lastActivity = m.now
	back := EnterAddress
	if s.codeSentOnce {
		back = EnterCode
	}
	if e.Err != nil {
		code := codeOf(e.Err, codeGeneric)
		if code != errcat.ERR1008 {
			m.failed(e.Err, codeGeneric)
			return
		}
		m.note(EventSendRefused, func(ev *StepEvent) { ev.Code = code })
		if e.RetryAfter > 0 {
			s.nextSend = m.now.Add(e.RetryAfter)
		} else {
			s.sendsLeft = 0
		}
		m.setState(back)
		entry := errcat.MustLookup(code)
		s.notice = []Text{{Key: entry.Title, Sentence: true}, {Key: entry.Advice}}
		return
	}
	s.sends++
	s.sendsLeft = min(m.cfg.MaxCodeSends-s.sends, max(e.SendsLeft, 0))
	wait := e.RetryAfter
	if wait <= 0 {
		wait = m.cfg.ResendWait
	}
	s.nextSend = m.now.Add(wait)
	m.note(EventCodeSent, nil)
	resent := s.codeSentOnce
	s.codeSentOnce = true
	m.setState(EnterCode)
	if resent {
		s.notice = []Text{{Key: textCodeResent}}
	}
}

func (m *Machine) onCodeChecked(e CodeChecked) {
	m.onVerified(opVerify, e.Seq, e.Err, e.OK, e.SOPIN, EventCodeAccepted, func(s *session) {
		s.codeTriesLeft = e.TriesLeft
		m.note(EventCodeRefused, func(ev *StepEvent) { ev.TriesLeft = e.TriesLeft })
		if e.TriesLeft <= 0 {
			m.finish(OutcomeError, errcat.ERR1007, ErrorScreen)
			return
		}
		m.setState(EnterCode)
		s.fieldErr = map[FieldID]Text{FieldCode: textWrongCode(e.TriesLeft)}
	})
}

func (m *Machine) onFaceChecked(e FaceChecked) {
	m.onVerified(opFace, e.Seq, e.Err, e.OK, e.SOPIN, EventFaceAccepted, func(s *session) {
		m.note(EventFaceRefused, nil)
		m.setState(ChooseMethod)
		s.notice = []Text{{Key: textFaceRefused}}
	})
}

// onVerified handles the answer to a proof of identity (a security code or a face): the SOPIN released,
// a refusal (refused says what happens next), or an error. A SOPIN that is not kept is wiped.
func (m *Machine) onVerified(op opKind, seq uint64, err error, ok bool, sopin Secret, accepted StepEventKind, refused func(*session)) {
	if !m.accept(op, seq) {
		sopin.Wipe()
		return
	}
	s := m.sess
	m.lastActivity = m.now
	switch {
	case err != nil:
		sopin.Wipe()
		m.failed(err, codeGeneric)
	case !ok:
		sopin.Wipe()
		refused(s)
	case len(sopin) == 0:
		m.finish(OutcomeError, errcat.ERR1009, ErrorScreen)
	default:
		s.sopin = sopin
		m.note(accepted, nil)
		m.setState(ChoosePasscode)
	}
}

func (m *Machine) onCardUnblocked(e CardUnblocked) {
	if !m.accept(opUnblock, e.Seq) {
		return
	}
	s := m.sess
	m.lastActivity = m.now
	switch e.Result {
	case WriteDone:
		m.finish(OutcomeUnlocked, "", Unlocked)
	case WriteNotDone:
		m.finish(OutcomeError, codeOf(e.Err, errcat.ERR2006), ErrorScreen)
	default:
		m.note(EventUnlockUnknown, nil)
		if s.unlockAttempts >= m.cfg.MaxUnlockAttempts {
			m.finish(OutcomeError, errcat.ERR2007, ErrorScreen)
			return
		}
		m.setState(ReinsertCard)
	}
}

func (m *Machine) onPINChanged(e PINChanged) {
	if !m.accept(opChange, e.Seq) {
		return
	}
	s := m.sess
	m.lastActivity = m.now
	switch {
	case e.WrongCurrent:
		s.pinTriesLeft = max(e.TriesLeft, 0)
		m.note(EventCurrentRefused, func(ev *StepEvent) { ev.TriesLeft = s.pinTriesLeft })
		if s.pinTriesLeft == 0 {
			m.note(EventCardLocked, nil)
			s.card.PINBlocked = true
			s.lockedByChange = true
			m.setState(StartNow)
			return
		}
		m.setState(ChangePasscode)
		s.fieldErr = map[FieldID]Text{FieldCurrent: textWrongCurrent(s.pinTriesLeft)}
	case e.Result == WriteDone:
		m.finish(OutcomePasscodeChanged, "", PasscodeChanged)
	case e.Result == WriteNotDone:
		m.note(EventPasscodeChangeFailed, nil)
		m.finish(OutcomeError, codeOf(e.Err, codeChangeFailed), ErrorScreen)
	default:
		m.finish(OutcomeError, codeChangeUnknown, ErrorScreen)
	}
}

// ---- fleet ----

func (m *Machine) onMaintenance(e MaintenanceChanged) {
	m.maintenance = e.On
	m.maintenanceMsg = e.Message
	if m.maintenanceMsg == "" {
		m.maintenanceMsg = m.cfg.MaintenanceMessage
	}
	if m.Busy() {
		return // takes effect when the session ends
	}
	m.state = m.idleScreen()
	if m.state == Welcome && m.cardPresent {
		m.startSession()
	}
}

func (m *Machine) onMethodsChanged(e MethodsChanged) {
	methods := []Method{}
	for _, x := range e.Methods {
		if x == MethodEmail || x == MethodSMS || x == MethodFace {
			methods = append(methods, x)
		}
	}
	m.cfg.Methods = methods
}

func reasonCode(r IneligibleReason) errcat.Code {
	switch r {
	case NoEmail:
		return errcat.ERR1002
	case EmailDomainNotAllowed:
		return errcat.ERR1003
	case CertificatesExpired:
		return errcat.ERR1004
	case CardNotGenuine:
		return errcat.ERR1005
	}
	return errcat.ERR1001
}

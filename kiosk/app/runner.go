package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"ssu-kiosk/hal/card"
	"ssu-kiosk/hal/led"
	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/kiosk/flow/texts"
	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/errcat"
)

// RunnerConfig is what a Runner is made of.
type RunnerConfig struct {
	Card     Card
	Identity Identity
	// Lights may be nil (no LEDs).
	Lights Lights
	// Usage takes usage records with the session's card serial; nil logs them (LogSink).
	Usage UsageSink
	// Wake asks the UI loop for a frame; it is called after every event posted.
	Wake func()
	// Timeout bounds each card or service call (flow's own deadline usually comes first); 60 s when zero.
	Timeout time.Duration
	// Maintenance and MaintenanceMessage are the configuration's out-of-service setting, which card
	// reader outages add to.
	Maintenance        bool
	MaintenanceMessage string
	// HardwareGrace is how long the card reader must stay unusable before the kiosk goes out of
	// service (2 s when zero).
	HardwareGrace time.Duration
	// Reboot is called for flow's Reboot effect (a fleet reboot, once no session is in progress); nil
	// only logs.
	Reboot func()
	Log    *slog.Logger
}

// Runner carries out flow's effects and feeds card, service and clock events back to the UI loop.
type Runner struct {
	cfg    RunnerConfig
	log    *slog.Logger
	ctx    context.Context
	events chan flow.Event
	leds   chan led.Pattern
	clock  chan bool // Tick's on/off switch: the latest SetClock, at most one waiting

	cardMu sync.Mutex // one card operation at a time, even when an abandoned one is still finishing

	mu        sync.Mutex
	reader    string
	sessionID string
	cancels   map[uint64]context.CancelFunc
	hardware  string // why the card reader cannot be used ("" when it can)
	hwGen     int    // counts hardware changes, so a stale grace timer does nothing
	hwOut     bool   // the kiosk was put out of service for the hardware
	wg        sync.WaitGroup

	// What the fleet's health reports say (see Health).
	cardState   card.State
	cardKnown   bool // a card watcher event has arrived
	unreachable bool // the last identity service call did not reach it
	led         led.Pattern
	// maintenance is the operator's setting: the configuration's, then the fleet's or a reload's.
	maintenance        bool
	maintenanceMessage string
	// serial is the card serial of the session in progress ("" until a read succeeds); the usage
	// record takes it, and it goes nowhere else.
	serial string
	// usageDone is closed when the last usage record handed over is kept: each waits for the one
	// before, so records are kept in order.
	usageDone chan struct{}
}

// NewRunner returns a Runner whose work stops when ctx ends.
func NewRunner(ctx context.Context, cfg RunnerConfig) *Runner {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Usage == nil {
		cfg.Usage = LogSink{Log: cfg.Log}
	}
	if cfg.Wake == nil {
		cfg.Wake = func() {}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.HardwareGrace <= 0 {
		cfg.HardwareGrace = 2 * time.Second
	}
	r := &Runner{cfg: cfg, log: cfg.Log, ctx: ctx, events: make(chan flow.Event, 64), leds: make(chan led.Pattern, 16), clock: make(chan bool, 1),
		cancels: map[uint64]context.CancelFunc{}, maintenance: cfg.Maintenance, maintenanceMessage: cfg.MaintenanceMessage,
		led: led.Idle}
	if cfg.Maintenance {
		r.led = led.OutOfService
	}
	if cfg.Lights != nil {
		r.wg.Add(1)
		go r.runLEDs()
	}
	return r
}

// Events is the channel the UI loop drains.
func (r *Runner) Events() <-chan flow.Event { return r.events }

// Wait waits for the runner's goroutines once its context has ended.
func (r *Runner) Wait() { r.wg.Wait() }

// Post hands an event from elsewhere to the walk-through: the fleet link's MaintenanceChanged and
// RebootRequested. It blocks only while the UI loop is behind, and never after the runner's context ended.
func (r *Runner) Post(ev flow.Event) { r.post(ev) }

func (r *Runner) post(ev flow.Event) {
	select {
	case r.events <- ev:
		r.cfg.Wake()
	case <-r.ctx.Done():
		wipeEvent(ev)
	}
}

// wipeEvent clears a secret an event carries that will never be handled.
func wipeEvent(ev flow.Event) {
	switch e := ev.(type) {
	case flow.CodeChecked:
		e.SOPIN.Wipe()
	case flow.FaceChecked:
		e.SOPIN.Wipe()
	}
}

// Tick sends the clock to the walk-through every interval while it is switched on (SetClock; on at the
// start), until ctx ends. While it is off nothing in the kiosk is woken by the clock.
func (r *Runner) Tick(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	on := true
	for {
		var tick <-chan time.Time
		if on {
			tick = t.C
		}
		select {
		case <-ctx.Done():
			return
		case want := <-r.clock:
			switch {
			case want && !on:
				t.Reset(every)
			case !want && on:
				t.Stop()
			}
			on = want
		case now := <-tick:
			r.post(flow.Tick{At: now})
		}
	}
}

// SetClock switches Tick on or off: the UI loop calls it when the walk-through's NeedsClock changes.
// It never blocks; the last call wins.
func (r *Runner) SetClock(on bool) {
	for {
		select {
		case r.clock <- on:
			return
		default:
		}
		select {
		case <-r.clock: // replace a switch Tick has not seen yet
		default:
		}
	}
}

// WatchCards turns card layer events into walk-through events until the channel closes.
func (r *Runner) WatchCards(events <-chan card.Event) {
	for ev := range events {
		r.cardEvent(ev)
	}
}

func (r *Runner) cardEvent(ev card.Event) {
	at := ev.Time
	if at.IsZero() {
		at = time.Now()
	}
	r.mu.Lock()
	reader := r.reader
	switch ev.Kind {
	case card.CardInserted, card.CardUnreadable:
		if reader == "" {
			r.reader = ev.Reader
		}
	case card.CardRemoved, card.ReaderRemoved:
		if ev.Reader == reader {
			r.reader = ""
		}
	case card.ServiceDown:
		r.reader = ""
	}
	hw := ""
	switch ev.State {
	case card.StateServiceDown:
		hw = errcat.MustLookup(errcat.ERR2005).Title + ". " + errcat.MustLookup(errcat.ERR2005).Advice
	case card.StateNoReader:
		hw = errcat.MustLookup(errcat.ERR2004).Title + ". " + errcat.MustLookup(errcat.ERR2004).Advice
	}
	hwChanged := hw != r.hardware
	r.hardware = hw
	r.cardState, r.cardKnown = ev.State, true
	r.mu.Unlock()

	switch ev.Kind {
	case card.CardInserted, card.CardUnreadable:
		if reader == "" {
			r.log.Info("card inserted", "reader", ev.Reader)
			r.awaitUsage()
			r.post(flow.CardInserted{At: at})
		}
	case card.CardRemoved, card.ReaderRemoved:
		if reader != "" && ev.Reader == reader {
			r.log.Info("card removed", "reader", ev.Reader)
			r.post(flow.CardRemoved{At: at})
		}
	case card.ServiceDown:
		if reader != "" {
			r.post(flow.CardRemoved{At: at})
		}
	}
	if hwChanged {
		r.hardwareChanged(hw)
	}
}

// usageWait bounds how long a new session waits for the last one's usage record to reach the disk.
const usageWait = 10 * time.Second

// awaitUsage holds a new session back until the last session's usage record is kept (in the fleet
// link's durable outbox): the kiosk does not move on with a session's events not yet on disk. It runs
// on the card watcher's goroutine, never the UI loop's; a record normally takes a few milliseconds.
func (r *Runner) awaitUsage() {
	r.mu.Lock()
	pending := r.usageDone
	r.mu.Unlock()
	if pending == nil {
		return
	}
	select {
	case <-pending:
	case <-r.ctx.Done():
	case <-time.After(usageWait):
		r.log.Warn("the last session's usage record is still being written; going on", "waited", usageWait)
	}
}

// hardwareChanged puts the kiosk out of service while the card reader cannot be used, and back when it
// can. An outage must last HardwareGrace first: at start-up pcscd reports its readers a moment after
// itself, and a reader re-plugged at once is no reason to turn people away.
func (r *Runner) hardwareChanged(hw string) {
	r.mu.Lock()
	r.hwGen++
	gen := r.hwGen
	wasOut := r.hwOut
	r.mu.Unlock()
	if hw == "" {
		if wasOut {
			r.mu.Lock()
			r.hwOut = false
			r.mu.Unlock()
			r.log.Info("card reader usable again")
			r.mu.Lock()
			on, msg := r.maintenance, r.maintenanceMessage
			r.mu.Unlock()
			r.post(flow.MaintenanceChanged{At: time.Now(), On: on, Message: msg})
		}
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case <-r.ctx.Done():
			return
		case <-time.After(r.cfg.HardwareGrace):
		}
		r.mu.Lock()
		still := r.hwGen == gen && r.hardware != ""
		if still {
			r.hwOut = true
		}
		r.mu.Unlock()
		if still {
			r.log.Warn("card reader unusable: out of service", "why", hw)
			r.post(flow.MaintenanceChanged{At: time.Now(), On: true, Message: hw})
		}
	}()
}

func (r *Runner) currentReader() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reader
}

func (r *Runner) session() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessionID
}

// op runs fn in a goroutine with a context that CancelOperation{seq} or the timeout ends.
func (r *Runner) op(seq uint64, usesCard bool, fn func(ctx context.Context) flow.Event) {
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
	r.mu.Lock()
	r.cancels[seq] = cancel
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() {
			r.mu.Lock()
			delete(r.cancels, seq)
			r.mu.Unlock()
			cancel()
		}()
		if usesCard {
			r.cardMu.Lock()
			defer r.cardMu.Unlock()
		}
		ev := fn(ctx)
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			wipeEvent(ev) // nobody waits for it any more
			return
		}
		r.post(ev)
	}()
}

// Execute carries out effects; it never blocks the caller.
func (r *Runner) Execute(effects []flow.Effect) {
	for _, e := range effects {
		r.execute(e)
	}
}

func (r *Runner) execute(e flow.Effect) {
	switch e := e.(type) {
	case flow.ReadCard:
		reader := r.currentReader()
		r.op(e.Seq, true, func(ctx context.Context) flow.Event {
			st, err := r.cfg.Card.Read(ctx, reader)
			if err == nil {
				r.noteSerial(ctx, st.Fingerprint)
			} else {
				r.cardFailed(ctx, "read", err)
			}
			return flow.CardRead{At: time.Now(), Seq: e.Seq, Status: st, Err: err}
		})
	case flow.ProveCard:
		reader := r.currentReader()
		r.op(e.Seq, true, func(ctx context.Context) flow.Event {
			ch, err := r.cfg.Identity.Challenge(ctx)
			r.noteIdentity(err)
			if err != nil {
				return flow.CardProved{At: time.Now(), Seq: e.Seq, Err: err}
			}
			req, err := r.cfg.Card.Prove(ctx, reader, ch)
			if err != nil {
				r.cardFailed(ctx, "proof", err)
			}
			return flow.CardProved{At: time.Now(), Seq: e.Seq, Proof: flow.NewProof(req), Err: err}
		})
	case flow.StartSession:
		req, _ := e.Proof.Value().(identity.StartSessionRequest)
		r.op(e.Seq, false, func(ctx context.Context) flow.Event {
			s, err := r.cfg.Identity.StartSession(ctx, req)
			r.noteIdentity(err)
			ev := flow.SessionStarted{At: time.Now(), Seq: e.Seq, Err: err}
			if err != nil {
				return ev
			}
			r.mu.Lock()
			r.sessionID = s.ID
			r.mu.Unlock()
			ev.Eligible, ev.Reason, ev.ExpiresAt = s.Eligible, flow.IneligibleReason(s.Reason), s.ExpiresAt
			for _, m := range s.Methods {
				ev.Methods = append(ev.Methods, flow.MethodOffer{Method: flow.Method(m.Method), Available: m.Available, Note: m.Note})
			}
			return ev
		})
	case flow.SendCode:
		sid := r.session()
		r.op(e.Seq, false, func(ctx context.Context) flow.Event {
			defer e.Address.Wipe()
			addr := identity.Secret(e.Address)
			res, err := r.cfg.Identity.SendCode(ctx, sid, identity.SendCodeRequest{Method: identity.Method(e.Method), Address: addr,
				Language: contractLanguage(e.Lang)})
			r.noteIdentity(err)
			ev := flow.CodeSent{At: time.Now(), Seq: e.Seq, SendsLeft: res.SendsLeft,
				RetryAfter: time.Duration(res.RetryAfterSeconds) * time.Second, Err: err}
			var se *identity.ServiceError
			if errors.As(err, &se) && se.Body.RetryAfterSeconds > 0 {
				ev.RetryAfter = time.Duration(se.Body.RetryAfterSeconds) * time.Second
			}
			return ev
		})
	case flow.VerifyCode:
		sid := r.session()
		r.op(e.Seq, false, func(ctx context.Context) flow.Event {
			defer e.Code.Wipe()
			rel, err := r.cfg.Identity.VerifyCode(ctx, sid, identity.Secret(e.Code))
			r.noteIdentity(err)
			defer rel.SOPIN.Zero()
			ev := flow.CodeChecked{At: time.Now(), Seq: e.Seq}
			var se *identity.ServiceError
			switch {
			case err == nil:
				ev.OK = true
				ev.SOPIN = make(flow.Secret, len(rel.SOPIN))
				copy(ev.SOPIN, rel.SOPIN)
			case errors.As(err, &se) && se.Body.Code == errcat.ERR1011:
				if se.Body.AttemptsLeft != nil {
					ev.TriesLeft = *se.Body.AttemptsLeft
				}
			default:
				ev.Err = err
			}
			return ev
		})
	case flow.VerifyFace:
		r.op(e.Seq, false, func(context.Context) flow.Event {
			return flow.FaceChecked{At: time.Now(), Seq: e.Seq, Err: &errcat.Error{Code: errcat.ERR1015}}
		})
	case flow.UnblockCard:
		reader := r.currentReader()
		r.op(e.Seq, true, func(ctx context.Context) flow.Event {
			defer e.SOPIN.Wipe()
			defer e.NewPIN.Wipe()
			res, err := r.cfg.Card.Unblock(ctx, reader, e.SOPIN, e.NewPIN)
			if reader == "" && res == flow.WriteUnknown {
				res = flow.WriteNotDone
			}
			r.log.Info("unblock", "result", writeName(res), "err", err)
			return flow.CardUnblocked{At: time.Now(), Seq: e.Seq, Result: res, Err: err}
		})
	case flow.ChangePIN:
		reader := r.currentReader()
		r.op(e.Seq, true, func(ctx context.Context) flow.Event {
			defer e.Current.Wipe()
			defer e.New.Wipe()
			res, wrong, left, err := r.cfg.Card.ChangePIN(ctx, reader, e.Current, e.New)
			r.log.Info("change passcode", "result", writeName(res), "wrong_current", wrong, "err", err)
			return flow.PINChanged{At: time.Now(), Seq: e.Seq, Result: res, WrongCurrent: wrong, TriesLeft: left, Err: err}
		})
	case flow.CancelOperation:
		r.mu.Lock()
		if c, ok := r.cancels[e.Seq]; ok {
			c()
		}
		r.mu.Unlock()
	case flow.CompleteSession:
		r.mu.Lock()
		sid := r.sessionID
		r.sessionID = ""
		r.mu.Unlock()
		if sid == "" {
			return
		}
		req := identity.CompleteRequest{Outcome: identity.OutcomeFailed, Reason: e.Code}
		switch e.Outcome {
		case flow.OutcomeUnlocked:
			req = identity.CompleteRequest{Outcome: identity.OutcomeUnlocked}
		case flow.OutcomePasscodeChanged:
			req = identity.CompleteRequest{Outcome: identity.OutcomePasscodeChanged}
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
			defer cancel()
			err := r.cfg.Identity.Complete(ctx, sid, req)
			r.noteIdentity(err)
			if err != nil {
				r.log.Warn("report session outcome", "outcome", req.Outcome, "err", err)
			}
		}()
	case flow.RecordUsage:
		// The session is over: its card serial is taken now, before another session's read can set it.
		r.mu.Lock()
		serial := r.serial
		r.serial = ""
		before, done := r.usageDone, make(chan struct{})
		r.usageDone = done
		r.mu.Unlock()
		// Writing to disk must not hold up the UI loop: records are kept in order on another goroutine,
		// and Wait waits for them, so none is lost at shutdown.
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer close(done)
			if before != nil {
				<-before
			}
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 30*time.Second)
			defer cancel()
			if err := r.cfg.Usage.RecordUsage(ctx, e.Record, serial); err != nil {
				r.log.Warn("usage record not kept", "outcome", e.Record.Outcome, "err", err)
			}
		}()
	case flow.SetLED:
		if r.cfg.Lights == nil {
			return
		}
		p, err := led.ParsePattern(string(e.LED))
		if err != nil {
			r.log.Warn("unknown LED pattern", "led", e.LED)
			return
		}
		r.mu.Lock()
		r.led = p
		r.mu.Unlock()
		select {
		case r.leds <- p:
		default:
			r.log.Warn("LED updates backed up; one dropped")
		}
	case flow.Reboot:
		r.log.Info("reboot requested by the fleet")
		if r.cfg.Reboot != nil {
			r.cfg.Reboot()
		}
	}
}

func (r *Runner) runLEDs() {
	defer r.wg.Done()
	for {
		select {
		case <-r.ctx.Done():
			return
		case p := <-r.leds:
			if err := r.cfg.Lights.Show(p); err != nil {
				r.log.Warn("status LEDs", "pattern", p.String(), "err", err)
			}
		}
	}
}

func writeName(w flow.WriteResult) string {
	switch w {
	case flow.WriteDone:
		return "done"
	case flow.WriteNotDone:
		return "not-done"
	}
	return "unknown"
}

// noteSerial keeps the serial of the session's card: the first successful read of a session, and not
// a read the walk-through has cancelled (a session that ended meanwhile). A reinserted card is the same
// card or is refused by the walk-through, so it never replaces the serial.
func (r *Runner) noteSerial(ctx context.Context, serial string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Err() == nil && r.serial == "" {
		r.serial = serial
	}
}

// cardFailed logs why a card could not be read or could not prove itself, so a card that does not work
// can be diagnosed: the step, the code people saw and the card layer's error. Card layer errors name
// status words, data objects and key types, never a PIN, a PUK, the card's serial or its holder.
// A read the person cancelled (a session that ended meanwhile) is not a failure; one that timed out is.
func (r *Runner) cardFailed(ctx context.Context, step string, err error) {
	if errors.Is(ctx.Err(), context.Canceled) {
		return
	}
	code, _ := errcat.CodeOf(err)
	r.log.Warn("card "+step+" failed", "code", string(code), "err", err)
}

// noteIdentity records whether an identity service call reached the service: an answer, even a
// refusal, says it is reachable; a transport failure or a gateway error says it is not.
func (r *Runner) noteIdentity(err error) {
	unreachable := false
	if err != nil {
		var se *identity.ServiceError
		switch {
		case errors.As(err, &se):
			unreachable = se.Status == 502 || se.Status == 503 || se.Status == 504
		case errors.Is(err, context.Canceled):
			return // the person moved on: says nothing about the service
		default:
			c, _ := errcat.CodeOf(err)
			unreachable = c == errcat.ERR2008 || c == ""
		}
	}
	r.mu.Lock()
	r.unreachable = unreachable
	r.mu.Unlock()
}

// SetMaintenance changes the operator's out-of-service setting (the fleet's command or a configuration
// reload). While the card reader is unusable the kiosk stays out of service for that, and takes this
// setting when the reader is back. The walk-through applies it once no session is in progress.
func (r *Runner) SetMaintenance(on bool, message string) {
	r.mu.Lock()
	r.maintenance, r.maintenanceMessage = on, message
	hwOut := r.hwOut
	r.mu.Unlock()
	r.log.Info("maintenance mode set", "on", on)
	if !hwOut {
		r.post(flow.MaintenanceChanged{At: time.Now(), On: on, Message: message})
	}
}

// Health is what the runner knows of the kiosk for the fleet's health reports.
type Health struct {
	// Reader is the card reader's state: ready, card-present, card-unreadable, no-reader,
	// service-down, or unknown before the card watcher has reported.
	Reader string
	// PCSCD is the smartcard service: running, down or unknown.
	PCSCD       string
	CardPresent bool
	// LED is the pattern last shown.
	LED led.Pattern
	// IdentityReachable is false when the last identity service call did not reach it (true until a
	// call says otherwise).
	IdentityReachable bool
	// Maintenance is true while the kiosk is out of service (the operator's setting or the reader).
	Maintenance bool
}

// Health reports the runner's view of the kiosk; it never blocks for long.
func (r *Runner) Health() Health {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := Health{Reader: "unknown", PCSCD: "unknown", LED: r.led, IdentityReachable: !r.unreachable,
		Maintenance: r.maintenance || r.hwOut}
	if r.cardKnown {
		h.PCSCD = "running"
		switch r.cardState {
		case card.StateServiceDown:
			h.Reader, h.PCSCD = "service-down", "down"
		case card.StateNoReader:
			h.Reader = "no-reader"
		case card.StateNoCard:
			h.Reader = "ready"
		case card.StateCardPresent:
			h.Reader, h.CardPresent = "card-present", true
		case card.StateCardUnreadable:
			h.Reader, h.CardPresent = "card-unreadable", true
		}
	}
	return h
}

// contractLanguage is the identity contract's name for the language the person chose, so the service writes
// the code's email or text message in it. English is left out of the request (the contract reads an absent
// language as English), so a kiosk keeps working in English with an identity service that predates the
// field (contract 1.0.0, which refuses fields it does not name); only a Welsh session needs a service that
// knows it.
func contractLanguage(l texts.Lang) identity.Language {
	if l == texts.Welsh {
		return identity.LanguageWelsh
	}
	return ""
}

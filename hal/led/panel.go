package led

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
)

// IdentifyDuration is how long Identify blinks.
const IdentifyDuration = 15 * time.Second

// ErrClosed is returned by a Panel's methods after Close.
var ErrClosed = errors.New("led: panel closed")

// Clock is the time source a Panel blinks by. clockwork.NewRealClock() (the
// default) and clockwork.NewFakeClock() in tests satisfy it.
type Clock interface {
	NewTimer(d time.Duration) clockwork.Timer
}

// Panel shows a Pattern on the status lights. One goroutine owns the lights
// and does the blinking; Show, Identify, Halt and Close hand it work and wait
// for the lights to have changed. A Panel is safe for concurrent use.
type Panel struct {
	lights [roleCount]gpio.PinOut
	log    *slog.Logger
	clock  Clock

	requests chan request
	quit     chan struct{} // closed by Close
	done     chan struct{} // closed when the goroutine has stopped
	stopOnce sync.Once
	haltErr  error // written by the goroutine before done is closed

	current    atomic.Uint32 // the Pattern being shown
	identifyID atomic.Uint64

	// Owned by the panel's goroutine (and by New before it starts).
	written [roleCount]gpio.Level // what each light was last set to
	failing [roleCount]error      // each light's last write error
}

// request is a change to the panel's state, run on its goroutine.
type request struct {
	change func(*state)
	reply  chan error
}

// state is what the panel's goroutine owns.
type state struct {
	base       Pattern             // the pattern last asked for with Show
	identifies map[uint64]struct{} // Identify calls under way
	halt       bool                // write every light even if nothing changed
}

func (s *state) shown() Pattern {
	if len(s.identifies) > 0 {
		return Identify
	}
	return s.base
}

// Open opens the LEDs cfg names (see OpenLights: missing ones are simulated
// with a warning) and returns a Panel showing Off.
func Open(cfg Config, log *slog.Logger) (*Panel, error) {
	lights, err := OpenLights(cfg, log)
	if err != nil {
		return nil, err
	}
	return New(lights, log, nil), nil
}

// New returns a Panel driving lights (nil lights are simulated), logging to
// log and blinking by clock (nil: the real clock). The lights are turned off
// first. Close stops the panel's goroutine.
func New(lights Lights, log *slog.Logger, clock Clock) *Panel {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	p := &Panel{
		log:      log,
		clock:    clock,
		requests: make(chan request),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	for r, slot := range lights.byRole() {
		if *slot == nil {
			*slot = NewSimulated(role(r).String(), log)
		}
		p.lights[r] = *slot
	}
	for r, err := range p.write(0, true) {
		p.failing[r] = err
		if err != nil {
			log.Warn("status LED cannot be turned off", "led", role(r).String(), "spec", p.lights[r].String(), "err", err)
		}
	}
	go p.run()
	return p
}

// String implements conn.Resource: it names the lights, e.g.
// "led.Panel(green=sysfs:led0 amber=sim:amber red=GPIO17(17))".
func (p *Panel) String() string {
	var b strings.Builder
	b.WriteString("led.Panel(")
	for r, l := range p.lights {
		if r > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", role(r), l)
	}
	b.WriteByte(')')
	return b.String()
}

// Current returns the pattern the lights are showing: Identify while an
// Identify is under way, otherwise the last pattern given to Show. Its
// String() is what health messages report.
func (p *Panel) Current() Pattern {
	return Pattern(p.current.Load())
}

// Show makes the lights show pattern until the next Show. While Identify is
// under way the lights keep identifying and show pattern when it ends.
// Patterns persist: Success and Error do not fall back to Idle by themselves.
// The error, if any, says which lights could not be written; the pattern is
// still recorded, and the panel tries those lights again on every blink and
// every Show.
func (p *Panel) Show(pattern Pattern) error {
	if !pattern.Valid() || pattern == Identify {
		return fmt.Errorf("led: show %s: not a pattern Show accepts", pattern)
	}
	return p.do(func(s *state) { s.base = pattern })
}

// Identify blinks every light for IdentifyDuration, so a technician can find
// this kiosk, then goes back to the pattern last given to Show. It returns
// when the blinking ends: nil after IdentifyDuration, ctx's error if ctx ends
// first, ErrClosed if the panel is closed meanwhile. Overlapping calls each
// keep the lights identifying until the last one ends. Callers that must not
// wait (a fleet command handler) run it in a goroutine with a context that
// ends when the kiosk shuts down.
func (p *Panel) Identify(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id := p.identifyID.Add(1)
	// A light that cannot be written is logged by the panel's goroutine;
	// identifying goes on with the others.
	if err := p.do(func(s *state) { s.identifies[id] = struct{}{} }); errors.Is(err, ErrClosed) {
		return err
	}
	t := p.clock.NewTimer(IdentifyDuration)
	defer t.Stop()
	var result error
	select {
	case <-t.Chan():
	case <-ctx.Done():
		result = ctx.Err()
	case <-p.done:
		return ErrClosed
	}
	if err := p.do(func(s *state) { delete(s.identifies, id) }); errors.Is(err, ErrClosed) {
		return err
	}
	return result
}

// Halt implements conn.Resource: it turns every light off, ends any Identify
// early and shows Off until the next Show.
func (p *Panel) Halt() error {
	return p.do(func(s *state) {
		s.base = Off
		clear(s.identifies)
		s.halt = true
	})
}

// Close turns every light off and stops the panel's goroutine. It returns the
// errors from turning the lights off; later calls return nil.
func (p *Panel) Close() error {
	first := false
	p.stopOnce.Do(func() {
		first = true
		close(p.quit)
	})
	<-p.done
	if first {
		return p.haltErr
	}
	return nil
}

// do runs change on the panel's goroutine and waits until the lights show
// the result.
func (p *Panel) do(change func(*state)) error {
	r := request{change: change, reply: make(chan error, 1)}
	select {
	case p.requests <- r:
	case <-p.done:
		return ErrClosed
	}
	return <-r.reply
}

// run owns the lights until Close.
func (p *Panel) run() {
	defer close(p.done)
	s := state{identifies: map[uint64]struct{}{}}
	var (
		frames []frame
		step   int
		timer  clockwork.Timer
		tick   <-chan time.Time
	)
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
			timer, tick = nil, nil
		}
	}
	// show writes the current frame, arms the timer for the next one and
	// returns what went wrong as one error.
	show := func(force bool) error {
		f := frames[step]
		errs := p.write(f.on, force)
		p.noteFailures(errs)
		if f.hold > 0 {
			timer = p.clock.NewTimer(f.hold)
			tick = timer.Chan()
		}
		return p.joinErrors(errs)
	}
	frames = Off.frames()
	for {
		select {
		case r := <-p.requests:
			before := s.shown()
			r.change(&s)
			after := s.shown()
			var err error
			if after != before || s.halt || p.failing != [roleCount]error{} {
				force := s.halt
				s.halt = false
				if after != before {
					p.current.Store(uint32(after))
					p.log.Info("status LEDs", "pattern", after.String())
				}
				stopTimer()
				frames, step = after.frames(), 0
				if err = show(force); err != nil {
					err = fmt.Errorf("led: show %s: %w", after, err)
				}
			}
			r.reply <- err
		case <-tick:
			timer, tick = nil, nil
			step = (step + 1) % len(frames)
			_ = show(false) // failures are logged by noteFailures
		case <-p.quit:
			stopTimer()
			p.current.Store(uint32(Off))
			if err := p.joinErrors(p.write(0, true)); err != nil {
				p.haltErr = fmt.Errorf("led: close: %w", err)
			}
			return
		}
	}
}

// write sets the lights to what on says. It writes only the lights that
// change, or that failed last time, unless force is set.
func (p *Panel) write(on lit, force bool) [roleCount]error {
	var errs [roleCount]error
	for r, l := range p.lights {
		level := gpio.Level(on.has(role(r)))
		if !force && p.failing[r] == nil && p.written[r] == level {
			continue
		}
		if errs[r] = l.Out(level); errs[r] == nil {
			p.written[r] = level
		}
	}
	return errs
}

// joinErrors names the light of each error and joins them; nil if none.
func (p *Panel) joinErrors(errs [roleCount]error) error {
	var all []error
	for r, err := range errs {
		if err != nil {
			all = append(all, fmt.Errorf("%s light %s: %w", role(r), p.lights[r], err))
		}
	}
	return errors.Join(all...)
}

// noteFailures logs a light that starts failing, and again when it recovers,
// rather than on every blink.
func (p *Panel) noteFailures(errs [roleCount]error) {
	for r, err := range errs {
		switch {
		case err != nil && p.failing[r] == nil:
			p.log.Warn("status LED write failed", "led", role(r).String(), "spec", p.lights[r].String(), "err", err)
		case err == nil && p.failing[r] != nil:
			p.log.Info("status LED works again", "led", role(r).String(), "spec", p.lights[r].String())
		}
		p.failing[r] = err
	}
}

var _ conn.Resource = (*Panel)(nil)

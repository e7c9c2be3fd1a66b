package speech

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"ssu-kiosk/kiosk/flow/texts"
)

// Audio is mono 16-bit samples at Rate samples a second.
type Audio struct {
	Samples []int16
	Rate    int
}

// Engine turns text into speech.
type Engine interface {
	Synthesize(ctx context.Context, lang texts.Lang, text string) (Audio, error)
}

// Output plays audio. Play returns once the samples have been played, or when ctx ends (then it stops
// at once). volume is 0 to 1.
type Output interface {
	Play(ctx context.Context, a Audio, volume float64) error
}

// Speaker speaks the latest utterance while speech is on. Its methods are safe from any goroutine and
// never block; Run does the work.
type Speaker struct {
	engine Engine
	out    Output
	log    *slog.Logger
	wake   chan struct{}

	mu      sync.Mutex
	on      bool  // speech is on (the key, or a headset)
	jack    *bool // a headset is plugged in (nil: this kiosk cannot tell)
	volume  float64
	last    Utterance // the current screen's spoken form, kept while speech is off for when it comes on
	pending *job      // the next thing to say
	cancel  context.CancelFunc
}

type job struct {
	u     Utterance
	alert bool // a warning tone first
	at    time.Time
}

// NewSpeaker returns a Speaker, off.
func NewSpeaker(engine Engine, out Output, log *slog.Logger) *Speaker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Speaker{engine: engine, out: out, log: log, wake: make(chan struct{}, 1), volume: 0.8}
}

// Say makes u the current screen's spoken form and, while speech is on, speaks it, cutting what is
// being said.
func (s *Speaker) Say(u Utterance) { s.say(u, false) }

// Warn is Say after a warning tone: a time limit is running out. The tone plays even with speech off.
func (s *Speaker) Warn(u Utterance) { s.say(u, true) }

func (s *Speaker) say(u Utterance, alert bool) {
	s.mu.Lock()
	s.last = u
	if s.speaking() || alert {
		s.queue(&job{u: u, alert: alert, at: time.Now()})
	}
	s.mu.Unlock()
}

// speaking reports whether speech should be heard now; s.mu is held.
func (s *Speaker) speaking() bool { return s.on && (s.jack == nil || *s.jack) }

// queue replaces what is waiting and cuts what is playing; s.mu is held.
func (s *Speaker) queue(j *job) {
	if !s.speaking() && j.alert {
		j.u = Utterance{} // the tone only
	}
	s.pending = j
	if s.cancel != nil {
		s.cancel()
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Toggle turns speech on or off (the speech key) and says so by speaking, or stopping.
func (s *Speaker) Toggle() { s.SetOn(!s.On()) }

// On reports whether speech is on.
func (s *Speaker) On() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.on
}

// SetOn turns speech on (the current screen is spoken, with how to use speech) or off (at once).
func (s *Speaker) SetOn(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.on == on {
		return
	}
	s.on = on
	s.log.Info("speech", "on", on)
	s.restart(true)
}

// Headset is the jack's news: plugged in turns speech on, pulled out stops it at once.
func (s *Speaker) Headset(plugged bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jack = &plugged
	s.log.Info("headset", "plugged", plugged)
	s.on = plugged
	s.restart(true)
}

// restart speaks the current screen again, or stops; s.mu is held.
func (s *Speaker) restart(intro bool) {
	if !s.speaking() {
		s.pending = nil
		if s.cancel != nil {
			s.cancel()
		}
		return
	}
	u := s.last
	if u.Lang == "" {
		u.Lang = texts.English
	}
	if intro {
		p := texts.NewPrinter(u.Lang)
		hint := p.Sprintf("Speech is on. Hold F12 for 2 seconds to turn it off. F11 repeats, F9 and F10 change the volume, F6 changes the language.")
		u.Text, u.Log = hint+" "+u.Text, hint+" "+u.Log
	}
	s.queue(&job{u: u, at: time.Now()})
}

// Repeat says the current screen again.
func (s *Speaker) Repeat() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restart(false)
}

// Louder and Quieter change the volume by a tenth and say the screen again at the new volume.
func (s *Speaker) Louder()  { s.setVolume(+0.1) }
func (s *Speaker) Quieter() { s.setVolume(-0.1) }

func (s *Speaker) setVolume(d float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.volume = math.Round(min(1, max(0.1, s.volume+d))*10) / 10
	s.restart(false)
}

// Volume is the volume, 0.1 to 1.
func (s *Speaker) Volume() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.volume
}

// Run speaks until ctx ends.
func (s *Speaker) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		s.mu.Lock()
		j := s.pending
		s.pending = nil
		jctx, cancel := context.WithCancel(ctx)
		s.cancel = cancel
		vol := s.volume
		s.mu.Unlock()
		if j != nil {
			s.speak(jctx, j, vol)
		}
		cancel()
	}
}

func (s *Speaker) speak(ctx context.Context, j *job, vol float64) {
	if j.alert {
		if err := s.out.Play(ctx, Tone(880, 250*time.Millisecond, 22050), vol); err != nil && ctx.Err() == nil {
			s.log.Warn("speech: warning tone", "err", err)
		}
	}
	if j.u.Text == "" || ctx.Err() != nil {
		return
	}
	a, err := s.engine.Synthesize(ctx, j.u.Lang, j.u.Text)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("speech: synthesis", "err", err)
		}
		return
	}
	// The first sample goes to the output now: the delay from the screen change is what a person waits.
	s.log.Info("spoken", "id", j.u.Screen, "lang", j.u.Lang, "samples", len(a.Samples),
		"ms", float64(time.Since(j.at).Microseconds())/1000)
	s.log.Debug("spoken text", "id", j.u.Screen, "text", j.u.Log)
	if err := s.out.Play(ctx, a, vol); err != nil && ctx.Err() == nil {
		s.log.Warn("speech: output", "err", err)
	}
}

// Tone is a sine wave of freq Hz lasting d, with short fades so it does not click.
func Tone(freq float64, d time.Duration, rate int) Audio {
	n := int(d.Seconds() * float64(rate))
	a := Audio{Samples: make([]int16, n), Rate: rate}
	fade := rate / 100
	for i := range n {
		amp := 0.4
		if i < fade {
			amp *= float64(i) / float64(fade)
		} else if n-i < fade {
			amp *= float64(n-i) / float64(fade)
		}
		a.Samples[i] = int16(amp * 32767 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return a
}

// Package speechtest has fakes of package speech's Engine, Output and Jack for tests: an engine that
// records what it was asked to say, a sink that records what was played (and can hold a play until it is
// cut), and a jack a test plugs and pulls. For tests only.
package speechtest

import (
	"context"
	"sync"

	"ssu-kiosk/kiosk/flow/texts"
	"ssu-kiosk/kiosk/ui/speech"
)

// Said is one utterance the Engine was asked for.
type Said struct {
	Lang texts.Lang
	Text string
}

// Engine records texts and returns 100 samples a character.
type Engine struct {
	mu   sync.Mutex
	said []Said
}

// Synthesize records the text.
func (e *Engine) Synthesize(_ context.Context, lang texts.Lang, text string) (speech.Audio, error) {
	e.mu.Lock()
	e.said = append(e.said, Said{lang, text})
	e.mu.Unlock()
	return speech.Audio{Samples: make([]int16, 100*len(text)), Rate: 22050}, nil
}

// Said lists what was asked for, in order.
func (e *Engine) Said() []Said {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Said(nil), e.said...)
}

// Sink is an Output that records plays. With Hold set, a play lasts until it is cut (its context ends).
type Sink struct {
	Hold bool
	// Plays receives the sample count of each play as it starts.
	Plays chan int

	mu          sync.Mutex
	played, cut int
	samples     int
}

// NewSink returns a Sink whose Plays channel holds up to 64 plays.
func NewSink(hold bool) *Sink { return &Sink{Hold: hold, Plays: make(chan int, 64)} }

// Play records a.
func (s *Sink) Play(ctx context.Context, a speech.Audio, _ float64) error {
	s.mu.Lock()
	s.played++
	s.samples += len(a.Samples)
	s.mu.Unlock()
	select {
	case s.Plays <- len(a.Samples):
	default:
	}
	if s.Hold {
		<-ctx.Done()
		s.mu.Lock()
		s.cut++
		s.mu.Unlock()
	}
	return nil
}

// Counts is how many plays started, how many were cut, and the samples played.
func (s *Sink) Counts() (played, cut, samples int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.played, s.cut, s.samples
}

// Jack is a headset socket the test plugs (C <- true) and pulls (C <- false).
type Jack struct{ C chan bool }

// NewJack returns a Jack.
func NewJack() *Jack { return &Jack{C: make(chan bool, 4)} }

// Watch returns C.
func (j *Jack) Watch(context.Context) <-chan bool { return j.C }

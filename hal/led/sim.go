package led

import (
	"log/slog"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

// Simulated is an LED with no hardware behind it, for development machines
// and for kiosks where a light is not fitted. It remembers its level, logs
// each change at debug level and never fails.
type Simulated struct {
	name string
	log  *slog.Logger

	mu    sync.Mutex
	level gpio.Level
	duty  gpio.Duty
}

// NewSimulated returns a dark simulated LED called name that logs to log
// (nil: it does not log).
func NewSimulated(name string, log *slog.Logger) *Simulated {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Simulated{name: name, log: log}
}

// String implements conn.Resource; it returns the spec that opens it, "sim:NAME".
func (s *Simulated) String() string { return kindSim + ":" + s.name }

// Halt implements conn.Resource: it turns the LED off.
func (s *Simulated) Halt() error { return s.Out(gpio.Low) }

// Name implements pin.Pin.
func (s *Simulated) Name() string { return s.name }

// Number implements pin.Pin; a simulated LED has no pin number.
func (s *Simulated) Number() int { return -1 }

// Function implements pin.Pin.
func (s *Simulated) Function() string {
	if s.Read() {
		return "LED/On"
	}
	return "LED/Off"
}

// Out implements gpio.PinOut.
func (s *Simulated) Out(l gpio.Level) error {
	s.mu.Lock()
	changed := s.level != l
	s.level = l
	if l {
		s.duty = gpio.DutyMax
	} else {
		s.duty = 0
	}
	s.mu.Unlock()
	if changed {
		s.log.Debug("simulated led", "led", s.name, "on", bool(l))
	}
	return nil
}

// PWM implements gpio.PinOut: any duty above 0 counts as on.
func (s *Simulated) PWM(d gpio.Duty, _ physic.Frequency) error {
	if err := s.Out(d > 0); err != nil {
		return err
	}
	s.mu.Lock()
	s.duty = d
	s.mu.Unlock()
	return nil
}

// Read returns the LED's level, for tests and for developers.
func (s *Simulated) Read() gpio.Level {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.level
}

var _ gpio.PinOut = (*Simulated)(nil)

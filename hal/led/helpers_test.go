package led_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) count(s string) int { return strings.Count(b.String(), s) }

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// fakePins are three gpiotest pins standing in for the lights.
type fakePins struct{ green, amber, red *gpiotest.Pin }

func newFakePins() fakePins {
	return fakePins{
		green: &gpiotest.Pin{N: "GREEN", Num: 1},
		amber: &gpiotest.Pin{N: "AMBER", Num: 2},
		red:   &gpiotest.Pin{N: "RED", Num: 3},
	}
}

// levels returns the lights as "GAR" with a dash for a dark light, e.g. "G--".
func (f fakePins) levels() string {
	s := []byte("---")
	if f.green.Read() {
		s[0] = 'G'
	}
	if f.amber.Read() {
		s[1] = 'A'
	}
	if f.red.Read() {
		s[2] = 'R'
	}
	return string(s)
}

// waitTimers waits until the fake clock has n timers armed, which is how the
// tests know the panel's goroutine has finished writing a frame.
func waitTimers(t *testing.T, clk clockwork.FakeClock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// clockwork v0.4.0 implements BlockUntilContext but leaves it out of the
	// FakeClock interface.
	b, ok := clk.(interface {
		BlockUntilContext(context.Context, int) error
	})
	if !ok {
		t.Fatal("fake clock has no BlockUntilContext")
	}
	if err := b.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("waiting for %d timers: %v", n, err)
	}
}

// flakyPin is a light whose writes fail while Broken is set.
type flakyPin struct {
	*gpiotest.Pin
	mu     sync.Mutex
	broken bool
}

var errBroken = errors.New("wire cut")

func (p *flakyPin) setBroken(b bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.broken = b
}

func (p *flakyPin) Out(l gpio.Level) error {
	p.mu.Lock()
	broken := p.broken
	p.mu.Unlock()
	if broken {
		return errBroken
	}
	return p.Pin.Out(l)
}

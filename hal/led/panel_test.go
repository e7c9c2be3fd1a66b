package led_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"ssu-kiosk/hal/led"
)

func newPanel(t *testing.T) (*led.Panel, fakePins, clockwork.FakeClock) {
	t.Helper()
	pins := newFakePins()
	clk := clockwork.NewFakeClock()
	p := led.New(led.Lights{Green: pins.green, Amber: pins.amber, Red: pins.red}, nil, clk)
	t.Cleanup(func() { _ = p.Close() })
	return p, pins, clk
}

func TestSteadyPatterns(t *testing.T) {
	p, pins, clk := newPanel(t)
	if p.Current() != led.Off || pins.levels() != "---" {
		t.Fatalf("new panel shows %v, lights %s", p.Current(), pins.levels())
	}
	for _, c := range []struct {
		pattern led.Pattern
		lights  string
	}{
		{led.Idle, "G--"},
		{led.OutOfService, "--R"},
		{led.Off, "---"},
		{led.Idle, "G--"},
	} {
		if err := p.Show(c.pattern); err != nil {
			t.Fatal(err)
		}
		if got := pins.levels(); got != c.lights {
			t.Errorf("%v: lights %s, want %s", c.pattern, got, c.lights)
		}
		if p.Current() != c.pattern {
			t.Errorf("Current() = %v, want %v", p.Current(), c.pattern)
		}
		clk.Advance(time.Hour)
		if got := pins.levels(); got != c.lights {
			t.Errorf("%v an hour later: lights %s, want %s", c.pattern, got, c.lights)
		}
	}
}

func TestBlinkingPatterns(t *testing.T) {
	for _, c := range []struct {
		pattern led.Pattern
		on      string
		half    time.Duration
	}{
		{led.Busy, "-A-", 500 * time.Millisecond},
		{led.Success, "G--", 150 * time.Millisecond},
		{led.Error, "--R", 150 * time.Millisecond},
	} {
		t.Run(c.pattern.String(), func(t *testing.T) {
			p, pins, clk := newPanel(t)
			if err := p.Show(c.pattern); err != nil {
				t.Fatal(err)
			}
			for i := range 6 {
				want := c.on
				if i%2 == 1 {
					want = "---"
				}
				if got := pins.levels(); got != want {
					t.Fatalf("after %d half-periods: lights %s, want %s", i, got, want)
				}
				clk.Advance(c.half - time.Millisecond)
				waitTimers(t, clk, 1)
				if got := pins.levels(); got != want {
					t.Fatalf("1 ms before half-period %d ends: lights %s, want %s", i+1, got, want)
				}
				clk.Advance(time.Millisecond)
				waitTimers(t, clk, 1)
			}
		})
	}
}

func TestShowSamePatternKeepsRhythm(t *testing.T) {
	p, pins, clk := newPanel(t)
	if err := p.Show(led.Busy); err != nil {
		t.Fatal(err)
	}
	clk.Advance(500 * time.Millisecond)
	waitTimers(t, clk, 1)
	if pins.levels() != "---" {
		t.Fatalf("busy off phase: %s", pins.levels())
	}
	if err := p.Show(led.Busy); err != nil {
		t.Fatal(err)
	}
	if pins.levels() != "---" {
		t.Fatalf("showing busy again restarted the blink: %s", pins.levels())
	}
}

func TestShowRejects(t *testing.T) {
	p, _, _ := newPanel(t)
	for _, bad := range []led.Pattern{led.Identify, led.Pattern(77)} {
		if err := p.Show(bad); err == nil {
			t.Errorf("Show(%v) accepted", bad)
		}
	}
}

func TestIdentify(t *testing.T) {
	p, pins, clk := newPanel(t)
	if err := p.Show(led.Idle); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Identify(context.Background()) }()
	waitTimers(t, clk, 2) // the blink and the 15 s
	if p.Current() != led.Identify || pins.levels() != "GAR" {
		t.Fatalf("identifying: %v, lights %s", p.Current(), pins.levels())
	}
	// The kiosk moves on while the technician looks: identify keeps the lights.
	if err := p.Show(led.Error); err != nil {
		t.Fatal(err)
	}
	if p.Current() != led.Identify || pins.levels() != "GAR" {
		t.Fatalf("Show during identify changed the lights: %v, %s", p.Current(), pins.levels())
	}
	steps := int(led.IdentifyDuration / (250 * time.Millisecond))
	for i := 1; i < steps; i++ {
		clk.Advance(250 * time.Millisecond)
		waitTimers(t, clk, 2)
		want := "GAR"
		if i%2 == 1 {
			want = "---"
		}
		if got := pins.levels(); got != want {
			t.Fatalf("identify step %d: lights %s, want %s", i, got, want)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Identify returned before 15 s: %v", err)
	default:
	}
	clk.Advance(250 * time.Millisecond)
	if err := <-done; err != nil {
		t.Fatalf("Identify: %v", err)
	}
	if p.Current() != led.Error || pins.levels() != "--R" {
		t.Fatalf("after identify: %v, lights %s; want error, --R", p.Current(), pins.levels())
	}
}

func TestIdentifyCancelled(t *testing.T) {
	p, pins, clk := newPanel(t)
	if err := p.Show(led.OutOfService); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Identify(ctx) }()
	waitTimers(t, clk, 2)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Identify = %v, want context.Canceled", err)
	}
	if p.Current() != led.OutOfService || pins.levels() != "--R" {
		t.Fatalf("after a cancelled identify: %v, lights %s", p.Current(), pins.levels())
	}
	if err := p.Identify(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Identify with a dead context = %v", err)
	}
}

func TestIdentifyOverlapping(t *testing.T) {
	p, pins, clk := newPanel(t)
	first := make(chan error, 1)
	go func() { first <- p.Identify(context.Background()) }()
	waitTimers(t, clk, 2)
	clk.Advance(5 * time.Second)
	waitTimers(t, clk, 2)
	second := make(chan error, 1)
	go func() { second <- p.Identify(context.Background()) }()
	waitTimers(t, clk, 3)
	clk.Advance(10 * time.Second)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if p.Current() != led.Identify {
		t.Fatalf("the first identify's end stopped the second: %v", p.Current())
	}
	waitTimers(t, clk, 2)
	clk.Advance(5 * time.Second)
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if p.Current() != led.Off || pins.levels() != "---" {
		t.Fatalf("after both: %v, lights %s", p.Current(), pins.levels())
	}
}

func TestHalt(t *testing.T) {
	p, pins, clk := newPanel(t)
	if err := p.Show(led.Busy); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Identify(context.Background()) }()
	waitTimers(t, clk, 2)
	if err := p.Halt(); err != nil {
		t.Fatal(err)
	}
	if p.Current() != led.Off || pins.levels() != "---" {
		t.Fatalf("halted: %v, lights %s", p.Current(), pins.levels())
	}
	clk.Advance(led.IdentifyDuration)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p.Current() != led.Off || pins.levels() != "---" {
		t.Fatalf("halted, after identify's time: %v, lights %s", p.Current(), pins.levels())
	}
}

func TestClose(t *testing.T) {
	p, pins, clk := newPanel(t)
	if err := p.Show(led.Idle); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Identify(context.Background()) }()
	waitTimers(t, clk, 2)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, led.ErrClosed) {
		t.Fatalf("Identify during Close = %v, want ErrClosed", err)
	}
	if p.Current() != led.Off || pins.levels() != "---" {
		t.Fatalf("closed: %v, lights %s", p.Current(), pins.levels())
	}
	if err := p.Show(led.Idle); !errors.Is(err, led.ErrClosed) {
		t.Fatalf("Show after Close = %v", err)
	}
	if err := p.Halt(); !errors.Is(err, led.ErrClosed) {
		t.Fatalf("Halt after Close = %v", err)
	}
	if err := p.Identify(context.Background()); !errors.Is(err, led.ErrClosed) {
		t.Fatalf("Identify after Close = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestFailingLight(t *testing.T) {
	pins := newFakePins()
	amber := &flakyPin{Pin: pins.amber}
	amber.setBroken(true)
	clk := clockwork.NewFakeClock()
	log, buf := newLogger()
	p := led.New(led.Lights{Green: pins.green, Amber: amber, Red: pins.red}, log, clk)
	defer p.Close()

	err := p.Show(led.Busy)
	if !errors.Is(err, errBroken) || !strings.Contains(err.Error(), "led: show busy: amber light AMBER(2)") {
		t.Fatalf("Show with a broken amber = %v", err)
	}
	if p.Current() != led.Busy {
		t.Fatalf("the pattern was not recorded: %v", p.Current())
	}
	for range 4 {
		clk.Advance(500 * time.Millisecond)
		waitTimers(t, clk, 1)
	}
	if n := buf.count("WARN"); n != 1 {
		t.Fatalf("%d warnings for one broken light, want 1:\n%s", n, buf)
	}
	// Green and red still work.
	if err := p.Show(led.Idle); !errors.Is(err, errBroken) || pins.green.Read() != true {
		t.Fatalf("idle with a broken amber: %v, green %v", err, pins.green.Read())
	}
	amber.setBroken(false)
	if err := p.Show(led.Idle); err != nil {
		t.Fatalf("Show after the wire was mended: %v", err)
	}
	if !strings.Contains(buf.String(), `"status LED works again" led=amber`) {
		t.Fatalf("no recovery logged:\n%s", buf)
	}
	amber.setBroken(true)
	if err := p.Close(); !errors.Is(err, errBroken) || !strings.HasPrefix(err.Error(), "led: close: amber light") {
		t.Fatalf("Close with a broken amber = %v", err)
	}
}

func TestNilLightsAreSimulated(t *testing.T) {
	log, buf := newLogger()
	p := led.New(led.Lights{}, log, nil)
	defer p.Close()
	if got := p.String(); got != "led.Panel(green=sim:green amber=sim:amber red=sim:red)" {
		t.Fatalf("String() = %q", got)
	}
	if err := p.Show(led.Idle); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		`level=INFO msg="status LEDs" pattern=idle`,
		`level=DEBUG msg="simulated led" led=green on=true`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestConcurrentUse is for the race detector: the UI, the fleet link and a
// technician's identify all use one panel at once.
func TestConcurrentUse(t *testing.T) {
	p, _, clk := newPanel(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = p.Identify(ctx) })
	for _, pattern := range []led.Pattern{led.Idle, led.Busy, led.Success, led.Error} {
		wg.Go(func() {
			for range 50 {
				if err := p.Show(pattern); err != nil {
					t.Error(err)
					return
				}
				_ = p.Current().String()
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			clk.Advance(100 * time.Millisecond)
		}
	})
	cancel()
	wg.Wait()
}

func BenchmarkShow(b *testing.B) {
	p := led.New(led.Lights{}, nil, clockwork.NewFakeClock())
	defer p.Close()
	patterns := []led.Pattern{led.Idle, led.Busy}
	for i := 0; b.Loop(); i++ {
		if err := p.Show(patterns[i%2]); err != nil {
			b.Fatal(err)
		}
	}
}

// countingPin counts writes.
type countingPin struct {
	*gpiotest.Pin
	writes atomic.Int32
}

func (p *countingPin) Out(l gpio.Level) error {
	p.writes.Add(1)
	return p.Pin.Out(l)
}

func TestOnlyChangedLightsAreWritten(t *testing.T) {
	pins := newFakePins()
	green, amber := &countingPin{Pin: pins.green}, &countingPin{Pin: pins.amber}
	clk := clockwork.NewFakeClock()
	p := led.New(led.Lights{Green: green, Amber: amber, Red: pins.red}, nil, clk)
	defer p.Close()
	if err := p.Show(led.Busy); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		clk.Advance(500 * time.Millisecond)
		waitTimers(t, clk, 1)
	}
	if n := green.writes.Load(); n != 1 {
		t.Errorf("green, dark all along, was written %d times; want 1 (by New)", n)
	}
	if n := amber.writes.Load(); n != 12 {
		t.Errorf("amber was written %d times; want 12 (New, Show, 10 blinks)", n)
	}
	if err := p.Halt(); err != nil {
		t.Fatal(err)
	}
	if n := green.writes.Load(); n != 2 {
		t.Errorf("Halt did not rewrite green: %d writes", n)
	}
}

func TestBrokenLightAtStart(t *testing.T) {
	pins := newFakePins()
	red := &flakyPin{Pin: pins.red}
	red.setBroken(true)
	log, buf := newLogger()
	p := led.New(led.Lights{Green: pins.green, Amber: pins.amber, Red: red}, log, clockwork.NewFakeClock())
	defer p.Close()
	if !strings.Contains(buf.String(), `level=WARN msg="status LED cannot be turned off" led=red`) {
		t.Fatalf("no warning:\n%s", buf)
	}
	// Idle leaves red dark, but red is retried because it failed.
	if err := p.Show(led.Idle); !errors.Is(err, errBroken) {
		t.Fatalf("Show = %v, want the broken red retried", err)
	}
	if n := buf.count("WARN"); n != 1 {
		t.Fatalf("%d warnings for one broken light, want 1:\n%s", n, buf)
	}
}

package led_test

import (
	"testing"

	"periph.io/x/conn/v3/gpio"

	"ssu-kiosk/hal/led"
)

func TestSimulated(t *testing.T) {
	log, buf := newLogger()
	s := led.NewSimulated("desk", log)
	if s.String() != "sim:desk" || s.Name() != "desk" || s.Number() != -1 {
		t.Fatalf("identity: %q %q %d", s, s.Name(), s.Number())
	}
	if s.Read() || s.Function() != "LED/Off" {
		t.Fatal("a new simulated LED is lit")
	}
	if err := s.Out(gpio.High); err != nil || !s.Read() || s.Function() != "LED/On" {
		t.Fatalf("Out(High): %v, level %v", err, s.Read())
	}
	_ = s.Out(gpio.High) // no change: no log line
	if n := buf.count("on=true"); n != 1 {
		t.Fatalf("logged %d changes to on, want 1:\n%s", n, buf)
	}
	if err := s.Halt(); err != nil || s.Read() {
		t.Fatalf("Halt: %v, level %v", err, s.Read())
	}
	if n := buf.count("on=false"); n != 1 {
		t.Fatalf("logged %d changes to off, want 1:\n%s", n, buf)
	}
	if err := s.PWM(gpio.DutyHalf, 0); err != nil || !s.Read() {
		t.Fatalf("PWM(half): %v, level %v", err, s.Read())
	}
	if err := s.PWM(0, 0); err != nil || s.Read() {
		t.Fatalf("PWM(0): %v, level %v", err, s.Read())
	}
	// nil logger: no log, no panic.
	if err := led.NewSimulated("quiet", nil).Out(gpio.High); err != nil {
		t.Fatal(err)
	}
}

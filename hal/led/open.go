package led

import (
	"fmt"
	"log/slog"
	"strings"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/host/v3"
)

// Spec kinds: the part of a spec before the first colon.
const (
	kindSysfs = "sysfs" // sysfs:NAME, a LED under /sys/class/leds
	kindGPIO  = "gpio"  // gpio:NAME or gpio:!NAME (active low), a GPIO line known to periph's gpioreg
	kindSim   = "sim"   // sim:NAME, a simulated LED
)

// Config says which LED plays which role. Each field is a spec:
//
//	sysfs:NAME    the LED /sys/class/leds/NAME (NAME may contain colons, e.g. "sysfs:green:status")
//	gpio:NAME     the GPIO line NAME as periph names it (e.g. "GPIO17"), lit when high
//	gpio:!NAME    the same, lit when low (LED wired to the supply)
//	sim:NAME      a simulated LED that logs its state
//	(empty)       no LED fitted: a simulated one named after the role
type Config struct {
	Green string `json:"green"`
	Amber string `json:"amber"`
	Red   string `json:"red"`
	// SysfsRoot is where sysfs LEDs are looked for; empty means DefaultSysfsRoot.
	SysfsRoot string `json:"sysfs_root,omitempty"`
}

// Lights are the panel's three LEDs. A nil light is simulated.
type Lights struct {
	Green, Amber, Red gpio.PinOut
}

func (l *Lights) byRole() [roleCount]*gpio.PinOut {
	return [roleCount]*gpio.PinOut{green: &l.Green, amber: &l.Amber, red: &l.Red}
}

// spec is a parsed Config field.
type spec struct {
	kind      string
	name      string
	activeLow bool
}

func (s spec) String() string {
	if s.activeLow {
		return s.kind + ":!" + s.name
	}
	return s.kind + ":" + s.name
}

// parseSpec parses one Config field; an empty field is a simulated LED named
// after the role.
func parseSpec(r role, text string) (spec, error) {
	if text == "" {
		return spec{kind: kindSim, name: r.String()}, nil
	}
	kind, name, ok := strings.Cut(text, ":")
	if !ok {
		return spec{}, fmt.Errorf("led %s: spec %q: want sysfs:NAME, gpio:NAME or sim:NAME", r, text)
	}
	s := spec{kind: kind, name: name}
	switch kind {
	case kindSysfs, kindSim:
	case kindGPIO:
		if n, low := strings.CutPrefix(name, "!"); low {
			s.name, s.activeLow = n, true
		}
	default:
		return spec{}, fmt.Errorf("led %s: spec %q: unknown kind %q, want sysfs, gpio or sim", r, text, kind)
	}
	if s.name == "" {
		return spec{}, fmt.Errorf("led %s: spec %q: no LED name", r, text)
	}
	return s, nil
}

// Validate checks that every spec in c is well formed, without touching
// hardware.
func (c Config) Validate() error {
	for r, text := range c.specs() {
		if _, err := parseSpec(role(r), text); err != nil {
			return err
		}
	}
	return nil
}

func (c Config) specs() [roleCount]string {
	return [roleCount]string{green: c.Green, amber: c.Amber, red: c.Red}
}

// OpenLights opens the LEDs cfg names. A malformed spec is an error; an LED
// that cannot be opened (absent, no permission, no such GPIO line) is logged
// as a warning and replaced by a simulated LED, so a kiosk with missing LED
// hardware still starts.
func OpenLights(cfg Config, log *slog.Logger) (Lights, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var specs [roleCount]spec
	for r, text := range cfg.specs() {
		s, err := parseSpec(role(r), text)
		if err != nil {
			return Lights{}, err
		}
		specs[r] = s
	}
	var lights Lights
	slots := lights.byRole()
	for r, s := range specs {
		p, err := openSpec(cfg.SysfsRoot, s, log)
		if err != nil {
			log.Warn("status LED unavailable, simulating it", "led", role(r).String(), "spec", s.String(), "err", err)
			p = NewSimulated(role(r).String(), log)
		}
		*slots[r] = p
	}
	return lights, nil
}

func openSpec(sysfsRoot string, s spec, log *slog.Logger) (gpio.PinOut, error) {
	switch s.kind {
	case kindSysfs:
		return OpenSysfsLED(sysfsRoot, s.name)
	case kindGPIO:
		return openGPIO(s.name, s.activeLow)
	default:
		return NewSimulated(s.name, log), nil
	}
}

// openGPIO finds a GPIO line through periph's registry, initialising periph's
// host drivers first (which is idempotent), and makes it a dark output.
func openGPIO(name string, activeLow bool) (gpio.PinOut, error) {
	if _, err := host.Init(); err != nil {
		return nil, fmt.Errorf("gpio %s: periph host drivers: %w", name, err)
	}
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, fmt.Errorf("gpio %s: no such GPIO line", name)
	}
	var out gpio.PinOut = p
	if activeLow {
		out = activeLowPin{p}
	}
	if err := out.Out(gpio.Low); err != nil {
		return nil, fmt.Errorf("gpio %s: set as output: %w", name, err)
	}
	return out, nil
}

// activeLowPin is a GPIO line whose LED lights when the line is low.
type activeLowPin struct{ gpio.PinOut }

func (p activeLowPin) String() string { return p.PinOut.String() + "(active low)" }

func (p activeLowPin) Halt() error { return p.Out(gpio.Low) }

func (p activeLowPin) Out(l gpio.Level) error { return p.PinOut.Out(!l) }

func (p activeLowPin) PWM(d gpio.Duty, f physic.Frequency) error {
	return p.PinOut.PWM(gpio.DutyMax-d, f)
}

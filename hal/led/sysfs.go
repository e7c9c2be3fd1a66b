package led

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

// DefaultSysfsRoot is where Linux lists its LEDs.
const DefaultSysfsRoot = "/sys/class/leds"

// SysfsLED is an LED the kernel exposes as DIR/NAME/brightness, normally
// under /sys/class/leds.
//
// periph's sysfs.LEDByName does the same for /sys/class/leds only; this one
// takes the directory (so it is tested against a temporary tree), turns off the
// kernel trigger that would otherwise fight it, lights the LED at its
// max_brightness, and writes each level the way `echo 1 > brightness` does.
// It keeps no file open.
type SysfsLED struct {
	name       string
	brightness string // path of the brightness attribute
	max        int    // max_brightness
}

// OpenSysfsLED opens the LED called name under root (DefaultSysfsRoot when
// empty): it reads max_brightness, sets the trigger to "none" when there is a
// trigger attribute, and checks that brightness can be written.
func OpenSysfsLED(root, name string) (*SysfsLED, error) {
	if root == "" {
		root = DefaultSysfsRoot
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return nil, fmt.Errorf("sysfs led %q: not a LED name", name)
	}
	dir := filepath.Join(root, name)
	b, err := os.ReadFile(filepath.Join(dir, "max_brightness"))
	if err != nil {
		return nil, fmt.Errorf("sysfs led %s: %w", name, err)
	}
	top, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || top < 1 {
		return nil, fmt.Errorf("sysfs led %s: max_brightness %q is not a positive number", name, bytes.TrimSpace(b))
	}
	trigger := filepath.Join(dir, "trigger")
	if _, err := os.Stat(trigger); err == nil {
		if err := writeAttr(trigger, "none"); err != nil {
			return nil, fmt.Errorf("sysfs led %s: clear trigger: %w", name, err)
		}
	}
	l := &SysfsLED{name: name, brightness: filepath.Join(dir, "brightness"), max: top}
	f, err := os.OpenFile(l.brightness, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("sysfs led %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sysfs led %s: %w", name, err)
	}
	return l, nil
}

// writeAttr replaces the content of an existing sysfs attribute with s.
func writeAttr(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s + "\n")
	return errors.Join(err, f.Close())
}

// String implements conn.Resource; it returns the spec that opens it, "sysfs:NAME".
func (l *SysfsLED) String() string { return kindSysfs + ":" + l.name }

// Halt implements conn.Resource: it turns the LED off.
func (l *SysfsLED) Halt() error { return l.Out(gpio.Low) }

// Name implements pin.Pin.
func (l *SysfsLED) Name() string { return l.name }

// Number implements pin.Pin; a sysfs LED has no pin number.
func (l *SysfsLED) Number() int { return -1 }

// Function implements pin.Pin.
func (l *SysfsLED) Function() string { return "LED" }

// Out implements gpio.PinOut: High lights the LED at max_brightness.
func (l *SysfsLED) Out(level gpio.Level) error {
	v := 0
	if level {
		v = l.max
	}
	return l.set(v)
}

// PWM implements gpio.PinOut: it sets the brightness in proportion to the duty
// cycle; the frequency is up to the kernel and is ignored.
func (l *SysfsLED) PWM(d gpio.Duty, _ physic.Frequency) error {
	if !d.Valid() {
		return fmt.Errorf("sysfs led %s: duty %d out of range", l.name, d)
	}
	return l.set(int((int64(d)*int64(l.max) + int64(gpio.DutyMax)/2) / int64(gpio.DutyMax)))
}

func (l *SysfsLED) set(v int) error {
	if err := writeAttr(l.brightness, strconv.Itoa(v)); err != nil {
		return fmt.Errorf("sysfs led %s: %w", l.name, err)
	}
	return nil
}

var _ gpio.PinOut = (*SysfsLED)(nil)

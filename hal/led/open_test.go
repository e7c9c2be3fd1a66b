package led_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"ssu-kiosk/hal/led"
)

var pinSerial atomic.Int32

// registerPin puts a lit gpiotest pin into periph's registry under a name no
// other test uses, and takes it out again at the end.
func registerPin(t *testing.T) *gpiotest.Pin {
	t.Helper()
	n := pinSerial.Add(1)
	p := &gpiotest.Pin{N: fmt.Sprintf("LEDTEST%d", n), Num: 1000 + int(n), L: gpio.High}
	if err := gpioreg.Register(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gpioreg.Unregister(p.N) })
	return p
}

func TestOpenLights(t *testing.T) {
	root := t.TempDir()
	dir := fakeSysfsLED(t, root, "green:status", "255")
	amber := registerPin(t)
	log, buf := newLogger()
	lights, err := led.OpenLights(led.Config{
		Green:     "sysfs:green:status",
		Amber:     "gpio:" + amber.N,
		Red:       "sim:desk-red",
		SysfsRoot: root,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lights.Green.(*led.SysfsLED); !ok {
		t.Errorf("green is %T, want *led.SysfsLED", lights.Green)
	}
	if lights.Amber != gpio.PinOut(amber) {
		t.Errorf("amber is %v, want the registered pin", lights.Amber)
	}
	if amber.Read() {
		t.Error("opening a GPIO LED left it lit")
	}
	if lights.Red.String() != "sim:desk-red" {
		t.Errorf("red is %v", lights.Red)
	}
	if strings.Contains(buf.String(), "WARN") {
		t.Errorf("warnings with all LEDs present:\n%s", buf)
	}
	if err := lights.Green.Out(gpio.High); err != nil {
		t.Fatal(err)
	}
	if got := readAttr(t, dir, "brightness"); got != "255" {
		t.Errorf("brightness = %q", got)
	}
}

func TestOpenLightsMissingHardwareIsAWarning(t *testing.T) {
	log, buf := newLogger()
	lights, err := led.OpenLights(led.Config{
		Green:     "sysfs:no-such-led",
		Amber:     "gpio:LEDTEST_NO_SUCH_LINE",
		SysfsRoot: t.TempDir(),
	}, log)
	if err != nil {
		t.Fatalf("missing hardware stopped OpenLights: %v", err)
	}
	for role, l := range map[string]gpio.PinOut{"green": lights.Green, "amber": lights.Amber, "red": lights.Red} {
		if _, ok := l.(*led.Simulated); !ok {
			t.Errorf("%s is %T, want *led.Simulated", role, l)
		}
		if l.Name() != role {
			t.Errorf("%s is simulated as %q, want it named after its role", role, l.Name())
		}
	}
	out := buf.String()
	for _, want := range []string{
		`level=WARN msg="status LED unavailable, simulating it" led=green spec=sysfs:no-such-led`,
		`level=WARN msg="status LED unavailable, simulating it" led=amber spec=gpio:LEDTEST_NO_SUCH_LINE`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "WARN"); n != 2 {
		t.Errorf("%d warnings, want 2 (an empty spec is not a warning):\n%s", n, out)
	}
}

func TestOpenLightsActiveLow(t *testing.T) {
	p := registerPin(t)
	p.L = gpio.Low
	lights, err := led.OpenLights(led.Config{Red: "gpio:!" + p.N}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Read() {
		t.Fatal("opening an active-low LED left its line low (lit)")
	}
	if err := lights.Red.Out(gpio.High); err != nil || p.Read() {
		t.Fatalf("lighting an active-low LED: %v, line %v", err, p.Read())
	}
	if err := lights.Red.Halt(); err != nil || !p.Read() {
		t.Fatalf("halting an active-low LED: %v, line %v", err, p.Read())
	}
	if err := lights.Red.PWM(gpio.DutyMax/4, 0); err != nil || p.D != gpio.DutyMax-gpio.DutyMax/4 {
		t.Fatalf("PWM on an active-low LED: %v, duty %v", err, p.D)
	}
	if !strings.Contains(lights.Red.String(), "active low") {
		t.Errorf("String() = %q", lights.Red)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  led.Config
		want string
	}{
		{led.Config{Green: "led0"}, `led green: spec "led0": want sysfs:NAME, gpio:NAME or sim:NAME`},
		{led.Config{Amber: "usb:led0"}, `led amber: spec "usb:led0": unknown kind "usb"`},
		{led.Config{Red: "sysfs:"}, `led red: spec "sysfs:": no LED name`},
		{led.Config{Red: "gpio:!"}, `led red: spec "gpio:!": no LED name`},
	} {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want %q", c.cfg, err, c.want)
		}
		if _, err := led.OpenLights(c.cfg, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("OpenLights(%+v) = %v, want %q", c.cfg, err, c.want)
		}
		if _, err := led.Open(c.cfg, nil); err == nil {
			t.Errorf("Open(%+v) accepted it", c.cfg)
		}
	}
	if err := (led.Config{Green: "sysfs:a:b", Amber: "gpio:!X", Red: "sim:r"}).Validate(); err != nil {
		t.Errorf("Validate of good specs: %v", err)
	}
}

func TestOpen(t *testing.T) {
	root := t.TempDir()
	dir := fakeSysfsLED(t, root, "led0", "1")
	p, err := led.Open(led.Config{Green: "sysfs:led0", SysfsRoot: root}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Show(led.Idle); err != nil {
		t.Fatal(err)
	}
	if got := readAttr(t, dir, "brightness"); got != "1" {
		t.Errorf("idle: brightness = %q, want 1", got)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readAttr(t, dir, "brightness"); got != "0" {
		t.Errorf("closed: brightness = %q, want 0", got)
	}
}

func TestOpenLightsGPIORefusesOutput(t *testing.T) {
	n := pinSerial.Add(1)
	p := &flakyPin{Pin: &gpiotest.Pin{N: fmt.Sprintf("LEDTEST%d", n), Num: 1000 + int(n)}}
	p.setBroken(true)
	if err := gpioreg.Register(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gpioreg.Unregister(p.N) })
	log, buf := newLogger()
	lights, err := led.OpenLights(led.Config{Amber: "gpio:" + p.N}, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lights.Amber.(*led.Simulated); !ok {
		t.Fatalf("amber is %T, want *led.Simulated", lights.Amber)
	}
	if !strings.Contains(buf.String(), "set as output: wire cut") {
		t.Fatalf("warning does not say why:\n%s", buf)
	}
}

package led_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"periph.io/x/conn/v3/gpio"

	"ssu-kiosk/hal/led"
)

// fakeSysfsLED makes root/name look like a kernel LED: max_brightness,
// brightness and a trigger set to heartbeat.
func fakeSysfsLED(t *testing.T, root, name, maxBrightness string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for file, content := range map[string]string{
		"max_brightness": maxBrightness + "\n",
		"brightness":     "0\n",
		"trigger":        "none [heartbeat] timer\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readAttr(t *testing.T, dir, attr string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, attr))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestSysfsLED(t *testing.T) {
	root := t.TempDir()
	dir := fakeSysfsLED(t, root, "green:status", "255")
	l, err := led.OpenSysfsLED(root, "green:status")
	if err != nil {
		t.Fatal(err)
	}
	if got := readAttr(t, dir, "trigger"); got != "none" {
		t.Errorf("trigger = %q, want none", got)
	}
	if l.String() != "sysfs:green:status" || l.Name() != "green:status" || l.Number() != -1 || l.Function() != "LED" {
		t.Errorf("identity: %q %q %d", l, l.Name(), l.Number())
	}
	for _, step := range []struct {
		do   func() error
		want string
	}{
		{func() error { return l.Out(gpio.High) }, "255"},
		{func() error { return l.Out(gpio.Low) }, "0"},
		{func() error { return l.PWM(gpio.DutyHalf, 0) }, "128"},
		{func() error { return l.PWM(gpio.DutyMax, 0) }, "255"},
		{func() error { return l.Halt() }, "0"},
	} {
		if err := step.do(); err != nil {
			t.Fatal(err)
		}
		if got := readAttr(t, dir, "brightness"); got != step.want {
			t.Fatalf("brightness = %q, want %q", got, step.want)
		}
	}
	if err := l.PWM(gpio.DutyMax+1, 0); err == nil {
		t.Error("PWM accepted a duty above 100%")
	}
}

func TestSysfsLEDMaxBrightnessOne(t *testing.T) {
	root := t.TempDir()
	dir := fakeSysfsLED(t, root, "led0", "1")
	if err := os.Remove(filepath.Join(dir, "trigger")); err != nil { // some LEDs have none
		t.Fatal(err)
	}
	l, err := led.OpenSysfsLED(root, "led0")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Out(gpio.High); err != nil {
		t.Fatal(err)
	}
	if got := readAttr(t, dir, "brightness"); got != "1" {
		t.Fatalf("brightness = %q, want 1", got)
	}
}

func TestSysfsLEDErrors(t *testing.T) {
	root := t.TempDir()
	fakeSysfsLED(t, root, "bad-max", "lots")
	fakeSysfsLED(t, root, "zero-max", "0")
	notWritable := fakeSysfsLED(t, root, "not-writable", "1")
	// Root ignores file modes, so make brightness something no one can write.
	if err := os.Remove(filepath.Join(notWritable, "brightness")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(notWritable, "brightness"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", ".", "..", "a/b", "absent", "bad-max", "zero-max", "not-writable"} {
		if l, err := led.OpenSysfsLED(root, name); err == nil {
			t.Errorf("OpenSysfsLED(%q) = %v, want an error", name, l)
		}
	}
	// An LED that goes away after it was opened fails its writes.
	dir := fakeSysfsLED(t, root, "unplugged", "1")
	l, err := led.OpenSysfsLED(root, "unplugged")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := l.Out(gpio.High); err == nil || !strings.Contains(err.Error(), "unplugged") {
		t.Fatalf("Out on a removed LED: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "brightness")); err == nil {
		t.Fatal("Out created a brightness file")
	}
}

// BenchmarkSysfsLEDOut measures one brightness write, which a blink does per
// light every half-period; it runs against a temporary directory, not the
// kernel.
func BenchmarkSysfsLEDOut(b *testing.B) {
	root := b.TempDir()
	dir := filepath.Join(root, "led0")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for _, f := range []string{"max_brightness", "brightness"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("1\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	l, err := led.OpenSysfsLED(root, "led0")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if err := l.Out(i%2 == 0); err != nil {
			b.Fatal(err)
		}
	}
}

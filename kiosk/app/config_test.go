package app

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/kiosk/flow"
)

func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig(filepath.Join(testdata, "kiosk", "ssu-kiosk.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if c.KioskID != "kiosk-0042" || c.IdleTimeout != 60*time.Second || !c.Fullscreen || !c.HideCursor ||
		len(c.Methods) != 3 || c.Methods[2] != flow.MethodFace || c.LEDs.Green != "sysfs:kiosk:green" ||
		c.Place() != "St Example's Hospital, Outpatients, level 2" || c.ReaderFilter != "OMNIKEY" {
		t.Errorf("example config read as %+v", c)
	}
}

func TestConfigErrorsNameTheLines(t *testing.T) {
	_, err := ParseConfig(strings.NewReader("kiosk-id = k\nidle-timeout = soon\ncolour = blue\nkiosk-id = again\nnonsense\n"))
	if err == nil {
		t.Fatal("a bad config was accepted")
	}
	for _, want := range []string{"line 2: idle-timeout", "line 3: colour: unknown setting", "line 4: kiosk-id already set on line 1", "line 5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	_, err = ParseConfig(strings.NewReader("kiosk-id = k\n"))
	if err == nil || !strings.Contains(err.Error(), "troubleshooting url") || !strings.Contains(err.Error(), "identity-url") {
		t.Errorf("missing settings: %v", err)
	}
}

// TestSystemdNotify checks READY=1 and the watchdog pings on a socket standing in for systemd's.
func TestSystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "2000000")
	t.Setenv("WATCHDOG_PID", "")
	os.Unsetenv("WATCHDOG_PID")
	sd := NewSystemd(discardLog())
	if sd.interval != time.Second {
		t.Fatalf("watchdog ping interval %v, want 1s (half of WatchdogSec)", sd.interval)
	}
	read := func() string {
		buf := make([]byte, 64)
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
	sd.Ready()
	if got := read(); got != "READY=1" {
		t.Errorf("got %q, want READY=1", got)
	}
	now := time.Unix(1000, 0)
	sd.now = func() time.Time { return now }
	sd.Heartbeat()
	if got := read(); got != "WATCHDOG=1" {
		t.Errorf("got %q, want WATCHDOG=1", got)
	}
	sd.Heartbeat() // too soon: nothing
	now = now.Add(time.Second)
	sd.Heartbeat()
	if got := read(); got != "WATCHDOG=1" {
		t.Errorf("second ping: got %q", got)
	}
}

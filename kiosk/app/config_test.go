package app

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/remote/fleet"
)

const testdata = "../../testdata"

func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig(filepath.Join(testdata, "kiosk", "ssu-kiosk.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if c.KioskID != "kiosk-0042" || c.IdleTimeout != 60*time.Second || c.Flow().MoreTimeCountdown != 30*time.Second || !c.Fullscreen || !c.HideCursor ||
		len(c.Methods) != 3 || c.Methods[2] != flow.MethodFace || c.LEDs.Green != "sysfs:kiosk:green" ||
		c.Place() != "St Example's Hospital, Outpatients, level 2" || c.ReaderFilter != "OMNIKEY" {
		t.Errorf("example config read as %+v", c)
	}
	f := c.Fleet
	if f.Broker != "ssl://fleet.example.nhs.uk:8883" || f.Cert != c.ClientCert || f.Key != c.ClientKey ||
		f.Site != "st-examples-hospital" || f.Ward != "outpatients-level-2" || f.Outbox != DefaultOutbox ||
		strings.Join(c.RebootCommand, " ") != "systemctl reboot" {
		t.Errorf("fleet settings read as %+v, reboot %q", f, c.RebootCommand)
	}
	if len(c.Version) != 14 {
		t.Errorf("config version %q", c.Version)
	}
}

func TestFleetSettingsAreChecked(t *testing.T) {
	base := "kiosk-id = kiosk-0042\nidentity-url = https://id.example\nservice-ca = ca.pem\nclient-cert = k.pem\n" +
		"client-key = k.key\ntroubleshooting-url = https://help.example/k\n"
	if _, err := ParseConfig(strings.NewReader(base + "fleet-broker = ssl://f.example:8883\n")); err == nil ||
		!strings.Contains(err.Error(), "fleet-card-key-file") {
		t.Errorf("a fleet link without its CA and card key: %v", err)
	}
	_, err := ParseConfig(strings.NewReader(base + "fleet-broker = ssl://f.example:8883\nfleet-ca = ca.pem\n" +
		"fleet-card-key-file = key\nfleet-ward = ward 1234567\n"))
	if err == nil || !strings.Contains(err.Error(), "fleet-ward") {
		t.Errorf("a ward the fleet would refuse: %v", err)
	}
	if _, err := ParseConfig(strings.NewReader(strings.Replace(base, "kiosk-0042", "Kiosk 42", 1) +
		"fleet-broker = ssl://f.example:8883\nfleet-ca = ca.pem\nfleet-card-key-file = key\n")); err == nil {
		t.Error("a kiosk id the fleet would refuse was accepted")
	}
	for in, want := range map[string]string{"St Example's Hospital": "st-examples-hospital", "Outpatients, level 2": "outpatients-level-2",
		"  Ward 7  ": "ward-7", "": ""} {
		if got := fleet.Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
	for _, v := range []string{configVersion([]byte("a")), configVersion([]byte("b")), configVersion(nil)} {
		if err := (fleetTokenCheck{v}).err(); err != nil {
			t.Errorf("config version %q: %v", v, err)
		}
	}
}

// fleetTokenCheck validates a value the way fleet messages check free-text fields.
type fleetTokenCheck struct{ v string }

func (c fleetTokenCheck) err() error {
	return fleet.Health{V: fleet.Version, Kiosk: "k", ConfigVersion: c.v}.Validate()
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

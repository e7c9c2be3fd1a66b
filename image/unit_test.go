package image

import (
	"os"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
)

// TestKioskUnitContract reads ssu-kiosk.service as systemd would (go-systemd's unit parser) and holds
// it to what the kiosk relies on: started as a notify service that systemd restarts, always, when it
// stops or when its UI loop stops pinging the watchdog, as its own user, in the sandbox the issue names.
func TestKioskUnitContract(t *testing.T) {
	f, err := os.Open("package/units/ssu-kiosk.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opts, err := unit.DeserializeOptions(f)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range opts {
		if o.Section == "Service" || o.Section == "Unit" {
			got[o.Name] = o.Value
		}
	}
	for name, want := range map[string]string{
		"Type": "notify", "NotifyAccess": "main", "Restart": "always", "WatchdogSec": "30s", "StartLimitIntervalSec": "0",
		"User": "ssu-kiosk", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"PrivateTmp": "yes", "PrivateDevices": "yes", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"CapabilityBoundingSet": "",
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s=%q, want %q (present: %v)", name, v, want, ok)
		}
	}
}

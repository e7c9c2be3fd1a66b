package enrol_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ssu-kiosk/provisioning/enrol"
	"ssu-kiosk/provisioning/pki"
)

func TestLoadProfile(t *testing.T) {
	dir := t.TempDir()
	conf, err := os.ReadFile(filepath.Join("testdata", "enrol-profile.conf"))
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := pki.NewCA("service")
	os.WriteFile(filepath.Join(dir, "enrol-profile.conf"), conf, 0o644)
	os.WriteFile(filepath.Join(dir, "service-ca.pem"), ca.CertPEM(), 0o644)
	os.WriteFile(filepath.Join(dir, "fleet-card-key"), []byte("c2VjcmV0LWNhcmQta2V5LWZvci10ZXN0cw==\n"), 0o600)
	p, err := enrol.LoadProfile(filepath.Join(dir, "enrol-profile.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if p.IdentityURL != "https://idservice.example.nhs.uk:8443" || p.BrokerURL != "ssl://fleet.example.nhs.uk:8883" ||
		strings.Join(p.Methods, ",") != "email,sms" || string(p.CardKey) != "c2VjcmV0LWNhcmQta2V5LWZvci10ZXN0cw==" ||
		p.TroubleshootingURL == "" || len(p.ServiceCA) == 0 {
		t.Errorf("profile = %+v", p)
	}
	// Every problem is reported, with its line.
	bad := "identity-url = not a url\nmethods = Email\ncolour = blue\nbroker-url = ssl://b.example:8883\n"
	_, err = enrol.ParseProfile(strings.NewReader(bad), dir)
	if err == nil {
		t.Fatal("a bad profile was accepted")
	}
	for _, want := range []string{"line 3: colour: unknown setting"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	_, err = enrol.ParseProfile(strings.NewReader("identity-url = not a url\nmethods = Email\nbroker-url = ssl://b.example:8883\n"), dir)
	for _, want := range []string{"identity URL", "method \"Email\"", "CA bundle", "card key"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

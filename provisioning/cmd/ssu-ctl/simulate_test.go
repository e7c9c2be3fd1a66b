package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/remote/fleet/fleettest"
	"ssu-kiosk/remote/fleet/sim"
)

func TestSimulateDeliversEveryEvent(t *testing.T) {
	fleettest.Brokers(t, func(t *testing.T, p *fleettest.PKI, url string) {
		in := fleettest.StartIngest(t, p, url)
		out, errs, code := ctl(t, "", "simulate", "--kiosks", "3", "--rate", "100", "--count", "30", "--duration", "0",
			"--drain", "15s", "--broker", url, "--ca", p.CAFile, "--ca-key", p.CAKeyFile, "--data", t.TempDir())
		if code != 0 {
			t.Fatalf("exit %d: %s\n%s", code, errs, out)
		}
		var res sim.Result
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("output %q: %v", out, err)
		}
		total, distinct, _ := in.Store.CountEvents(context.Background())
		if res.Kiosks != 3 || res.Recorded != 30 || res.Pending != 0 || total != 30 || distinct != 30 {
			t.Fatalf("result %+v, stored %d (%d distinct)", res, total, distinct)
		}
	})
}

func TestSimulateWithCertificateDirectory(t *testing.T) {
	p := fleettest.NewPKI(t)
	b := fleettest.StartEmbedded(t, p)
	dir := t.TempDir()
	for _, id := range []string{"kiosk-0007", "kiosk-0008"} {
		is, err := p.CA.IssueClient(id, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := is.WriteFiles(dir, id); err != nil {
			t.Fatal(err)
		}
	}
	out, errs, code := ctl(t, "", "simulate", "--kiosks", "2", "--first", "7", "--rate", "0", "--duration", "500ms",
		"--broker", b.URL(), "--ca", p.CAFile, "--certs", dir)
	if code != 0 || !strings.Contains(out, `"kiosks": 2`) {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	_, errs, code = ctl(t, "", "simulate", "--kiosks", "3", "--first", "7", "--rate", "0", "--duration", "500ms",
		"--broker", b.URL(), "--ca", p.CAFile, "--certs", dir)
	if code != 1 || !strings.Contains(errs, "kiosk-0009") {
		t.Fatalf("a missing certificate: exit %d, %q", code, errs)
	}
	if _, _, code := ctl(t, "", "simulate", "--kiosks", "1"); code != 2 {
		t.Fatalf("missing flags: exit %d, want 2", code)
	}
}

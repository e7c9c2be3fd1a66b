package enrol_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"ssu-kiosk/provisioning/enrol"
	"ssu-kiosk/remote/fleet/fleettest"
)

// kioskTLS is the TLS configuration a kiosk builds from its enrolment directory.
func kioskTLS(t *testing.T, dir string) *tls.Config {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, enrol.FileCert), filepath.Join(dir, enrol.FileKey))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(dir, enrol.FileCA))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}

func mqttConnect(url string, cfg *tls.Config, id string) error {
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetTLSConfig(cfg).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).SetConnectTimeout(5 * time.Second)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return context.DeadlineExceeded
	}
	if err := tok.Error(); err != nil {
		return err
	}
	c.Disconnect(50)
	return nil
}

// TestRevokedKioskCannotConnect: an enrolled kiosk connects to Mosquitto (configured as
// `ssu-ctl broker-config` configures it, its crlfile being the file the enrolment server writes) and
// to the embedded broker; once revoked, neither accepts it, and another kiosk still connects.
func TestRevokedKioskCannotConnect(t *testing.T) {
	p := fleettest.NewPKI(t)
	embedded := fleettest.StartEmbedded(t, p)
	f := newFleet(t, fleetOptions{ca: p.CA, crl: p.CRLFile, deny: embedded})
	m := fleettest.StartMosquitto(t, p)
	ctx := context.Background()

	revoked, kept := t.TempDir(), t.TempDir()
	e, err := (enrol.Device{Dir: revoked}).Enrol(ctx, f.client, f.token(t, "Site", "Ward"))
	if err != nil {
		t.Fatal(err)
	}
	e2, err := (enrol.Device{Dir: kept}).Enrol(ctx, f.client, f.token(t, "Site", "Ward"))
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{m.URL, embedded.URL()} {
		if err := mqttConnect(url, kioskTLS(t, revoked), e.KioskID); err != nil {
			t.Fatalf("%s: an enrolled kiosk could not connect: %v", url, err)
		}
	}
	if _, err := f.client.Revoke(ctx, f.admin, e.KioskID); err != nil {
		t.Fatal(err)
	}
	// Mosquitto reads its crlfile again when told to reload.
	if err := syscall.Kill(m.Pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{m.URL, embedded.URL()} {
		// Mosquitto reloads asynchronously: allow it a moment.
		refused := false
		for deadline := time.Now().Add(5 * time.Second); !refused && time.Now().Before(deadline); {
			if refused = mqttConnect(url, kioskTLS(t, revoked), e.KioskID) != nil; !refused {
				time.Sleep(100 * time.Millisecond)
			}
		}
		if !refused {
			t.Errorf("%s: a revoked kiosk still connects\n%s", url, m.Log())
		}
		if err := mqttConnect(url, kioskTLS(t, kept), e2.KioskID); err != nil {
			t.Errorf("%s: a kiosk in good standing was refused: %v", url, err)
		}
	}
}

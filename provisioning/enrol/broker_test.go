package enrol_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strconv"
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
	m := fleettest.StartMosquitto(t, p)
	// What ssu-fleetd --enrol-crl-reload does: SIGHUP to the pid in Mosquitto's pid file after each CRL write.
	pidFile := filepath.Join(t.TempDir(), "mosquitto.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(m.Pid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFleet(t, fleetOptions{ca: p.CA, crl: p.CRLFile, deny: embedded, afterCRL: enrol.ReloadByPIDFile(pidFile)})
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
	// The revocation rewrote the CRL and told Mosquitto to reload: it reads its crlfile again.
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

// TestReloadByPIDFileSaysWhatIsWrong: a missing or garbled pid file is an error that names the file; it
// never signals some other process.
func TestReloadByPIDFileSaysWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	garbled := filepath.Join(dir, "garbled.pid")
	os.WriteFile(garbled, []byte("mosquitto\n"), 0o644)
	one := filepath.Join(dir, "one.pid")
	os.WriteFile(one, []byte("1\n"), 0o644)
	for _, f := range []string{filepath.Join(dir, "missing.pid"), garbled, one} {
		if err := enrol.ReloadByPIDFile(f)(context.Background()); err == nil {
			t.Errorf("%s: no error", filepath.Base(f))
		}
	}
}

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"ssu-kiosk/provisioning/enrol"
	"ssu-kiosk/provisioning/pki"
)

// TestEnrolmentAgainstFleetd enrols a kiosk end to end against a running ssu-fleetd (demo mode): IT
// makes a token with the admin token, the kiosk enrols with it and connects to the fleet's broker with
// the certificate it got; the same token is refused a second time; once revoked, the kiosk can no
// longer connect.
func TestEnrolmentAgainstFleetd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := t.TempDir()
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--demo", "--data", data, "--http", "127.0.0.1:" + freePort(t),
			"--broker-listen", "127.0.0.1:" + freePort(t), "--demo-kiosks", "0", "--seed-sessions-per-month", "100"},
			nil, &out, io.Discard)
	}()
	enrolAt := regexp.MustCompile(`kiosk enrolment at (https://\S+)/`)
	deadline := time.Now().Add(90 * time.Second)
	var server string
	for server == "" {
		if m := enrolAt.FindStringSubmatch(out.String()); m != nil {
			server = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no enrolment service:\n%s", out.String())
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}

	httpClient, err := enrol.NewHTTPClient(filepath.Join(data, "pki", "ca.crt"), "")
	if err != nil {
		t.Fatal(err)
	}
	c := &enrol.Client{Server: server, HTTP: httpClient}
	admin, err := enrol.ReadSecretFile(filepath.Join(data, "enrol-admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateToken(ctx, admin, "st-example", "ward-7")
	if err != nil {
		t.Fatal(err)
	}
	dev := enrol.Device{Dir: filepath.Join(t.TempDir(), "enrol")}
	got, err := dev.Enrol(ctx, c, []byte(tok.Token))
	if err != nil {
		t.Fatalf("enrol: %v", err)
	}
	if got.Site != "st-example" || got.Ward != "ward-7" || got.BrokerURL == "" {
		t.Errorf("enrolment = %+v", got)
	}
	if fi, err := os.Stat(filepath.Join(dev.Dir, "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key.pem: %v %v", fi, err)
	}
	again := enrol.Device{Dir: filepath.Join(t.TempDir(), "enrol")}
	if _, err := again.Enrol(ctx, c, []byte(tok.Token)); !errors.Is(err, enrol.ErrTokenUsed) {
		t.Errorf("second use of a token: err = %v, want ErrTokenUsed", err)
	}

	connect := func() error {
		pair, err := tls.LoadX509KeyPair(filepath.Join(dev.Dir, "cert.pem"), filepath.Join(dev.Dir, "key.pem"))
		if err != nil {
			return err
		}
		pool, err := pki.LoadPool(filepath.Join(dev.Dir, "ca.pem"))
		if err != nil {
			return err
		}
		opts := mqtt.NewClientOptions().AddBroker(got.BrokerURL).SetClientID(got.KioskID).
			SetTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}).
			SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
		cl := mqtt.NewClient(opts)
		tk := cl.Connect()
		if !tk.WaitTimeout(10 * time.Second) {
			return errors.New("connect timed out")
		}
		if tk.Error() == nil {
			cl.Disconnect(100)
		}
		return tk.Error()
	}
	if err := connect(); err != nil {
		t.Fatalf("the enrolled kiosk cannot connect to the fleet broker: %v", err)
	}
	if _, err := c.Revoke(ctx, admin, got.KioskID); err != nil {
		t.Fatal(err)
	}
	if err := connect(); err == nil {
		t.Fatal("a revoked kiosk still connects to the fleet broker")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("ssu-fleetd did not stop")
	}
}

package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"ssu-kiosk/provisioning/enrol"
	"ssu-kiosk/provisioning/pki"
)

// fleetd is an ssu-fleetd running in the test's process.
type fleetd struct {
	out    *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

// startFleetd runs ssu-fleetd with args until the test ends, and waits for its dashboard line (by
// then its broker takes connections).
func startFleetd(t *testing.T, args ...string) *fleetd {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &fleetd{out: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	var errOut syncBuffer
	go func() { f.done <- run(ctx, args, nil, f.out, &errOut) }()
	t.Cleanup(f.stop)
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(f.out.String(), "dashboard at") {
		select {
		case code := <-f.done:
			f.done <- code
			t.Fatalf("ssu-fleetd exited %d:\n%s\n%s", code, f.out.String(), errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssu-fleetd did not start:\n%s\n%s", f.out.String(), errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return f
}

func (f *fleetd) stop() {
	f.cancel()
	select {
	case code := <-f.done:
		f.done <- code
	case <-time.After(20 * time.Second):
	}
}

// enrolled is a kiosk enrolled against a running ssu-fleetd.
type enrolled struct {
	enrol.Enrolment
	dir string
}

// connect connects to the fleet's broker (its enrolment's, or brokerURL when given) as the enrolled
// kiosk and disconnects.
func (k enrolled) connect(brokerURL ...string) error {
	url := k.BrokerURL
	if len(brokerURL) > 0 {
		url = brokerURL[0]
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(k.dir, "cert.pem"), filepath.Join(k.dir, "key.pem"))
	if err != nil {
		return err
	}
	pool, err := pki.LoadPool(filepath.Join(k.dir, "ca.pem"))
	if err != nil {
		return err
	}
	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(k.KioskID).
		SetTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	tk := cl.Connect()
	if !tk.WaitTimeout(10 * time.Second) {
		return errors.New("connect timed out")
	}
	if tk.Error() == nil {
		cl.Disconnect(100)
	}
	return tk.Error()
}

// enrolTwoAndRevokeOne runs a demo ssu-fleetd serving enrolment (its CRL written to crl), enrols two
// kiosks, revokes the first and stops the server.
func enrolTwoAndRevokeOne(t *testing.T, data, crl string) (revoked, kept enrolled) {
	t.Helper()
	ctx := context.Background()
	f := startFleetd(t, "--demo", "--data", data, "--http", "127.0.0.1:"+freePort(t), "--broker-listen", "127.0.0.1:"+freePort(t),
		"--demo-kiosks", "0", "--seed-sessions-per-month", "100", "--enrol-crl", crl)
	m := regexp.MustCompile(`kiosk enrolment at (https://\S+)/`).FindStringSubmatch(f.out.String())
	if m == nil {
		t.Fatalf("no enrolment service:\n%s", f.out.String())
	}
	httpClient, err := enrol.NewHTTPClient(filepath.Join(data, "pki", "ca.crt"), "")
	if err != nil {
		t.Fatal(err)
	}
	c := &enrol.Client{Server: m[1], HTTP: httpClient}
	admin, err := enrol.ReadSecretFile(filepath.Join(data, "enrol-admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	var ks []enrolled
	for range 2 {
		tok, err := c.CreateToken(ctx, admin, "st-example", "ward-7")
		if err != nil {
			t.Fatal(err)
		}
		dev := enrol.Device{Dir: filepath.Join(t.TempDir(), "enrol")}
		got, err := dev.Enrol(ctx, c, []byte(tok.Token))
		if err != nil {
			t.Fatalf("enrol: %v", err)
		}
		ks = append(ks, enrolled{*got, dev.Dir})
	}
	if _, err := c.Revoke(ctx, admin, ks[0].KioskID); err != nil {
		t.Fatal(err)
	}
	if err := ks[0].connect(); err == nil {
		t.Fatal("a revoked kiosk connects while enrolment is served")
	}
	f.stop()
	return ks[0], ks[1]
}

// TestRevocationsHoldAfterRestartWithoutEnrolment: a kiosk revoked while ssu-fleetd served enrolment
// stays out after ssu-fleetd restarts without enrolment, reading revocations from the enrolment store
// (the default: beside the fleet store) or, with the enrolment store elsewhere, from the CRL file.
func TestRevocationsHoldAfterRestartWithoutEnrolment(t *testing.T) {
	data := t.TempDir()
	crl := filepath.Join(data, "fleet.crl")
	revoked, kept := enrolTwoAndRevokeOne(t, data, crl)

	pkiDir := filepath.Join(data, "pki")
	base := []string{"--ca", filepath.Join(pkiDir, "ca.crt"), "--cert", filepath.Join(pkiDir, "fleet.crt"),
		"--key", filepath.Join(pkiDir, "fleet.key"), "--broker-cert", filepath.Join(pkiDir, "broker.crt"),
		"--broker-key", filepath.Join(pkiDir, "broker.key")}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"enrolment-store", []string{"--store", filepath.Join(data, "fleet.db")}},
		{"crl-file", []string{"--store", filepath.Join(t.TempDir(), "elsewhere.db"), "--crl", crl}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := freePort(t) // a port of its own: the enrolled profile's may be taken by now
			f := startFleetd(t, append(append([]string{"--http", "127.0.0.1:" + freePort(t), "--broker-listen", "127.0.0.1:" + port},
				base...), tc.args...)...)
			url := "ssl://127.0.0.1:" + port
			if err := kept.connect(url); err != nil {
				t.Fatalf("a kiosk in good standing cannot connect: %v", err)
			}
			if err := revoked.connect(url); err == nil {
				t.Fatal("a revoked kiosk reconnected after ssu-fleetd restarted without enrolment")
			}
			f.stop()
		})
	}
}

type crlSink chan *x509.RevocationList

func (c crlSink) SetCRL(crl *x509.RevocationList) { c <- crl }

// TestWatchCRLFollowsTheFile: a rewritten CRL reaches the broker; one not signed by the fleet CA does not.
func TestWatchCRLFollowsTheFile(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("fleet CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile, _, err := ca.WriteFiles(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	crlFile := filepath.Join(dir, "fleet.crl")
	write := func(signer *pki.CA, revoked ...*x509.Certificate) {
		b, err := signer.CRL(revoked...)
		if err != nil {
			t.Fatal(err)
		}
		if err := enrol.WriteFileAtomic(crlFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(ca)
	_, seen, err := loadCRL(crlFile, caFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sink := make(crlSink, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go watchCRL(ctx, crlFile, caFile, sink, 10*time.Millisecond, seen, nil, slog.New(slog.DiscardHandler))

	other, _ := pki.NewCA("someone else")
	k, _ := other.IssueClient("kiosk-0001", time.Hour)
	write(other, k.Cert) // not the fleet's: ignored
	k1, _ := ca.IssueClient("kiosk-0001", time.Hour)
	k2, _ := ca.IssueClient("kiosk-0002", time.Hour)
	write(ca, k1.Cert, k2.Cert)
	select {
	case crl := <-sink:
		if len(crl.RevokedCertificateEntries) != 2 {
			t.Fatalf("the broker got a CRL of %d entries, want the fleet CA's 2", len(crl.RevokedCertificateEntries))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the rewritten CRL never reached the broker")
	}
}

type revokedSink chan string

func (r revokedSink) Revoke(kiosk string) { r <- kiosk }

// TestKeepRevocationsFollowsTheStore: a kiosk revoked in the enrolment store by another server while
// this one runs reaches the broker at the next reload.
func TestKeepRevocationsFollowsTheStore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := enrol.NewMemoryStore()
	now := time.Now()
	if err := st.AddKiosk(ctx, enrol.Kiosk{ID: "kiosk-0007", Site: "s", Ward: "w", Enrolled: now},
		enrol.Certificate{Serial: "07", KioskID: "kiosk-0007", Issued: now, NotAfter: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	sink := make(revokedSink, 16)
	go keepRevocations(ctx, st, sink, 10*time.Millisecond, slog.New(slog.DiscardHandler))
	if err := st.RevokeKiosk(ctx, "kiosk-0007", now); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-sink:
		if id != "kiosk-0007" {
			t.Fatalf("revoked %q, want kiosk-0007", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a revocation made elsewhere never reached the broker")
	}
}

// TestWatchCRLRefusesAnOlderList: a CRL issued before the one in force, though signed by the fleet CA, does
// not reach the broker. The attack: whoever can write the CRL file (or sits on the way it is copied from
// the enrolment server) puts back an older list, from before a kiosk was revoked, and the kiosk is let in.
func TestWatchCRLRefusesAnOlderList(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("fleet CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile, _, err := ca.WriteFiles(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	crlFile := filepath.Join(dir, "fleet.crl")
	k1, _ := ca.IssueClient("kiosk-0001", time.Hour)
	k2, _ := ca.IssueClient("kiosk-0002", time.Hour)
	write := func(thisUpdate time.Time, number int64, revoked ...*x509.Certificate) {
		t.Helper()
		var entries []x509.RevocationListEntry
		for _, c := range revoked {
			entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: thisUpdate})
		}
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(number),
			ThisUpdate: thisUpdate, NextUpdate: thisUpdate.Add(24 * time.Hour), RevokedCertificateEntries: entries}, ca.Cert, ca.Key)
		if err != nil {
			t.Fatal(err)
		}
		if err := enrol.WriteFileAtomic(crlFile, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().Truncate(time.Second)
	write(now.Add(-time.Minute), 2, k1.Cert) // in force: kiosk-0001 revoked
	crl, seen, err := loadCRL(crlFile, caFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	sink := make(crlSink, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go watchCRL(ctx, crlFile, caFile, sink, 10*time.Millisecond, seen, crl, slog.New(slog.NewTextHandler(logs, nil)))

	refused := 0
	for _, older := range []struct {
		at     time.Time
		number int64
	}{
		{now.Add(-2 * time.Hour), 3}, // from before the revocation
		{now.Add(-time.Minute), 1},   // of the same second, numbered before it
	} {
		write(older.at, older.number)
		refused++
		deadline := time.After(10 * time.Second)
		for strings.Count(logs.String(), "issued before the one in force") < refused {
			select {
			case got := <-sink:
				t.Fatalf("an older CRL (%d entries, issued %s, number %s) reached the broker", len(got.RevokedCertificateEntries), got.ThisUpdate, got.Number)
			case <-deadline:
				t.Fatal("the older CRL was neither refused nor taken")
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	write(now, 4, k1.Cert, k2.Cert) // a newer list is taken
	select {
	case got := <-sink:
		if len(got.RevokedCertificateEntries) != 2 {
			t.Fatalf("the broker got %d entries, want the newer list's 2", len(got.RevokedCertificateEntries))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the newer CRL never reached the broker")
	}
}

package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"ssu-kiosk/provisioning/enrol"
	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/remote/fleet/broker"
)

// enrolOptions turn on the enrolment service: the fleet CA issues kiosks their certificates against
// single-use tokens (provisioning/enrol), served over HTTPS at /enrol/ on its own listener.
type enrolOptions struct {
	listen           string // "" turns enrolment off
	caKey            string // the fleet CA's private key (the CA certificate is --ca)
	profile          string // what every kiosk receives (enrol.LoadProfile)
	admins           string // SHA-256 digests of the admin API tokens, one per line
	crl              string // where the CRL for Mosquitto is written ("" none)
	crlReload        string // Mosquitto's pid file: SIGHUP after each CRL write ("" none)
	tlsCert, tlsKey  string // the listener's certificate; default the embedded broker's
	adminTokenOutput string // demo only: where the generated admin token is written
}

func (e *enrolOptions) flags(fs *flag.FlagSet) {
	fs.StringVar(&e.listen, "enrol-listen", "", "serve kiosk enrolment (HTTPS, /enrol/) here; off when empty (--demo: 127.0.0.1:0)")
	fs.StringVar(&e.caKey, "enrol-ca-key", "", "the fleet CA's private key, which signs kiosks' certificates")
	fs.StringVar(&e.profile, "enrol-profile", "", "what enrolled kiosks receive: broker, identity service, methods (see provisioning/README.md)")
	fs.StringVar(&e.admins, "enrol-admins", "", "file of admin token digests (ssu-ctl token admin-new)")
	fs.StringVar(&e.crl, "enrol-crl", "", "write the certificate revocation list for Mosquitto here")
	fs.StringVar(&e.crlReload, "enrol-crl-reload", "", "Mosquitto's pid file: after each CRL write, SIGHUP that process so it reads the CRL again")
	fs.StringVar(&e.tlsCert, "enrol-tls-cert", "", "the enrolment listener's certificate (default: --broker-cert)")
	fs.StringVar(&e.tlsKey, "enrol-tls-key", "", "the enrolment listener's key (default: --broker-key)")
}

// lateDenyList hands revocations to the embedded broker once it has started.
type lateDenyList struct {
	mu sync.Mutex
	b  *broker.Broker
}

func (l *lateDenyList) set(b *broker.Broker) { l.mu.Lock(); l.b = b; l.mu.Unlock() }

func (l *lateDenyList) Revoke(kiosk string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b != nil {
		l.b.Revoke(kiosk)
	}
}

// enrolment is the running enrolment service.
type enrolment struct {
	srv  *enrol.Server
	deny *lateDenyList
}

// newEnrolment builds the service over the enrolment store (by default beside the fleet store).
func newEnrolment(ctx context.Context, o options, st enrol.Store, log *slog.Logger) (*enrolment, error) {
	e := o.enrol
	if e.caKey == "" || e.profile == "" {
		return nil, errors.New("enrolment needs --enrol-ca-key and --enrol-profile")
	}
	if e.crlReload != "" && e.crl == "" {
		return nil, errors.New("--enrol-crl-reload needs --enrol-crl")
	}
	ca, err := pki.LoadCA(o.caFile, e.caKey)
	if err != nil {
		return nil, fmt.Errorf("enrolment: %w", err)
	}
	prof, err := enrol.LoadProfile(e.profile)
	if err != nil {
		return nil, err
	}
	var admins []enrol.TokenDigest
	if e.admins != "" {
		if admins, err = enrol.LoadAdminDigests(e.admins); err != nil {
			return nil, err
		}
	}
	deny := &lateDenyList{}
	var reload func(context.Context) error
	if e.crlReload != "" {
		reload = enrol.ReloadByPIDFile(e.crlReload)
	}
	srv, err := enrol.NewServer(ctx, enrol.Config{CA: ca, Store: st, Profile: prof, AdminDigests: admins,
		CRLFile: e.crl, AfterCRLWrite: reload, DenyLists: []enrol.DenyList{deny}, Log: log})
	if err != nil {
		return nil, err
	}
	return &enrolment{srv: srv, deny: deny}, nil
}

// serve listens on addr over TLS and serves /enrol/ until ctx ends; it returns the address it listens on.
func (en *enrolment) serve(ctx context.Context, addr, certFile, keyFile string, log *slog.Logger) (string, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return "", fmt.Errorf("enrolment listener certificate: %w", err)
	}
	l, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return "", fmt.Errorf("enrolment listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/enrol/", en.srv)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("enrolment server stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	go en.srv.KeepCRLFresh(ctx)
	return loopbackFor(l.Addr().String()), nil
}

// demoEnrolment fills in the enrolment options of a demo fleet: the demo CA's key, a profile pointing
// at the embedded broker, a card key, and an admin token written 0600 under the data folder.
func demoEnrolment(o *options, brokerURL string) error {
	e := &o.enrol
	dir := o.dataDir
	if e.listen == "" {
		e.listen = "127.0.0.1:0"
	}
	e.caKey = filepath.Join(dir, "pki", "ca.key")
	cardKey := filepath.Join(dir, "enrol-card-key")
	if _, err := os.Stat(cardKey); errors.Is(err, os.ErrNotExist) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		if err := os.WriteFile(cardKey, []byte(base64.StdEncoding.EncodeToString(b)+"\n"), 0o600); err != nil {
			return err
		}
	}
	e.profile = filepath.Join(dir, "enrol-profile.conf")
	profile := fmt.Sprintf(`# Demo enrolment profile, written by ssu-fleetd --demo.
identity-url = https://127.0.0.1:8443
service-ca = pki/ca.crt
broker-url = %s
card-key-file = enrol-card-key
methods = email, sms
troubleshooting-url = https://help.example.nhs.uk/smartcard-kiosk
`, brokerURL)
	if err := os.WriteFile(e.profile, []byte(profile), 0o600); err != nil {
		return err
	}
	tok, digest := enrol.NewAdminToken()
	e.adminTokenOutput = filepath.Join(dir, "enrol-admin.token")
	if err := os.WriteFile(e.adminTokenOutput, append(tok, '\n'), 0o600); err != nil {
		return err
	}
	clear(tok)
	e.admins = filepath.Join(dir, "enrol-admins")
	return os.WriteFile(e.admins, []byte(digest.String()+"\n"), 0o600)
}

// enrolURL is the base URL kiosks and ssu-ctl use, from the listener's address.
func enrolURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "https://" + addr
	}
	return "https://" + net.JoinHostPort(host, port)
}

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/provisioning/update"
	"ssu-kiosk/remote/fleetserver"
)

// releaseOptions turn on releases and rollouts: bundles published by IT admins (ssu-ctl release
// publish), verified against the update keyring, served to kiosks over HTTPS with client certificates.
type releaseOptions struct {
	keyring    string // the update keyring (PEM): "" turns releases off
	dir        string // bundles; default "releases" beside a SQLite store
	listen     string // the kiosks' download listener
	url        string // how kiosks reach it; default https://<listen>
	cert, key  string // its server certificate; default the embedded broker's
	scratchDir string
}

func (r *releaseOptions) flags(fs *flag.FlagSet) {
	fs.StringVar(&r.keyring, "update-keyring", "", "the fleet's update keyring (PEM): turns on releases and rollouts; bundles must verify against it")
	fs.StringVar(&r.dir, "releases-dir", "", "where published bundles are kept (default: releases/ beside the SQLite store)")
	fs.StringVar(&r.listen, "releases-listen", ":8444", "where kiosks download bundles (HTTPS, kiosk client certificates of --ca)")
	fs.StringVar(&r.url, "releases-url", "", "the download URL kiosks are sent, e.g. https://fleet.example:8444 (default: from --releases-listen)")
	fs.StringVar(&r.cert, "releases-cert", "", "the download listener's certificate (default: --broker-cert)")
	fs.StringVar(&r.key, "releases-key", "", "its private key (default: --broker-key)")
	fs.StringVar(&r.scratchDir, "releases-scratch", "", "room for one unpacked bundle while it is verified (default: the system's temporary folder)")
}

// listener opens the download listener and returns the options for fleetserver.New, or nil when
// releases are off.
func (r *releaseOptions) listener(o *options, revocations interface {
	RevokedKiosks(ctx context.Context) ([]string, error)
}) (*fleetserver.ReleaseOptions, net.Listener, error) {
	if r.keyring == "" {
		return nil, nil, nil
	}
	if r.dir == "" {
		if strings.Contains(o.dsn, "://") {
			return nil, nil, errors.New("--update-keyring with a PostgreSQL store: give --releases-dir")
		}
		r.dir = filepath.Join(filepath.Dir(o.dsn), "releases")
	}
	if r.cert == "" {
		r.cert, r.key = o.brokerCert, o.brokerKey
	}
	if r.cert == "" || r.key == "" || o.caFile == "" {
		return nil, nil, errors.New("--update-keyring: the download listener needs --releases-cert/--releases-key (or --broker-cert/--broker-key) and --ca")
	}
	l, err := net.Listen("tcp", r.listen)
	if err != nil {
		return nil, nil, fmt.Errorf("--releases-listen %s: %w", r.listen, err)
	}
	if r.url == "" {
		r.url = "https://" + loopbackFor(l.Addr().String())
	}
	return &fleetserver.ReleaseOptions{Dir: r.dir, BaseURL: r.url,
		Verifier: update.Rauc{Keyring: r.keyring, ScratchDir: r.scratchDir},
		// A revoked kiosk downloads nothing: read from the enrolment store at each request (a kiosk
		// downloads a release once, and resumes it a few times at most).
		Refused: func(ctx context.Context, kiosk string) (bool, error) {
			ids, err := revocations.RevokedKiosks(ctx)
			return slices.Contains(ids, kiosk), err
		}}, l, nil
}

// serveDownloads serves the catalogue's bundles on l to clients with a certificate of the fleet CA.
func (r *releaseOptions) serveDownloads(ctx context.Context, l net.Listener, srv *fleetserver.Server, caFile string, log *slog.Logger) error {
	pool, err := pki.LoadPool(caFile)
	if err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(r.cert, r.key)
	if err != nil {
		return fmt.Errorf("releases certificate: %w", err)
	}
	hs := &http.Server{Handler: srv.Catalog.Downloads(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
			MinVersion: tls.VersionTLS12}}
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	go func() {
		if err := hs.ServeTLS(l, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("release downloads stopped", "err", err)
		}
	}()
	return nil
}

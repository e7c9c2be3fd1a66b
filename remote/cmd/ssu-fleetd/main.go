// Command ssu-fleetd is the fleet server: it receives what kiosks report over MQTT (an embedded broker
// by default, or any broker by URL), stores it (SQLite by default, PostgreSQL by URL), raises alerts,
// and serves the dashboard, usage reports, a JSON API and Prometheus metrics.
//
//	ssu-fleetd --demo                          everything local, demo data and simulated kiosks
//	ssu-fleetd --store fleet.db --ca ca.crt --cert fleet.crt --key fleet.key \
//	    --broker-cert broker.crt --broker-key broker.key --tls-cert web.crt --tls-key web.key
//	ssu-fleetd --store postgres://… --broker ssl://mqtt.example:8883 --ca … --cert … --key …
//	ssu-fleetd user add --role it-admin|ra|viewer [--sites S1,S2] NAME   (password on stdin)
//	ssu-fleetd kiosk place --site S --ward W KIOSK   (register an unregistered kiosk, or move one)
//
// Revocations are read from the enrolment store (--enrol-store, default --store) at every start and
// every --revocations-every, and from --crl when given, whether or not enrolment is served here.
// Metrics are served on --metrics-listen, or on the dashboard's listener with --metrics-token-file.
//
// It never logs a password, a session token or a payload.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // reports are in Europe/London even where the system has no zone data

	"ssu-kiosk/provisioning/enrol/sqlstore"
	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/provisioning/version"
	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/broker"
	"ssu-kiosk/remote/fleet/sim"
	"ssu-kiosk/remote/fleetserver"
	"ssu-kiosk/remote/fleetserver/alerts"
	"ssu-kiosk/remote/fleetserver/seed"
	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) >= 2 && args[0] == "user" && args[1] == "add" {
		return userAdd(ctx, args[2:], stdin, stdout, stderr)
	}
	if len(args) >= 2 && args[0] == "kiosk" && args[1] == "place" {
		return kioskPlace(ctx, args[2:], stdout, stderr)
	}
	return serve(ctx, args, stdout, stderr)
}

// userAdd creates or updates a web account; the password is the first line of stdin.
func userAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-fleetd user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("store", "ssu-fleet.db", "SQLite file or postgres:// URL")
	role := fs.String("role", "", "it-admin, ra or viewer (required)")
	sites := fs.String("sites", "", "an RA's sites, comma-separated (required for ra)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || !web.ValidRole(*role) || (*role == web.RoleRA) != (*sites != "") {
		fmt.Fprintln(stderr, "usage: ssu-fleetd user add --role it-admin|ra|viewer [--sites S1,S2 (ra only, required)] NAME < password")
		return 2
	}
	name := fs.Arg(0)
	line, err := bufio.NewReader(stdin).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(stderr, "ssu-fleetd: reading the password: %v\n", err)
		return 1
	}
	password := []byte(strings.TrimRight(string(line), "\r\n"))
	clear(line)
	hash, err := web.HashPassword(password, web.DefaultKDF)
	clear(password)
	if err != nil {
		fmt.Fprintf(stderr, "ssu-fleetd: %v\n", err)
		return 1
	}
	st, err := store.Open(ctx, *dsn, store.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "ssu-fleetd: %v\n", err)
		return 1
	}
	defer st.Close()
	u := store.User{Name: name, Role: *role, PasswordHash: hash}
	if *sites != "" {
		u.Sites = strings.Split(*sites, ",")
	}
	if err := st.PutUser(ctx, u); err != nil {
		fmt.Fprintf(stderr, "ssu-fleetd: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "user %s (%s) saved\n", name, *role)
	return 0
}

// kioskPlace is an IT admin's registration of a kiosk at a site and ward (the dashboard's kiosk page
// does the same): for kiosks the enrolment store does not know, and every new kiosk with
// --manual-registration.
func kioskPlace(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-fleetd kiosk place", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("store", "ssu-fleet.db", "SQLite file or postgres:// URL")
	site := fs.String("site", "", "the site (a name or its token, e.g. st-james)")
	ward := fs.String("ward", "", "the ward")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	siteTok, err1 := fleet.PlaceToken(*site)
	wardTok, err2 := fleet.PlaceToken(*ward)
	if fs.NArg() != 1 || err1 != nil || err2 != nil {
		fmt.Fprintln(stderr, "usage: ssu-fleetd kiosk place --site SITE --ward WARD KIOSK")
		return 2
	}
	st, err := store.Open(ctx, *dsn, store.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "ssu-fleetd: %v\n", err)
		return 1
	}
	defer st.Close()
	if err := st.PlaceKiosk(ctx, fs.Arg(0), siteTok, wardTok); err != nil {
		fmt.Fprintf(stderr, "ssu-fleetd: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "kiosk %s placed at %s / %s\n", fs.Arg(0), siteTok, wardTok)
	return 0
}

type options struct {
	dsn, brokerURL, brokerListen, identity string
	caFile, certFile, keyFile              string
	brokerCert, brokerKey                  string
	httpAddr, tlsCert, tlsKey              string
	enrol                                  enrolOptions
	releases                               releaseOptions
	demo, seedDemo                         bool
	dataDir                                string
	demoKiosks, seedPerMonth               int
	webhook, smtpURL, alertFrom, alertTo   string
	offlineAfter                           time.Duration
	manualRegistration                     bool
	verbose, version                       bool
	enrolStore, crlFile                    string
	metricsListen, metricsTokenFile        string
	trustedProxies                         string
	revocationsEvery                       time.Duration
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-fleetd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.dsn, "store", "ssu-fleet.db", "SQLite file or postgres:// URL")
	fs.StringVar(&o.brokerURL, "broker", "", "an external broker's URL, e.g. ssl://mqtt.example:8883 (default: the embedded broker)")
	fs.StringVar(&o.brokerListen, "broker-listen", ":8883", "where the embedded broker listens (mutual TLS)")
	fs.StringVar(&o.identity, "identity", "fleet", "the fleet server's identity: its certificate's CN")
	fs.StringVar(&o.caFile, "ca", "", "CA certificate of the fleet (kiosk, broker and fleet certificates)")
	fs.StringVar(&o.certFile, "cert", "", "the fleet identity's client certificate")
	fs.StringVar(&o.keyFile, "key", "", "the fleet identity's private key")
	fs.StringVar(&o.brokerCert, "broker-cert", "", "the embedded broker's server certificate")
	fs.StringVar(&o.brokerKey, "broker-key", "", "the embedded broker's private key")
	fs.StringVar(&o.httpAddr, "http", "127.0.0.1:8080", "web listen address")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "web TLS certificate (required unless --http is on loopback)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "web TLS private key")
	fs.BoolVar(&o.demo, "demo", false, "run everything locally: a PKI, the embedded broker and SQLite under --data, demo data, demo accounts and simulated kiosks")
	fs.BoolVar(&o.seedDemo, "seed-demo", false, "fill the store with a year of synthetic usage of 50 kiosks and create demo accounts")
	fs.StringVar(&o.dataDir, "data", filepath.Join(os.TempDir(), "ssu-fleet-demo"), "--demo: where its PKI and database live")
	fs.IntVar(&o.demoKiosks, "demo-kiosks", 3, "--demo: how many simulated kiosks connect (kiosk-0001 …)")
	fs.IntVar(&o.seedPerMonth, "seed-sessions-per-month", 6000, "--demo, --seed-demo: sessions a month across the 50 demo kiosks")
	fs.StringVar(&o.webhook, "alert-webhook", "", "POST alerts as JSON to this URL")
	fs.StringVar(&o.smtpURL, "alert-smtp", "", "send alerts by email through this server: smtp://[user:pass@]host[:587], smtps://…")
	fs.StringVar(&o.alertFrom, "alert-from", "", "alert email sender")
	fs.StringVar(&o.alertTo, "alert-to", "", "alert email recipients, comma-separated")
	fs.DurationVar(&o.offlineAfter, "offline-after", 15*time.Minute, "alert when a kiosk has been offline this long")
	fs.BoolVar(&o.manualRegistration, "manual-registration", false, "a new kiosk stays unregistered (its reports kept, in no site's) until an IT admin places it on the dashboard or with `ssu-fleetd kiosk place` (default: it takes the site and ward of its enrolment)")
	fs.StringVar(&o.enrolStore, "enrol-store", "", "the enrolment store (SQLite file or postgres:// URL) read for revocations and kiosks' enrolled places, served here or not (default: --store)")
	fs.StringVar(&o.crlFile, "crl", "", "the fleet CA's CRL (PEM), e.g. another server's --enrol-crl: the embedded broker refuses the certificates it lists, re-read when it changes")
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus /metrics (no sign-in) on this address of its own, e.g. 127.0.0.1:9108; off when empty")
	fs.StringVar(&o.metricsTokenFile, "metrics-token-file", "", "also serve /metrics on the dashboard's listener, to requests bearing the token in this file (Authorization: Bearer)")
	fs.StringVar(&o.trustedProxies, "trusted-proxy", "", "reverse proxies (addresses or CIDR prefixes, comma-separated) whose X-Forwarded-For names the client for sign-in limits; ignored from anyone else")
	fs.DurationVar(&o.revocationsEvery, "revocations-every", 30*time.Second, "how often revocations are re-read from the enrolment store and the CRL file")
	fs.BoolVar(&o.verbose, "v", false, "debug logging")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	o.enrol.flags(fs)
	o.releases.flags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, "ssu-fleetd", version.String())
		return 0
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := serveWith(ctx, o, stdout, log); err != nil {
		log.Error("ssu-fleetd stopped", "err", err)
		return 1
	}
	return 0
}

func serveWith(ctx context.Context, o options, stdout io.Writer, log *slog.Logger) error {
	if o.demo {
		if err := demoSetup(&o); err != nil {
			return err
		}
	}
	if o.enrolStore == "" {
		o.enrolStore = o.dsn
	}
	// The enrolment store is read in every configuration, whether or not enrolment is served here: its
	// revocations keep revoked kiosks off the embedded broker, and its kiosks' places say where each
	// kiosk's reports belong.
	enrolSt, err := sqlstore.Open(ctx, o.enrolStore)
	if err != nil {
		return fmt.Errorf("enrolment store: %w", err)
	}
	defer enrolSt.Close()
	var places store.Enrolment = enrolledPlaces{enrolSt}
	if o.demo {
		places = demoPlaces{enrolledPlaces{enrolSt}}
	}
	st, err := store.Open(ctx, o.dsn, store.Options{ManualRegistration: o.manualRegistration, Enrolment: places})
	if err != nil {
		return err
	}
	defer st.Close()
	if o.demo || o.seedDemo {
		log.Info("filling the store with demonstration data (once)")
		t0 := time.Now()
		if err := seed.Demo(ctx, st, 50, o.seedPerMonth, time.Now()); err != nil {
			return err
		}
		log.Info("demonstration data ready", "took", time.Since(t0).Round(time.Millisecond))
		if err := demoAccounts(ctx, st, stdout); err != nil {
			return err
		}
	}

	// The fleet identity's certificate, for the broker.
	if o.caFile == "" || o.certFile == "" || o.keyFile == "" {
		return errors.New("--ca, --cert and --key (the fleet identity's certificate) are required, or use --demo")
	}
	pool, err := pki.LoadPool(o.caFile)
	if err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
	if err != nil {
		return fmt.Errorf("fleet identity certificate: %w", err)
	}
	clientTLS := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}

	brokerURL := o.brokerURL
	var embedded *broker.Broker
	if brokerURL == "" {
		if o.brokerCert == "" || o.brokerKey == "" {
			return errors.New("the embedded broker needs --broker-cert and --broker-key (or give --broker URL)")
		}
		bpair, err := tls.LoadX509KeyPair(o.brokerCert, o.brokerKey)
		if err != nil {
			return fmt.Errorf("broker certificate: %w", err)
		}
		revoked, err := enrolSt.RevokedKiosks(ctx)
		if err != nil {
			return fmt.Errorf("load revocations: %w", err)
		}
		var crl *x509.RevocationList
		var crlSeen os.FileInfo
		if o.crlFile != "" {
			if crl, crlSeen, err = loadCRL(o.crlFile, o.caFile, log); err != nil {
				return err
			}
		}
		b, err := broker.Start(broker.Config{Addr: o.brokerListen, Fleet: o.identity, Log: log, Revoked: revoked, CRL: crl,
			TLS: &tls.Config{Certificates: []tls.Certificate{bpair}, ClientCAs: pool, MinVersion: tls.VersionTLS12}})
		if err != nil {
			return err
		}
		defer b.Close()
		embedded = b
		log.Info("revocations loaded from the enrolment store", "revoked_kiosks", len(revoked))
		rctx, rcancel := context.WithCancel(ctx)
		defer rcancel()
		go keepRevocations(rctx, enrolSt, b, o.revocationsEvery, log)
		if o.crlFile != "" {
			go watchCRL(rctx, o.crlFile, o.caFile, b, o.revocationsEvery, crlSeen, crl, log)
		}
		brokerURL = "ssl://" + loopbackFor(b.Addr())
		log.Info("embedded broker listening", "addr", b.Addr())
	}

	if o.demo {
		if err := demoEnrolment(&o, brokerURL); err != nil {
			return fmt.Errorf("demo enrolment: %w", err)
		}
	}
	if o.crlFile != "" && embedded == nil {
		return errors.New("--crl is for the embedded broker; an external broker reads the CRL itself (Mosquitto's crlfile)")
	}
	if o.enrol.listen != "" {
		en, err := newEnrolment(ctx, o, enrolSt, log)
		if err != nil {
			return err
		}
		if embedded != nil {
			en.deny.set(embedded) // at once, not at the next reload
		}
		cert, key := o.enrol.tlsCert, o.enrol.tlsKey
		if cert == "" {
			cert, key = o.brokerCert, o.brokerKey
		}
		ectx, ecancel := context.WithCancel(ctx)
		defer ecancel()
		addr, err := en.serve(ectx, o.enrol.listen, cert, key, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ssu-fleetd: kiosk enrolment at %s/\n", enrolURL(addr))
		if o.enrol.adminTokenOutput != "" {
			fmt.Fprintf(stdout, "ssu-fleetd: enrolment admin token in %s (ssu-ctl token create --admin-token-file ...)\n", o.enrol.adminTokenOutput)
		}
	}

	var notifiers []alerts.Notifier
	if o.webhook != "" {
		notifiers = append(notifiers, alerts.Webhook{URL: o.webhook})
	}
	if o.smtpURL != "" {
		e, err := alerts.NewEmail(o.smtpURL, o.alertFrom, strings.Split(o.alertTo, ","), nil)
		if err != nil {
			return err
		}
		notifiers = append(notifiers, e)
	}
	secure := o.tlsCert != ""
	if !secure && !isLoopback(o.httpAddr) {
		return fmt.Errorf("--http %s is not on loopback: give --tls-cert and --tls-key", o.httpAddr)
	}
	var metricsToken []byte
	if o.metricsTokenFile != "" {
		b, err := os.ReadFile(o.metricsTokenFile)
		if err != nil {
			return fmt.Errorf("--metrics-token-file: %w", err)
		}
		if metricsToken = []byte(strings.TrimSpace(string(b))); len(metricsToken) < 16 {
			return errors.New("--metrics-token-file: the token must be at least 16 characters")
		}
	}
	proxies, err := parsePrefixes(o.trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxy: %w", err)
	}
	relOpts, relListener, err := o.releases.listener(&o, enrolSt)
	if err != nil {
		return err
	}
	srv, err := fleetserver.New(fleetserver.Options{Store: st, Broker: brokerURL, Identity: o.identity, TLS: clientTLS,
		MetricsToken: metricsToken, TrustedProxies: proxies, SecureCookies: secure, Rules: alerts.Rules{OfflineAfter: o.offlineAfter}, Notifiers: notifiers, Log: log,
		Releases: relOpts})
	if err != nil {
		return err
	}
	if relListener != nil {
		if err := o.releases.serveDownloads(ctx, relListener, srv, o.caFile, log); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ssu-fleetd: release downloads at %s/releases/\n", o.releases.url)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	if o.demo && o.demoKiosks > 0 {
		ca, err := pki.LoadCA(o.caFile, filepath.Join(o.dataDir, "pki", "ca.key"))
		if err != nil {
			return err
		}
		f, err := sim.Start(ctx, sim.Config{Kiosks: o.demoKiosks, Broker: brokerURL, TLS: sim.FromCA(ca), Rate: 0.2,
			HealthEvery: 30 * time.Second, MaxBackoff: 5 * time.Second})
		if err != nil {
			return err
		}
		defer f.Stop()
		log.Info("simulated kiosks started", "kiosks", o.demoKiosks)
	}

	if o.metricsListen != "" {
		ml, err := net.Listen("tcp", o.metricsListen)
		if err != nil {
			return fmt.Errorf("--metrics-listen %s: %w", o.metricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", srv.Metrics)
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go ms.Serve(ml)
		defer ms.Close()
		fmt.Fprintf(stdout, "ssu-fleetd: metrics at http://%s/metrics\n", ml.Addr())
	}
	hs := &http.Server{Addr: o.httpAddr, Handler: srv.Web, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	l, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.httpAddr, err)
	}
	scheme := "http"
	if secure {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "ssu-fleetd: dashboard at %s://%s/\n", scheme, l.Addr())
	go func() {
		var err error
		if secure {
			hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			err = hs.ServeTLS(l, o.tlsCert, o.tlsKey)
		} else {
			err = hs.Serve(l)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("web server stopped", "err", err)
			cancel()
		}
	}()
	<-ctx.Done()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	hs.Shutdown(sctx)
	cancel()
	return <-done
}

// parsePrefixes reads comma-separated addresses or CIDR prefixes.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a prefix", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// loopbackFor turns a listen address such as "[::]:8883" into one a local client can dial.
func loopbackFor(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// demoSetup makes (once) a PKI under dataDir/pki: a CA, the embedded broker's certificate, the fleet
// identity's certificate and one for a demo kiosk ("kiosk-demo"), and points the options at them.
func demoSetup(o *options) error {
	dir := filepath.Join(o.dataDir, "pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if o.dsn == "ssu-fleet.db" {
		o.dsn = filepath.Join(o.dataDir, "fleet.db")
	}
	if o.brokerListen == ":8883" {
		o.brokerListen = "127.0.0.1:8883"
	}
	o.caFile = filepath.Join(dir, "ca.crt")
	o.certFile, o.keyFile = filepath.Join(dir, o.identity+".crt"), filepath.Join(dir, o.identity+".key")
	o.brokerCert, o.brokerKey = filepath.Join(dir, "broker.crt"), filepath.Join(dir, "broker.key")
	if _, err := os.Stat(o.caFile); err == nil {
		return nil
	}
	ca, err := pki.NewCA("ssu-kiosk demo fleet CA")
	if err != nil {
		return err
	}
	if _, _, err := ca.WriteFiles(dir, "ca"); err != nil {
		return err
	}
	server, err := ca.IssueServer("broker", "127.0.0.1", "localhost")
	if err != nil {
		return err
	}
	if _, _, err := server.WriteFiles(dir, "broker"); err != nil {
		return err
	}
	for _, id := range []string{o.identity, "kiosk-demo"} {
		is, err := ca.IssueClient(id, 365*24*time.Hour)
		if err != nil {
			return err
		}
		if _, _, err := is.WriteFiles(dir, id); err != nil {
			return err
		}
	}
	return nil
}

// demoAccounts (re)creates the demo accounts with fresh random passwords and prints them: only ever
// called in demo mode.
func demoAccounts(ctx context.Context, st *store.Store, stdout io.Writer) error {
	accounts := []store.User{
		{Name: "admin", Role: web.RoleITAdmin},
		{Name: "viewer", Role: web.RoleViewer},
		{Name: "ra-leeds", Role: web.RoleRA, Sites: []string{"st-james", "leeds-gi"}},
		{Name: "ra-wharfedale", Role: web.RoleRA, Sites: []string{"wharfedale"}},
	}
	fmt.Fprintln(stdout, "ssu-fleetd: demo accounts (new passwords at every start, demo mode only):")
	for _, u := range accounts {
		b := make([]byte, 12)
		rand.Read(b)
		password := base64.RawURLEncoding.EncodeToString(b)
		hash, err := web.HashPassword([]byte(password), web.DefaultKDF)
		if err != nil {
			return err
		}
		u.PasswordHash = hash
		if err := st.PutUser(ctx, u); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  %-14s %-9s %s %s\n", u.Name, u.Role, password, strings.Join(u.Sites, ","))
	}
	return nil
}

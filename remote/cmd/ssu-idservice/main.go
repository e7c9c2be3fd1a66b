// Command ssu-idservice is the reference identity service for ssu-kiosk: it serves the /v1 contract of
// package identity over mutual TLS, and has admin subcommands for the Registration Authority.
//
//	ssu-idservice [serve] [flags]                      run the service (see -h)
//	ssu-idservice import --db PATH FILE.csv            add or update profiles and cards
//	ssu-idservice ra set-email  --db PATH UUID EMAIL   add or change an email ("" removes it)
//	ssu-idservice ra set-mobile --db PATH UUID MOBILE  add or change a mobile ("" removes it)
//	ssu-idservice ra set-sopin  --db PATH SERIAL       set a card's SOPIN, read from standard input
//	ssu-idservice ra allow-domain --db PATH DOMAIN...  add email domains to the allow list
//	ssu-idservice ra audit --db PATH [--profile UUID] [--limit N]   read the audit log
//	ssu-idservice ra lockouts --db PATH                 list cards and holders locked out by wrong codes
//	ssu-idservice ra clear-lockout --db PATH SERIAL|UUID  lift a lockout after too many wrong codes
//	ssu-idservice --version                            print the version (package provisioning/version)
//
// It never logs or prints a security code, SOPIN, email address or phone number (except the development
// outbox, which exists to show codes and is off unless --outbox or --demo is given).
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"ssu-kiosk/provisioning/version"
	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/idservice"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit code (0 ok, 1 failure, 2 bad usage).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version" || args[0] == "version") {
		fmt.Fprintln(stdout, "ssu-idservice", version.String())
		return 0
	}
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, stdout, stderr)
	case "import":
		err = importCmd(ctx, args, stdout, stderr)
	case "ra":
		err = raCmd(ctx, args, stdin, stdout, stderr)
	case "help":
		fmt.Fprintln(stdout, "usage: ssu-idservice [serve|import|ra] [flags]; ssu-idservice serve -h for the flags")
		return 0
	default:
		fmt.Fprintf(stderr, "ssu-idservice: unknown command %q (serve, import, ra)\n", cmd)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "ssu-idservice %s: %v\n", cmd, err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "ssu-idservice %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

type usageError struct{ error }

// demoCardCA is the test card CA, whose private key is public: trusted only with --demo.
const demoCardCA = "testdata/pki/card-ca.pem"

// serveFlags are the service's settings, from flags and the config file.
type serveFlags struct {
	config, listen, db, keyFile, outbox, outboxListen, smtp, smtpFrom, allowDomains string
	tlsCert, tlsKey, clientCA, cardCA, demoProfiles, logLevel                       string
	clientCRL, fleetIdentity                                                        string
	smsURL, smsServiceID, smsSecretFile, smsTemplate, smtpPasswordFile, smtpCA      string
	smsTemplateWelsh                                                                string
	demo                                                                            bool
	sendGap, wrongCodeWindow                                                        time.Duration
	kioskLimit, cardLimit, wrongCodeLimit                                           int
	holderAttr                                                                      string
	legacyCardStock                                                                 bool
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "config `FILE`: lines of name = value using these flag names")
	fs.StringVar(&f.listen, "listen", ":8443", "address to serve the /v1 contract on (mutual TLS)")
	fs.StringVar(&f.db, "db", "ssu-idservice.db", "SQLite file, or a postgres:// URL for PostgreSQL (with --demo: $TMPDIR/ssu-demo/idservice.db)")
	fs.StringVar(&f.keyFile, "key-file", "", "file with the 32-byte key (64 hex) that encrypts SOPINs (default: the --db path + .key)")
	fs.StringVar(&f.outbox, "outbox", "", "development: write codes to files in this folder instead of sending them (with --demo: beside the database)")
	fs.StringVar(&f.outboxListen, "outbox-listen", "127.0.0.1:8026", "development: where the read-only outbox page is served (with --outbox)")
	fs.StringVar(&f.smtp, "smtp", "", "send email through this server: smtp://user:pass@host:587 (STARTTLS) or smtps://…:465")
	fs.StringVar(&f.smtpPasswordFile, "smtp-password-file", "", "file holding the SMTP password (keeps it out of --smtp and ps)")
	fs.StringVar(&f.smtpCA, "smtp-ca", "", "CA bundle to trust for the SMTP server (default: the system's)")
	fs.StringVar(&f.smtpFrom, "smtp-from", "no-reply@ssu-kiosk.invalid", "sender address for email")
	fs.StringVar(&f.smsURL, "sms-url", "", "GOV.UK Notify-style API base URL for text messages")
	fs.StringVar(&f.smsServiceID, "sms-service-id", "", "Notify service id (JWT issuer)")
	fs.StringVar(&f.smsSecretFile, "sms-secret-file", "", "file holding the Notify API secret")
	fs.StringVar(&f.smsTemplate, "sms-template", "", "Notify template id; the template has a ((code)) field")
	fs.StringVar(&f.smsTemplateWelsh, "sms-template-cy", "", "Notify template id for people who chose Welsh at the kiosk (default: --sms-template)")
	fs.StringVar(&f.allowDomains, "allow-domains", "", "comma-separated email domains to add to the allow list")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "service certificate (PEM)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "service private key (PEM)")
	fs.StringVar(&f.clientCA, "client-ca", "", "CA bundle that issues kiosk device certificates (PEM)")
	fs.StringVar(&f.clientCRL, "client-crl", "", "the fleet CA's revocation list (PEM), as ssu-fleetd --enrol-crl writes it; read again when it changes. Required, except with --demo")
	fs.StringVar(&f.fleetIdentity, "fleet-identity", idservice.DefaultFleetIdentity, "the fleet server's certificate CN (ssu-fleetd --identity): refused as a kiosk")
	fs.StringVar(&f.cardCA, "card-ca", "", "CA bundle that issues smartcard certificates (PEM); required, except with --demo, where it defaults to "+demoCardCA+" (the test CA, trusted only in demo mode)")
	fs.BoolVar(&f.demo, "demo", false, "seed the demo profiles, allow nhs.net, and write codes to an outbox")
	fs.StringVar(&f.demoProfiles, "demo-profiles", "testdata/demo/profiles.csv", "profiles CSV seeded by --demo")
	fs.DurationVar(&f.sendGap, "send-gap", 30*time.Second, "wait between two code sends in a session")
	fs.IntVar(&f.kioskLimit, "kiosk-limit", 30, "session starts per kiosk per minute (0: no limit)")
	fs.IntVar(&f.cardLimit, "card-limit", 10, "session starts per card per hour (0: no limit); starts whose card proof failed do not count")
	fs.IntVar(&f.wrongCodeLimit, "wrong-code-limit", idservice.DefaultWrongCodeLimit, "wrong codes per card and per holder, across sessions, within --wrong-code-window before both are locked out until an RA runs ra clear-lockout")
	fs.DurationVar(&f.wrongCodeWindow, "wrong-code-window", idservice.DefaultWrongCodeWindow, "the rolling window of --wrong-code-limit")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.holderAttr, "holder-uuid-attribute", identity.DefaultHolderUUIDAttribute, "the PIV Authentication certificate's subject attribute (dotted `OID`) holding the holder UUID; named in every challenge, so kiosks read it from the service")
	fs.BoolVar(&f.legacyCardStock, "legacy-card-stock", false, "accept card certificates that do not name their card (no urn:uuid of the CHUID GUID); weakens the card proof, see the README")
}

// applyConfigFile sets, from the file, every flag not given on the command line.
func applyConfigFile(fs *flag.FlagSet, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, value, ok := strings.Cut(text, "=")
		if !ok {
			name, value, ok = strings.Cut(text, " ")
		}
		name, value = strings.TrimSpace(name), strings.Trim(strings.TrimSpace(value), `"`)
		if !ok && fs.Lookup(name) != nil {
			value = "true" // a bare boolean such as "demo"
		}
		if name == "config" {
			return usageError{fmt.Errorf("config %s line %d: config cannot name another config", path, line)}
		}
		if fs.Lookup(name) == nil {
			return usageError{fmt.Errorf("config %s line %d: unknown setting %q", path, line, name)}
		}
		if given[name] {
			continue
		}
		if err := fs.Set(name, value); err != nil {
			return usageError{fmt.Errorf("config %s line %d: %s: %v", path, line, name, err)}
		}
	}
	return sc.Err()
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level: %v", err)}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func defaultKeyFile(db, keyFile string) (string, error) {
	if keyFile != "" {
		return keyFile, nil
	}
	if strings.Contains(db, "://") {
		return "", usageError{errors.New("--key-file is needed with a PostgreSQL URL")}
	}
	return db + ".key", nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if f.config != "" {
		if err := applyConfigFile(fs, f.config); err != nil {
			return err
		}
	}
	log, err := newLogger(stderr, f.logLevel)
	if err != nil {
		return err
	}
	if f.tlsCert == "" || f.tlsKey == "" || f.clientCA == "" {
		return usageError{errors.New("--tls-cert, --tls-key and --client-ca are required: kiosks authenticate with mutual TLS")}
	}
	tlsConfig, err := idservice.ServerTLSConfig(f.tlsCert, f.tlsKey, f.clientCA)
	if err != nil {
		return err
	}
	if f.cardCA == "" {
		if !f.demo {
			return usageError{errors.New("--card-ca is required: the CA bundle that issues your smartcards' certificates (the test card CA in testdata/pki is trusted only with --demo)")}
		}
		f.cardCA = demoCardCA
	}
	cardRoots, err := idservice.LoadCardCAs(f.cardCA, f.demo)
	if err != nil {
		return fmt.Errorf("--card-ca: %w", err)
	}
	var revs *idservice.Revocations
	switch {
	case f.clientCRL != "":
		issuers, err := idservice.LoadCertificates(f.clientCA)
		if err != nil {
			return fmt.Errorf("--client-ca: %w", err)
		}
		if revs, err = idservice.LoadRevocations(f.clientCRL, issuers, log); err != nil {
			return fmt.Errorf("--client-crl: %w", err)
		}
	case !f.demo:
		return usageError{errors.New("--client-crl is required: the fleet CA's revocation list (ssu-fleetd --enrol-crl), so revoked kiosks are refused")}
	default:
		log.Warn("demo mode without --client-crl: revoked kiosk certificates are not refused")
	}
	dbGiven := false
	fs.Visit(func(fl *flag.Flag) { dbGiven = dbGiven || fl.Name == "db" })
	if f.demo && !dbGiven {
		// Demo state lives outside the source tree, in one folder that is safe to delete.
		dir := filepath.Join(os.TempDir(), "ssu-demo")
		f.db = filepath.Join(dir, "idservice.db")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	if f.demo && f.outbox == "" {
		f.outbox = filepath.Join(filepath.Dir(f.db), "outbox")
		if strings.Contains(f.db, "://") {
			f.outbox = "outbox"
		}
	}
	keyFile, err := defaultKeyFile(f.db, f.keyFile)
	if err != nil {
		return err
	}
	if f.demo {
		if err := idservice.EnsureKeyFile(keyFile); err != nil {
			return err
		}
	}
	key, err := idservice.LoadKeyFile(keyFile)
	if err != nil {
		return err
	}
	sealer, err := idservice.NewSealer(key)
	clear(key)
	if err != nil {
		return err
	}
	store, err := idservice.OpenStore(ctx, f.db)
	if err != nil {
		return err
	}
	defer store.Close()
	ra := &idservice.RA{Store: store, Sealer: sealer, Actor: "ssu-idservice"}
	domains := strings.Split(f.allowDomains, ",")
	if f.demo {
		file, err := os.Open(f.demoProfiles)
		if err != nil {
			return fmt.Errorf("--demo-profiles: %w", err)
		}
		res, err := ra.Import(ctx, file)
		file.Close()
		if err != nil {
			return fmt.Errorf("seed demo profiles: %w", err)
		}
		log.Info("demo profiles seeded", "file", f.demoProfiles, "profiles", res.Profiles, "cards", res.Cards)
		domains = append(domains, "nhs.net")
	}
	if err := ra.AllowDomains(ctx, domains); err != nil {
		return err
	}

	holderAttr, err := idservice.ParseHolderUUIDAttribute(f.holderAttr)
	if err != nil {
		return fmt.Errorf("--holder-uuid-attribute: %w", err)
	}
	cfg := idservice.Config{Store: store, Sealer: sealer, CardRoots: cardRoots, SendGap: f.sendGap,
		KioskSessionsPerMinute: f.kioskLimit, CardSessionsPerHour: f.cardLimit,
		WrongCodeLimit: f.wrongCodeLimit, WrongCodeWindow: f.wrongCodeWindow,
		Revocations: revs, FleetIdentity: f.fleetIdentity, Logger: log,
		HolderUUIDAttribute: holderAttr, LegacyCardStock: f.legacyCardStock}
	if f.wrongCodeLimit <= 0 || f.wrongCodeWindow <= 0 {
		return usageError{errors.New("--wrong-code-limit and --wrong-code-window must be positive: the limit cannot be turned off")}
	}
	if f.legacyCardStock {
		log.Warn("accepting legacy card stock: card certificates that do not name their card pass the card proof")
	}
	var outboxSrv *http.Server
	switch {
	case f.outbox != "":
		if err := os.MkdirAll(f.outbox, 0o700); err != nil {
			return fmt.Errorf("--outbox: %w", err)
		}
		ob := &idservice.Outbox{Dir: f.outbox}
		cfg.Email, cfg.SMS = ob, ob
		ln, err := net.Listen("tcp", f.outboxListen)
		if err != nil {
			return fmt.Errorf("--outbox-listen: %w", err)
		}
		outboxSrv = &http.Server{Handler: idservice.OutboxPage(f.outbox), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = outboxSrv.Serve(ln) }()
		defer outboxSrv.Close()
		fmt.Fprintf(stdout, "DEVELOPMENT OUTBOX: security codes are NOT sent; read them at http://%s/ or in %s\n", ln.Addr(), f.outbox)
	case f.smtp != "":
		smtpURL := f.smtp
		if f.smtpPasswordFile != "" {
			pw, err := os.ReadFile(f.smtpPasswordFile)
			if err != nil {
				return fmt.Errorf("--smtp-password-file: %w", err)
			}
			u, err := url.Parse(f.smtp)
			if err != nil || u.User == nil {
				return usageError{errors.New("--smtp-password-file needs a user in --smtp (smtp://user@host:587)")}
			}
			u.User = url.UserPassword(u.User.Username(), strings.TrimSpace(string(pw)))
			smtpURL = u.String()
			clear(pw)
		}
		var smtpTLS *tls.Config
		if f.smtpCA != "" {
			pool, err := idservice.LoadCertPool(f.smtpCA)
			if err != nil {
				return fmt.Errorf("--smtp-ca: %w", err)
			}
			smtpTLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		cfg.Email, err = idservice.NewSMTPCourier(smtpURL, f.smtpFrom, smtpTLS)
		if err != nil {
			return err
		}
	}
	if f.smsURL != "" && f.outbox == "" {
		secret, err := os.ReadFile(f.smsSecretFile)
		if err != nil {
			return fmt.Errorf("--sms-secret-file: %w", err)
		}
		cfg.SMS = &idservice.NotifySMS{BaseURL: f.smsURL, ServiceID: f.smsServiceID, Secret: []byte(strings.TrimSpace(string(secret))), TemplateID: f.smsTemplate, WelshTemplateID: f.smsTemplateWelsh}
		clear(secret)
	}
	if cfg.Email == nil {
		log.Warn("no email delivery configured (--smtp or --outbox): email will be offered as unavailable")
	}
	svc, err := idservice.New(cfg)
	if err != nil {
		return err
	}
	defer svc.Close()

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	tlsConfig.VerifyConnection = svc.VerifyConnection
	srv := &http.Server{Handler: svc.Handler(), TLSConfig: tlsConfig, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	log.Info("serving", "listen", ln.Addr().String(), "db_postgres", strings.Contains(f.db, "://"), "demo", f.demo)
	fmt.Fprintf(stdout, "ssu-idservice listening on https://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// openRA opens the store and key for an admin command.
func openRA(ctx context.Context, db, keyFile, actor string, needKey bool) (*idservice.RA, func(), error) {
	ra := &idservice.RA{Actor: actor}
	if needKey {
		kf, err := defaultKeyFile(db, keyFile)
		if err != nil {
			return nil, nil, err
		}
		if err := idservice.EnsureKeyFile(kf); err != nil {
			return nil, nil, err
		}
		key, err := idservice.LoadKeyFile(kf)
		if err != nil {
			return nil, nil, err
		}
		ra.Sealer, err = idservice.NewSealer(key)
		clear(key)
		if err != nil {
			return nil, nil, err
		}
	}
	store, err := idservice.OpenStore(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	ra.Store = store
	return ra, func() { store.Close() }, nil
}

func actorName() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return "ra-cli:" + u
	}
	if u := os.Getenv("USER"); u != "" {
		return "ra-cli:" + u
	}
	return "ra-cli"
}

func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "ssu-idservice.db", "SQLite file, or a postgres:// URL")
	keyFile := fs.String("key-file", "", "SOPIN key file (default: the --db path + .key; created when missing)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("usage: ssu-idservice import --db PATH FILE.csv")}
	}
	file, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer file.Close()
	ra, done, err := openRA(ctx, *db, *keyFile, actorName(), true)
	if err != nil {
		return err
	}
	defer done()
	res, err := ra.Import(ctx, file)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d profiles and %d cards\n", res.Profiles, res.Cards)
	return nil
}

func raCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("usage: ssu-idservice ra set-email|set-mobile|set-sopin|allow-domain|audit|lockouts|clear-lockout --db PATH …")}
	}
	action, args := args[0], args[1:]
	fs := flag.NewFlagSet("ra "+action, flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "ssu-idservice.db", "SQLite file, or a postgres:// URL")
	keyFile := fs.String("key-file", "", "SOPIN key file (default: the --db path + .key)")
	profile := fs.String("profile", "", "audit: only this profile UUID")
	limit := fs.Int("limit", 50, "audit: newest entries to show")
	if err := fs.Parse(args); err != nil {
		return err
	}
	want := map[string]int{"set-email": 2, "set-mobile": 2, "set-sopin": 1, "audit": 0, "lockouts": 0, "clear-lockout": 1}
	if n, ok := want[action]; ok && fs.NArg() != n || action == "allow-domain" && fs.NArg() == 0 {
		return usageError{fmt.Errorf("ra %s: wrong number of arguments", action)}
	}
	ra, done, err := openRA(ctx, *db, *keyFile, actorName(), action == "set-sopin")
	if err != nil {
		return err
	}
	defer done()
	switch action {
	case "set-email":
		err = ra.SetEmail(ctx, fs.Arg(0), fs.Arg(1))
	case "set-mobile":
		err = ra.SetMobile(ctx, fs.Arg(0), fs.Arg(1))
	case "set-sopin":
		fmt.Fprintln(stderr, "SOPIN (8 digits) on standard input:")
		line, rerr := bufio.NewReader(stdin).ReadSlice('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return fmt.Errorf("read SOPIN: %w", rerr)
		}
		sopin := []byte(strings.TrimSpace(string(line)))
		clear(line)
		err = ra.SetSOPIN(ctx, fs.Arg(0), sopin)
		clear(sopin)
	case "allow-domain":
		err = ra.AllowDomains(ctx, fs.Args())
	case "lockouts":
		list, lerr := ra.Store.Lockouts(ctx)
		if lerr != nil {
			return lerr
		}
		for _, l := range list {
			fmt.Fprintf(stdout, "%s\tcard=%s profile=%s\n", l.LockedAt.Format(time.RFC3339), l.CardSerial, l.ProfileUUID)
		}
		fmt.Fprintf(stdout, "%d lockouts\n", len(list))
		return nil
	case "clear-lockout":
		n, cerr := ra.ClearLockout(ctx, fs.Arg(0))
		if cerr != nil {
			return cerr
		}
		fmt.Fprintf(stdout, "lockouts lifted: %d\n", n)
	case "audit":
		entries, aerr := ra.Store.AuditLog(ctx, *profile, *limit)
		if aerr != nil {
			return aerr
		}
		for _, e := range entries {
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\tprofile=%s card=%s session=%s request=%s\t%s\n",
				e.At.Format(time.RFC3339), e.KioskID, e.Action, e.Outcome, e.ProfileUUID, e.CardSerial, e.SessionID, e.RequestID, e.Detail)
		}
		return nil
	default:
		return usageError{fmt.Errorf("unknown ra action %q", action)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "done")
	return nil
}

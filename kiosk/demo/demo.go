// Package demo runs the kiosk's demonstration stack with no hardware: pcscd with the vpcd virtual reader
// (started when it is not running, as root), the demo cards of testdata/demo/cards inserted by ssu-vcard,
// ssu-idservice and ssu-fleetd in demo mode, and a throwaway CA for their mutual TLS.
//
// Only the demo build of the kiosk imports it (make run: bin/ssu-demo, built from kiosk/cmd/ssu-kiosk
// with the demo build tag). The production ssu-kiosk must never import it, nor anything it imports for
// the demo (hal/vcard): a test in provisioning/version checks the binaries the image installs.
package demo

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"ssu-kiosk/hal/card"
	"ssu-kiosk/hal/vcard"
	"ssu-kiosk/kiosk/app"
	"ssu-kiosk/provisioning/pki"
)

// Options say where the demo's parts are.
type Options struct {
	// Dir is the demo's working folder (certificates, database, outbox, card copies); a new temporary
	// folder when empty.
	Dir string
	// Testdata is the repository's testdata folder (demo cards, profiles, card CA).
	Testdata string
	// VPCD is the virtual reader the demo card is inserted into; ReaderFilter names that reader for PC/SC.
	VPCD, ReaderFilter string
	// Bin is where ssu-vcard and ssu-idservice are; beside this program, then $PATH, when empty.
	Bin string
	// KioskID is the CN of the kiosk certificates the demo makes.
	KioskID string
	// SmallFleet starts the fleet server with a small year of demonstration data and no simulated
	// kiosks (quicker: for tests).
	SmallFleet bool
	// Out receives the lines a person at the terminal reads.
	Out io.Writer
	Log *slog.Logger
}

// Card is one of the demo cards.
type Card struct {
	Name, Holder, State string
}

// Demo is the running demo stack.
type Demo struct {
	opts                      Options
	log                       *slog.Logger
	Dir                       string
	URL                       string // the identity service
	Outbox                    string // folder where security codes are written
	OutboxAt                  string // web page showing them
	CAFile, CertFile, KeyFile string
	Cards                     []Card
	// Fleet is the fleet link's configuration: ssu-fleetd's embedded broker, a client certificate from
	// its demo CA, a fresh card key and an outbox in the demo folder.
	Fleet app.FleetConfig
	// Dashboard is ssu-fleetd's web address; AdminPassword signs in as "admin" there.
	Dashboard, AdminPassword string

	pcscd, idservice, fleetd *exec.Cmd

	mu       sync.Mutex
	current  int
	inserted *exec.Cmd
	done     chan error
}

// describe gives a demo card's part in the demo, from its file name.
func describe(file string) string {
	switch {
	case strings.Contains(file, "locked") && !strings.Contains(file, "unlocked"):
		return "locked: unlock it with a security code"
	case strings.Contains(file, "expired"):
		return "expired certificates: sent to the RA"
	case strings.Contains(file, "no-email"):
		return "no email on the profile: not eligible"
	case strings.Contains(file, "unlocked"):
		return "not locked: change its passcode (current 314159)"
	}
	return "demo card"
}

// Start starts pcscd (when not running, as root), ssu-idservice in demo mode, and prepares the demo
// cards; F2 and F3 then insert, remove and pick cards (Toggle, Next).
func Start(ctx context.Context, opts Options) (*Demo, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.VPCD == "" {
		opts.VPCD = "127.0.0.1:35963"
	}
	if opts.ReaderFilter == "" {
		opts.ReaderFilter = "Virtual PCD 00 00"
	}
	if opts.KioskID == "" {
		opts.KioskID = "demo-kiosk"
	}
	if opts.Testdata == "" {
		opts.Testdata = "testdata"
	}
	td, err := filepath.Abs(opts.Testdata)
	if err != nil {
		return nil, err
	}
	opts.Testdata = td
	if opts.Dir == "" {
		if opts.Dir, err = os.MkdirTemp("", "ssu-kiosk-demo-"); err != nil {
			return nil, fmt.Errorf("demo folder: %w", err)
		}
	}
	d := &Demo{opts: opts, log: opts.Log, Dir: opts.Dir}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	if err := d.ensurePCSCD(ctx); err != nil {
		return nil, err
	}
	if err := d.copyCards(); err != nil {
		return nil, err
	}
	if err := d.makeCertificates(); err != nil {
		return nil, err
	}
	if err := d.startIdentityService(ctx); err != nil {
		return nil, err
	}
	if err := d.startFleetServer(ctx); err != nil {
		return nil, err
	}
	ok = true
	fmt.Fprintf(opts.Out, "\nssu-kiosk demo (folder %s)\n", d.Dir)
	fmt.Fprintf(opts.Out, "  Security codes are NOT sent: read them at %s or in %s\n", d.OutboxAt, d.Outbox)
	fmt.Fprintf(opts.Out, "  Fleet dashboard: %s  (sign in as admin, password %s); this kiosk is %s\n",
		d.Dashboard, d.AdminPassword, opts.KioskID)
	fmt.Fprintf(opts.Out, "  In the kiosk window: F2 inserts or removes the demo card, F3 picks the next card.\n")
	for i, c := range d.Cards {
		fmt.Fprintf(opts.Out, "  card %d: %s, %s\n", i+1, c.Holder, c.Name)
	}
	fmt.Fprintf(opts.Out, "  Selected: card 1 (%s). Press F2 to insert it.\n\n", d.Cards[0].Holder)
	return d, nil
}

func (d *Demo) bin(name string) (string, error) {
	if d.opts.Bin != "" {
		return filepath.Join(d.opts.Bin, name), nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found beside ssu-kiosk or on $PATH: run `make run`, or build them beside this program", name)
	}
	return p, nil
}

// ensurePCSCD checks that pcscd answers and lists the virtual reader; it starts pcscd when it is not
// running and this process is root.
func (d *Demo) ensurePCSCD(ctx context.Context) error {
	if _, err := os.Stat("/usr/lib/pcsc/drivers/serial/libifdvpcd.so"); err != nil {
		return errors.New("the virtual card reader driver is missing: apt-get install vsmartcard-vpcd pcscd")
	}
	if _, err := card.Readers(); errors.Is(err, card.ErrServiceDown) {
		if os.Geteuid() != 0 {
			return errors.New("pcscd is not running: start it (sudo systemctl start pcscd.socket) or run the demo as root")
		}
		d.pcscd = exec.Command("pcscd", "--foreground")
		d.pcscd.Stdout, d.pcscd.Stderr = io.Discard, io.Discard
		d.pcscd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		if err := d.pcscd.Start(); err != nil {
			return fmt.Errorf("start pcscd (apt-get install pcscd): %w", err)
		}
		d.log.Info("started pcscd", "pid", d.pcscd.Process.Pid)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		readers, err := card.Readers()
		if err == nil && slices.ContainsFunc(readers, func(r string) bool { return strings.Contains(r, d.opts.ReaderFilter) }) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PC/SC reader named %q (readers %q, err %v): is vsmartcard-vpcd configured in /etc/reader.conf.d?",
				d.opts.ReaderFilter, readers, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// copyCards copies the demo cards into the demo folder, so each demo starts with the cards as committed.
func (d *Demo) copyCards() error {
	src := filepath.Join(d.opts.Testdata, "demo", "cards")
	files, err := filepath.Glob(filepath.Join(src, "*.json"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no demo cards in %s", src)
	}
	slices.Sort(files)
	dir := filepath.Join(d.Dir, "cards")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range files {
		st, err := vcard.LoadState(f)
		if err != nil {
			return fmt.Errorf("demo card %s: %w", filepath.Base(f), err)
		}
		dst := filepath.Join(dir, filepath.Base(f))
		if err := st.Save(dst); err != nil {
			return err
		}
		d.Cards = append(d.Cards, Card{Name: describe(filepath.Base(f)), Holder: st.Name, State: dst})
	}
	return nil
}

// makeCertificates makes a throwaway CA, the service's certificate and the kiosk's, for mutual TLS,
// valid for a week.
func (d *Demo) makeCertificates() error {
	now := time.Now()
	week := now.AddDate(0, 0, 7)
	ca, err := pki.NewCAWith("ssu-kiosk demo CA", pki.CAOptions{NotAfter: week})
	if err != nil {
		return err
	}
	d.CAFile = filepath.Join(d.Dir, "demo-ca.pem")
	if err := pki.WritePair(d.CAFile, ca.CertPEM(), "", nil, true); err != nil {
		return err
	}
	issue := func(name string, r pki.Request) error {
		r.NotAfter = week
		is, err := ca.Issue(r)
		if err != nil {
			return err
		}
		return pki.WritePair(filepath.Join(d.Dir, name+".pem"), is.CertPEM, filepath.Join(d.Dir, name+".key"), is.KeyPEM, true)
	}
	if err := issue("service", pki.Request{CommonName: "localhost", Hosts: []string{"localhost", "127.0.0.1"},
		Usage: x509.ExtKeyUsageServerAuth}); err != nil {
		return err
	}
	if err := issue("kiosk", pki.Request{CommonName: d.opts.KioskID, Usage: x509.ExtKeyUsageClientAuth}); err != nil {
		return err
	}
	d.CertFile, d.KeyFile = filepath.Join(d.Dir, "kiosk.pem"), filepath.Join(d.Dir, "kiosk.key")
	return nil
}

// startChild starts one of the demo's services (it dies with the kiosk), logs its standard error to
// NAME.log in the demo folder, and hands each line of its standard output to ready until ready says the
// service is up. *cmd is set as soon as the process runs, so Close stops it whatever happens next.
func (d *Demo) startChild(ctx context.Context, name string, wait time.Duration, ready func(line string) bool,
	cmd **exec.Cmd, bin string, args ...string) error {
	logFile, err := os.Create(filepath.Join(d.Dir, name+".log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	c := exec.Command(bin, args...)
	c.Stderr = logFile
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // never outlive the kiosk
	out, err := c.StdoutPipe()
	if err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	*cmd = c
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-time.After(time.Second):
			}
		}
		close(lines)
	}()
	timeout := time.After(wait)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return fmt.Errorf("%s stopped: see %s", name, logFile.Name())
			}
			if ready(l) {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("%s did not start in %s: see %s", name, wait, logFile.Name())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// startIdentityService runs ssu-idservice --demo on loopback and reads where it listens.
func (d *Demo) startIdentityService(ctx context.Context) error {
	bin, err := d.bin("ssu-idservice")
	if err != nil {
		return err
	}
	d.Outbox = filepath.Join(d.Dir, "outbox")
	err = d.startChild(ctx, "ssu-idservice", 20*time.Second, func(l string) bool {
		if _, u, found := strings.Cut(l, "listening on "); found {
			d.URL = strings.TrimSpace(u)
		}
		if _, u, found := strings.Cut(l, "read them at "); found {
			d.OutboxAt, _, _ = strings.Cut(u, " ")
		}
		return d.URL != "" && d.OutboxAt != ""
	}, &d.idservice, bin, "serve", "--demo", "--db", filepath.Join(d.Dir, "idservice.db"),
		"--listen", "127.0.0.1:0", "--outbox", d.Outbox, "--outbox-listen", "127.0.0.1:0",
		"--tls-cert", filepath.Join(d.Dir, "service.pem"), "--tls-key", filepath.Join(d.Dir, "service.key"),
		"--client-ca", d.CAFile, "--card-ca", filepath.Join(d.opts.Testdata, "pki", "card-ca.pem"),
		"--demo-profiles", filepath.Join(d.opts.Testdata, "demo", "profiles.csv"),
		"--kiosk-limit", "0", "--card-limit", "0", "--send-gap", "10s")
	if err != nil {
		return err
	}
	d.log.Info("identity service (demo) started", "url", d.URL)
	return nil
}

// Toggle inserts the selected demo card, or removes it when it is in (F2).
func (d *Demo) Toggle() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inserted != nil {
		d.removeLocked()
		fmt.Fprintf(d.opts.Out, "demo: card %d removed\n", d.current+1)
		return
	}
	bin, err := d.bin("ssu-vcard")
	if err != nil {
		fmt.Fprintf(d.opts.Out, "demo: %v\n", err)
		return
	}
	c := d.Cards[d.current]
	cmd := exec.Command(bin, "--vpcd", d.opts.VPCD, "--state", c.State)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(d.opts.Out, "demo: insert card: %v\n", err)
		return
	}
	d.inserted = cmd
	d.done = make(chan error, 1)
	go func(done chan error) { done <- cmd.Wait() }(d.done)
	d.log.Info("demo card inserted", "card", d.current+1)
	fmt.Fprintf(d.opts.Out, "demo: card %d (%s, %s) inserted\n", d.current+1, c.Holder, c.Name)
}

func (d *Demo) removeLocked() {
	if d.inserted == nil {
		return
	}
	_ = d.inserted.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(3 * time.Second):
		_ = d.inserted.Process.Kill()
		<-d.done
	}
	d.inserted = nil
	d.log.Info("demo card removed", "card", d.current+1)
}

// Next removes the card if it is in and selects the next demo card (F3).
func (d *Demo) Next() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.removeLocked()
	d.current = (d.current + 1) % len(d.Cards)
	c := d.Cards[d.current]
	fmt.Fprintf(d.opts.Out, "demo: card %d selected (%s, %s); F2 inserts it\n", d.current+1, c.Holder, c.Name)
}

// Close removes the card and stops what the demo started.
func (d *Demo) Close() {
	d.mu.Lock()
	d.removeLocked()
	d.mu.Unlock()
	for _, c := range []*exec.Cmd{d.fleetd, d.idservice, d.pcscd} {
		if c != nil && c.Process != nil {
			_ = c.Process.Signal(syscall.SIGTERM)
			waited := make(chan struct{})
			go func() { _ = c.Wait(); close(waited) }()
			select {
			case <-waited:
			case <-time.After(5 * time.Second):
				_ = c.Process.Kill()
			}
		}
	}
}

// startFleetServer runs ssu-fleetd --demo (its embedded broker on a free loopback port, its web side on
// another), reads the dashboard's address and the admin password it prints, and issues this kiosk a
// client certificate from the fleet's demo CA.
func (d *Demo) startFleetServer(ctx context.Context) error {
	bin, err := d.bin("ssu-fleetd")
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	data := filepath.Join(d.Dir, "fleet")
	args := []string{"--demo", "--data", data, "--http", "127.0.0.1:0", "--broker-listen", "127.0.0.1:" + port}
	if d.opts.SmallFleet {
		args = append(args, "--demo-kiosks", "0", "--seed-sessions-per-month", "300")
	}
	// The demonstration data takes a few seconds to make.
	err = d.startChild(ctx, "ssu-fleetd", 90*time.Second, func(l string) bool {
		if _, u, found := strings.Cut(l, "dashboard at "); found {
			d.Dashboard = strings.TrimSpace(u)
		}
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "admin" {
			d.AdminPassword = f[2]
		}
		return d.Dashboard != "" && d.AdminPassword != ""
	}, &d.fleetd, bin, args...)
	if err != nil {
		return err
	}
	ca, err := pki.LoadCA(filepath.Join(data, "pki", "ca.crt"), filepath.Join(data, "pki", "ca.key"))
	if err != nil {
		return fmt.Errorf("fleet demo CA: %w", err)
	}
	is, err := ca.IssueClient(d.opts.KioskID, 7*24*time.Hour)
	if err != nil {
		return err
	}
	cert, key, err := is.WriteFiles(d.Dir, "fleet-"+d.opts.KioskID)
	if err != nil {
		return err
	}
	cardKey := make([]byte, 32)
	if _, err := rand.Read(cardKey); err != nil {
		return err
	}
	d.Fleet = app.FleetConfig{Broker: "ssl://127.0.0.1:" + port, CA: filepath.Join(data, "pki", "ca.crt"), Cert: cert, Key: key,
		CardKeyFile: filepath.Join(d.Dir, "fleet-card-key"), Outbox: filepath.Join(d.Dir, "fleet-outbox.db")}
	if err := os.WriteFile(d.Fleet.CardKeyFile, []byte(hex.EncodeToString(cardKey)+"\n"), 0o600); err != nil {
		return err
	}
	d.log.Info("fleet server (demo) started", "dashboard", d.Dashboard, "broker", d.Fleet.Broker)
	return nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

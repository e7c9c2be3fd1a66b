package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // to read what ssu-fleetd stored

	"ssu-kiosk/hal/card"
	"ssu-kiosk/hal/vcard"
	"ssu-kiosk/kiosk/app"
	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/remote/identity"
)

// TestDeployForReal runs the README's "Deploying for real" walk with the built binaries and no demo flag:
// ssu-ctl pki makes the fleet CA and the servers' certificates, ssu-ctl token admin-new the admin token,
// ssu-fleetd serves the broker and enrolment, ssu-ctl pki and ssu-vcard make a card CA and a card,
// ssu-idservice imports its profile and serves with --card-ca and --client-crl, ssu-ctl token create and
// ssu-ctl enrol enrol a kiosk. Then, as the kiosk does it with what enrolment wrote (kiosk.yaml, its key
// and certificate, the CAs, the card key): the card is read and proved to ssu-idservice, the code from
// the service's outbox is checked, the released SOPIN unblocks the card, and the session's usage reaches
// ssu-fleetd through its broker, filed under the enrolment's place.
//
// The kiosk's part runs in the test (kiosk/app's configuration and fleet link, hal/card over the virtual
// card's APDUs, the identity client), not as the ssu-kiosk binary: its screens need a display, and the
// kiosk's own end-to-end tests (kiosk/cmd/ssu-kiosk) drive them.
func TestDeployForReal(t *testing.T) {
	bin := deployBinaries(t)
	dir := t.TempDir()
	p := func(parts ...string) string { return filepath.Join(append([]string{dir}, parts...)...) }
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	sh := func(stdin string, name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
		}
		return out.String()
	}

	// 1-2. The fleet CA (its key elsewhere, by path) and the certificates of every server.
	if err := os.MkdirAll(p("media"), 0o700); err != nil {
		t.Fatal(err)
	}
	sh("", "ssu-ctl", "pki", "ca", "--cn", "Test Trust fleet CA", "--cert", "pki/ca.crt", "--key", "media/ca.key")
	ca := []string{"--ca", "pki/ca.crt", "--ca-key", "media/ca.key"}
	for _, c := range [][]string{
		{"server", "--cn", "fleet.example", "--host", "localhost,127.0.0.1", "--cert", "pki/broker.crt", "--key", "pki/broker.key"},
		{"server", "--cn", "fleet.example", "--host", "localhost,127.0.0.1", "--cert", "pki/fleetd.crt", "--key", "pki/fleetd.key"},
		{"client", "--cn", "fleet", "--cert", "pki/fleet.crt", "--key", "pki/fleet.key"},
		{"server", "--cn", "id.example", "--host", "localhost,127.0.0.1", "--cert", "pki/idservice.crt", "--key", "pki/idservice.key"},
	} {
		out := sh("", "ssu-ctl", append(append([]string{"pki"}, c[0]), append(ca, c[1:]...)...)...)
		if strings.Contains(out, "PRIVATE KEY") {
			t.Fatalf("ssu-ctl pki printed a key:\n%s", out)
		}
	}

	// 3. Enrolment's admin token, the fleet's card key and the profile.
	digest := sh("", "ssu-ctl", "token", "admin-new", "--out", "admin.token")
	writeFile(t, p("admins"), digest, 0o600)
	writeFile(t, p("fleet-card-key"), "c2VjcmV0LWNhcmQta2V5LW9mLXRoZS10ZXN0LWZsZWV0\n", 0o600)
	brokerAddr, enrolAddr, webAddr, idAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	writeFile(t, p("enrol-profile.conf"), fmt.Sprintf(`identity-url = https://%s
service-ca = pki/ca.crt
broker-url = ssl://%s
card-key-file = fleet-card-key
methods = email
troubleshooting-url = https://help.example.nhs.uk/smartcard-kiosk
`, idAddr, brokerAddr), 0o644)

	// 4. ssu-fleetd: the embedded broker, enrolment, the dashboard.
	fleetd := startServer(t, ctx, bin, dir, "ssu-fleetd", "dashboard at",
		"--store", p("fleet.db"), "--ca", "pki/ca.crt", "--cert", "pki/fleet.crt", "--key", "pki/fleet.key",
		"--broker-listen", brokerAddr, "--broker-cert", "pki/broker.crt", "--broker-key", "pki/broker.key",
		"--enrol-listen", enrolAddr, "--enrol-tls-cert", "pki/fleetd.crt", "--enrol-tls-key", "pki/fleetd.key",
		"--enrol-ca-key", "media/ca.key", "--enrol-profile", "enrol-profile.conf", "--enrol-admins", "admins",
		"--enrol-crl", p("crl.pem"), "--http", webAddr)
	defer fleetd.stop()

	// 5. A card CA and a card of our own (the test card CA is refused outside --demo), the holder's
	// profile, and ssu-idservice.
	sh("", "ssu-ctl", "pki", "ca", "--cn", "Trial card CA", "--cert", "cards/card-ca.pem", "--key", "cards/card-ca.key")
	const pin, puk, newPIN = "123456", "87654321", "246802"
	serial := strings.TrimSpace(sh("", "ssu-vcard", "--create", "--ca", "cards", "--state", "cards/alice.json",
		"--holder-uuid", "555000000042", "--name", "Alice Example", "--pin", pin, "--puk", puk,
		"--not-after", time.Now().AddDate(1, 0, 0).Format("2006-01-02")))
	st, err := vcard.LoadState(p("cards", "alice.json"))
	if err != nil {
		t.Fatal(err)
	}
	st.PINTriesLeft = 0 // three wrong passcodes
	if err := st.Save(p("cards", "alice.json")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p("profiles.csv"), "uuid,name,email,mobile,card_serial,sopin\n555000000042,Alice Example,alice@example.nhs.uk,,"+serial+","+puk+"\n", 0o600)
	sh("", "ssu-idservice", "import", "--db", p("id.db"), p("profiles.csv"))
	idsvc := startServer(t, ctx, bin, dir, "ssu-idservice", "msg=serving",
		"serve", "--listen", idAddr, "--db", p("id.db"), "--tls-cert", "pki/idservice.crt", "--tls-key", "pki/idservice.key",
		"--client-ca", "pki/ca.crt", "--client-crl", p("crl.pem"), "--card-ca", "cards/card-ca.pem",
		"--outbox", p("outbox"), "--outbox-listen", freeAddr(t), "--allow-domains", "example.nhs.uk")
	defer idsvc.stop()

	// 6. A token for a place, and the kiosk enrols with it.
	tokenOut := sh("", "ssu-ctl", "token", "create", "--server", "https://"+enrolAddr, "--ca", "pki/ca.crt",
		"--site", "St Example's", "--ward", "Ward 7", "--admin-token-file", "admin.token")
	token := regexp.MustCompile(`ssuet_[A-Za-z0-9_-]{43}`).FindString(tokenOut)
	if token == "" {
		t.Fatalf("no token in %q", tokenOut)
	}
	sh(token+"\n", "ssu-ctl", "enrol", "--server", "https://"+enrolAddr, "--ca", "pki/ca.crt", "--token", "-", "--dir", p("kiosk"))
	cfg, err := app.LoadConfig(p("kiosk", "kiosk.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Fleet.Outbox = p("kiosk", "fleet-outbox.db")

	// 7. The card, as the kiosk unlocks it.
	cardFile, err := vcard.Open(p("cards", "alice.json"))
	if err != nil {
		t.Fatal(err)
	}
	piv := card.NewPIV(card.TransportFunc(func(cmd []byte) ([]byte, error) { return cardFile.Process(cmd), nil }))
	if err := piv.Select(); err != nil {
		t.Fatal(err)
	}
	who, err := piv.ReadIdentity(card.IdentityOptions{})
	if err != nil || who.Serial != serial {
		t.Fatalf("read identity: %v (serial %q, want %q)", err, who.Serial, serial)
	}
	pool, err := pki.LoadPool(cfg.ServiceCA)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(cfg.ClientCert, cfg.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	newClient := func() *identity.Client {
		c, err := identity.NewClient(identity.Config{BaseURL: cfg.IdentityURL, ServiceCAs: pool, Certificate: pair, Logger: quiet, Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	client := newClient()
	defer client.Close()
	ch, err := client.Challenge(ctx)
	if err != nil {
		t.Fatalf("challenge with the enrolled kiosk's certificate: %v", err)
	}
	sig, cardAuth, err := piv.Authenticate(ch.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	sess, err := client.StartSession(ctx, identity.StartSessionRequest{CardSerial: who.Serial, HolderUUID: who.HolderUUID,
		PIVAuthCert: who.Certificate.Raw, CardAuthCert: cardAuth.Raw, Nonce: ch.Nonce, Signature: sig})
	if err != nil || !sess.Eligible {
		t.Fatalf("start session: %v (%+v)", err, sess)
	}
	if _, err := client.SendCode(ctx, sess.ID, identity.SendCodeRequest{Method: identity.MethodEmail,
		Address: identity.Secret("alice@example.nhs.uk")}); err != nil {
		t.Fatal(err)
	}
	code := outboxCode(t, p("outbox"))
	rel, err := client.VerifyCode(ctx, sess.ID, identity.Secret(code))
	if err != nil {
		t.Fatalf("verify code: %v", err)
	}
	if err := piv.Unblock(card.Secret(rel.SOPIN), card.Secret(newPIN)); err != nil {
		t.Fatalf("unblock with the released SOPIN: %v", err)
	}
	if err := piv.VerifyPIN(card.Secret(newPIN)); err != nil {
		t.Fatalf("the new passcode: %v", err)
	}
	if err := client.Complete(ctx, sess.ID, identity.CompleteRequest{Outcome: identity.OutcomeUnlocked}); err != nil {
		t.Fatal(err)
	}

	// ... and reports it to ssu-fleetd through the broker, with what enrolment gave it.
	log := quiet
	agentCtx, stopAgent := context.WithCancel(ctx)
	control := app.NewFleetControl(cfg, nil, nil, p("kiosk", "kiosk.yaml"), log)
	control.Runner = app.NewRunner(agentCtx, app.RunnerConfig{Log: log}) // as ssu-kiosk wires it: health comes from here
	fl, err := app.OpenFleet(cfg, control, log)
	if err != nil {
		stopAgent()
		t.Fatal(err)
	}
	agentDone := make(chan error, 1)
	go func() { agentDone <- fl.Agent.Run(agentCtx) }()
	defer func() { stopAgent(); <-agentDone; fl.Close() }()
	ended := time.Now()
	if err := fl.Sink.RecordUsage(ctx, flow.UsageRecord{KioskID: cfg.KioskID, Outcome: flow.OutcomeUnlocked,
		Method: flow.MethodEmail, StepReached: flow.Unlocked, StartedAt: started, EndedAt: ended, Duration: ended.Sub(started)}, serial); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+p("fleet.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var site, ward string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		err := db.QueryRowContext(ctx, `SELECT site, ward FROM events WHERE kiosk = ? AND kind = 'unlocked'`, cfg.KioskID).Scan(&site, &ward)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssu-fleetd has not stored the kiosk's unlock after 60 s (%v)\n%s", err, fleetd.output())
		}
	}
	if site != "st-examples" || ward != "ward-7" {
		t.Errorf("the unlock is filed under %q / %q, want the enrolment's st-examples / ward-7", site, ward)
	}

	// Revoked, the kiosk is shut out of the identity service (ssu-fleetd writes the CRL it reads).
	sh("", "ssu-ctl", "revoke", "--server", "https://"+enrolAddr, "--ca", "pki/ca.crt", "--kiosk", cfg.KioskID,
		"--admin-token-file", "admin.token")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		c := newClient()
		_, err := c.Challenge(ctx)
		c.Close()
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the revoked kiosk still gets challenges from ssu-idservice after 30 s")
		}
	}

	for _, s := range []*server{fleetd, idsvc} {
		if out := s.output(); strings.Contains(out, code) || strings.Contains(out, puk) || strings.Contains(out, "alice@") {
			t.Errorf("%s logged a code, the SOPIN or the address", s.name)
		}
	}
}

var (
	deployBuild sync.Once
	deployBin   string
	deployErr   error
)

// deployBinaries builds the production binaries the walk uses (no demo tag) once.
func deployBinaries(t *testing.T) string {
	t.Helper()
	deployBuild.Do(func() {
		deployBin, deployErr = os.MkdirTemp("", "ssu-deploy-bin-")
		if deployErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", deployBin+"/", "ssu-kiosk/provisioning/cmd/ssu-ctl",
			"ssu-kiosk/remote/cmd/ssu-fleetd", "ssu-kiosk/remote/cmd/ssu-idservice", "ssu-kiosk/hal/cmd/ssu-vcard").CombinedOutput()
		if err != nil {
			deployErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if deployErr != nil {
		t.Fatal(deployErr)
	}
	return deployBin
}

// server is a running server binary and what it has written.
type server struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// startServer starts a server binary and waits until a line of its output holds ready.
func startServer(t *testing.T, ctx context.Context, bin, dir, name, ready string, args ...string) *server {
	t.Helper()
	s := &server{name: name, cmd: exec.CommandContext(ctx, filepath.Join(bin, name), args...), done: make(chan struct{})}
	s.cmd.Dir = dir
	r, w := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = w, w
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(r)
		once := sync.Once{}
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if strings.Contains(sc.Text(), ready) {
				once.Do(func() { close(seen) })
			}
		}
	}()
	go func() { _ = s.cmd.Wait(); w.Close(); close(s.done) }()
	select {
	case <-seen:
	case <-s.done:
		t.Fatalf("%s stopped before it was ready:\n%s", name, s.output())
	case <-time.After(90 * time.Second):
		s.stop()
		t.Fatalf("%s not ready after 90 s (waiting for %q):\n%s", name, ready, s.output())
	}
	return s
}

var outboxCodeRE = regexp.MustCompile(`\b(\d{6})\b`)

// outboxCode waits for the security code ssu-idservice --outbox wrote.
func outboxCode(t *testing.T, dir string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
		if len(files) == 0 {
			continue
		}
		b, err := os.ReadFile(files[len(files)-1])
		if err != nil {
			t.Fatal(err)
		}
		_, body, _ := strings.Cut(string(b), "\n\n")
		if m := outboxCodeRE.FindStringSubmatch(body); m != nil {
			return m[1]
		}
	}
	t.Fatal("no security code in the identity service's outbox")
	return ""
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

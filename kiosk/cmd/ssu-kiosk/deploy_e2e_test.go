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

	hcard "ssu-kiosk/hal/card"
	"ssu-kiosk/hal/vcard"
	"ssu-kiosk/kiosk/app"
	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/remote/identity"
)

// TestDeployForReal runs the README's "Deploying for real" walk with the production binaries (no demo
// build tag) and no demo flag: ssu-ctl pki makes the fleet CA and the servers' certificates, ssu-ctl token
// admin-new the admin token, ssu-fleetd serves the broker and enrolment, ssu-ctl pki and ssu-vcard make a
// card CA and a locked card, ssu-idservice imports its holder and serves with --card-ca and --client-crl,
// ssu-ctl token create and ssu-ctl enrol enrol a kiosk, and ssu-kiosk runs on the kiosk.yaml enrolment
// wrote. A person unlocks the card at the kiosk's screen (keys through an X server), the card takes the
// new passcode, and the session reaches ssu-fleetd through its broker, filed under the enrolment's place.
// Revoked, the kiosk is then refused by the identity service.
//
// What the test changes of a kiosk machine: the kiosk's fleet outbox goes in the test's folder instead
// of /var/lib/ssu, its reader is the private pcscd's, and the identity service writes codes to a folder
// (--outbox) instead of sending email.
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
methods = email, sms
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
	reader := daemon.Readers()[0]
	conf, err := os.OpenFile(p("kiosk", "kiosk.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conf, "fleet-outbox = %s\nreader-filter = %s\n", p("kiosk", "fleet-outbox.db"), reader.Name)
	conf.Close()
	cfg, err := app.LoadConfig(p("kiosk", "kiosk.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	// 7. The kiosk, and a person with a locked card.
	need(t, "xdotool", "xdotool")
	k := startKiosk(t, bin, dir, p("kiosk", "kiosk.yaml"))
	card := startServer(t, ctx, bin, dir, "ssu-vcard", "inserting card", "--vpcd", reader.VPCDAddr, "--state", "cards/alice.json")
	code := k.unlockByKeyboard(t, "alice@example.nhs.uk", newPIN)
	card.stop() // the card is taken out
	k.screen(t, "welcome")
	cardFile, err := vcard.Open(p("cards", "alice.json"))
	if err != nil {
		t.Fatal(err)
	}
	piv := hcard.NewPIV(hcard.TransportFunc(func(cmd []byte) ([]byte, error) { return cardFile.Process(cmd), nil }))
	if err := piv.Select(); err != nil {
		t.Fatal(err)
	}
	if err := piv.VerifyPIN(hcard.Secret(newPIN)); err != nil {
		t.Fatalf("the card does not take the new passcode: %v", err)
	}

	// The session reached ssu-fleetd, under the place of the kiosk's enrolment.
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
	pool, err := pki.LoadPool(cfg.ServiceCA)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(cfg.ClientCert, cfg.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sh("", "ssu-ctl", "revoke", "--server", "https://"+enrolAddr, "--ca", "pki/ca.crt", "--kiosk", cfg.KioskID,
		"--admin-token-file", "admin.token")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		c, err := identity.NewClient(identity.Config{BaseURL: cfg.IdentityURL, ServiceCAs: pool, Certificate: pair, Logger: quiet, Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Challenge(ctx)
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
	noSecretsLogged(t, k, "alice@example", newPIN, puk, serial, code)
}

var (
	deployBuild sync.Once
	deployBin   string
	deployErr   error
)

// deployBinaries builds the production binaries the walk uses (no demo tag), stamped as make build
// stamps them, once.
func deployBinaries(t testing.TB) string {
	t.Helper()
	deployBuild.Do(func() {
		deployBin, deployErr = os.MkdirTemp("", "ssu-deploy-bin-")
		if deployErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-ldflags", "-X ssu-kiosk/provisioning/version.value="+e2eVersion,
			"-o", deployBin+"/", "ssu-kiosk/kiosk/cmd/ssu-kiosk", "ssu-kiosk/provisioning/cmd/ssu-ctl",
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

// startKiosk runs the production ssu-kiosk on its configuration, full screen on an X server of its own;
// dir is where the identity service's outbox folder is (kiosk.securityCode).
func startKiosk(t *testing.T, bin, dir, config string) *kiosk {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "ssu-kiosk"), "--config", config, "--log-level", "debug")
	cmd.Dir = dir
	return launchKiosk(t, startXvfb(t, 1920, 1080), dir, cmd)
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

func writeFile(t testing.TB, path, content string, mode os.FileMode) {
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

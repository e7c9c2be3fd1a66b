package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/idservice"
	"ssu-kiosk/remote/identity/idtest"
)

// childEnv, when set, makes the test binary run as ssu-idservice with these JSON-encoded arguments, so tests
// and benchmarks can start the service as a separate process without a build step.
const childEnv = "SSU_IDSERVICE_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		var list []string
		if err := json.Unmarshal([]byte(args), &list); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, list, os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func runCmd(t testing.TB, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// repoFile finds a file relative to the repository root.
func repoFile(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join("..", "..", "..", rel)
}

func TestImportAndRA(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "id.db")
	code, out, errs := runCmd(t, "", "import", "--db", db, repoFile(t, "testdata/demo/profiles.csv"))
	if code != 0 || !strings.Contains(out, "imported 4 profiles and 4 cards") {
		t.Fatalf("import: %d %q %q", code, out, errs)
	}
	if fi, err := os.Stat(db + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("uuid,name,email,mobile,card_serial,sopin\n555000000009,Ok Person,ok@nhs.net,,,\n555000000010,Bad Pin,bad@nhs.net,,d1e0c0de0000000000000000000000aa,1234\n"), 0o600)
	code, _, errs = runCmd(t, "", "import", "--db", db, bad)
	if code != 1 || !strings.Contains(errs, "line 3, sopin: must be 8 digits") || strings.Contains(errs, "1234") {
		t.Fatalf("bad import: %d %q", code, errs)
	}
	for _, tc := range []struct {
		stdin string
		args  []string
	}{
		{"", []string{"ra", "set-email", "--db", db, "555000000003", "jo.noemail@nhs.net"}},
		{"", []string{"ra", "set-mobile", "--db", db, "555000000003", "07700 900333"}},
		{"87654321\n", []string{"ra", "set-sopin", "--db", db, demoSerial(t, "555000000003")}},
		{"", []string{"ra", "allow-domain", "--db", db, "nhs.net", "example.nhs.uk"}},
		{"", []string{"ra", "clear-lockout", "--db", db, demoSerial(t, "555000000003")}},
	} {
		if code, out, errs := runCmd(t, tc.stdin, tc.args...); code != 0 || !strings.Contains(out, "done") {
			t.Fatalf("%v: %d %q %q", tc.args, code, out, errs)
		}
	}
	if code, _, _ := runCmd(t, "12\n", "ra", "set-sopin", "--db", db, demoSerial(t, "555000000003")); code != 1 {
		t.Error("a 2-digit SOPIN was accepted")
	}
	if code, _, _ := runCmd(t, "", "ra", "set-email", "--db", db, "555000000099", "x@nhs.net"); code != 1 {
		t.Error("an unknown profile was changed")
	}
	code, out, _ = runCmd(t, "", "ra", "audit", "--db", db, "--profile", "555000000003")
	if code != 0 || !strings.Contains(out, "ra.set-sopin") || !strings.Contains(out, "ra.set-email") || !strings.Contains(out, "ra.clear-lockout") || strings.Contains(out, "87654321") || strings.Contains(out, "@") {
		t.Fatalf("audit: %d %q", code, out)
	}
	if strings.Contains(out, "555000000009") {
		t.Error("a rejected import wrote something")
	}
	if code, _, _ := runCmd(t, "", "frobnicate"); code != 2 {
		t.Error("unknown command not refused")
	}
}

// pki is the files a service process needs.
type pki struct {
	kioskCA, cardCA                      *idtest.CA
	cert, key, clientCA, cardCAFile, crl string
}

func writePKI(t testing.TB, dir string) pki {
	p := pki{kioskCA: idtest.NewCA(t, "Kiosk CA"), cardCA: idtest.NewCA(t, "Card CA")}
	p.cert, p.key = idtest.WriteCert(t, dir, "server", p.kioskCA.ServerCert(t))
	p.clientCA, p.cardCAFile = filepath.Join(dir, "kiosk-ca.pem"), filepath.Join(dir, "card-ca.pem")
	if err := os.WriteFile(p.clientCA, p.kioskCA.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.cardCAFile, p.cardCA.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	p.crl = filepath.Join(dir, "kiosk-crl.pem")
	p.revoke(t)
	return p
}

// revoke writes a new kiosk CRL naming certs (a new file renamed into place, as ssu-fleetd does).
func (p pki) revoke(t testing.TB, certs ...tls.Certificate) {
	t.Helper()
	if err := os.WriteFile(p.crl+".new", p.kioskCA.CRL(t, certs...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p.crl+".new", p.crl); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startChild runs the service as a separate process and waits until it answers.
func startChild(t testing.TB, p pki, addr string, args ...string) *exec.Cmd {
	t.Helper()
	return startService(t, addr, func() *identity.Client { return kioskClient(t, p, addr, "kiosk-probe") }, args...)
}

// startService runs the service as a separate process and waits until a client from probe gets a challenge.
func startService(t testing.TB, addr string, probe func() *identity.Client, args ...string) *exec.Cmd {
	t.Helper()
	enc, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(enc))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("service output:\n%s", out.String())
		}
	})
	c := probe()
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Challenge(ctx)
		cancel()
		if err == nil {
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("service did not come up: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func kioskClient(t testing.TB, p pki, addr, kiosk string) *identity.Client {
	return kioskClientWith(t, p, addr, p.kioskCA.KioskCert(t, kiosk))
}

func kioskClientWith(t testing.TB, p pki, addr string, cert tls.Certificate) *identity.Client {
	cfg := identity.Config{BaseURL: "https://" + addr, ServiceCAs: p.kioskCA.Pool(),
		Certificate: cert, Timeout: 10 * time.Second, Retries: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, ok := t.(*testing.T); ok { // tests check every call against the contract; benchmarks measure
		cfg.WrapTransport = idtest.ContractTransport(t)
	}
	c, err := identity.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var codeRE = regexp.MustCompile(`security code is ([0-9]{6})`)

// TestServeDemo runs `ssu-idservice --demo` as its own process, with some settings from a config file,
// and walks a session, reading the code from the outbox page.
func TestServeDemo(t *testing.T) {
	dir := t.TempDir()
	p := writePKI(t, dir)
	addr, outboxAddr := freeAddr(t), freeAddr(t)
	conf := filepath.Join(dir, "idservice.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("# demo settings\ntls-cert = %s\ntls-key = %s\nclient-ca = %s\ncard-ca = %s\ndemo\n",
		p.cert, p.key, p.clientCA, p.cardCAFile)), 0o600)
	cmd := startChild(t, p, addr, "--config", conf, "--listen", addr, "--db", filepath.Join(dir, "id.db"),
		"--outbox-listen", outboxAddr, "--demo-profiles", repoFile(t, "testdata/demo/profiles.csv"))
	ctx := context.Background()
	c := kioskClient(t, p, addr, "kiosk-demo")
	defer c.Close()
	card := p.cardCA.ValidCard(t, demoSerial(t, "555000000001"), "555000000001")
	ch, err := c.Challenge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.StartSession(ctx, card.StartRequest(t, ch.Nonce))
	if err != nil || !s.Eligible || s.HolderName != "Sam Example" {
		t.Fatalf("start: %+v %v", s, err)
	}
	if _, err := c.SendCode(ctx, s.ID, identity.SendCodeRequest{Method: identity.MethodEmail, Address: identity.Secret("sam.example@nhs.net")}); err != nil {
		t.Fatal(err)
	}
	var code identity.Secret
	for deadline := time.Now().Add(5 * time.Second); code == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + outboxAddr + "/")
		if err != nil {
			continue
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := codeRE.FindSubmatch(page); m != nil && bytes.Contains(page, []byte(s.ID)) {
			code = identity.Secret(m[1])
		}
	}
	if code == nil {
		t.Fatal("no code on the outbox page")
	}
	rel, err := c.VerifyCode(ctx, s.ID, code)
	if err != nil || string(rel.SOPIN) != "12345678" {
		t.Fatalf("verify: %v", err)
	}
	if err := c.Complete(ctx, s.ID, identity.CompleteRequest{Outcome: identity.OutcomeUnlocked}); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Post("http://"+outboxAddr+"/", "text/plain", nil); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("outbox page accepted a POST: %d", resp.StatusCode)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("service exit: %v", err)
	}
}

func TestServeNeedsTLS(t *testing.T) {
	code, _, errs := runCmd(t, "", "--db", filepath.Join(t.TempDir(), "x.db"))
	if code != 2 || !strings.Contains(errs, "mutual TLS") {
		t.Fatalf("%d %q", code, errs)
	}
	conf := filepath.Join(t.TempDir(), "c.conf")
	os.WriteFile(conf, []byte("no-such-setting = 1\n"), 0o600)
	if code, _, errs := runCmd(t, "", "--config", conf); code != 2 || !strings.Contains(errs, "unknown setting") {
		t.Fatalf("%d %q", code, errs)
	}
}

// demoSerial reads the card serial of a demo holder from testdata/demo/profiles.csv, which follows the
// demo cards in testdata/demo/cards.
func demoSerial(t *testing.T, holderUUID string) string {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, "testdata/demo/profiles.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ",")
		if len(f) == 6 && f[0] == holderUUID {
			return f[4]
		}
	}
	t.Fatalf("no demo profile %s", holderUUID)
	return ""
}

// TestServeNeedsCardCA: a real service refuses to start without its card CA, and refuses the published test
// card CA (testdata/pki) unless in demo mode.
func TestServeNeedsCardCA(t *testing.T) {
	dir := t.TempDir()
	p := writePKI(t, dir)
	base := []string{"--db", filepath.Join(dir, "x.db"), "--tls-cert", p.cert, "--tls-key", p.key, "--client-ca", p.clientCA, "--listen", "127.0.0.1:0"}
	code, _, errs := runCmd(t, "", base...)
	if code != 2 || !strings.Contains(errs, "--card-ca is required") {
		t.Fatalf("no card CA: %d %q", code, errs)
	}
	code, _, errs = runCmd(t, "", append(base, "--card-ca", repoFile(t, "testdata/pki/card-ca.pem"))...)
	if code != 1 || !strings.Contains(errs, "trusted only in demo mode") {
		t.Fatalf("the test card CA outside demo mode: %d %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db")); err == nil {
		t.Error("the store was opened before the card CA was checked")
	}
}

// TestServeRefusesRevokedKiosk runs the service as its own process (not in demo mode) with the fleet CA's
// CRL, revokes a kiosk by writing a new CRL, and checks that the kiosk is refused without a restart.
func TestServeRefusesRevokedKiosk(t *testing.T) {
	dir := t.TempDir()
	p := writePKI(t, dir)
	db := filepath.Join(dir, "id.db")
	if code, out, errs := runCmd(t, "", "import", "--db", db, repoFile(t, "testdata/demo/profiles.csv")); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}
	base := []string{"--db", db, "--tls-cert", p.cert, "--tls-key", p.key, "--client-ca", p.clientCA, "--card-ca", p.cardCAFile}
	if code, _, errs := runCmd(t, "", append(base, "--listen", "127.0.0.1:0")...); code != 2 || !strings.Contains(errs, "--client-crl is required") {
		t.Fatalf("no CRL: %d %q", code, errs)
	}
	addr := freeAddr(t)
	startChild(t, p, addr, append(base, "--listen", addr, "--client-crl", p.crl, "--log-level", "warn")...)
	ctx := context.Background()
	cert := p.kioskCA.KioskCert(t, "kiosk-0007")
	if _, err := kioskClientWith(t, p, addr, cert).Challenge(ctx); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	p.revoke(t, cert)
	if _, err := kioskClientWith(t, p, addr, cert).Challenge(ctx); err == nil {
		t.Fatal("a revoked kiosk was served")
	}
	if _, err := kioskClient(t, p, addr, "kiosk-0008").Challenge(ctx); err != nil {
		t.Fatalf("another kiosk: %v", err)
	}
	if _, err := kioskClient(t, p, addr, "fleet").Challenge(ctx); err == nil {
		t.Fatal("the fleet server's identity was served as a kiosk")
	}
}

// TestRAClearsLockout: an RA lists the lockouts and lifts one by card serial, from the command line.
func TestRAClearsLockout(t *testing.T) {
	db := filepath.Join(t.TempDir(), "id.db")
	if code, out, errs := runCmd(t, "", "import", "--db", db, repoFile(t, "testdata/demo/profiles.csv")); code != 0 {
		t.Fatalf("import: %s %s", out, errs)
	}
	serial := demoSerial(t, "555000000001")
	ctx := context.Background()
	store, err := idservice.OpenStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.LockOut(ctx, serial, "555000000001", time.Now()); err != nil {
		t.Fatal(err)
	}
	store.Close()
	if code, out, errs := runCmd(t, "", "ra", "lockouts", "--db", db); code != 0 || !strings.Contains(out, "card="+serial) || !strings.Contains(out, "1 lockouts") {
		t.Fatalf("lockouts: %d %q %q", code, out, errs)
	}
	if code, out, errs := runCmd(t, "", "ra", "clear-lockout", "--db", db, serial); code != 0 || !strings.Contains(out, "lockouts lifted: 1") {
		t.Fatalf("clear-lockout: %d %q %q", code, out, errs)
	}
	if code, out, _ := runCmd(t, "", "ra", "lockouts", "--db", db); code != 0 || !strings.Contains(out, "0 lockouts") {
		t.Fatalf("lockouts after clearing: %q", out)
	}
	if code, out, _ := runCmd(t, "", "ra", "audit", "--db", db, "--profile", "555000000001"); code != 0 || !strings.Contains(out, "ra.clear-lockout\tok") {
		t.Fatalf("audit: %q", out)
	}
}

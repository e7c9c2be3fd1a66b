// Package fleettest starts what fleet-link tests need: a test PKI, a private Mosquitto configured
// exactly as `ssu-ctl broker-config` configures one (mutual TLS and the fleet ACL), the embedded
// broker, and the fleet server's receiver. Tests that need Mosquitto fail (never skip) naming the
// Debian package to install when it is missing.
package fleettest

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/remote/fleet/broker"
	"ssu-kiosk/remote/fleet/ingest"
)

// FleetID is the fleet server's identity in tests.
const FleetID = "fleet"

// PKI is a test CA with a broker certificate for 127.0.0.1, written to a directory.
type PKI struct {
	CA                    *pki.CA
	Dir                   string
	CAFile, CAKeyFile     string
	ServerCert, ServerKey string
	Server                *pki.Issued
	CRLFile               string // an empty revocation list
}

// NewPKI makes a PKI in a temporary directory.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	ca, err := pki.NewCA("ssu test fleet CA")
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{CA: ca, Dir: t.TempDir()}
	if p.CAFile, p.CAKeyFile, err = ca.WriteFiles(p.Dir, "ca"); err != nil {
		t.Fatal(err)
	}
	if p.Server, err = ca.IssueServer("broker", "127.0.0.1", "localhost"); err != nil {
		t.Fatal(err)
	}
	if p.ServerCert, p.ServerKey, err = p.Server.WriteFiles(p.Dir, "broker"); err != nil {
		t.Fatal(err)
	}
	crl, err := ca.CRL()
	if err != nil {
		t.Fatal(err)
	}
	p.CRLFile = filepath.Join(p.Dir, "crl.pem")
	if err := os.WriteFile(p.CRLFile, crl, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Client returns a client TLS configuration for identity.
func (p *PKI) Client(t testing.TB, identity string) *tls.Config {
	t.Helper()
	is, err := p.CA.IssueClient(identity, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return p.CA.ClientTLS(is)
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Mosquitto is a private Mosquitto process.
type Mosquitto struct {
	t    testing.TB
	Port int
	URL  string // ssl://127.0.0.1:port
	Conf string // path of mosquitto.conf
	Dir  string

	mu  sync.Mutex
	cmd *exec.Cmd
	out *os.File
}

// StartMosquitto writes the configuration `ssu-ctl broker-config` writes, with persistence, and starts
// Mosquitto on a free port. It is stopped when the test ends.
func StartMosquitto(t testing.TB, p *PKI) *Mosquitto {
	t.Helper()
	if _, err := exec.LookPath("mosquitto"); err != nil {
		if _, err2 := os.Stat("/usr/sbin/mosquitto"); err2 != nil {
			t.Fatal("mosquitto not found: install the Debian package mosquitto (apt-get install mosquitto)")
		}
	}
	dir := t.TempDir()
	m := &Mosquitto{t: t, Port: FreePort(t), Dir: dir}
	m.URL = "ssl://127.0.0.1:" + strconv.Itoa(m.Port)
	cfg := broker.Mosquitto{
		Fleet: FleetID, Bind: "127.0.0.1", Port: m.Port,
		CAFile: p.CAFile, CertFile: p.ServerCert, KeyFile: p.ServerKey, CRLFile: p.CRLFile,
		ACLFile: filepath.Join(dir, "acl"), PersistenceDir: filepath.Join(dir, "data"),
	}
	if os.Geteuid() == 0 {
		cfg.User = "root" // our temporary files are not readable by the mosquitto user
	}
	conf, err := cfg.Config()
	if err != nil {
		t.Fatal(err)
	}
	acl, err := cfg.ACL()
	if err != nil {
		t.Fatal(err)
	}
	m.Conf = filepath.Join(dir, "mosquitto.conf")
	os.MkdirAll(cfg.PersistenceDir, 0o700)
	if err := os.WriteFile(m.Conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.ACLFile, []byte(acl), 0o600); err != nil {
		t.Fatal(err)
	}
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

// Start starts (or restarts) Mosquitto and waits until it accepts connections.
func (m *Mosquitto) Start() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return
	}
	bin := "mosquitto"
	if _, err := exec.LookPath(bin); err != nil {
		bin = "/usr/sbin/mosquitto"
	}
	out, err := os.OpenFile(filepath.Join(m.Dir, "mosquitto.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		m.t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", m.Conf)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto (Debian package mosquitto): %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", m.Port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(out.Name())
			m.t.Fatalf("mosquitto exited at start: %v\n%s", err, log)
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			m.t.Fatal("mosquitto did not listen within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.cmd, m.out = cmd, out
	go func() { <-exited; out.Close() }()
}

// Stop stops Mosquitto (SIGTERM, so it saves its persistent state) and waits for it to exit.
func (m *Mosquitto) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if syscall.Kill(m.cmd.Process.Pid, 0) != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.cmd.Process.Kill()
	m.cmd = nil
	// wait until the port is free again, so a restart can bind it
	for i := 0; i < 100; i++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", m.Port))
		if err == nil {
			l.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pid returns the running Mosquitto's process id (0 when stopped).
func (m *Mosquitto) Pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// Log returns what Mosquitto has logged.
func (m *Mosquitto) Log() string {
	b, _ := os.ReadFile(filepath.Join(m.Dir, "mosquitto.log"))
	return string(b)
}

// StartEmbedded starts the embedded broker on a free port; it is closed when the test ends.
func StartEmbedded(t testing.TB, p *PKI) *broker.Broker {
	t.Helper()
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", TLS: p.CA.ServerTLS(p.Server), Fleet: FleetID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// Ingest is a running receiver with its SQLite store.
type Ingest struct {
	*ingest.Receiver
	Store *ingest.SQLite
}

// StartIngest starts the fleet server's receiver against url with a fresh SQLite store; it stops
// when the test ends.
func StartIngest(t testing.TB, p *PKI, url string) *Ingest {
	t.Helper()
	st, err := ingest.OpenSQLite(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ingest.NewReceiver(ingest.Config{Identity: FleetID, Broker: url, TLS: p.Client(t, FleetID), Store: st,
		MaxReconnect: time.Second, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	Eventually(t, 15*time.Second, r.Connected, "the receiver connects")
	time.Sleep(100 * time.Millisecond) // its subscriptions are made in OnConnect
	return &Ingest{Receiver: r, Store: st}
}

// Eventually fails the test unless cond becomes true within timeout.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Brokers runs f once against Mosquitto and once against the embedded broker.
func Brokers(t *testing.T, f func(t *testing.T, p *PKI, url string)) {
	t.Run("mosquitto", func(t *testing.T) {
		p := NewPKI(t)
		f(t, p, StartMosquitto(t, p).URL)
	})
	t.Run("embedded", func(t *testing.T) {
		p := NewPKI(t)
		f(t, p, StartEmbedded(t, p).URL())
	})
}

// Package pcsctest runs a private pcscd with virtual (vsmartcard vpcd) readers for tests, so that every
// test drives the same PC/SC path a real USB reader uses, with no hardware.
//
// Debian 12's pcscd always serves /run/pcscd/pcscd.comm, so one pcscd serves a machine. To keep tests
// apart from each other and from a pcscd the machine may run, Setup re-executes the test binary inside a
// private mount namespace (unshare), mounts a tmpfs over /run/pcscd there, and starts pcscd with a reader
// configuration of its own on free TCP ports. Everything in the test binary then sees only that pcscd.
//
// When a part is missing the tests fail and name the Debian package to install; they never skip.
package pcsctest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ebfe/scard"
)

const (
	innerEnv   = "SSU_PCSCTEST_INNER"
	socketDir  = "/run/pcscd"
	vpcdDriver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
	// readersPerConf is how many slots vpcd makes for one reader file: ports CHANNELID and CHANNELID+1.
	readersPerConf = 2
)

// Reader is one virtual reader: the name PC/SC lists and the address a virtual card dials.
type Reader struct {
	Name     string
	VPCDAddr string
}

// Options configure SetupWith.
type Options struct {
	// Readers is how many virtual readers to make (rounded up to an even number).
	Readers int
	// LogAPDUs has pcscd log every APDU (pcscd --apdu), so APDUs can be counted. The log holds test
	// PINs: use only with test cards.
	LogAPDUs bool
}

// Daemon is the private pcscd of one test binary.
type Daemon struct {
	opts    Options
	confDir string
	logPath string
	readers []Reader

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Setup must be called from TestMain. In the parent process it re-executes the test binary in a private
// mount namespace and exits with its status; it returns only in that child, with pcscd running and n
// virtual readers (rounded up to an even number) listed. Close it after m.Run.
func Setup(m *testing.M, n int) *Daemon {
	return SetupWith(m, Options{Readers: n})
}

// SetupWith is Setup with options.
func SetupWith(m *testing.M, opts Options) *Daemon {
	if os.Getenv(innerEnv) == "" {
		os.Exit(reexec())
	}
	d, err := start(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pcsctest: %v\n", err)
		os.Exit(1)
	}
	return d
}

// Missing names the Debian package that provides what the tests need, or "" when all is there.
func Missing() string {
	if _, err := exec.LookPath("pcscd"); err != nil {
		return "pcscd"
	}
	if _, err := os.Stat(vpcdDriver); err != nil {
		return "vsmartcard-vpcd"
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		return "util-linux"
	}
	return ""
}

func reexec() int {
	if pkg := Missing(); pkg != "" {
		fmt.Fprintf(os.Stderr, "pcsctest: FAIL: a private pcscd needs the Debian package %s: apt-get install %s\n", pkg, pkg)
		return 1
	}
	args := []string{"--mount", "--propagation", "private"}
	if os.Geteuid() != 0 {
		// An unprivileged user may still mount a tmpfs inside a user namespace of its own.
		args = append([]string{"--user", "--map-root-user"}, args...)
	}
	args = append(args, os.Args...)
	cmd := exec.Command("unshare", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), innerEnv+"=1")
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "pcsctest: unshare: %v\n", err)
		return 1
	}
	return 0
}

func start(opts Options) (*Daemon, error) {
	n := opts.Readers
	if err := os.MkdirAll(socketDir, 0o755); err != nil {
		return nil, fmt.Errorf("make %s: %w", socketDir, err)
	}
	if err := syscall.Mount("tmpfs", socketDir, "tmpfs", 0, "mode=0755"); err != nil {
		return nil, fmt.Errorf("mount a private tmpfs on %s: %w", socketDir, err)
	}
	dir, err := os.MkdirTemp("", "pcsctest-")
	if err != nil {
		return nil, err
	}
	d := &Daemon{opts: opts, confDir: filepath.Join(dir, "reader.conf.d"), logPath: filepath.Join(dir, "pcscd.log")}
	if err := os.Mkdir(d.confDir, 0o755); err != nil {
		return nil, err
	}
	for i := 0; i < (n+readersPerConf-1)/readersPerConf; i++ {
		port, err := freePortPair()
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("SSU Test PCD %d", i)
		conf := fmt.Sprintf("FRIENDLYNAME \"%s\"\nDEVICENAME /dev/null:0x%X\nLIBPATH %s\nCHANNELID 0x%X\n",
			name, port, vpcdDriver, port)
		if err := os.WriteFile(filepath.Join(d.confDir, fmt.Sprintf("vpcd%d", i)), []byte(conf), 0o644); err != nil {
			return nil, err
		}
		for slot := 0; slot < readersPerConf; slot++ {
			d.readers = append(d.readers, Reader{
				Name:     fmt.Sprintf("%s 00 %02d", name, slot),
				VPCDAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port+slot)),
			})
		}
	}
	if err := d.Start(); err != nil {
		return nil, err
	}
	return d, nil
}

// freePortPair finds p such that p and p+1 are both free TCP ports on loopback.
func freePortPair() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", net.JoinHostPort("0.0.0.0", strconv.Itoa(p+1)))
		l.Close()
		if err == nil {
			l2.Close()
			if p+1 < 65536 {
				return p, nil
			}
		}
	}
	return 0, errors.New("no pair of free ports")
}

// Readers lists the virtual readers, in order.
func (d *Daemon) Readers() []Reader { return append([]Reader(nil), d.readers...) }

// Start starts pcscd (again) and waits until its readers are listed.
func (d *Daemon) Start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd != nil {
		return errors.New("pcscd is already running")
	}
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := []string{"--foreground", "--config", d.confDir}
	if d.opts.LogAPDUs {
		args = append(args, "--apdu")
	}
	cmd := exec.Command("pcscd", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start pcscd: %w", err)
	}
	d.cmd = cmd
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := d.waitReaders(ctx); err != nil {
		return fmt.Errorf("pcscd did not list its readers: %w\n%s", err, d.log())
	}
	return nil
}

func (d *Daemon) waitReaders(ctx context.Context) error {
	for {
		if got, err := listReaders(); err == nil && len(got) >= len(d.readers) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func listReaders() ([]string, error) {
	ctx, err := scard.EstablishContext()
	if err != nil {
		return nil, err
	}
	defer ctx.Release()
	return ctx.ListReaders()
}

// WaitCard waits until PC/SC reports reader holding a card (present) or empty, for up to 15 s, and
// fails tb otherwise (with pcscd's log).
func (d *Daemon) WaitCard(tb testing.TB, reader string, present bool) {
	tb.Helper()
	ctx, err := scard.EstablishContext()
	if err != nil {
		tb.Fatalf("pcsc: %v", err)
	}
	defer ctx.Release()
	rs := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := ctx.GetStatusChange(rs, 500*time.Millisecond)
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			tb.Fatalf("pcsc status of %s: %v", reader, err)
		}
		st := rs[0].EventState
		if (st&scard.StatePresent != 0) == present && st&scard.StateUnavailable == 0 {
			return
		}
		rs[0].CurrentState = st &^ scard.StateChanged
		if time.Now().After(deadline) {
			tb.Fatalf("reader %s: card present=%v not seen in 15 s (state %#x)\npcscd: %s", reader, present, st, d.Log())
		}
	}
}

// Stop stops pcscd with sig (os.Interrupt for a clean stop, os.Kill for a crash) and waits for it.
func (d *Daemon) Stop(sig os.Signal) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return nil
	}
	cmd := d.cmd
	d.cmd = nil
	if err := cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal pcscd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		// pcscd sometimes ignores a stop request; a test must not hang on it.
		_ = cmd.Process.Kill()
		<-exited
		sig = os.Kill
	}
	if sig == os.Kill {
		// A killed pcscd leaves its socket and pid file behind; a new one refuses to start beside them.
		for _, f := range []string{"pcscd.comm", "pcscd.pid"} {
			_ = os.Remove(filepath.Join(socketDir, f))
		}
	}
	return nil
}

// Close stops pcscd and removes its files.
func (d *Daemon) Close() {
	_ = d.Stop(os.Interrupt)
	_ = os.RemoveAll(filepath.Dir(d.confDir))
}

// log returns the tail of pcscd's output, for failure messages.
func (d *Daemon) log() string {
	b, _ := os.ReadFile(d.logPath)
	s := string(b)
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return strings.TrimSpace(s)
}

// APDUs counts the command APDUs pcscd has logged so far (with Options.LogAPDUs). Take the difference
// of two counts to count an operation's APDUs.
func (d *Daemon) APDUs() (int, error) {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return 0, err
	}
	return strings.Count(string(b), "APDU: "), nil
}

// Log returns pcscd's output so far (tail), for a test's failure message.
func (d *Daemon) Log() string { return d.log() }

package fleetserver_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/fleettest"
	"ssu-kiosk/remote/fleet/sim"
	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/store/storetest"
)

func raiseFileLimit(tb testing.TB) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		tb.Fatal(err)
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		tb.Fatal(err)
	}
	if l.Cur < 4096 {
		tb.Fatalf("RLIMIT_NOFILE is %d: 1,000 kiosks need more than 2,000 descriptors", l.Cur)
	}
}

// probeID is a second fleet-side identity allowed to read every kiosk's events: mosquitto_sub uses it.
const probeID = "fleet-probe"

// startProbe runs mosquitto_sub on every kiosk's events as probeID and counts the messages it gets.
func startProbe(b *testing.B, p *fleettest.PKI, m *fleettest.Mosquitto) *atomic.Int64 {
	bin, err := exec.LookPath("mosquitto_sub")
	if err != nil {
		b.Fatal("mosquitto_sub not found: install the Debian package mosquitto-clients")
	}
	is, err := p.CA.IssueClient(probeID, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	cert, key, err := is.WriteFiles(b.TempDir(), probeID)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-h", "127.0.0.1", "-p", strconv.Itoa(m.Port), "--cafile", p.CAFile, "--cert", cert, "--key", key,
		"-i", probeID, "-q", "1", "-t", fleet.All(fleet.LeafEvents))
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var n atomic.Int64
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			n.Add(1)
		}
	}()
	return &n
}

// BenchmarkIngest1000 runs 1,000 simulated kiosks (the real agent code, in their own process) through Mosquitto (mutual TLS,
// the fleet ACL) into the fleet server, with mosquitto_sub subscribed to the same events at the same
// time, offers 8,000 events/s (FLEETD_BENCH_RATE) for 15 s, and reports over that window the events the server stored and
// acknowledged per second beside the messages per second the broker delivered to mosquitto_sub. When
// the two are equal, the server keeps up and the broker (with the load it is offered) is the limit.
func BenchmarkIngest1000(b *testing.B) {
	raiseFileLimit(b)
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchIngest(b, dialect)
			}
		})
	}
}

// TestMain doubles as the simulated fleet's own process for BenchmarkIngest1000 (kiosks are not in
// the fleet server's process in real life, and sharing one Go runtime would blur the figures).
func TestMain(m *testing.M) {
	if os.Getenv("FLEETD_SIM_CHILD") == "" {
		os.Exit(m.Run())
	}
	os.Exit(simChild())
}

// simChild runs 1,000 simulated kiosks. It prints "ready" when all are connected, then for each
// "produce RATE SECONDS" line on stdin produces events and prints "produced RECORDED", and on
// "drain" waits until every event is acknowledged and prints "drained PENDING".
func simChild() int {
	ca, err := pki.LoadCA(os.Getenv("FLEETD_SIM_CA"), os.Getenv("FLEETD_SIM_CA_KEY"))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	n, _ := strconv.Atoi(os.Getenv("FLEETD_SIM_KIOSKS"))
	ctx := context.Background()
	f, err := sim.Start(ctx, sim.Config{Kiosks: n, Broker: os.Getenv("FLEETD_SIM_BROKER"), TLS: sim.FromCA(ca), MaxBackoff: 2 * time.Second})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer f.Stop()
	for f.Result().Connected < n {
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var rate, secs float64
		if _, err := fmt.Sscanf(sc.Text(), "produce %g %g", &rate, &secs); err == nil {
			before := f.Result().Recorded
			pctx, cancel := context.WithTimeout(ctx, time.Duration(secs*float64(time.Second)))
			f.Produce(pctx, rate, 0, 0)
			cancel()
			fmt.Println("produced", f.Result().Recorded-before)
			continue
		}
		if sc.Text() == "drain" {
			deadline := time.Now().Add(2 * time.Minute)
			for f.Result().Pending > 0 && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			fmt.Println("drained", f.Result().Pending)
		}
	}
	return 0
}

// simProcess is the simulated fleet's process, driven line by line.
type simProcess struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
}

func startSimProcess(b *testing.B, p *fleettest.PKI, brokerURL string, kiosks int) *simProcess {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "FLEETD_SIM_CHILD=1", "FLEETD_SIM_CA="+p.CAFile, "FLEETD_SIM_CA_KEY="+p.CAKeyFile,
		"FLEETD_SIM_BROKER="+brokerURL, "FLEETD_SIM_KIOSKS="+strconv.Itoa(kiosks))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sp := &simProcess{cmd: cmd, in: in, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			sp.lines <- sc.Text()
		}
		close(sp.lines)
	}()
	b.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	return sp
}

// expect waits for a line starting with prefix and returns the rest.
func (sp *simProcess) expect(b *testing.B, prefix string, timeout time.Duration) string {
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-sp.lines:
			if !ok {
				b.Fatalf("the simulated fleet exited waiting for %q", prefix)
			}
			if rest, found := strings.CutPrefix(l, prefix); found {
				return strings.TrimSpace(rest)
			}
			if strings.HasPrefix(l, "error") {
				b.Fatalf("simulated fleet: %s", l)
			}
		case <-deadline:
			b.Fatalf("timed out waiting for the simulated fleet to say %q", prefix)
		}
	}
}

func benchIngest(b *testing.B, dialect string) {
	ctx := context.Background()
	var st *store.Store
	if dialect == "sqlite" {
		st = storetest.SQLite(b, store.Options{})
	} else {
		st = storetest.Postgres(b, store.Options{})
	}
	p := fleettest.NewPKI(b)
	m := fleettest.StartMosquitto(b, p)
	// Let the probe read what the fleet server reads.
	acl, err := os.OpenFile(filepath.Join(m.Dir, "acl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	acl.WriteString("\n# benchmark probe\nuser " + probeID + "\ntopic read ssu/v1/#\n")
	acl.Close()
	m.Stop()
	m.Start()
	srv := startServerChecking(b, p, m.URL, st, 30*time.Second) // ssu-fleetd's default
	probe := startProbe(b, p, m)

	const kiosks = 1000
	fleetProc := startSimProcess(b, p, m.URL, kiosks)
	fleetProc.expect(b, "ready", 3*time.Minute)
	time.Sleep(2 * time.Second) // births and first health reports settle

	const window = 15 * time.Second
	offered := 8000 // events/s; FLEETD_BENCH_RATE overrides, to look for where things saturate
	if v, err := strconv.Atoi(os.Getenv("FLEETD_BENCH_RATE")); err == nil && v > 0 {
		offered = v
	}
	before, probed0, stored0 := srv.Receiver.Counters(), probe.Load(), st.IngestStats().NewEvents
	t0 := time.Now()
	fmt.Fprintf(fleetProc.in, "produce %d %g\n", offered, window.Seconds())
	recorded, _ := strconv.Atoi(fleetProc.expect(b, "produced", 2*window))
	elapsed := time.Since(t0)
	after, probed, stored := srv.Receiver.Counters(), probe.Load(), st.IngestStats().NewEvents
	lag := st.IngestStats().LastBatchLag
	// Then let everything drain, to see nothing was lost.
	fmt.Fprintln(fleetProc.in, "drain")
	pending := fleetProc.expect(b, "drained", 3*time.Minute)
	total, _ := st.CountEvents(ctx)

	secs := elapsed.Seconds()
	b.ReportMetric(float64(stored-stored0)/secs, "stored-events/s")
	b.ReportMetric(float64(after.Acked-before.Acked)/secs, "acked-events/s")
	b.ReportMetric(float64(probed-probed0)/secs, "mosquitto_sub-msgs/s")
	b.ReportMetric(float64(recorded)/secs, "offered-events/s")
	b.ReportMetric(lag.Seconds()*1000, "lag-ms")
	b.Logf("%s: over %v: kiosks recorded %d events; mosquitto_sub got %d, the server received %d (%d duplicates), stored %d, acknowledged %d; "+
		"last batch lag %v; after draining: %d stored in all, %s pending",
		dialect, elapsed.Round(time.Millisecond), recorded, probed-probed0, after.Events-before.Events, after.Duplicates-before.Duplicates,
		stored-stored0, after.Acked-before.Acked, lag, total, pending)
}

package sim_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/fleettest"
	"ssu-kiosk/remote/fleet/outbox"
	"ssu-kiosk/remote/fleet/sim"
)

// TestMain doubles as the simulated kiosk process the SIGKILL tests kill: with SIM_CHILD set it runs
// sim.Run from the environment and prints each recorded event id on stdout.
func TestMain(m *testing.M) {
	if os.Getenv("SIM_CHILD") == "" {
		os.Exit(m.Run())
	}
	env := func(k string) string { return os.Getenv("SIM_" + k) }
	rate, _ := strconv.ParseFloat(env("RATE"), 64)
	keepalive, _ := time.ParseDuration(env("KEEPALIVE"))
	certs, err := sim.FromDir(env("CERTS"), env("CA"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	if every, _ := time.ParseDuration(env("HEAP_EVERY")); every > 0 {
		go func() { // for the idle-agent benchmark: the Go heap, as "heap <bytes>"
			for range time.Tick(every) {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				mu.Lock()
				fmt.Fprintln(out, "heap", ms.HeapInuse)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	_, err = sim.Run(context.Background(), sim.Config{
		Kiosks: 1, Rate: rate, Broker: env("BROKER"), TLS: certs, DataDir: env("DATA"),
		Keepalive: keepalive, ResendAfter: 2 * time.Second, MaxBackoff: time.Second,
		Recorded: func(ev fleet.UsageEvent) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintln(out, ev.ID)
			out.Flush()
		},
	})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
}

// child is a simulated kiosk in its own process.
type child struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	ids  []string
	heap uint64 // last "heap" line
	eof  chan struct{}
}

func startChild(t testing.TB, p *fleettest.PKI, url, data string, rate float64, keepalive time.Duration, env ...string) *child {
	t.Helper()
	certs := filepath.Join(data, "certs")
	if _, err := os.Stat(filepath.Join(certs, "kiosk-0001.crt")); err != nil {
		os.MkdirAll(certs, 0o700)
		is, err := p.CA.IssueClient("kiosk-0001", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := is.WriteFiles(certs, "kiosk-0001"); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SIM_CHILD=1", "SIM_BROKER="+url, "SIM_CA="+p.CAFile, "SIM_CERTS="+certs,
		"SIM_DATA="+filepath.Join(data, "outbox"), fmt.Sprint("SIM_RATE=", rate), "SIM_KEEPALIVE="+keepalive.String())
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, eof: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.mu.Lock()
			if h, ok := strings.CutPrefix(sc.Text(), "heap "); ok {
				c.heap, _ = strconv.ParseUint(h, 10, 64)
			} else {
				c.ids = append(c.ids, sc.Text())
			}
			c.mu.Unlock()
		}
		close(c.eof)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return c
}

// kill sends SIGKILL and returns the ids the child reported as durably recorded.
func (c *child) kill() []string {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
	<-c.eof
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ids...)
}

func (c *child) recorded() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

func status(t *testing.T, in *fleettest.Ingest, kiosk string) fleet.Status {
	st, _, err := in.Store.Status(context.Background(), kiosk)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestOfflineAfterSIGKILL: a kiosk killed with SIGKILL is seen offline (its Will) within 1.5 x keepalive.
func TestOfflineAfterSIGKILL(t *testing.T) {
	fleettest.Brokers(t, func(t *testing.T, p *fleettest.PKI, url string) {
		in := fleettest.StartIngest(t, p, url)
		const keepalive = 4 * time.Second
		c := startChild(t, p, url, t.TempDir(), 0, keepalive)
		fleettest.Eventually(t, 20*time.Second, func() bool { return status(t, in, "kiosk-0001").Online }, "the kiosk is online")
		conn := status(t, in, "kiosk-0001").Conn
		killed := time.Now()
		c.kill()
		fleettest.Eventually(t, keepalive*3/2, func() bool {
			st := status(t, in, "kiosk-0001")
			return !st.Online && st.Conn == conn
		}, "the kiosk is seen offline within 1.5 x keepalive")
		t.Logf("offline seen %v after SIGKILL (keepalive %v)", time.Since(killed).Round(time.Millisecond), keepalive)
	})
}

// TestOfflineWhenSilent: a kiosk that stops answering without closing its connection (SIGSTOP: a hung
// process, a pulled network cable) is seen offline through the broker's keepalive. The embedded broker
// acts within 1.5 x keepalive. Mosquitto 2.0 checks keepalives only every 5-6 s, with 1 s resolution
// (src/keepalive.c: "last_keepalive_check + 5 < db.now_s"), so it may take up to 1.5 x keepalive + 7 s.
func TestOfflineWhenSilent(t *testing.T) {
	fleettest.Brokers(t, func(t *testing.T, p *fleettest.PKI, url string) {
		in := fleettest.StartIngest(t, p, url)
		const keepalive = 2 * time.Second
		limit := keepalive*3/2 + 700*time.Millisecond // the store is polled; batches wait up to 50 ms
		if strings.Contains(t.Name(), "mosquitto") {
			limit = keepalive*3/2 + 7*time.Second
		}
		c := startChild(t, p, url, t.TempDir(), 0, keepalive)
		fleettest.Eventually(t, 20*time.Second, func() bool { return status(t, in, "kiosk-0001").Online }, "the kiosk is online")
		conn := status(t, in, "kiosk-0001").Conn
		stopped := time.Now()
		c.cmd.Process.Signal(syscall.SIGSTOP)
		defer c.cmd.Process.Signal(syscall.SIGCONT)
		fleettest.Eventually(t, limit, func() bool {
			st := status(t, in, "kiosk-0001")
			return !st.Online && st.Conn == conn
		}, "the silent kiosk is seen offline")
		t.Logf("offline seen %v after SIGSTOP (keepalive %v)", time.Since(stopped).Round(time.Millisecond), keepalive)
	})
}

// TestSIGKILLWhilePublishing: a kiosk killed while publishing loses and duplicates nothing after restart.
func TestSIGKILLWhilePublishing(t *testing.T) {
	t.Parallel() // timing-sensitive tests stay serial, and run first
	fleettest.Brokers(t, func(t *testing.T, p *fleettest.PKI, url string) {
		in := fleettest.StartIngest(t, p, url)
		data := t.TempDir()
		c := startChild(t, p, url, data, 300, 10*time.Second)
		fleettest.Eventually(t, 20*time.Second, func() bool {
			n, _, _ := in.Store.CountEvents(context.Background())
			return c.recorded() >= 300 && n >= 100
		}, "the kiosk records and publishes events")
		written := c.kill()
		n, _, _ := in.Store.CountEvents(context.Background())
		t.Logf("killed after %d events recorded, %d stored", len(written), n)

		c2 := startChild(t, p, url, data, 0, 10*time.Second) // restart: no new events, just catch up
		fleettest.Eventually(t, 30*time.Second, func() bool {
			ids, _ := in.Store.EventIDs(context.Background(), "")
			for _, id := range written {
				if !ids[id] {
					return false
				}
			}
			return true
		}, "every event recorded before SIGKILL is stored")
		time.Sleep(500 * time.Millisecond)
		c2.kill()
		ob, err := outbox.Open(filepath.Join(data, "outbox", "kiosk-0001.db"), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer ob.Close()
		pending, _ := ob.Pending(context.Background(), 0, 100000)
		total, distinct, _ := in.Store.CountEvents(context.Background())
		if total != distinct {
			t.Fatalf("%d events stored, %d distinct", total, distinct)
		}
		// Stored: everything reported recorded, plus at most the events durably written but not yet
		// reported when the process died (the producer runs up to 64 Records at once).
		if total < len(written) || total > len(written)+64 {
			t.Fatalf("%d events stored for %d recorded", total, len(written))
		}
		ids, _ := in.Store.EventIDs(context.Background(), "")
		for _, it := range pending {
			if !ids[it.ID] {
				t.Errorf("event %s still in the outbox and not stored", it.ID)
			}
		}
		cnt := in.Counters()
		t.Logf("recorded %d, stored %d distinct, received %d (%d duplicates removed), %d left in outbox (acks in flight)",
			len(written), distinct, cnt.Events, cnt.Duplicates, len(pending))
	})
}

// TestEventsExactlyOnce: several kiosks, events stored exactly once and every outbox emptied.
func TestEventsExactlyOnce(t *testing.T) {
	t.Parallel() // timing-sensitive tests stay serial, and run first
	fleettest.Brokers(t, func(t *testing.T, p *fleettest.PKI, url string) {
		in := fleettest.StartIngest(t, p, url)
		res, err := sim.Run(context.Background(), sim.Config{
			Kiosks: 10, Rate: 400, Count: 600, Drain: 20 * time.Second, Broker: url,
			TLS: sim.FromCA(p.CA), DataDir: t.TempDir(), MaxBackoff: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		total, distinct, _ := in.Store.CountEvents(context.Background())
		if res.Recorded != 600 || res.Pending != 0 || total != 600 || distinct != 600 {
			t.Fatalf("result %+v; stored %d (%d distinct)", res, total, distinct)
		}
		if h, ok, _ := in.Store.Health(context.Background(), "kiosk-0001"); !ok || h.Reader != "ready" || h.OutboxBound != outbox.DefaultBound {
			t.Fatalf("health = %+v, %v", h, ok)
		}
		fleettest.Eventually(t, 5*time.Second, func() bool {
			st := status(t, in, "kiosk-0010")
			return !st.Online && st.Conn > 0
		}, "a cleanly stopped kiosk is seen offline")
	})
}

func results(t *testing.T, in *fleettest.Ingest, id string) []fleet.CommandResult {
	r, err := in.Store.Results(context.Background(), "kiosk-0001", id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func hasResult(t *testing.T, in *fleettest.Ingest, id string, st fleet.ResultStatus) func() bool {
	return func() bool {
		for _, r := range results(t, in, id) {
			if r.Status == st {
				return true
			}
		}
		return false
	}
}

// TestCommands: a command sent while the kiosk is offline runs once when it reconnects; replays,
// unknown commands and malformed payloads are refused; reboot waits for the unlock to end; logs are scrubbed.
func TestCommands(t *testing.T) {
	t.Parallel() // timing-sensitive tests stay serial, and run first
	fleettest.Brokers(t, func(t *testing.T, p *fleettest.PKI, url string) {
		in := fleettest.StartIngest(t, p, url)
		ctx := context.Background()
		cfg := sim.Config{Kiosks: 1, Broker: url, TLS: sim.FromCA(p.CA), DataDir: t.TempDir(), MaxBackoff: time.Second}
		connected := func(f *sim.Fleet) func() bool {
			return func() bool { return f.Kiosks[0].Agent.Counters().Connected }
		}
		f, err := sim.Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		fleettest.Eventually(t, 10*time.Second, connected(f), "the kiosk connects")
		f.Stop()

		if err := in.Send(ctx, "kiosk-0001", fleet.Command{ID: "c-identify", Name: fleet.CmdIdentify}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		f, err = sim.Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { f.Stop() }()
		fleettest.Eventually(t, 10*time.Second, hasResult(t, in, "c-identify", fleet.ResultOK), "the offline command is answered")
		if n := f.Kiosks[0].Counts().Identifies; n != 1 {
			t.Fatalf("identify ran %d times", n)
		}
		// A replay is refused and not run again.
		in.Send(ctx, "kiosk-0001", fleet.Command{ID: "c-identify", Name: fleet.CmdIdentify})
		fleettest.Eventually(t, 10*time.Second, hasResult(t, in, "c-identify", fleet.ResultRefused), "the replay is refused")
		// Unknown, malformed, expired.
		in.SendRaw(ctx, "kiosk-0001", []byte(`{"v":1,"id":"c-bad","name":"format_disk","issued_at":"2026-01-01T00:00:00Z"}`))
		in.SendRaw(ctx, "kiosk-0001", []byte(`{"v":1,"id":"c-junk",`))
		in.Send(ctx, "kiosk-0001", fleet.Command{ID: "c-old", Name: fleet.CmdReload, ExpiresAt: time.Now().Add(-time.Minute)})
		fleettest.Eventually(t, 10*time.Second, hasResult(t, in, "c-bad", fleet.ResultRefused), "the unknown command is refused")
		fleettest.Eventually(t, 10*time.Second, hasResult(t, in, "c-old", fleet.ResultRefused), "the expired command is refused")
		fleettest.Eventually(t, 10*time.Second, hasResult(t, in, "", fleet.ResultRefused), "the malformed command is refused")
		if f.Kiosks[0].Counts().Reloads != 0 {
			t.Fatal("an expired reload ran")
		}
		// Maintenance and methods.
		on := true
		in.Send(ctx, "kiosk-0001", fleet.Command{ID: "c-maint", Name: fleet.CmdMaintenance, On: &on, Message: "back at 3pm"})
		in.Send(ctx, "kiosk-0001", fleet.Command{ID: "c-methods", Name: fleet.CmdMethods, Disable: []string{"sms"}})
		fleettest.Eventually(t, 10*time.Second, hasResult(t, in, "c-methods", fleet.ResultOK), "methods answered")
		fleettest.Eventually(t, 10*time.Second, hasResult(t, in, "c-maint", fleet.ResultOK), "maintenance answered")
		if c := f.Kiosks[0].Counts(); !c.Maintenance || c.Message != "back at 3pm" || c.Methods["sms"] {
			t.Fatalf("counts = %+v", c)
		}
		// Logs come back scrubbed.
		in.Send(ctx, "kiosk-0001", fleet.Command{ID: "c-logs", Name: fleet.CmdLogs, Lines: 10})
		fleettest.Eventually(t, 10*time.Second, hasResult(t, in, "c-logs", fleet.ResultOK), "logs answered")
		lines := results(t, in, "c-logs")[0].Lines
		all := strings.Join(lines, "\n")
		if len(lines) != 5 || strings.Contains(all, "@") || strings.Contains(all, "07700") || strings.Contains(all, "493817") {
			t.Fatalf("logs not scrubbed: %q", lines)
		}
		// Reboot waits for the unlock under way.
		f.Kiosks[0].Agent.SetBusy(true)
		in.Send(ctx, "kiosk-0001", fleet.Command{ID: "c-reboot", Name: fleet.CmdReboot})
		fleettest.Eventually(t, 10*time.Second, hasResult(t, in, "c-reboot", fleet.ResultDeferred), "reboot deferred")
		time.Sleep(300 * time.Millisecond)
		if n := f.Kiosks[0].Counts().Reboots; n != 0 {
			t.Fatalf("rebooted during an unlock (%d)", n)
		}
		f.Kiosks[0].Agent.SetBusy(false)
		fleettest.Eventually(t, 10*time.Second, hasResult(t, in, "c-reboot", fleet.ResultOK), "reboot done after the unlock")
		if n := f.Kiosks[0].Counts().Reboots; n != 1 {
			t.Fatalf("rebooted %d times", n)
		}
		b, _ := json.Marshal(results(t, in, "c-reboot"))
		t.Logf("reboot results: %s", b)
	})
}

package sim_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ssu-kiosk/remote/fleet/fleettest"
	"ssu-kiosk/remote/fleet/sim"
)

// cpuTime returns a process's user+system CPU time from /proc/<pid>/stat.
func cpuTime(tb testing.TB, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64) // fields 14 and 15 of stat, counted after "(comm) "
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
}

// rss returns a process's resident set size from /proc/<pid>/status.
func rss(tb testing.TB, pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

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

// BenchmarkFleet1000 runs 1,000 simulated kiosks (the real agent, in-memory outboxes) against Mosquitto
// with mutual TLS and the fleet ACL, offers 6,000 events/s for 15 s, and reports
// the sustained end-to-end rate (events stored by the fleet server and acknowledged back to their kiosk;
// each is two PUBLISHes through the broker plus its share of a batched ack) and Mosquitto's CPU.
func BenchmarkFleet1000(b *testing.B) {
	raiseFileLimit(b)
	for i := 0; i < b.N; i++ {
		p := fleettest.NewPKI(b)
		m := fleettest.StartMosquitto(b, p)
		in := fleettest.StartIngest(b, p, m.URL)
		ctx := context.Background()
		startConnect := time.Now()
		f, err := sim.Start(ctx, sim.Config{Kiosks: 1000, Broker: m.URL, TLS: sim.FromCA(p.CA), MaxBackoff: 2 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		fleettest.Eventually(b, 90*time.Second, func() bool { return f.Result().Connected == 1000 }, "1,000 kiosks connect")
		connectSecs := time.Since(startConnect).Seconds()
		time.Sleep(time.Second) // let births and first health reports settle

		const window = 15 * time.Second
		const offered = 6000 // events/s: about what this 2-core machine sustains with everything in it
		before := in.Counters()
		cpu0, t0 := cpuTime(b, m.Pid()), time.Now()
		pctx, cancel := context.WithTimeout(ctx, window)
		f.Produce(pctx, offered, 0, 0)
		cancel()
		elapsed := time.Since(t0)
		cpu := cpuTime(b, m.Pid()) - cpu0
		after := in.Counters()
		res := f.Stop()

		b.ReportMetric(float64(after.Acked-before.Acked)/elapsed.Seconds(), "events/s")
		// Through the broker: each event in and out, each ack in and out.
		msgs := 2*(after.Events-before.Events) + 2*(after.AckMsgs-before.AckMsgs)
		b.ReportMetric(float64(msgs)/elapsed.Seconds(), "broker-msgs/s")
		b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "broker-cpu-%")
		b.ReportMetric(connectSecs, "connect-1000-s")
		b.Logf("1,000 kiosks connected in %.1f s; over %v: %d events recorded, %d acknowledged, %d received (%d duplicates); broker CPU %v",
			connectSecs, elapsed.Round(time.Millisecond), res.Recorded, after.Acked-before.Acked, after.Events-before.Events,
			after.Duplicates-before.Duplicates, cpu)
	}
}

// BenchmarkIdleAgent runs one agent in its own process, connected and idle (no events; health every
// 30 s), for 20 s, and reports its CPU use and memory.
func BenchmarkIdleAgent(b *testing.B) {
	for i := 0; i < b.N; i++ {
		p := fleettest.NewPKI(b)
		m := fleettest.StartMosquitto(b, p)
		in := fleettest.StartIngest(b, p, m.URL)
		c := startChild(b, p, m.URL, b.TempDir(), 0, 30*time.Second, "SIM_HEAP_EVERY=5s")
		fleettest.Eventually(b, 20*time.Second, func() bool {
			st, _, _ := in.Store.Status(context.Background(), "kiosk-0001")
			return st.Online
		}, "the agent connects")
		time.Sleep(2 * time.Second) // start-up is not idle
		pid := c.cmd.Process.Pid
		cpu0, t0 := cpuTime(b, pid), time.Now()
		time.Sleep(20 * time.Second)
		cpu, elapsed := cpuTime(b, pid)-cpu0, time.Since(t0)
		c.mu.Lock()
		heap := c.heap
		c.mu.Unlock()
		b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "agent-cpu-%")
		b.ReportMetric(float64(rss(b, pid))/(1<<20), "agent-rss-MiB")
		b.ReportMetric(float64(heap)/(1<<20), "agent-heap-MiB")
		c.kill()
	}
}

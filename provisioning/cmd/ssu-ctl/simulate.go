package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/remote/fleet/sim"
)

// runSimulate runs N simulated kiosks (the real fleet-link agent code) against a broker and prints a
// JSON summary: events recorded, published, acknowledged and still pending.
func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-ctl simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kiosks := fs.Int("kiosks", 1, "number of simulated kiosks")
	first := fs.Int("first", 1, "number of the first kiosk (kiosk-0001 is 1)")
	rate := fs.Float64("rate", 1, "usage events per second, in total")
	count := fs.Int("count", 0, "stop producing after this many events (default: no limit)")
	duration := fs.Duration("duration", 10*time.Second, "how long to produce events (0: until interrupted)")
	drain := fs.Duration("drain", 30*time.Second, "afterwards, how long to wait for every event to be acknowledged")
	brokerURL := fs.String("broker", "", "broker URL, e.g. ssl://127.0.0.1:8883 (required)")
	caFile := fs.String("ca", "", "CA certificate the broker's certificate is checked against (required)")
	caKey := fs.String("ca-key", "", "CA key: issue each kiosk a fresh certificate (or use --certs)")
	certs := fs.String("certs", "", "directory of <kiosk-id>.crt and <kiosk-id>.key client certificates")
	data := fs.String("data", "", "directory for SQLite outboxes (default: in memory)")
	keepalive := fs.Duration("keepalive", 30*time.Second, "MQTT keepalive")
	health := fs.Duration("health", 30*time.Second, "health report interval")
	verbose := fs.Bool("v", false, "log the agents' warnings to stderr")
	appVersion := fs.String("version", "sim-1", "the version the kiosks run at first")
	updates := fs.String("updates", "", "carry out update commands (the real agent's download, checks and steps, a fake installer), keeping downloads here")
	fallBack := fs.String("fall-back", "", "kiosks (comma-separated ids) whose new slot does not stay booted: they come back on the old version")
	failInstall := fs.String("fail-install", "", "kiosks (comma-separated ids) whose installer refuses every bundle")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *brokerURL == "" || *caFile == "" || (*caKey == "") == (*certs == "") {
		fmt.Fprintln(stderr, "ssu-ctl simulate: --broker and --ca are required, and one of --ca-key or --certs")
		fs.PrintDefaults()
		return 2
	}
	cfg := sim.Config{
		Kiosks: *kiosks, First: *first, Rate: *rate, Count: *count, Duration: *duration, Drain: *drain,
		Broker: *brokerURL, DataDir: *data, Keepalive: *keepalive, HealthEvery: *health, Version: *appVersion,
	}
	if *updates != "" {
		in := func(list string) func(string) bool {
			ids := strings.Split(list, ",")
			return func(k string) bool { return slices.Contains(ids, k) }
		}
		cfg.Updates = &sim.Updates{Dir: *updates, FallBack: in(*fallBack), FailInstall: in(*failInstall)}
	}
	if *verbose {
		cfg.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if *caKey != "" {
		ca, err := pki.LoadCA(*caFile, *caKey)
		if err != nil {
			fmt.Fprintf(stderr, "ssu-ctl simulate: %v\n", err)
			return 1
		}
		cfg.TLS = sim.FromCA(ca)
	} else {
		var err error
		if cfg.TLS, err = sim.FromDir(*certs, *caFile); err != nil {
			fmt.Fprintf(stderr, "ssu-ctl simulate: %v\n", err)
			return 1
		}
	}
	res, err := sim.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "ssu-ctl simulate: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.Encode(res)
	if res.Pending > 0 || res.Failed > 0 {
		fmt.Fprintf(stderr, "ssu-ctl simulate: %d events not acknowledged, %d not recorded\n", res.Pending, res.Failed)
		return 1
	}
	return 0
}

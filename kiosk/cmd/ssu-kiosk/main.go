// Command ssu-kiosk is the self-service smartcard unlock kiosk: a full-screen walk-through from card
// insert to new passcode, on a touch screen.
//
//	ssu-kiosk --config /etc/ssu-kiosk/ssu-kiosk.conf   the kiosk (see testdata/kiosk/ssu-kiosk.conf)
//	ssu-kiosk --version                                 print the version (package provisioning/version)
//	ssu-demo --demo                                     the whole stack with no hardware, in a window
//
// The demo is only in the demo build: this command built with the demo build tag (demo.go), which
// make run and make build name bin/ssu-demo. The production ssu-kiosk has no demo flags and carries none
// of the demo's code (package kiosk/demo, hal/vcard). Demo mode starts pcscd with the vpcd virtual reader
// when it is not running (as root), ssu-idservice in demo mode, ssu-fleetd in demo mode (its embedded
// broker and dashboard) and, on F2, ssu-vcard with one of the demo cards in testdata/demo/cards; F3 picks
// the next card. The terminal says where to read the security codes, and the dashboard's address and
// admin password. F2 and F3 do nothing outside demo mode.
//
// With fleet-broker set in the configuration (always in demo mode) the kiosk keeps a fleet link: each
// session's usage events are written to a durable outbox and sent to the fleet server, health is reported
// every 30 s and on change, and the fleet's remote commands are carried out (see package app, FleetControl).
// A fleet reboot runs reboot-command (default `systemctl reboot`) once no session is in progress; in demo
// mode it is only announced on the terminal.
//
// Under systemd (Type=notify, WatchdogSec=) it sends READY=1 once the first frame is on screen and
// WATCHDOG=1 from the UI loop. It exits 0 on SIGTERM, 1 on a failure, 2 on bad usage. It never logs a
// passcode, SOPIN, security code, email address or phone number.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"ssu-kiosk/hal/card"
	"ssu-kiosk/hal/led"
	"ssu-kiosk/kiosk/app"
	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/kiosk/ui"
	"ssu-kiosk/kiosk/ui/speech"
	"ssu-kiosk/provisioning/version"
	"ssu-kiosk/remote/identity"
)

func main() {
	start := time.Now()
	os.Exit(run(start, os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	config, window, logLevel string
	version                  bool
	demo                     demoFlags // empty outside the demo build
}

// kioskDemo is what the kiosk asks of the demo stack (demo.go; only in the demo build).
type kioskDemo interface {
	// Config is the demo kiosk's configuration: the demo services' addresses and certificates.
	Config() app.Config
	// Reboot stands in for rebooting when the fleet asks for it.
	Reboot()
	// Key carries out F2 or F3 without waiting: the UI loop calls it.
	Key(ui.DemoKey)
	Close()
}

func run(start time.Time, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("ssu-kiosk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "", "configuration `FILE` (see testdata/kiosk/ssu-kiosk.conf)")
	fs.StringVar(&o.window, "window", "", "window size `WxH` instead of full screen")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	o.demo.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, "ssu-kiosk", version.String()+buildNote)
		return 0
	}
	if fs.NArg() > 0 || o.demo.enabled() == (o.config != "") {
		fmt.Fprintln(stderr, "ssu-kiosk: "+modeUsage)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintf(stderr, "ssu-kiosk: --log-level: %v\n", err)
		return 2
	}
	// The last log lines are kept for the fleet's logs command.
	ring := app.NewLogRing(1000)
	log := ring.Tee(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}), max(level, slog.LevelInfo))
	if err := runKiosk(start, o, stdout, log, ring); err != nil {
		fmt.Fprintf(stderr, "ssu-kiosk: %v\n", err)
		return 1
	}
	return 0
}

func parseWindow(s string) (int, int, error) {
	var w, h int
	if _, err := fmt.Sscanf(strings.ToLower(s), "%dx%d", &w, &h); err != nil || w < 320 || h < 240 {
		return 0, 0, fmt.Errorf("--window %q: want WxH, such as 800x480", s)
	}
	return w, h, nil
}

func runKiosk(start time.Time, o options, stdout io.Writer, log *slog.Logger, ring *app.LogRing) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The UI loop runs only when woken: on a stop signal wake it until it ends (ebiten.Termination). A
	// wake-up posted while the loop is busy can be lost (GLFW's X11 wait), hence the repeats.
	context.AfterFunc(ctx, func() {
		for {
			ui.Wake()
			time.Sleep(100 * time.Millisecond)
		}
	})
	// Likewise a second wake-up shortly after each event, so a lost one costs 30 ms, not a clock tick.
	wake := func() {
		ui.Wake()
		time.AfterFunc(30*time.Millisecond, ui.Wake)
	}

	var cfg app.Config
	var demo kioskDemo
	ro := ui.RunOptions{Width: 1024, Height: 600}
	if o.demo.enabled() {
		var err error
		if demo, err = openDemo(ctx, o.demo, stdout, log); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer demo.Close()
		cfg = demo.Config()
	} else {
		var err error
		if cfg, err = app.LoadConfig(o.config); err != nil {
			return err
		}
		ro.HideCursor = cfg.HideCursor
	}
	ro.Fullscreen = cfg.Fullscreen
	if o.window != "" {
		w, h, err := parseWindow(o.window)
		if err != nil {
			return err
		}
		ro.Width, ro.Height, ro.Fullscreen = w, h, false
	}

	pool, cert, err := identity.LoadTLS(cfg.ServiceCA, cfg.ClientCert, cfg.ClientKey)
	if err != nil {
		return err
	}
	client, err := identity.NewClient(identity.Config{BaseURL: cfg.IdentityURL, ServiceCAs: pool, Certificate: cert, Logger: log})
	if err != nil {
		return err
	}
	defer client.Close()
	panel, err := led.Open(cfg.LEDs, log)
	if err != nil {
		return fmt.Errorf("status LEDs: %w", err)
	}
	defer panel.Close()

	walk, err := flow.New(cfg.Flow(), time.Now())
	if err != nil {
		return err
	}
	_ = panel.Show(led.Idle)
	if cfg.Maintenance {
		_ = panel.Show(led.OutOfService)
	}
	// The fleet link, when configured: usage events go to its durable outbox, health and commands
	// through FleetControl.
	control := app.NewFleetControl(cfg, panel, ring, o.config, log)
	var usage app.UsageSink
	var fleetLink *app.FleetLink
	if cfg.Fleet.Broker != "" {
		// Degrade, do not die: without its fleet link the kiosk still serves people (and only logs usage);
		// the fleet server sees it offline and raises an alert.
		if fleetLink, err = app.OpenFleet(cfg, control, log); err != nil {
			log.Error("fleet link off: usage is only logged", "err", err)
			fleetLink = nil
		} else {
			defer fleetLink.Close()
			usage = fleetLink.Sink
		}
	}
	reboot := app.CommandReboot(cfg.RebootCommand, log)
	if demo != nil {
		reboot = demo.Reboot
	}
	runner := app.NewRunner(ctx, app.RunnerConfig{Card: app.PCSCCard{}, Identity: client, Lights: panel, Wake: wake,
		Timeout: 2 * max(cfg.OperationTimeout, flow.DefaultUnlockTimeout), Maintenance: cfg.Maintenance,
		MaintenanceMessage: cfg.MaintenanceMessage, Usage: usage, Reboot: reboot, Log: log})
	control.Runner = runner
	// Card changes are reported at once; the PC/SC wait is only bounded so the watcher looks again now and
	// then, and a long bound keeps an idle kiosk from waking every 2 s.
	go runner.WatchCards(card.Watch(ctx, card.WatchOptions{ReaderFilter: cfg.ReaderFilter, Log: log, Poll: time.Minute}))
	// The clock ticks only while the walk-through has something to count down (Options.Clock below).
	go runner.Tick(ctx, time.Second)
	// The agent outlives the UI loop until the last usage records are on disk, then says goodbye.
	agentCtx, stopAgent := context.WithCancel(context.Background())
	agentDone := make(chan struct{})
	execute := runner.Execute
	if fleetLink != nil {
		go func() { defer close(agentDone); _ = fleetLink.Agent.Run(agentCtx) }()
		// Execute runs on the UI loop, which owns the walk-through: a fleet reboot waits while it is busy.
		execute = func(effects []flow.Effect) {
			runner.Execute(effects)
			fleetLink.Agent.SetBusy(walk.Busy())
		}
	} else {
		close(agentDone)
	}
	defer func() {
		stop() // the runner's work ends with ctx
		runner.Wait()
		stopAgent()
		<-agentDone
	}()

	// Speech through a headset: espeak-ng through oto to ALSA or PulseAudio, on while a headset is plugged
	// in (where the sound card has jack detection) or after the speech key is held (ui.SpeechKey). With no
	// espeak-ng or no audio device the kiosk works on, silently.
	speaker := speech.NewSpeaker(speech.Espeak{}, &speech.Oto{}, log)
	go speaker.Run(ctx)
	if jack, err := speech.FindJack(""); err == nil {
		jack.Log = log
		go func() {
			for plugged := range jack.Watch(ctx) {
				speaker.Headset(plugged)
			}
		}()
	} else {
		log.Info("speech: no headset jack detection; hold the speech key to turn speech on", "key", ui.SpeechKey.String(), "reason", err)
	}

	sd := app.NewSystemd(log)
	// Idle, nothing else wakes the UI loop: the watchdog's own rate does, so Update pings it.
	go sd.WakeForWatchdog(ctx, ui.Wake)
	var windowStart time.Time
	opts := ui.Options{Walkthrough: walk, Inbox: runner.Events(), Execute: execute, Place: cfg.Place(), Log: log,
		Heartbeat: sd.Heartbeat, Clock: runner.SetClock, Speech: speaker, Done: ctx.Done(),
		FirstFrame: func() {
			log.Info("first frame", "ms", float64(time.Since(start).Microseconds())/1000,
				"window_ms", float64(time.Since(windowStart).Microseconds())/1000)
			sd.Ready()
		}}
	if demo != nil {
		opts.Demo = demo.Key
	}
	game, err := ui.New(opts)
	if err != nil {
		return err
	}
	windowStart = time.Now()
	err = ui.Run(game, ro)
	if errors.Is(err, ebiten.Termination) {
		err = nil
	}
	stop()
	log.Info("stopped")
	return err
}

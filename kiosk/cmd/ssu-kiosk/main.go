// Command ssu-kiosk is the self-service smartcard unlock kiosk: a full-screen walk-through from card
// insert to new passcode, on a touch screen.
//
//	ssu-kiosk --config /etc/ssu-kiosk/ssu-kiosk.conf   the kiosk (see testdata/kiosk/ssu-kiosk.conf)
//	ssu-kiosk --demo                                    the whole stack with no hardware, in a window
//
// Demo mode starts pcscd with the vpcd virtual reader when it is not running (as root), ssu-idservice in
// demo mode, ssu-fleetd in demo mode (its embedded broker and dashboard) and, on F2, ssu-vcard with one of
// the demo cards in testdata/demo/cards; F3 picks the next card. The terminal says where to read the
// security codes, and the dashboard's address and admin password. F2 and F3 do nothing outside demo mode.
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
	"ssu-kiosk/remote/identity"
)

func main() {
	start := time.Now()
	os.Exit(run(start, os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	config, demoDir, testdata, vpcd, readerFilter, window, logLevel string
	demo, fullscreen, smallFleet                                    bool
}

// version is this build's version, for the fleet (set with -ldflags "-X main.version=…").
var version = "dev"

func run(start time.Time, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("ssu-kiosk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "", "configuration `FILE` (see testdata/kiosk/ssu-kiosk.conf)")
	fs.BoolVar(&o.demo, "demo", false, "run the demo stack: virtual cards, the identity service in demo mode, a window")
	fs.StringVar(&o.demoDir, "demo-dir", "", "with --demo: working `DIR` (default: a new temporary folder)")
	fs.StringVar(&o.testdata, "testdata", "testdata", "with --demo: the repository's testdata `DIR`")
	fs.StringVar(&o.vpcd, "vpcd", "127.0.0.1:35963", "with --demo: the vpcd reader demo cards are inserted into")
	fs.StringVar(&o.readerFilter, "reader", "Virtual PCD 00 00", "with --demo: the PC/SC name of that reader")
	fs.StringVar(&o.window, "window", "", "window size `WxH` instead of full screen (default 1024x600 with --demo)")
	fs.BoolVar(&o.fullscreen, "fullscreen", false, "with --demo: full screen")
	fs.BoolVar(&o.smallFleet, "demo-small-fleet", false, "with --demo: the fleet server with little demonstration data and no simulated kiosks")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || o.demo == (o.config != "") {
		fmt.Fprintln(stderr, "ssu-kiosk: give either --config FILE or --demo")
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
	var demo *app.Demo
	ro := ui.RunOptions{Width: 1024, Height: 600}
	if o.demo {
		var err error
		demo, err = app.StartDemo(ctx, app.DemoOptions{Dir: o.demoDir, Testdata: o.testdata, VPCD: o.vpcd,
			ReaderFilter: o.readerFilter, SmallFleet: o.smallFleet, Out: stdout, Log: log})
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer demo.Close()
		cfg = app.Config{KioskID: "demo-kiosk", Site: "Demo hospital", Ward: "Ward 1", IdentityURL: demo.URL,
			ServiceCA: demo.CAFile, ClientCert: demo.CertFile, ClientKey: demo.KeyFile, ReaderFilter: o.readerFilter,
			TroubleshootingURL: "https://help.example.nhs.uk/smartcard-kiosk", Fullscreen: o.fullscreen,
			Fleet: demo.Fleet, Version: "demo"}
		cfg.Fleet.Site, cfg.Fleet.Ward = app.Slug(cfg.Site), app.Slug(cfg.Ward)
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
		if fleetLink, err = app.OpenFleet(cfg, version, control, log); err != nil {
			log.Error("fleet link off: usage is only logged", "err", err)
			fleetLink = nil
		} else {
			defer fleetLink.Close()
			usage = fleetLink.Sink
		}
	}
	reboot := app.CommandReboot(cfg.RebootCommand, log)
	if demo != nil {
		reboot = func() {
			log.Warn("reboot requested by the fleet (demo: not rebooting)")
			fmt.Fprintln(stdout, "demo: the fleet asked for a reboot; a kiosk would reboot now")
		}
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
		opts.Demo = func(k ui.DemoKey) {
			// ssu-vcard starts and stops in a goroutine so the UI loop never waits for it.
			switch k {
			case ui.DemoToggleCard:
				go demo.Toggle()
			case ui.DemoNextCard:
				go demo.Next()
			}
		}
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

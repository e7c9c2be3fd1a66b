//go:build demo

package main

// The demo build (go build -tags demo; make build and make run name it bin/ssu-demo): ssu-kiosk --demo
// runs the kiosk against the demo stack of package kiosk/demo. The production build (nodemo.go) has none
// of this: a test in provisioning/version checks that the binaries the image installs do not carry
// kiosk/demo or hal/vcard.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"ssu-kiosk/kiosk/app"
	"ssu-kiosk/kiosk/demo"
	"ssu-kiosk/kiosk/ui"
	"ssu-kiosk/remote/fleet"
)

const (
	modeUsage = "give either --config FILE or --demo"
	buildNote = " (demo build)"
)

// demoFlags are the flags of demo mode.
type demoFlags struct {
	on, fullscreen, smallFleet  bool
	dir, testdata, vpcd, reader string
}

func (d *demoFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&d.on, "demo", false, "run the demo stack: virtual cards, the identity service in demo mode, a window")
	fs.StringVar(&d.dir, "demo-dir", "", "with --demo: working `DIR` (default: a new temporary folder)")
	fs.StringVar(&d.testdata, "testdata", "testdata", "with --demo: the repository's testdata `DIR`")
	fs.StringVar(&d.vpcd, "vpcd", "127.0.0.1:35963", "with --demo: the vpcd reader demo cards are inserted into")
	fs.StringVar(&d.reader, "reader", "Virtual PCD 00 00", "with --demo: the PC/SC name of that reader")
	fs.BoolVar(&d.fullscreen, "fullscreen", false, "with --demo: full screen")
	fs.BoolVar(&d.smallFleet, "demo-small-fleet", false, "with --demo: the fleet server with little demonstration data and no simulated kiosks")
}

func (d demoFlags) enabled() bool { return d.on }

// openDemo starts the demo stack.
func openDemo(ctx context.Context, f demoFlags, stdout io.Writer, log *slog.Logger) (kioskDemo, error) {
	s, err := demo.Start(ctx, demo.Options{Dir: f.dir, Testdata: f.testdata, VPCD: f.vpcd, ReaderFilter: f.reader,
		SmallFleet: f.smallFleet, Out: stdout, Log: log})
	if err != nil {
		return nil, err
	}
	return &demoKiosk{stack: s, flags: f, out: stdout, log: log}, nil
}

// demoKiosk is the kiosk's side of the demo stack.
type demoKiosk struct {
	stack *demo.Demo
	flags demoFlags
	out   io.Writer
	log   *slog.Logger
}

func (k *demoKiosk) Config() app.Config {
	s := k.stack
	cfg := app.Config{KioskID: "demo-kiosk", Site: "Demo hospital", Ward: "Ward 1", IdentityURL: s.URL,
		ServiceCA: s.CAFile, ClientCert: s.CertFile, ClientKey: s.KeyFile, ReaderFilter: k.flags.reader,
		TroubleshootingURL: "https://help.example.nhs.uk/smartcard-kiosk", Fullscreen: k.flags.fullscreen,
		Fleet: s.Fleet, Version: "demo"}
	cfg.Fleet.Site, cfg.Fleet.Ward = fleet.Slug(cfg.Site), fleet.Slug(cfg.Ward)
	return cfg
}

func (k *demoKiosk) Reboot() {
	k.log.Warn("reboot requested by the fleet (demo: not rebooting)")
	fmt.Fprintln(k.out, "demo: the fleet asked for a reboot; a kiosk would reboot now")
}

func (k *demoKiosk) Key(key ui.DemoKey) {
	// ssu-vcard starts and stops in a goroutine so the UI loop never waits for it.
	switch key {
	case ui.DemoToggleCard:
		go k.stack.Toggle()
	case ui.DemoNextCard:
		go k.stack.Next()
	}
}

func (k *demoKiosk) Close() { k.stack.Close() }

//go:build !demo

package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
)

// The production build: no demo flags, and none of the demo's code (see demo.go).

const (
	modeUsage = "give --config FILE (the demo is bin/ssu-demo --demo: make run)"
	buildNote = ""
)

// demoFlags are the demo's flags: none in this build.
type demoFlags struct{}

func (*demoFlags) register(*flag.FlagSet) {}

func (demoFlags) enabled() bool { return false }

func openDemo(context.Context, demoFlags, io.Writer, *slog.Logger) (kioskDemo, error) {
	return nil, errors.New("this ssu-kiosk is built without the demo")
}

// Command ssu-ctl is the administrator's tool for ssu-kiosk: card diagnostics for IT teams today,
// enrolment, tokens, broker configuration and the fleet simulator as they land.
//
// Secrets (PINs, PUKs) are read only from standard input or a prompt, never from arguments, and are
// never printed.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: ssu-ctl <command> [flags]

commands:
  card status [--reader NAME]       print the card's identity and PIN state as JSON
  card watch [--reader NAME]        print one JSON line per reader or card event
  card unblock [--reader NAME]      read the PUK and the new PIN from stdin (one per line), unblock the PIN
  card change-pin [--reader NAME]   read the current and the new PIN from stdin, change the PIN
  broker-config --out DIR ...       write a fleet's Mosquitto config and ACL (mTLS, CN = client id)
  simulate --kiosks N --rate R ...  run simulated kiosks (the real fleet-link agent) against a broker
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole program with its I/O passed in, so tests drive it in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "card":
		return runCard(ctx, args[1:], stdin, stdout, stderr)
	case "broker-config":
		return runBrokerConfig(ctx, args[1:], stdout, stderr)
	case "simulate":
		return runSimulate(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "ssu-ctl: unknown command %q\n%s", args[0], usage)
	return 2
}

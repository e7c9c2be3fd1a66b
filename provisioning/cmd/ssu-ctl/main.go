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

	"ssu-kiosk/provisioning/version"
)

const usage = `usage: ssu-ctl <command> [flags]

commands:
  card status [--reader NAME]       print the card's identity and PIN state as JSON
  card watch [--reader NAME]        print one JSON line per reader or card event
  card unblock [--reader NAME]      read the PUK and the new PIN from stdin (one per line), unblock the PIN
  card change-pin [--reader NAME]   read the current and the new PIN from stdin, change the PIN
  pki ca|server|client ...          make the fleet CA and the broker's, ssu-fleetd's and ssu-idservice's
                                    certificates (ssu-ctl pki help)
  broker-config --out DIR ...       write a fleet's Mosquitto config and ACL (mTLS, CN = client id)
  simulate --kiosks N --rate R ...  run simulated kiosks (the real fleet-link agent) against a broker
  token create --server URL --site S --ward W --admin-token-file F
                                    print a single-use enrolment token (24 h) for a site and ward
  token admin-new --out FILE        make an admin API token (FILE, 0600) and print its digest for the server
  enrol --server URL --token-file F|--token T|--token -  [--ca FILE|--ca-pin SHA256] [--dir DIR]
                                    enrol this kiosk: key made here (0600), certificate, CA, configuration
  renew [--server URL] [--dir DIR] [--within D] [--force]
                                    renew this kiosk's certificate when due (same key)
  revoke --server URL --kiosk ID --admin-token-file F
                                    revoke a kiosk: CRL for Mosquitto, deny list for the embedded broker
  decommission --yes [--dir DIR]    wipe this kiosk's keys and configuration
  update install|check|status|mark-good ...
                                    signed A/B updates through RAUC (ssu-ctl update help)
  release publish --server URL --user NAME --password-file F BUNDLE
                                    upload a signed bundle to ssu-fleetd (IT admin); it verifies and records it
  version, --version                print the version
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
	case "pki":
		return runPKI(ctx, args[1:], stdout, stderr)
	case "broker-config":
		return runBrokerConfig(ctx, args[1:], stdout, stderr)
	case "simulate":
		return runSimulate(ctx, args[1:], stdout, stderr)
	case "token":
		return runToken(ctx, args[1:], stdin, stdout, stderr)
	case "enrol", "enroll":
		return runEnrol(ctx, args[1:], stdin, stdout, stderr)
	case "renew":
		return runRenew(ctx, args[1:], stdout, stderr)
	case "revoke":
		return runRevoke(ctx, args[1:], stdin, stdout, stderr)
	case "decommission":
		return runDecommission(ctx, args[1:], stdout, stderr)
	case "update":
		return runUpdate(ctx, args[1:], stdout, stderr)
	case "release":
		return runRelease(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "ssu-ctl", version.String())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "ssu-ctl: unknown command %q\n%s", args[0], usage)
	return 2
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ssu-kiosk/provisioning/enrol"
)

// runEnrol enrols this device: a P-256 key made here (never sent), a CSR, and the certificate, CA
// bundles and configuration written atomically into --dir. The token is never printed or logged.
func runEnrol(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-ctl enrol", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := addServerFlags(fs)
	tokenArg := fs.String("token", "", "the enrolment token, or - to read it from stdin (prefer --token-file or -: arguments are visible to other users)")
	tokenFile := fs.String("token-file", "", "file holding the enrolment token")
	dir := fs.String("dir", enrol.DefaultDir, "enrolment directory (ssu-kiosk reads kiosk.yaml from it)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "ssu-ctl enrol: %v\n", err)
		return 1
	}
	var tok []byte
	var err error
	switch {
	case *tokenArg != "" && *tokenFile != "":
		fmt.Fprintln(stderr, "ssu-ctl enrol: give --token or --token-file, not both")
		return 2
	case *tokenArg == "-":
		tok, err = enrol.ReadSecret(stdin)
	case *tokenArg != "":
		tok = []byte(*tokenArg)
	case *tokenFile != "":
		tok, err = enrol.ReadSecretFile(*tokenFile)
	default:
		fmt.Fprintln(stderr, "ssu-ctl enrol: --token or --token-file is required")
		return 2
	}
	if err != nil {
		return fail(err)
	}
	defer clear(tok)
	c, err := sf.client()
	if err != nil {
		return fail(err)
	}
	dev := enrol.Device{Dir: *dir}
	if dev.Enrolled() {
		return fail(fmt.Errorf("%s: %w", *dir, enrol.ErrAlreadyEnrolled))
	}
	if err := saveServer(*dir, sf); err != nil {
		return fail(err)
	}
	e, err := dev.Enrol(ctx, c, tok)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "enrolled as %s (%s, %s); certificate valid until %s\nwrote %s\n",
		e.KioskID, e.Site, e.Ward, e.NotAfter.UTC().Format(time.RFC3339), filepath.Join(*dir, enrol.FileConfig))
	return 0
}

// saveServer records how to reach the enrolment server, for `ssu-ctl renew`.
func saveServer(dir string, sf serverFlags) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# How ssu-ctl renew reaches the enrolment server (written by ssu-ctl enrol).\nserver = %s\n", *sf.server)
	if *sf.caPin != "" {
		fmt.Fprintf(&b, "ca-pin = %s\n", *sf.caPin)
	}
	if *sf.caFile != "" {
		ca, err := os.ReadFile(*sf.caFile)
		if err != nil {
			return err
		}
		if err := enrol.WriteFileAtomic(filepath.Join(abs, enrol.FileServerCA), ca, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&b, "ca = %s\n", filepath.Join(abs, enrol.FileServerCA))
	}
	if strings.ContainsAny(*sf.server+*sf.caPin, "\r\n") {
		return errors.New("--server and --ca-pin must be one line")
	}
	return enrol.WriteFileAtomic(filepath.Join(abs, enrol.FileServer), b.Bytes(), 0o644)
}

// loadServer fills the server flags the user left out from the enrolment's server.conf.
func loadServer(dir string, sf serverFlags) error {
	if *sf.server != "" {
		return nil
	}
	f, err := os.Open(filepath.Join(dir, enrol.FileServer))
	if err != nil {
		return fmt.Errorf("--server not given and no %s: %w", enrol.FileServer, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.HasPrefix(strings.TrimSpace(name), "#") {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.TrimSpace(name) {
		case "server":
			*sf.server = value
		case "ca-pin":
			if *sf.caFile == "" && *sf.caPin == "" {
				*sf.caPin = value
			}
		case "ca":
			if *sf.caFile == "" && *sf.caPin == "" {
				*sf.caFile = value
			}
		}
	}
	return sc.Err()
}

// runRenew renews the device's certificate when it is due (or always with --force): same key, a
// new certificate, written atomically. Meant for a daily timer.
func runRenew(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-ctl renew", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := addServerFlags(fs)
	dir := fs.String("dir", enrol.DefaultDir, "enrolment directory")
	within := fs.Duration("within", 0, "renew when the certificate expires within this (default: a third of its lifetime)")
	force := fs.Bool("force", false, "renew now whatever the expiry")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "ssu-ctl renew: %v\n", err)
		return 1
	}
	if err := loadServer(*dir, sf); err != nil {
		return fail(err)
	}
	c, err := sf.client()
	if err != nil {
		return fail(err)
	}
	renewed, notAfter, err := enrol.Device{Dir: *dir}.Renew(ctx, c, *within, *force)
	if err != nil {
		return fail(err)
	}
	if renewed {
		fmt.Fprintf(stdout, "renewed: certificate valid until %s\n", notAfter.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintf(stdout, "not due: certificate valid until %s\n", notAfter.UTC().Format(time.RFC3339))
	}
	return 0
}

// runRevoke revokes a kiosk on the fleet server (admin).
func runRevoke(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-ctl revoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := addServerFlags(fs)
	kiosk := fs.String("kiosk", "", "the kiosk id to revoke (required)")
	adminFile := fs.String("admin-token-file", "", "file holding the admin API token, or - for stdin (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *kiosk == "" {
		fmt.Fprintln(stderr, "ssu-ctl revoke: --kiosk is required")
		return 2
	}
	c, err := sf.client()
	if err == nil {
		var admin []byte
		if admin, err = readAdminToken(*adminFile, stdin); err == nil {
			var r enrol.RevokeResponse
			r, err = c.Revoke(ctx, admin, *kiosk)
			clear(admin)
			if err == nil {
				fmt.Fprintf(stdout, "revoked %s at %s\n", r.Kiosk, r.Revoked.UTC().Format(time.RFC3339))
				return 0
			}
		}
	}
	fmt.Fprintf(stderr, "ssu-ctl revoke: %v\n", err)
	return 1
}

// runDecommission wipes the device's enrolment: configuration, keys, certificates.
func runDecommission(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-ctl decommission", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", enrol.DefaultDir, "enrolment directory")
	yes := fs.Bool("yes", false, "really wipe the keys (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !*yes {
		fmt.Fprintln(stderr, "ssu-ctl decommission: this wipes the kiosk's keys and configuration; add --yes to do it")
		return 2
	}
	if err := (enrol.Device{Dir: *dir}).Decommission(); err != nil {
		fmt.Fprintf(stderr, "ssu-ctl decommission: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "decommissioned: wiped the keys and configuration in %s; revoke the kiosk on the fleet server too (ssu-ctl revoke)\n", *dir)
	return 0
}

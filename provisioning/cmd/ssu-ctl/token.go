package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"ssu-kiosk/provisioning/enrol"
)

// serverFlags are the flags every command that talks to the enrolment server shares.
type serverFlags struct {
	server, caFile, caPin *string
}

func addServerFlags(fs *flag.FlagSet) serverFlags {
	return serverFlags{
		server: fs.String("server", "", "the fleet server's URL, e.g. https://fleet.example.nhs.uk:8443"),
		caFile: fs.String("ca", "", "trust only the CAs in this PEM file for the server (default: the system's roots)"),
		caPin:  fs.String("ca-pin", "", "trust the server by the hex SHA-256 of its (or its CA's) public key"),
	}
}

func (f serverFlags) client() (*enrol.Client, error) {
	if *f.server == "" {
		return nil, errors.New("--server is required")
	}
	hc, err := enrol.NewHTTPClient(*f.caFile, *f.caPin)
	if err != nil {
		return nil, err
	}
	return &enrol.Client{Server: *f.server, HTTP: hc}, nil
}

// readAdminToken reads the admin API token from a file, or from stdin with "-".
func readAdminToken(path string, stdin io.Reader) ([]byte, error) {
	switch path {
	case "":
		return nil, errors.New("--admin-token-file is required (a file made by `ssu-ctl token admin-new`, or - for stdin)")
	case "-":
		return enrol.ReadSecret(stdin)
	}
	return enrol.ReadSecretFile(path)
}

// runToken: `token create` asks the fleet server for an enrolment token; `token admin-new` makes an
// admin API token.
func runToken(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "usage: ssu-ctl token create --server URL --site S --ward W --admin-token-file F\n"+
			"       ssu-ctl token admin-new --out FILE\n")
		return 2
	}
	switch args[0] {
	case "create":
		return runTokenCreate(ctx, args[1:], stdin, stdout, stderr)
	case "admin-new":
		return runTokenAdminNew(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "ssu-ctl token: unknown command %q (create, admin-new)\n", args[0])
	return 2
}

func runTokenCreate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-ctl token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := addServerFlags(fs)
	site := fs.String("site", "", "the site the kiosk will stand in (required)")
	ward := fs.String("ward", "", "the ward (required)")
	adminFile := fs.String("admin-token-file", "", "file holding the admin API token, or - for stdin (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *site == "" || *ward == "" {
		fmt.Fprintln(stderr, "ssu-ctl token create: --site and --ward are required")
		return 2
	}
	c, err := sf.client()
	if err == nil {
		var admin []byte
		if admin, err = readAdminToken(*adminFile, stdin); err == nil {
			var r enrol.TokenResponse
			r, err = c.CreateToken(ctx, admin, *site, *ward)
			clear(admin)
			if err == nil {
				fmt.Fprintln(stdout, r.Token)
				fmt.Fprintf(stderr, "single-use enrolment token for %s, %s; valid until %s\n",
					r.Site, r.Ward, r.Expires.Local().Format(time.RFC1123))
				return 0
			}
		}
	}
	fmt.Fprintf(stderr, "ssu-ctl token create: %v\n", err)
	return 1
}

func runTokenAdminNew(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-ctl token admin-new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "file to write the new admin token to (0600; must not exist) (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" {
		fmt.Fprintln(stderr, "ssu-ctl token admin-new: --out is required")
		return 2
	}
	tok, digest := enrol.NewAdminToken()
	defer clear(tok)
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = f.Write(append(tok, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "ssu-ctl token admin-new: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, digest.String())
	fmt.Fprintf(stderr, "wrote the admin token to %s; add the line above to the fleet server's admin digests file\n", *out)
	return 0
}

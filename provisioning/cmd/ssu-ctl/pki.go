package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"ssu-kiosk/provisioning/pki"
)

const pkiUsage = `usage: ssu-ctl pki <command> [flags]

  ca     --cert FILE --key FILE [--cn NAME] [--years N] [--force]
         make a CA: the fleet CA (kiosks, broker, ssu-fleetd, ssu-idservice), or a card CA for virtual cards
  server --ca FILE --ca-key FILE --cn NAME --host H[,H...] --cert FILE --key FILE [--days N] [--force]
         a TLS server certificate: the broker, ssu-fleetd's web and enrolment listeners, ssu-idservice
  client --ca FILE --ca-key FILE --cn IDENTITY --cert FILE --key FILE [--days N] [--force]
         a TLS client certificate, CN = identity: ssu-fleetd's own at the broker (--identity, "fleet")

Keys are written 0600 and never printed; existing files are kept unless --force.
`

// runPKI makes the certificates of a real deployment with provisioning/pki.
func runPKI(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, pkiUsage)
		return 2
	}
	switch args[0] {
	case "ca":
		return runPKICA(args[1:], stdout, stderr)
	case "server":
		return runPKILeaf("server", args[1:], stdout, stderr)
	case "client":
		return runPKILeaf("client", args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, pkiUsage)
		return 0
	}
	fmt.Fprintf(stderr, "ssu-ctl pki: unknown command %q\n%s", args[0], pkiUsage)
	return 2
}

// outFlags are the files a pki command writes.
type outFlags struct {
	cert, key *string
	force     *bool
}

func addOutFlags(fs *flag.FlagSet, what string) outFlags {
	return outFlags{
		cert:  fs.String("cert", "", "write the "+what+" certificate (PEM, 0644) here (required)"),
		key:   fs.String("key", "", "write its private key (PEM PKCS #8, 0600) here (required)"),
		force: fs.Bool("force", false, "replace the files if they are there"),
	}
}

func (o outFlags) check() error {
	if *o.cert == "" || *o.key == "" {
		return errors.New("--cert and --key are required")
	}
	if *o.cert == *o.key {
		return errors.New("--cert and --key must be different files")
	}
	return nil
}

func runPKICA(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-ctl pki ca", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := addOutFlags(fs, "CA")
	cn := fs.String("cn", "ssu-kiosk fleet CA", "the CA's name (its certificate's CN)")
	years := fs.Int("years", 10, "how many years the CA is valid")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := out.check(); err != nil || *years < 1 || *cn == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ssu-ctl pki ca: %v\n", orUsage(err, "--cn must not be empty, --years at least 1, no arguments"))
		return 2
	}
	ca, err := pki.NewCAWith(*cn, pki.CAOptions{NotAfter: time.Now().AddDate(*years, 0, 0)})
	if err == nil {
		var keyPEM []byte
		if keyPEM, err = ca.KeyPEM(); err == nil {
			err = pki.WritePair(*out.cert, ca.CertPEM(), *out.key, keyPEM, *out.force)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "ssu-ctl pki ca: %v\n", err)
		return 1
	}
	describe(stdout, *out.cert, *out.key, ca.Cert)
	fmt.Fprintln(stdout, "keep the CA key offline or readable only by the service that signs with it (ssu-fleetd --enrol-ca-key)")
	return 0
}

func runPKILeaf(kind string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-ctl pki "+kind, flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := addOutFlags(fs, kind)
	caFile := fs.String("ca", "", "the CA certificate that signs (required)")
	caKey := fs.String("ca-key", "", "the CA's private key, e.g. on removable media (required)")
	cn := fs.String("cn", "", "the certificate's CN: a server's name, or a client's identity (required)")
	hosts := fs.String("host", "", "server: DNS names and IP addresses it is reached by, comma-separated (required)")
	days := fs.Int("days", 0, "how many days it is valid (default: server 825, client 365), never past the CA")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var names []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			names = append(names, h)
		}
	}
	err := out.check()
	switch {
	case err != nil:
	case *caFile == "" || *caKey == "" || *cn == "":
		err = errors.New("--ca, --ca-key and --cn are required")
	case kind == "server" && len(names) == 0:
		err = errors.New("--host is required: the names clients reach the server by")
	case kind == "client" && len(names) > 0:
		err = errors.New("--host is for server certificates")
	case *days < 0 || fs.NArg() > 0:
		err = errors.New("--days must be positive, and there are no arguments")
	}
	if err != nil {
		fmt.Fprintf(stderr, "ssu-ctl pki %s: %v\n", kind, err)
		return 2
	}
	usage, valid := x509.ExtKeyUsageServerAuth, 825
	if kind == "client" {
		usage, valid = x509.ExtKeyUsageClientAuth, 365
	}
	if *days > 0 {
		valid = *days
	}
	if fi, err := os.Stat(*caKey); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "ssu-ctl pki %s: warning: the CA key %s is readable by others (mode %v); chmod 600 it\n", kind, *caKey, fi.Mode().Perm())
	}
	ca, err := pki.LoadCA(*caFile, *caKey)
	var is *pki.Issued
	if err == nil {
		notAfter := time.Now().AddDate(0, 0, valid)
		if notAfter.After(ca.Cert.NotAfter) {
			notAfter = ca.Cert.NotAfter
		}
		is, err = ca.Issue(pki.Request{CommonName: *cn, Hosts: names, Usage: usage, NotAfter: notAfter})
	}
	if err == nil {
		err = pki.WritePair(*out.cert, is.CertPEM, *out.key, is.KeyPEM, *out.force)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ssu-ctl pki %s: %v\n", kind, err)
		return 1
	}
	describe(stdout, *out.cert, *out.key, is.Cert)
	return 0
}

// describe prints what was written: the certificate's public facts and the key's file, never the key.
func describe(w io.Writer, certFile, keyFile string, c *x509.Certificate) {
	hosts := append(append([]string{}, c.DNSNames...), ipStrings(c)...)
	fmt.Fprintf(w, "wrote %s: CN=%s", certFile, c.Subject.CommonName)
	if len(hosts) > 0 {
		fmt.Fprintf(w, " hosts=%s", strings.Join(hosts, ","))
	}
	fmt.Fprintf(w, " not-after=%s sha256=%x\n", c.NotAfter.UTC().Format(time.RFC3339), sha256.Sum256(c.Raw))
	fmt.Fprintf(w, "wrote %s: private key (0600)\n", keyFile)
}

func ipStrings(c *x509.Certificate) []string {
	var s []string
	for _, ip := range c.IPAddresses {
		s = append(s, ip.String())
	}
	return s
}

func orUsage(err error, usage string) string {
	if err != nil {
		return err.Error()
	}
	return usage
}

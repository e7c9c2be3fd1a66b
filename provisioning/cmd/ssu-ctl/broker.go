package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"ssu-kiosk/remote/fleet/broker"
)

// runBrokerConfig writes a Mosquitto configuration and ACL for a fleet: mutual TLS, identity = the
// certificate CN = the client id, and the fleet's access rules.
func runBrokerConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-ctl broker-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to write mosquitto.conf and acl into (required)")
	fleetID := fs.String("fleet", "fleet", "the fleet server's identity (its certificate CN)")
	port := fs.Int("port", 8883, "port to listen on")
	bind := fs.String("bind", "", "address to listen on (default: all)")
	ca := fs.String("ca", "", "CA certificate that signs kiosk and fleet certificates (required)")
	cert := fs.String("cert", "", "the broker's certificate (required)")
	key := fs.String("key", "", "the broker's private key (required)")
	crl := fs.String("crl", "", "certificate revocation list (PEM), for revoked kiosks")
	persist := fs.String("persistence", "", "directory where Mosquitto keeps sessions and queued messages (default: none)")
	maxConn := fs.Int("max-connections", 0, "most client connections (default: unlimited)")
	maxQueued := fs.Int("max-queued", 0, "messages queued per offline client (default 10000)")
	user := fs.String("user", "", "user Mosquitto runs as when started as root (default: Mosquitto's own)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || *ca == "" || *cert == "" || *key == "" {
		fmt.Fprintln(stderr, "ssu-ctl broker-config: --out, --ca, --cert and --key are required")
		fs.PrintDefaults()
		return 2
	}
	abs := func(p string) string {
		if p == "" {
			return ""
		}
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return a
	}
	dir := abs(*out)
	m := broker.Mosquitto{
		Fleet: *fleetID, Bind: *bind, Port: *port, CAFile: abs(*ca), CertFile: abs(*cert), KeyFile: abs(*key),
		CRLFile: abs(*crl), ACLFile: filepath.Join(dir, "acl"), PersistenceDir: abs(*persist),
		MaxConnections: *maxConn, MaxQueued: *maxQueued, User: *user,
	}
	conf, err := m.Config()
	if err == nil {
		var acl string
		if acl, err = m.ACL(); err == nil {
			err = writeBrokerFiles(dir, conf, acl)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "ssu-ctl broker-config: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s\nwrote %s\nrun: mosquitto -c %s\n",
		filepath.Join(dir, "mosquitto.conf"), m.ACLFile, filepath.Join(dir, "mosquitto.conf"))
	return 0
}

func writeBrokerFiles(dir, conf, acl string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte(conf), 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "acl"), []byte(acl), 0o644); err != nil {
		return fmt.Errorf("write acl: %w", err)
	}
	return nil
}

package broker

import (
	"fmt"
	"strings"

	"ssu-kiosk/remote/fleet"
)

// Mosquitto describes a Mosquitto broker for a fleet.
type Mosquitto struct {
	Fleet          string // the fleet server's identity (certificate CN)
	Bind           string // address to listen on; "" for all
	Port           int    // e.g. 8883
	CAFile         string // CA that signs kiosk and fleet certificates
	CertFile       string // the broker's certificate
	KeyFile        string // the broker's key
	CRLFile        string // certificate revocation list (PEM), for revoked kiosks; "" for none
	ACLFile        string // where the ACL written by MosquittoACL lives
	PersistenceDir string // where Mosquitto keeps sessions and queued messages; "" for no persistence
	MaxConnections int    // 0: unlimited
	MaxQueued      int    // messages queued per offline persistent client; 0: 10000
	User           string // the user Mosquitto runs as when started as root; "" for Mosquitto's default
}

// Config returns mosquitto.conf for m (Mosquitto 2.0). The identity is the certificate CN
// (use_identity_as_username), and the client id is forced to it (use_username_as_clientid), so
// "CN equals client id" holds and no client can take over another's session.
func (m Mosquitto) Config() (string, error) {
	if err := fleet.ValidKioskID(m.Fleet); err != nil {
		return "", fmt.Errorf("mosquitto config: fleet identity: %w", err)
	}
	if m.Port <= 0 || m.Port > 65535 {
		return "", fmt.Errorf("mosquitto config: port %d out of range", m.Port)
	}
	for name, v := range map[string]string{"ca": m.CAFile, "cert": m.CertFile, "key": m.KeyFile, "acl": m.ACLFile} {
		if v == "" {
			return "", fmt.Errorf("mosquitto config: %s file is required", name)
		}
		if strings.ContainsAny(v, "\n\r") {
			return "", fmt.Errorf("mosquitto config: %s file name holds a line break", name)
		}
	}
	q := m.MaxQueued
	if q <= 0 {
		q = 10000
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# ssu-kiosk fleet broker (topics v1), written by ssu-ctl broker-config.")
	w("per_listener_settings false")
	if m.User != "" {
		w("user %s", m.User)
	}
	w("allow_anonymous false")
	w("acl_file %s", m.ACLFile)
	if m.PersistenceDir != "" {
		w("persistence true")
		w("persistence_location %s/", strings.TrimSuffix(m.PersistenceDir, "/"))
		w("autosave_interval 60")
	} else {
		w("persistence false")
	}
	w("persistent_client_expiration 30d")
	w("max_queued_messages %d", q)
	w("max_inflight_messages 1000") // the fleet server acknowledges a batch at a time
	w("max_packet_size %d", MaxPacketSize)
	w("set_tcp_nodelay true")
	w("log_dest stderr")
	w("log_type error")
	w("log_type warning")
	w("log_type notice")
	w("connection_messages true")
	w("")
	if m.Bind != "" {
		w("listener %d %s", m.Port, m.Bind)
	} else {
		w("listener %d", m.Port)
	}
	if m.MaxConnections > 0 {
		w("max_connections %d", m.MaxConnections)
	}
	w("protocol mqtt")
	w("cafile %s", m.CAFile)
	w("certfile %s", m.CertFile)
	w("keyfile %s", m.KeyFile)
	if m.CRLFile != "" {
		w("crlfile %s", m.CRLFile)
	}
	w("tls_version tlsv1.2")
	w("require_certificate true")
	w("use_identity_as_username true")
	w("use_username_as_clientid true")
	return b.String(), nil
}

// ACL returns the Mosquitto acl_file for m: fleet.Rules in Mosquitto's syntax.
func (m Mosquitto) ACL() (string, error) { return fleet.MosquittoACL(m.Fleet) }

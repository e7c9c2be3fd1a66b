// Package broker is the fleet's MQTT broker: an embedded broker (mochi-mqtt) for single-binary
// deployments, and the Mosquitto configuration for real fleets. Both enforce the same rules: mutual
// TLS; a client's identity is its certificate's CN, which must equal its MQTT client id; a kiosk may
// publish only under its own topics (its Will included: a forged Will refuses the connection) and
// read only its own commands and acknowledgements (fleet.Policy); revoked identities are refused.
//
// Revocations reach the embedded broker two ways, and it refuses a client named by either: kiosk ids
// (Config.Revoked and Revoke, from the enrolment store, which ssu-fleetd reads at every start and
// again while it runs) and certificate serials (SetCRL, from the fleet CA's CRL, the same file
// Mosquitto reads). Both refuse new connections and disconnect a connected client at once.
//
// The embedded broker keeps sessions, queued messages and retained statuses in memory only: after it
// restarts, kiosks resend from their outboxes whatever the fleet server has not acknowledged and
// announce themselves again, so nothing is lost, but commands queued for offline kiosks are. Fleets
// that need those to survive a broker restart use Mosquitto with persistence (ssu-ctl broker-config
// --persistence).
//
// It must never accept a client without a verified certificate, and never log a payload.
package broker

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"ssu-kiosk/remote/fleet"
)

// MaxPacketSize is the largest MQTT packet either broker accepts (Mosquitto's max_packet_size, the
// embedded broker's capability). Every message of the contract is far smaller; the fleet server's
// acknowledgements, the largest, list at most a batch of event ids.
const MaxPacketSize = 256 << 10

// Config configures the embedded broker.
type Config struct {
	Addr    string               // listen address, e.g. ":8883" or "127.0.0.1:0"
	TLS     *tls.Config          // server certificate and ClientCAs; client certificates are required and verified
	Fleet   string               // the fleet server's identity (certificate CN)
	Revoked []string             // identities refused at connection
	CRL     *x509.RevocationList // certificates refused at connection (SetCRL replaces it)
	Log     *slog.Logger
}

// Broker is the running embedded broker.
type Broker struct {
	srv   *mqtt.Server
	lis   *listeners.TCP
	hook  *rules
	close sync.Once
	err   error
}

// Start starts the embedded broker.
func Start(cfg Config) (*Broker, error) {
	if cfg.TLS == nil || cfg.TLS.ClientCAs == nil || len(cfg.TLS.Certificates) == 0 {
		return nil, errors.New("start broker: TLS with a server certificate and client CAs is required")
	}
	if err := fleet.ValidKioskID(cfg.Fleet); err != nil {
		return nil, fmt.Errorf("start broker: fleet identity: %w", err)
	}
	t := cfg.TLS.Clone()
	t.ClientAuth = tls.RequireAndVerifyClientCert
	if t.MinVersion < tls.VersionTLS12 {
		t.MinVersion = tls.VersionTLS12
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = MaxPacketSize
	srv := mqtt.New(&mqtt.Options{Logger: log, InlineClient: false, Capabilities: caps})
	h := &rules{policy: fleet.Policy{Fleet: cfg.Fleet}, revoked: map[string]bool{}, serials: map[string]bool{}, log: log}
	for _, id := range cfg.Revoked {
		h.revoked[id] = true
	}
	if cfg.CRL != nil {
		h.serials = crlSerials(cfg.CRL)
	}
	if err := srv.AddHook(h, nil); err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	lis := listeners.NewTCP(listeners.Config{ID: "mtls", Address: cfg.Addr, TLSConfig: t})
	if err := srv.AddListener(lis); err != nil {
		return nil, fmt.Errorf("start broker: listen %s: %w", cfg.Addr, err)
	}
	if err := srv.Serve(); err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	return &Broker{srv: srv, lis: lis, hook: h}, nil
}

// Addr returns the address the broker listens on.
func (b *Broker) Addr() string { return b.lis.Address() }

// URL returns the broker's URL for MQTT clients, e.g. "ssl://127.0.0.1:8883".
func (b *Broker) URL() string { return "ssl://" + b.Addr() }

// Revoke refuses an identity from now on and disconnects it if connected.
func (b *Broker) Revoke(id string) {
	b.hook.mu.Lock()
	b.hook.revoked[id] = true
	b.hook.mu.Unlock()
	if cl, ok := b.srv.Clients.Get(id); ok {
		b.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
	}
}

// SetCRL refuses, from now on, every client certificate whose serial the list names (replacing the
// serials of an earlier list) and disconnects connected clients holding one. The caller checks the
// list's signature and freshness (pki.LoadCRL); SetCRL takes it as it is.
func (b *Broker) SetCRL(crl *x509.RevocationList) {
	serials := crlSerials(crl)
	b.hook.mu.Lock()
	b.hook.serials = serials
	b.hook.mu.Unlock()
	for _, cl := range b.srv.Clients.GetAll() {
		if serial, ok := peerSerial(cl); ok && serials[serial.Text(16)] {
			b.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
		}
	}
}

func crlSerials(crl *x509.RevocationList) map[string]bool {
	serials := map[string]bool{}
	for _, e := range crl.RevokedCertificateEntries {
		serials[e.SerialNumber.Text(16)] = true
	}
	return serials
}

// peerSerial is the serial of a client's verified certificate.
func peerSerial(cl *mqtt.Client) (*big.Int, bool) {
	conn, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return nil, false
	}
	st := conn.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return nil, false
	}
	return st.PeerCertificates[0].SerialNumber, true
}

// Close stops the broker; closing it again does nothing.
func (b *Broker) Close() error {
	b.close.Do(func() { b.err = b.srv.Close() })
	return b.err
}

// rules is the mochi hook that enforces identities and fleet.Policy.
type rules struct {
	mqtt.HookBase
	policy fleet.Policy
	log    *slog.Logger

	mu      sync.Mutex
	revoked map[string]bool // kiosk ids
	serials map[string]bool // certificate serials (hex) of the latest CRL
}

func (h *rules) ID() string { return "ssu-fleet-rules" }

func (h *rules) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, []byte{b})
}

// OnConnectAuthenticate admits a client only when its verified certificate's CN equals its client id,
// the identity is not revoked, and its Will (if any) is on a topic it may publish to.
func (h *rules) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	conn, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return false
	}
	st := conn.ConnectionState()
	if !st.HandshakeComplete || len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return false
	}
	cn := st.PeerCertificates[0].Subject.CommonName
	id := pk.Connect.ClientIdentifier
	if cn == "" || cn != id {
		h.log.Warn("broker: refused: certificate CN is not the client id", "cn", cn, "client_id", id)
		return false
	}
	h.mu.Lock()
	revoked := h.revoked[cn]
	onCRL := h.serials[st.PeerCertificates[0].SerialNumber.Text(16)]
	h.mu.Unlock()
	if revoked {
		h.log.Warn("broker: refused: identity revoked", "cn", cn)
		return false
	}
	if onCRL {
		h.log.Warn("broker: refused: certificate on the CRL", "cn", cn)
		return false
	}
	if pk.Connect.WillFlag && !h.policy.Allowed(cn, pk.Connect.WillTopic, true) {
		h.log.Warn("broker: refused: Will on a topic the client may not publish to", "cn", cn, "topic", pk.Connect.WillTopic)
		return false
	}
	return true
}

// OnACLCheck applies fleet.Policy; the client id is the verified CN (OnConnectAuthenticate).
func (h *rules) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	return h.policy.Allowed(cl.ID, topic, write)
}

package link

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/outbox"
)

// Outbox is the durable store the agent needs; *outbox.Outbox and *outbox.Memory implement it.
type Outbox interface {
	Put(ctx context.Context, id string, payload []byte) error
	Pending(ctx context.Context, after int64, limit int) ([]outbox.Item, error)
	Ack(ctx context.Context, ids []string) (int, error)
	Stats(ctx context.Context) (outbox.Stats, error)
	NextConn(ctx context.Context) (uint64, error)
	ClaimCommand(ctx context.Context, id, name string) (bool, error)
}

// KioskHealth is what the kiosk knows about itself; the agent adds the rest (uptime, outbox, disk,
// memory, temperature, certificate expiry).
type KioskHealth struct {
	Reader            string // reader state, e.g. "ready", "missing"
	CardPresent       bool
	LED               string // LED pattern
	PCSCD             string // pcscd state, e.g. "running", "down"
	IdentityReachable bool
	Maintenance       bool
	ConfigVersion     string
	// FallbackFailed and FallbackRunning: after a fallback, the version that did not stay booted and
	// the version running again; "" otherwise (fleet.Health's fallback fields).
	FallbackFailed  string
	FallbackRunning string
}

// HealthSource reports the kiosk's own health. It must answer quickly (it is polled every second).
type HealthSource interface {
	KioskHealth() KioskHealth
}

// Commands carries out remote commands on the kiosk. Each method returns when the command has been
// carried out (Identify when the blinking has started).
type Commands interface {
	SetMaintenance(ctx context.Context, on bool, message string) error
	Reboot(ctx context.Context) error
	ReloadConfig(ctx context.Context) error
	SetMethods(ctx context.Context, enable, disable []string) error
	Identify(ctx context.Context, d time.Duration) error
	RecentLogs(ctx context.Context, n int) ([]string, error)
}

// IdentifyFor is how long the identify command blinks the LEDs.
const IdentifyFor = 15 * time.Second

// Config configures an Agent. Kiosk, Broker, TLS and Outbox are required.
type Config struct {
	Kiosk      string      // identity: the client certificate's CN and the MQTT client id
	Site, Ward string      // where the kiosk is
	AppVersion string      // the kiosk software's version
	Broker     string      // e.g. "ssl://broker.example:8883"
	TLS        *tls.Config // root CAs and the kiosk's client certificate
	Outbox     Outbox
	FleetKey   []byte // key for fleet.CardKey (see Agent.CardKey)

	Health   HealthSource // nil: reader, pcscd, LED and identity fields are left empty
	Commands Commands     // nil: every command is refused as not supported

	Keepalive   time.Duration // MQTT keepalive; default 30 s
	HealthEvery time.Duration // default 30 s
	ResendAfter time.Duration // republish an unacknowledged event after this; default 30 s
	MaxBackoff  time.Duration // longest wait between connection attempts; default 30 s
	Window      int           // most events in flight at once; default 256
	DiskPath    string        // file system whose free space is reported; default "/"
	Log         *slog.Logger  // default slog.Default()

	// Updates (the update command): nil Installer or empty UpdateDir refuse them.
	Installer     Installer
	UpdateDir     string       // downloads and the update's state, kept across reboots
	DownloadTries int          // attempts (each resuming the last) before a download fails; default 20
	Download      *http.Client // default: HTTPS with TLS (the kiosk's client certificate)
	// Now tells the local time for an update's busy hours; default time.Now.
	Now func() time.Time
}

// Agent is the kiosk's fleet link. Create it with New and start it with Run.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	started time.Time
	policy  fleet.Policy

	nudge chan struct{} // an event was recorded or acknowledged
	msgs  chan inbound
	done  chan struct{} // closed when Run returns

	mu        sync.Mutex
	client    mqtt.Client // nil when not connected
	busy      bool
	idle      chan struct{} // closed when busy turns false
	lastKiosk KioskHealth
	inflight  map[string]time.Time
	conn      uint64
	published int64
	acked     int64

	http        *http.Client
	now         func() time.Time
	busyRecheck time.Duration      // how often a reboot held by busy hours looks at the clock again
	stopUpdate  context.CancelFunc // cancels the update under way
	updates     sync.WaitGroup
}

// New checks cfg and returns an Agent.
func New(cfg Config) (*Agent, error) {
	if err := fleet.ValidKioskID(cfg.Kiosk); err != nil {
		return nil, fmt.Errorf("new agent: %w", err)
	}
	if cfg.Broker == "" || cfg.TLS == nil || cfg.Outbox == nil {
		return nil, errors.New("new agent: broker, TLS and outbox are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Keepalive, 30*time.Second)
	def(&cfg.HealthEvery, 30*time.Second)
	def(&cfg.ResendAfter, 30*time.Second)
	def(&cfg.MaxBackoff, 30*time.Second)
	if cfg.Window <= 0 {
		cfg.Window = 256
	}
	if cfg.DiskPath == "" {
		cfg.DiskPath = "/"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DownloadTries <= 0 {
		cfg.DownloadTries = 20
	}
	dl := cfg.Download
	if dl == nil {
		dl = &http.Client{Transport: &http.Transport{TLSClientConfig: cfg.TLS, ResponseHeaderTimeout: 30 * time.Second}}
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	idle := make(chan struct{})
	close(idle)
	return &Agent{
		cfg: cfg, log: log.With("kiosk", cfg.Kiosk), started: time.Now(),
		nudge: make(chan struct{}, 1), msgs: make(chan inbound, 64), done: make(chan struct{}),
		idle: idle, inflight: map[string]time.Time{}, http: dl, now: cfg.Now, busyRecheck: time.Minute,
	}, nil
}

// Record stores a usage event durably and returns; the agent publishes it when it can. The agent
// fills in V, ID (if empty), Kiosk, Site, Ward (if empty) and AppVersion (if empty).
func (a *Agent) Record(ctx context.Context, ev fleet.UsageEvent) (fleet.UsageEvent, error) {
	ev.V = fleet.Version
	if ev.ID == "" {
		ev.ID = fleet.NewEventID()
	}
	ev.Kiosk = a.cfg.Kiosk
	if ev.Site == "" {
		ev.Site = a.cfg.Site
	}
	if ev.Ward == "" {
		ev.Ward = a.cfg.Ward
	}
	if ev.AppVersion == "" {
		ev.AppVersion = a.cfg.AppVersion
	}
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	if err := ev.Validate(); err != nil {
		return ev, fmt.Errorf("record: %w", err)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return ev, fmt.Errorf("record %s: %w", ev.ID, err)
	}
	if err := a.cfg.Outbox.Put(ctx, ev.ID, b); err != nil {
		return ev, fmt.Errorf("record %s: %w", ev.ID, err)
	}
	a.poke()
	return ev, nil
}

// CardKey returns the pseudonymous key of a card serial under the fleet key (fleet.CardKey).
func (a *Agent) CardKey(serial string) (string, error) { return fleet.CardKey(serial, a.cfg.FleetKey) }

// SetBusy tells the agent whether an unlock is under way; a reboot command waits until it is not.
func (a *Agent) SetBusy(busy bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if busy == a.busy {
		return
	}
	a.busy = busy
	if busy {
		a.idle = make(chan struct{})
	} else {
		close(a.idle)
	}
}

// Counters are what an agent has done since it started.
type Counters struct {
	Connected bool
	Conn      uint64 // current connection counter
	Published int64  // event publications (resends included) the broker acknowledged
	Acked     int64  // events the fleet server acknowledged
}

// Counters returns the agent's counters.
func (a *Agent) Counters() Counters {
	a.mu.Lock()
	defer a.mu.Unlock()
	return Counters{Connected: a.client != nil, Conn: a.conn, Published: a.published, Acked: a.acked}
}

func (a *Agent) poke() {
	select {
	case a.nudge <- struct{}{}:
	default:
	}
}

// Run keeps the agent connected and working until ctx ends; then it publishes offline and disconnects.
func (a *Agent) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer close(a.done)
	defer a.updates.Wait()
	defer wg.Wait()
	a.resumeUpdate(ctx)
	wg.Add(3)
	go func() { defer wg.Done(); a.sendLoop(ctx) }()
	go func() { defer wg.Done(); a.healthLoop(ctx) }()
	go func() { defer wg.Done(); a.messageLoop(ctx) }()

	const minBackoff = 250 * time.Millisecond
	backoff := minBackoff
	wait := func() {
		// Jitter spreads a fleet's reconnections after a broker restart.
		d := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
		backoff = min(backoff*2, a.cfg.MaxBackoff)
	}
	for ctx.Err() == nil {
		lost, err := a.connect(ctx)
		if err != nil {
			a.log.Warn("fleet link: connect failed", "err", err, "retry_in", backoff)
			wait()
			continue
		}
		connectedAt := time.Now()
		select {
		case <-ctx.Done():
			a.goodbye()
		case err := <-lost:
			a.log.Warn("fleet link: connection lost", "err", err)
			a.setClient(nil)
			if time.Since(connectedAt) < 10*time.Second {
				wait() // dropped at once (revoked? taken over?): do not hammer the broker
			} else {
				backoff = minBackoff
			}
		}
	}
	return nil
}

func (a *Agent) setClient(c mqtt.Client) {
	a.mu.Lock()
	a.client = c
	a.inflight = map[string]time.Time{} // resend everything unacknowledged on the new connection
	a.mu.Unlock()
	a.poke()
}

func (a *Agent) currentClient() mqtt.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.client
}

// connect makes one connection with a fresh connection counter in its birth and Will.
func (a *Agent) connect(ctx context.Context) (<-chan error, error) {
	conn, err := a.cfg.Outbox.NextConn(ctx)
	if err != nil {
		return nil, err
	}
	will, _ := json.Marshal(fleet.Status{V: fleet.Version, Kiosk: a.cfg.Kiosk, Online: false, Conn: conn})
	lost := make(chan error, 1)
	opts := mqtt.NewClientOptions().
		AddBroker(a.cfg.Broker).
		SetClientID(a.cfg.Kiosk).
		SetTLSConfig(a.cfg.TLS).
		SetCleanSession(false).  // the broker keeps our subscriptions and queues commands and acks
		SetAutoReconnect(false). // Run reconnects, with a new counter each time
		SetConnectRetry(false).
		SetOrderMatters(false).
		SetAutoAckDisabled(true). // PUBACK only once handled: a command or ack is never lost at shutdown
		SetKeepAlive(a.cfg.Keepalive).
		SetPingTimeout(a.cfg.Keepalive/2).
		SetConnectTimeout(10*time.Second).
		SetWriteTimeout(10*time.Second).
		SetProtocolVersion(4).
		SetBinaryWill(fleet.StatusTopic(a.cfg.Kiosk), will, 1, true).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err }).
		SetDefaultPublishHandler(a.onMessage)
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		c.Disconnect(0)
		return nil, errors.New("connect: timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	sub := c.SubscribeMultiple(map[string]byte{
		fleet.CommandTopic(a.cfg.Kiosk): 1,
		fleet.AckTopic(a.cfg.Kiosk):     1,
	}, a.onMessage)
	if !sub.WaitTimeout(10*time.Second) || sub.Error() != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("subscribe: %v", sub.Error())
	}
	birth, _ := json.Marshal(fleet.Status{
		V: fleet.Version, Kiosk: a.cfg.Kiosk, Online: true, Conn: conn, At: time.Now().UTC(),
		AppVersion: a.cfg.AppVersion, Site: a.cfg.Site, Ward: a.cfg.Ward, StartedAt: a.started.UTC(),
	})
	if p := c.Publish(fleet.StatusTopic(a.cfg.Kiosk), 1, true, birth); !p.WaitTimeout(10*time.Second) || p.Error() != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("birth: %v", p.Error())
	}
	a.mu.Lock()
	a.conn = conn
	a.mu.Unlock()
	a.setClient(c)
	a.log.Info("fleet link: connected", "conn", conn)
	go a.publishHealth(ctx)
	return lost, nil
}

// goodbye publishes offline (a clean disconnect sends no Will) and disconnects.
func (a *Agent) goodbye() {
	c := a.currentClient()
	if c == nil {
		return
	}
	a.mu.Lock()
	conn := a.conn
	a.mu.Unlock()
	off, _ := json.Marshal(fleet.Status{V: fleet.Version, Kiosk: a.cfg.Kiosk, Online: false, Conn: conn, At: time.Now().UTC()})
	c.Publish(fleet.StatusTopic(a.cfg.Kiosk), 1, true, off).WaitTimeout(2 * time.Second)
	c.Disconnect(250)
	a.setClient(nil)
}

// inbound is a message with the connection it came on: commands queued while the kiosk was offline
// arrive right after CONNACK, before connect has finished, and are answered on that connection.
type inbound struct {
	c mqtt.Client
	m mqtt.Message
}

// onMessage hands a message to messageLoop; paho handlers must not block for long.
func (a *Agent) onMessage(c mqtt.Client, m mqtt.Message) {
	select {
	case a.msgs <- inbound{c, m}:
	case <-a.done:
	}
}

func (a *Agent) messageLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case in := <-a.msgs:
			m := in.m
			_, leaf, ok := fleet.SplitTopic(m.Topic())
			switch {
			case ok && leaf == fleet.LeafAck:
				a.onAck(ctx, m.Payload())
			case ok && leaf == fleet.LeafCmd:
				a.onCommand(ctx, in.c, m.Payload())
			default:
				a.log.Warn("fleet link: message on an unexpected topic", "topic", m.Topic())
			}
			m.Ack()
		}
	}
}

func (a *Agent) onAck(ctx context.Context, payload []byte) {
	var ack fleet.Ack
	if err := json.Unmarshal(payload, &ack); err != nil || ack.Validate() != nil {
		a.log.Warn("fleet link: malformed ack ignored")
		return
	}
	n, err := a.cfg.Outbox.Ack(ctx, ack.IDs)
	if err != nil {
		a.log.Error("fleet link: ack", "err", err)
		return
	}
	a.mu.Lock()
	for _, id := range ack.IDs {
		delete(a.inflight, id)
	}
	a.acked += int64(n)
	a.mu.Unlock()
	a.poke()
}

// sendLoop publishes outbox events at QoS 1: each is in flight until acknowledged, and is published
// again after ResendAfter or on a new connection. At most Window events are in flight.
func (a *Agent) sendLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.nudge:
		case <-tick.C:
		}
		c := a.currentClient()
		if c == nil {
			continue
		}
		items, err := a.cfg.Outbox.Pending(ctx, 0, a.cfg.Window)
		if err != nil {
			a.log.Error("fleet link: read outbox", "err", err)
			continue
		}
		now := time.Now()
		var toks []mqtt.Token
		a.mu.Lock()
		for _, it := range items {
			if sent, ok := a.inflight[it.ID]; ok && now.Sub(sent) < a.cfg.ResendAfter {
				continue
			}
			a.inflight[it.ID] = now
			toks = append(toks, c.Publish(fleet.EventsTopic(a.cfg.Kiosk), 1, false, it.Payload))
		}
		a.mu.Unlock()
		ok := 0
		deadline := now.Add(10 * time.Second)
		for _, t := range toks {
			if t.WaitTimeout(max(time.Until(deadline), time.Millisecond)) && t.Error() == nil {
				ok++
			}
		}
		a.mu.Lock()
		a.published += int64(ok)
		a.mu.Unlock()
	}
}

// leafCert returns the client certificate's parsed leaf, for its expiry.
func leafCert(cfg *tls.Config) *x509.Certificate {
	if cfg == nil || len(cfg.Certificates) == 0 {
		return nil
	}
	c := cfg.Certificates[0]
	if c.Leaf != nil {
		return c.Leaf
	}
	if len(c.Certificate) == 0 {
		return nil
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}

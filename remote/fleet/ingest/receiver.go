package ingest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"ssu-kiosk/remote/fleet"
)

// Config configures a Receiver. Broker, TLS, Identity and Store are required.
type Config struct {
	Identity     string      // the fleet identity: certificate CN and MQTT client id, e.g. "fleet"
	Broker       string      // e.g. "ssl://broker.example:8883"
	TLS          *tls.Config // root CAs and the fleet identity's client certificate
	Store        Store
	BatchSize    int           // most messages per commit; default 500
	BatchWait    time.Duration // longest a message waits for others to join its batch; default 50 ms
	MaxReconnect time.Duration // longest wait between connection attempts; default 10 s
	Log          *slog.Logger
}

// Counters are what a Receiver has done since it started.
type Counters struct {
	Events     int64 // event messages received (resends included)
	NewEvents  int64 // events stored for the first time
	Duplicates int64 // events received again after being stored
	Acked      int64 // event ids acknowledged
	AckMsgs    int64 // acknowledgement messages published (one per kiosk per batch)
	Invalid    int64 // messages refused by validation
	Oversized  int64 // messages dropped unread for being larger than MaxPayload
}

// MaxPayload is the largest message the receiver reads. Every message of the contract is far smaller
// (an event or a health report is well under 2 KiB); anything larger is counted and dropped unread.
const MaxPayload = 16 << 10

// Receiver is the fleet server's MQTT client.
type Receiver struct {
	cfg  Config
	log  *slog.Logger
	in   chan mqtt.Message
	done chan struct{}

	mu     sync.Mutex
	client mqtt.Client

	events, newEvents, dups, acked, ackMsgs, invalid, oversized atomic.Int64
	// acking holds a place for each batch whose acknowledgements the broker has not yet taken.
	acking chan struct{}
}

// NewReceiver checks cfg and returns a Receiver.
func NewReceiver(cfg Config) (*Receiver, error) {
	if cfg.Broker == "" || cfg.TLS == nil || cfg.Identity == "" || cfg.Store == nil {
		return nil, errors.New("new receiver: identity, broker, TLS and store are required")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.BatchWait <= 0 {
		cfg.BatchWait = 50 * time.Millisecond
	}
	if cfg.MaxReconnect <= 0 {
		cfg.MaxReconnect = 10 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	return &Receiver{cfg: cfg, log: log, in: make(chan mqtt.Message, 4*cfg.BatchSize), done: make(chan struct{}),
		acking: make(chan struct{}, acksInFlight)}, nil
}

// Counters returns the receiver's counters.
func (r *Receiver) Counters() Counters {
	return Counters{Events: r.events.Load(), NewEvents: r.newEvents.Load(), Duplicates: r.dups.Load(),
		Acked: r.acked.Load(), AckMsgs: r.ackMsgs.Load(), Invalid: r.invalid.Load(), Oversized: r.oversized.Load()}
}

// Connected reports whether the receiver is connected to the broker.
func (r *Receiver) Connected() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.client != nil && r.client.IsConnectionOpen()
}

// Run connects (retrying until the broker answers), receives and stores until ctx ends.
func (r *Receiver) Run(ctx context.Context) error {
	defer close(r.done)
	opts := mqtt.NewClientOptions().
		AddBroker(r.cfg.Broker).
		SetClientID(r.cfg.Identity).
		SetTLSConfig(r.cfg.TLS).
		SetCleanSession(false). // the broker queues events while we are away
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(r.cfg.MaxReconnect).
		SetOrderMatters(false).
		SetKeepAlive(30 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetWriteTimeout(10 * time.Second).
		SetProtocolVersion(4).
		SetMessageChannelDepth(10000).
		SetOnConnectHandler(func(c mqtt.Client) {
			// Subscribing here means a reconnect subscribes again.
			t := c.SubscribeMultiple(map[string]byte{
				fleet.All(fleet.LeafEvents): 1,
				fleet.All(fleet.LeafStatus): 1,
				fleet.All(fleet.LeafResult): 1,
				fleet.All(fleet.LeafHealth): 0,
			}, r.onMessage)
			if !t.WaitTimeout(10*time.Second) || t.Error() != nil {
				r.log.Error("fleet ingest: subscribe failed", "err", t.Error())
				return
			}
			r.log.Info("fleet ingest: connected and subscribed")
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { r.log.Warn("fleet ingest: connection lost", "err", err) }).
		SetDefaultPublishHandler(r.onMessage)
	c := mqtt.NewClient(opts)
	r.mu.Lock()
	r.client = c
	r.mu.Unlock()
	c.Connect() // with ConnectRetry it keeps trying in the background
	defer c.Disconnect(250)
	return r.batchLoop(ctx, c)
}

func (r *Receiver) onMessage(_ mqtt.Client, m mqtt.Message) {
	select {
	case r.in <- m:
	case <-r.done:
	}
}

func (r *Receiver) batchLoop(ctx context.Context, c mqtt.Client) error {
	for {
		var msgs []mqtt.Message
		select {
		case <-ctx.Done():
			return nil
		case m := <-r.in:
			msgs = append(msgs, m)
		}
		timer := time.NewTimer(r.cfg.BatchWait)
	fill:
		for len(msgs) < r.cfg.BatchSize {
			select {
			case m := <-r.in:
				msgs = append(msgs, m)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		for {
			// paho has sent PUBACK already (manual acks cut throughput fourfold in BenchmarkFleet1000);
			// an event lost here is safe all the same: its kiosk resends it until our Ack arrives.
			err := r.commit(ctx, c, msgs)
			if err == nil || ctx.Err() != nil {
				break
			}
			// Nothing was acknowledged: kiosks will resend anyway, but retry so this batch is not lost.
			r.log.Error("fleet ingest: store failed; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// commit decodes a batch, saves it, and only then acknowledges its events to their kiosks.
func (r *Receiver) commit(ctx context.Context, c mqtt.Client, msgs []mqtt.Message) error {
	var b Batch
	for _, m := range msgs {
		kiosk, leaf, ok := fleet.SplitTopic(m.Topic())
		if !ok {
			r.invalid.Add(1)
			continue
		}
		if len(m.Payload()) > MaxPayload {
			r.oversized.Add(1)
			r.log.Warn("fleet ingest: oversized message dropped", "kiosk", kiosk, "topic", leaf, "bytes", len(m.Payload()))
			continue
		}
		var err error
		switch leaf {
		case fleet.LeafEvents:
			var e fleet.UsageEvent
			if err = json.Unmarshal(m.Payload(), &e); err == nil {
				err = e.Validate()
			}
			if err == nil && e.Kiosk != kiosk {
				err = fmt.Errorf("event of %q published on %q's topic", e.Kiosk, kiosk)
			}
			if err == nil {
				b.Events = append(b.Events, e)
			}
		case fleet.LeafStatus:
			if len(m.Payload()) == 0 { // a cleared retained status
				continue
			}
			var s fleet.Status
			if err = json.Unmarshal(m.Payload(), &s); err == nil {
				err = s.Validate()
			}
			if err == nil && s.Kiosk != kiosk {
				err = fmt.Errorf("status of %q published on %q's topic", s.Kiosk, kiosk)
			}
			if err == nil {
				b.Statuses = append(b.Statuses, s)
			}
		case fleet.LeafHealth:
			var h fleet.Health
			if err = json.Unmarshal(m.Payload(), &h); err == nil {
				err = h.Validate()
			}
			if err == nil && h.Kiosk == kiosk {
				b.Health = append(b.Health, h)
			}
		case fleet.LeafResult:
			var res fleet.CommandResult
			if err = json.Unmarshal(m.Payload(), &res); err == nil && res.Kiosk == kiosk {
				b.Results = append(b.Results, res)
			}
		default:
			continue // our own acks and commands, if ever delivered
		}
		if err != nil {
			r.invalid.Add(1)
			r.log.Warn("fleet ingest: message refused", "kiosk", kiosk, "topic", leaf, "err", err)
		}
	}
	added, err := r.cfg.Store.Save(ctx, b)
	if err != nil {
		return err
	}
	r.events.Add(int64(len(b.Events)))
	r.newEvents.Add(int64(added))
	r.dups.Add(int64(len(b.Events) - added))

	// Acknowledge every event of the batch, the duplicates too: their kiosk is still waiting.
	byKiosk := map[string][]string{}
	for _, e := range b.Events {
		byKiosk[e.Kiosk] = append(byKiosk[e.Kiosk], e.ID)
	}
	// The next batch may be stored while the broker takes this one's acknowledgements: waiting for
	// them before the next commit is what capped ingest. At most acksInFlight batches wait at once, so
	// a slow broker still holds ingest back.
	select {
	case r.acking <- struct{}{}:
	case <-ctx.Done():
		return nil
	}
	var toks []mqtt.Token
	for kiosk, ids := range byKiosk {
		p, _ := json.Marshal(fleet.Ack{V: fleet.Version, IDs: ids})
		toks = append(toks, c.Publish(fleet.AckTopic(kiosk), 1, false, p))
		r.acked.Add(int64(len(ids)))
		r.ackMsgs.Add(1)
	}
	go func() {
		defer func() { <-r.acking }()
		deadline := time.Now().Add(10 * time.Second)
		for _, t := range toks {
			t.WaitTimeout(max(time.Until(deadline), time.Millisecond)) // a lost ack only causes a resend
		}
	}()
	return nil
}

// acksInFlight is how many batches' acknowledgements may be on their way to the broker at once.
const acksInFlight = 2

// Send publishes a command to a kiosk (QoS 1; the broker queues it while the kiosk is offline).
func (r *Receiver) Send(ctx context.Context, kiosk string, cmd fleet.Command) error {
	if err := fleet.ValidKioskID(kiosk); err != nil {
		return fmt.Errorf("send command: %w", err)
	}
	if cmd.V == 0 {
		cmd.V = fleet.Version
	}
	if cmd.IssuedAt.IsZero() {
		cmd.IssuedAt = time.Now().UTC()
	}
	if err := cmd.Validate(); err != nil {
		return fmt.Errorf("send command: %w", err)
	}
	b, _ := json.Marshal(cmd)
	return r.SendRaw(ctx, kiosk, b)
}

// SendRaw publishes a command payload as is; for tests of the kiosk's refusals.
func (r *Receiver) SendRaw(ctx context.Context, kiosk string, payload []byte) error {
	r.mu.Lock()
	c := r.client
	r.mu.Unlock()
	if c == nil {
		return errors.New("send command: receiver not running")
	}
	t := c.Publish(fleet.CommandTopic(kiosk), 1, false, payload)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.Done():
		if err := t.Error(); err != nil {
			return fmt.Errorf("send command: %w", err)
		}
		return nil
	}
}

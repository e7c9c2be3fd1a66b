package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/fleettest"
	"ssu-kiosk/remote/fleet/ingest"
)

// failingStore fails every Save while fail is set, then hands over to the real store.
type failingStore struct {
	ingest.Store
	fail  atomic.Bool
	tries atomic.Int32
}

func (s *failingStore) Save(ctx context.Context, b ingest.Batch) (int, error) {
	s.tries.Add(1)
	if s.fail.Load() {
		return 0, errors.New("disk full")
	}
	return s.Store.Save(ctx, b)
}

// TestAckOnlyAfterCommit: while the store cannot commit, the receiver retries and acknowledges nothing;
// the kiosk's event is acknowledged once it is stored, not before.
func TestAckOnlyAfterCommit(t *testing.T) {
	p := fleettest.NewPKI(t)
	url := fleettest.StartEmbedded(t, p).URL()
	sqlite, err := ingest.OpenSQLite(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sqlite.Close()
	st := &failingStore{Store: sqlite}
	st.fail.Store(true)
	r, err := ingest.NewReceiver(ingest.Config{Identity: fleettest.FleetID, Broker: url, TLS: p.Client(t, fleettest.FleetID),
		Store: st, MaxReconnect: time.Second, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	fleettest.Eventually(t, 15*time.Second, r.Connected, "the receiver connects")
	time.Sleep(100 * time.Millisecond) // its subscriptions are made in OnConnect

	const kiosk = "kiosk-0001"
	acks := make(chan fleet.Ack, 4)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(kiosk).SetTLSConfig(p.Client(t, kiosk)).
		SetOnConnectHandler(func(c mqtt.Client) {
			c.Subscribe(fleet.AckTopic(kiosk), 1, func(_ mqtt.Client, m mqtt.Message) {
				var a fleet.Ack
				if json.Unmarshal(m.Payload(), &a) == nil {
					acks <- a
				}
			})
		}))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("kiosk connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	time.Sleep(200 * time.Millisecond) // its subscription

	ev := fleet.UsageEvent{V: fleet.Version, ID: fleet.NewEventID(), Kind: fleet.Unlocked, Kiosk: kiosk, At: time.Now()}
	payload, _ := json.Marshal(ev)
	if tok := c.Publish(fleet.EventsTopic(kiosk), 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	fleettest.Eventually(t, 10*time.Second, func() bool { return st.tries.Load() >= 2 }, "the receiver retries the failed commit")
	select {
	case a := <-acks:
		t.Fatalf("acknowledged %v while the store could not commit", a.IDs)
	case <-time.After(500 * time.Millisecond):
	}

	st.fail.Store(false)
	select {
	case a := <-acks:
		if len(a.IDs) != 1 || a.IDs[0] != ev.ID {
			t.Fatalf("ack = %v, want [%s]", a.IDs, ev.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no ack once the store commits")
	}
	if ids, _ := sqlite.EventIDs(context.Background(), kiosk); !ids[ev.ID] {
		t.Fatal("acknowledged but not stored")
	}
}

// lockedBuffer is a log sink the test can read while the receiver writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestEventsSpeakOnlyForTheirTopicsKiosk: the broker lets a kiosk publish only under its own topics, and
// the receiver takes an event, status, health report or command result only when the kiosk it names is
// the kiosk whose topic it came on. The attack: kiosk-0001, on its own topics, sends an event and a status
// in kiosk-0002's name; neither is stored or acknowledged, and its own event is.
func TestEventsSpeakOnlyForTheirTopicsKiosk(t *testing.T) {
	p := fleettest.NewPKI(t)
	url := fleettest.StartEmbedded(t, p).URL()
	st, err := ingest.OpenSQLite(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logs := &lockedBuffer{}
	r, err := ingest.NewReceiver(ingest.Config{Identity: fleettest.FleetID, Broker: url, TLS: p.Client(t, fleettest.FleetID),
		Store: st, MaxReconnect: time.Second, Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	fleettest.Eventually(t, 15*time.Second, func() bool { return strings.Contains(logs.String(), "connected and subscribed") },
		"the receiver subscribes")

	const kiosk, victim = "kiosk-0001", "kiosk-0002"
	acks := make(chan fleet.Ack, 8)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(kiosk).SetTLSConfig(p.Client(t, kiosk)))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("kiosk connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Subscribe(fleet.AckTopic(kiosk), 1, func(_ mqtt.Client, m mqtt.Message) {
		var a fleet.Ack
		if json.Unmarshal(m.Payload(), &a) == nil {
			acks <- a
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	publish := func(topic string, v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		if tok := c.Publish(topic, 1, false, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	forged := fleet.UsageEvent{V: fleet.Version, ID: fleet.NewEventID(), Kind: fleet.Unlocked, Kiosk: victim, At: time.Now()}
	publish(fleet.EventsTopic(kiosk), forged)
	publish(fleet.StatusTopic(kiosk), fleet.Status{V: fleet.Version, Kiosk: victim, Online: false, Conn: 99, At: time.Now()})
	// Its own event comes last: once it is acknowledged, every message before it has been through a commit.
	own := fleet.UsageEvent{V: fleet.Version, ID: fleet.NewEventID(), Kind: fleet.Unlocked, Kiosk: kiosk, At: time.Now()}
	publish(fleet.EventsTopic(kiosk), own)

	var acked []string
	for !slices.Contains(acked, own.ID) {
		select {
		case a := <-acks:
			acked = append(acked, a.IDs...)
		case <-time.After(20 * time.Second):
			t.Fatal("the kiosk's own event was not acknowledged")
		}
	}
	if slices.Contains(acked, forged.ID) {
		t.Error("the event in another kiosk's name was acknowledged")
	}
	all, err := st.EventIDs(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if all[forged.ID] || !all[own.ID] {
		t.Errorf("stored events: %v; want only the kiosk's own %s", all, own.ID)
	}
	if got := r.Counters().Invalid; got != 2 {
		t.Errorf("messages refused: %d, want 2 (the forged event and status)", got)
	}
}

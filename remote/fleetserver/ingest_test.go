package fleetserver_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/fleettest"
	"ssu-kiosk/remote/fleet/ingest"
	"ssu-kiosk/remote/fleet/sim"
	"ssu-kiosk/remote/fleetserver"
	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/store/storetest"
)

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// startServer runs the fleet server (ingest and alerts) against a broker until the test ends.
func startServer(t testing.TB, p *fleettest.PKI, brokerURL string, st *store.Store) *fleetserver.Server {
	t.Helper()
	return startServerChecking(t, p, brokerURL, st, time.Second)
}

// startServerChecking is startServer with alert checks every given interval.
func startServerChecking(t testing.TB, p *fleettest.PKI, brokerURL string, st *store.Store, every time.Duration) *fleetserver.Server {
	t.Helper()
	srv, err := fleetserver.New(fleetserver.Options{Store: st, Broker: brokerURL, Identity: fleettest.FleetID,
		TLS: p.Client(t, fleettest.FleetID), CheckEvery: every, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	fleettest.Eventually(t, 15*time.Second, srv.Receiver.Connected, "the fleet server connects to the broker")
	time.Sleep(200 * time.Millisecond) // it subscribes in OnConnect
	return srv
}

// kioskClient connects to the broker as a kiosk identity with plain paho, to send what a real agent
// never would.
func kioskClient(t *testing.T, p *fleettest.PKI, url, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetTLSConfig(p.Client(t, id)).SetProtocolVersion(4))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect as %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t *testing.T, c mqtt.Client, topic string, payload []byte) {
	t.Helper()
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish on %s: %v", topic, tok.Error())
	}
}

// TestIngestThroughMosquittoWithSimulator runs simulated kiosks (the real agent code) through a
// Mosquitto configured as production (mutual TLS, the fleet ACL) into the fleet server, on SQLite and
// on PostgreSQL: every event is stored once and acknowledged, kiosks register and report health,
// malformed and unknown-kiosk messages are counted and dropped without stopping ingest, and a command
// goes to a kiosk and its result comes back.
func TestIngestThroughMosquittoWithSimulator(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			var st *store.Store
			if dialect == "sqlite" {
				st = storetest.SQLite(t, store.Options{})
			} else {
				st = storetest.Postgres(t, store.Options{})
			}
			p := fleettest.NewPKI(t)
			m := fleettest.StartMosquitto(t, p)
			srv := startServer(t, p, m.URL, st)

			// Garbage first: ingest must go on after it.
			rogue := kioskClient(t, p, m.URL, "kiosk-0099")
			publish(t, rogue, fleet.EventsTopic("kiosk-0099"), []byte(`{"v":1,"id":"not-a-uuid"`))
			publish(t, rogue, fleet.EventsTopic("kiosk-0099"), []byte(`{"v":1,"kind":"unlocked"}`))
			// A well-formed event from a kiosk that never said hello (no birth): unknown, dropped.
			stray := fleet.UsageEvent{V: 1, ID: fleet.NewEventID(), Kind: fleet.SessionStarted, Kiosk: "kiosk-0099", At: time.Now()}
			b, _ := jsonMarshal(stray)
			publish(t, rogue, fleet.EventsTopic("kiosk-0099"), b)
			// An oversized message (under the broker's packet limit, over what ingest reads): dropped unread.
			publish(t, rogue, fleet.EventsTopic("kiosk-0099"), bytes.Repeat([]byte{'x'}, ingest.MaxPayload+1))

			const kiosks, events = 5, 300
			f, err := sim.Start(ctx, sim.Config{Kiosks: kiosks, Broker: m.URL, TLS: sim.FromCA(p.CA), Rate: 300, Count: events,
				HealthEvery: time.Second, MaxBackoff: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Stop()
			fleettest.Eventually(t, 60*time.Second, func() bool {
				n, _ := st.CountEvents(ctx)
				r := f.Result()
				return n == events && r.Recorded == events && r.Pending == 0
			}, "every simulated event is stored and acknowledged")
			if c := srv.Receiver.Counters(); c.Invalid < 2 {
				t.Errorf("malformed messages counted: %d, want at least 2", c.Invalid)
			}
			if c := srv.Receiver.Counters(); c.Oversized != 1 {
				t.Errorf("oversized messages counted: %d, want 1", c.Oversized)
			}
			if n := st.IngestStats().UnknownKiosk; n < 1 {
				t.Errorf("unknown-kiosk messages counted: %d, want at least 1", n)
			}
			// One event in five starts a session; the simulator may record two starts at one kiosk within
			// a millisecond, which is one session to the store (its key is the kiosk and the start time).
			if n, _ := st.CountSessions(ctx); n < events/5-3 || n > events/5 {
				t.Errorf("sessions = %d, want about %d (one session start in five events)", n, events/5)
			}
			fleettest.Eventually(t, 10*time.Second, func() bool {
				ks, _ := st.Kiosks(ctx, store.KioskFilter{Site: "sim-site"})
				online := 0
				for _, k := range ks {
					if k.Online && !k.LastHealth.IsZero() && k.Reader == "ready" {
						online++
					}
				}
				return online == kiosks
			}, "every simulated kiosk is registered, online and reporting health")
			if _, ok, _ := st.Kiosk(ctx, "kiosk-0099"); ok {
				t.Error("a kiosk that never sent a birth message was registered")
			}

			// A command to a kiosk and its result.
			cmd := fleet.Command{V: 1, ID: "c-test-1", Name: fleet.CmdIdentify, IssuedAt: time.Now().UTC()}
			if err := st.AddCommand(ctx, store.Command{ID: cmd.ID, Kiosk: "kiosk-0002", Name: string(cmd.Name), IssuedBy: "test",
				IssuedAt: cmd.IssuedAt, Status: store.CommandSending}); err != nil {
				t.Fatal(err)
			}
			if err := srv.Receiver.Send(ctx, "kiosk-0002", cmd); err != nil {
				t.Fatal(err)
			}
			fleettest.Eventually(t, 15*time.Second, func() bool {
				c, _, _ := st.Command(ctx, cmd.ID)
				return c.Status == "ok"
			}, "the kiosk's answer to the command is stored")
			if n := f.Kiosks[1].Counts().Identifies; n != 1 {
				t.Fatalf("kiosk-0002 identified itself %d times", n)
			}
		})
	}
}

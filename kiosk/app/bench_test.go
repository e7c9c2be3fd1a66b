package app

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/remote/fleet/link"
	"ssu-kiosk/remote/fleet/outbox"
)

// BenchmarkFleetSinkSession is the cost of keeping one unlock session's usage events durably (five
// events, each synced to the SQLite outbox before RecordUsage returns): the time a usage record spends on
// the runner's goroutine. The agent is not connected: publishing is not part of it.
func BenchmarkFleetSinkSession(b *testing.B) {
	ca, err := pki.NewCA("bench")
	if err != nil {
		b.Fatal(err)
	}
	is, err := ca.IssueClient(fleetKiosk, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	ob, err := outbox.Open(filepath.Join(b.TempDir(), "outbox.db"), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer ob.Close()
	agent, err := link.New(link.Config{Kiosk: fleetKiosk, Broker: "ssl://127.0.0.1:1", TLS: ca.ClientTLS(is), Outbox: ob,
		FleetKey: testFleetKey, Log: discardLog()})
	if err != nil {
		b.Fatal(err)
	}
	sink := FleetSink{Events: agent, CardKey: agent.CardKey}
	steps := []flow.ScreenID{flow.ReadingCard, flow.StartNow, flow.ChooseMethod, flow.EnterAddress, flow.EnterCode,
		flow.VerifyingCode, flow.ChoosePasscode, flow.Unlocking, flow.Unlocked}
	rec := session(flow.OutcomeUnlocked, "", "", flow.MethodEmail, steps,
		stepEvent(25*time.Second, flow.EventMethodChosen, flow.ChooseMethod, flow.MethodEmail),
		stepEvent(35*time.Second, flow.EventCodeSent, flow.EnterAddress, ""),
		stepEvent(55*time.Second, flow.EventCodeRefused, flow.VerifyingCode, ""))
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if err := sink.RecordUsage(ctx, rec, testSerial); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/session")
}

package store_test

import (
	"fmt"
	"testing"
	"time"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/ingest"
	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/store/storetest"
)

// BenchmarkSave measures the store alone: batches of 500 usage events from 1,000 kiosks (five-event
// sessions), as the fleet receiver hands them over, on SQLite and PostgreSQL.
func BenchmarkSave(b *testing.B) {
	enrolled := store.EnrolledPlaces{}
	for k := 1; k <= 1000; k++ {
		enrolled[fmt.Sprintf("kiosk-%04d", k)] = store.Place{Site: "s", Ward: "w"}
	}
	for _, d := range []string{"sqlite", "postgres"} {
		b.Run(d, func(b *testing.B) {
			var s *store.Store
			if d == "sqlite" {
				s = storetest.SQLite(b, store.Options{Enrolment: enrolled})
			} else {
				s = storetest.Postgres(b, store.Options{Enrolment: enrolled})
			}
			var births []fleet.Status
			for k := 1; k <= 1000; k++ {
				births = append(births, fleet.Status{V: 1, Kiosk: fmt.Sprintf("kiosk-%04d", k), Online: true, Conn: 1, Site: "s", Ward: "w"})
			}
			if _, err := s.Save(ctx, ingest.Batch{Statuses: births}); err != nil {
				b.Fatal(err)
			}
			kinds := []fleet.EventKind{fleet.SessionStarted, fleet.MethodChosen, fleet.CodeSent, fleet.Unlocked, fleet.PasscodeChanged}
			start := time.Now()
			b.ResetTimer()
			n := 0
			for i := 0; i < b.N; i++ {
				var batch ingest.Batch
				for j := 0; j < 500; j++ {
					k, sess := n%1000, n/5000
					batch.Events = append(batch.Events, fleet.UsageEvent{V: 1, ID: fleet.NewEventID(), Kind: kinds[(n/1000)%5],
						Kiosk: fmt.Sprintf("kiosk-%04d", k+1), At: start.Add(time.Duration(n) * time.Millisecond),
						SessionAt: start.Add(time.Duration(sess) * time.Minute), Method: "email"})
					n++
				}
				if _, err := s.Save(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

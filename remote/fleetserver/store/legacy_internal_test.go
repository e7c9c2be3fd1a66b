package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/ingest"
)

// TestLegacySelfPlacedKioskTakesItsEnrolledPlace: a kiosk row from before version 2 (placed by the
// kiosk's own birth message) moves to its enrolment's place at its next message; one the enrolment
// does not know keeps its place.
func TestLegacySelfPlacedKioskTakesItsEnrolledPlace(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "fleet.db"), Options{Enrolment: EnrolledPlaces{"kiosk-0001": {Site: "leeds-gi", Ward: "ward-3"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range []string{"kiosk-0001", "kiosk-0002"} {
		// As version 1 left them: the place the kiosk claimed, and placed_by at its default.
		if _, err := s.exec(ctx, `INSERT INTO kiosks (id, site, ward, registered_at) VALUES (?, 'st-james', 'ward-9', 0)`, id); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	var b ingest.Batch
	for _, id := range []string{"kiosk-0001", "kiosk-0002"} {
		b.Statuses = append(b.Statuses, fleet.Status{V: 1, Kiosk: id, Online: true, Conn: 1, Site: "st-james", Ward: "ward-9", At: now})
	}
	if _, err := s.Save(ctx, b); err != nil {
		t.Fatal(err)
	}
	if k, _, _ := s.Kiosk(ctx, "kiosk-0001"); k.Site != "leeds-gi" || k.Ward != "ward-3" {
		t.Fatalf("legacy kiosk with an enrolment = %s/%s, want leeds-gi/ward-3", k.Site, k.Ward)
	}
	if k, _, _ := s.Kiosk(ctx, "kiosk-0002"); k.Site != "st-james" {
		t.Fatalf("legacy kiosk without an enrolment = %s/%s, want its place kept", k.Site, k.Ward)
	}
}

// TestPlacingFromAnotherProcessTakesEffectAtOnce: an unregistered kiosk placed through another store
// (ssu-fleetd kiosk place while the server runs) has its next session filed at the new place.
func TestPlacingFromAnotherProcessTakesEffectAtOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.db")
	server, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	start := time.Date(2026, 10, 6, 9, 0, 0, 0, time.UTC)
	ev := func(at time.Time) fleet.UsageEvent {
		return fleet.UsageEvent{V: 1, ID: fleet.NewEventID(), Kind: fleet.SessionStarted, Kiosk: "kiosk-0042", At: at}
	}
	if _, err := server.Save(ctx, ingest.Batch{Events: []fleet.UsageEvent{ev(start)}}); err != nil {
		t.Fatal(err)
	}
	cli, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.PlaceKiosk(ctx, "kiosk-0042", "wharfedale", "ward-2"); err != nil {
		t.Fatal(err)
	}
	cli.Close()
	if _, err := server.Save(ctx, ingest.Batch{Events: []fleet.UsageEvent{ev(start.Add(time.Hour))}}); err != nil {
		t.Fatal(err)
	}
	from, to := MonthPeriod(2026, time.October, server.Location())
	r, err := server.Report(ctx, ReportFilter{From: from, To: to, Sites: []string{"wharfedale"}})
	if err != nil || r.Total.Sessions != 2 {
		t.Fatalf("wharfedale sessions = %d, %v; want both, before and after placing", r.Total.Sessions, err)
	}
}

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

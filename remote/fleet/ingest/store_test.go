package ingest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"ssu-kiosk/remote/fleet"
)

func event(kiosk string) fleet.UsageEvent {
	return fleet.UsageEvent{V: 1, ID: fleet.NewEventID(), Kind: fleet.Unlocked, Kiosk: kiosk, At: time.Now()}
}

func TestSaveDeduplicatesAndMigratesOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	a, b := event("kiosk-0001"), event("kiosk-0002")
	if n, err := s.Save(ctx, Batch{Events: []fleet.UsageEvent{a, b}}); n != 2 || err != nil {
		t.Fatalf("first save = %d, %v", n, err)
	}
	if n, err := s.Save(ctx, Batch{Events: []fleet.UsageEvent{a, a, event("kiosk-0001")}}); n != 1 || err != nil {
		t.Fatalf("save with duplicates = %d, %v; want 1 new", n, err)
	}
	s.Close()
	s, err = OpenSQLite(path) // migrations already applied: nothing happens
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var versions int
	s.db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&versions)
	if versions != len(migrations)-1 {
		t.Fatalf("%d migrations recorded, want %d", versions, len(migrations)-1)
	}
	total, distinct, _ := s.CountEvents(ctx)
	if total != 3 || distinct != 3 {
		t.Fatalf("stored %d (%d distinct), want 3", total, distinct)
	}
	ids, _ := s.EventIDs(ctx, "kiosk-0002")
	if len(ids) != 1 || !ids[b.ID] {
		t.Fatalf("kiosk-0002's events = %v", ids)
	}
}

func TestStaleWillDoesNotOverwriteNewerOnline(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := func(online bool, conn uint64) fleet.Status {
		return fleet.Status{V: 1, Kiosk: "kiosk-0001", Online: online, Conn: conn}
	}
	for _, step := range []struct {
		in         fleet.Status
		wantOnline bool
		wantConn   uint64
	}{
		{st(true, 5), true, 5},
		{st(false, 4), true, 5}, // the Will of an older connection, late: ignored
		{st(true, 6), true, 6},
		{st(true, 5), true, 6}, // an older birth: ignored
		{st(false, 6), false, 6},
		{st(true, 6), false, 6}, // a repeated birth cannot undo its own connection's Will
	} {
		if _, err := s.Save(ctx, Batch{Statuses: []fleet.Status{step.in}}); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Status(ctx, "kiosk-0001")
		if !ok || err != nil || got.Online != step.wantOnline || got.Conn != step.wantConn {
			t.Fatalf("after %+v: status %+v (%v, %v)", step.in, got, ok, err)
		}
	}
}

func TestHealthKeepsTheLatest(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	newer := fleet.Health{V: 1, Kiosk: "kiosk-0001", At: now, Reader: "ready"}
	older := fleet.Health{V: 1, Kiosk: "kiosk-0001", At: now.Add(-time.Minute), Reader: "missing"}
	s.Save(ctx, Batch{Health: []fleet.Health{newer}})
	s.Save(ctx, Batch{Health: []fleet.Health{older}})
	h, ok, _ := s.Health(ctx, "kiosk-0001")
	if !ok || h.Reader != "ready" {
		t.Fatalf("health = %+v", h)
	}
}

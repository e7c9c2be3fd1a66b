package store_test

import (
	"testing"
	"time"

	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/store/storetest"
)

func TestRolloutsReleasesAndAudit(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		now := time.Now().Truncate(time.Millisecond)
		if err := s.PutRollout(ctx, "r1", "running", []byte(`{"id":"r1","state":"running"}`), now); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRollout(ctx, "r1", "halted", []byte(`{"id":"r1","state":"halted"}`), now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		bodies, err := s.RolloutBodies(ctx)
		if err != nil || len(bodies) != 1 || string(bodies[0]) != `{"id":"r1","state":"halted"}` {
			t.Fatalf("rollouts %q %v", bodies, err)
		}
		rel := store.StoredRelease{Version: "v1.1.0", Size: 10, SHA256: "ab", Signer: "CN=x", File: "ab.raucb", PublishedBy: "it", PublishedAt: now}
		if err := s.AddRelease(ctx, rel); err != nil {
			t.Fatal(err)
		}
		if err := s.AddRelease(ctx, rel); err == nil {
			t.Fatal("a version was published twice")
		}
		got, ok, err := s.StoredReleaseByVersion(ctx, "v1.1.0")
		if err != nil || !ok || !got.PublishedAt.Equal(rel.PublishedAt) {
			t.Fatalf("release %+v %v %v; want %+v", got, ok, err, rel)
		}
		got.PublishedAt = rel.PublishedAt
		if got != rel {
			t.Fatalf("release %+v %v %v; want %+v", got, ok, err, rel)
		}
		if _, ok, _ := s.StoredReleaseByVersion(ctx, "v9"); ok {
			t.Fatal("found a release never published")
		}
		for i, a := range []string{"rollout.start", "rollout.halt"} {
			if err := s.AddAudit(ctx, store.AuditEntry{At: now.Add(time.Duration(i) * time.Second), Who: "it", Action: a, Subject: "r1"}); err != nil {
				t.Fatal(err)
			}
		}
		audit, err := s.Audit(ctx, 10)
		if err != nil || len(audit) != 2 || audit[0].Action != "rollout.halt" || !audit[1].At.Equal(now) {
			t.Fatalf("audit %+v %v", audit, err)
		}
	})
}

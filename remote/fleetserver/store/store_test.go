package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/ingest"
	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/store/storetest"
)

var ctx = context.Background()

func birth(kiosk, site, ward string, conn uint64) fleet.Status {
	return fleet.Status{V: 1, Kiosk: kiosk, Online: true, Conn: conn, Site: site, Ward: ward, AppVersion: "1.2.3", At: time.Now()}
}

// session returns the events of one session at a kiosk.
func session(kiosk string, start time.Time, kinds ...fleet.UsageEvent) []fleet.UsageEvent {
	out := []fleet.UsageEvent{{Kind: fleet.SessionStarted}}
	out = append(out, kinds...)
	for i := range out {
		out[i].V, out[i].ID, out[i].Kiosk = 1, fleet.NewEventID(), kiosk
		out[i].SessionAt = start
		out[i].At = start.Add(time.Duration(i) * 10 * time.Second)
	}
	return out
}

func TestMigrationsApplyOnce(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := t.TempDir() + "/fleet.db"
		for i := 0; i < 2; i++ {
			s, err := store.Open(ctx, path, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
		}
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := storetest.PostgresDSN(t)
		for i := 0; i < 2; i++ {
			s, err := store.Open(ctx, dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
		}
	})
}

// enrolled is where the enrolment service put the test kiosks.
var enrolled = store.EnrolledPlaces{"kiosk-0001": {Site: "leeds-gi", Ward: "ward-3"}, "kiosk-0002": {Site: "st-james", Ward: "ward-1"}}

func TestSaveRegistersAtEnrolledPlaceAndDeduplicates(t *testing.T) {
	storetest.Each(t, store.Options{Enrolment: enrolled}, func(t *testing.T, s *store.Store) {
		start := time.Date(2026, 10, 5, 9, 30, 0, 0, time.UTC) // a Monday, 10:30 in London
		evs := session("kiosk-0001", start,
			fleet.UsageEvent{Kind: fleet.MethodChosen, Method: "sms"},
			fleet.UsageEvent{Kind: fleet.CodeRefused},
			fleet.UsageEvent{Kind: fleet.CodeRefused},
			fleet.UsageEvent{Kind: fleet.Unlocked, DurationMS: 95_000, CardKey: strings.Repeat("ab", 32)},
			fleet.UsageEvent{Kind: fleet.PasscodeChanged})
		// The kiosk claims to be somewhere else, in its birth and in its events: neither counts.
		for i := range evs {
			evs[i].Site, evs[i].Ward = "st-james", "ward-9"
		}
		b := ingest.Batch{Statuses: []fleet.Status{birth("kiosk-0001", "st-james", "ward-9", 1)}, Events: evs}
		n, err := s.Save(ctx, b)
		if err != nil || n != len(evs) {
			t.Fatalf("save = %d, %v; want %d new", n, err, len(evs))
		}
		// The same events again (a kiosk resending): nothing new, the session is not counted twice.
		if n, err := s.Save(ctx, ingest.Batch{Events: evs}); n != 0 || err != nil {
			t.Fatalf("resave = %d, %v", n, err)
		}
		k, ok, err := s.Kiosk(ctx, "kiosk-0001")
		if !ok || err != nil || k.Site != "leeds-gi" || k.Ward != "ward-3" || k.Unregistered || !k.Online || k.AppVersion != "1.2.3" {
			t.Fatalf("kiosk = %+v, %v, %v", k, ok, err)
		}
		from, to := store.MonthPeriod(2026, time.October, s.Location())
		r, err := s.Report(ctx, store.ReportFilter{From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		want := store.Counts{Sessions: 1, Unlocks: 1, PasscodeChanges: 1, CodeFailures: 2, SMS: 1}
		if r.Total != want {
			t.Fatalf("totals = %+v, want %+v", r.Total, want)
		}
		if r.MedianUnlock != 95*time.Second || r.Heatmap[0][10] != 1 || len(r.BySite) != 1 || r.BySite[0].Site != "leeds-gi" {
			t.Fatalf("median %v, heat map Monday 10:00 = %d, sites %+v", r.MedianUnlock, r.Heatmap[0][10], r.BySite)
		}
		// An RA of the site the kiosk claimed sees nothing of it.
		r, err = s.Report(ctx, store.ReportFilter{From: from, To: to, Sites: []string{"st-james"}})
		if err != nil || r.Total != (store.Counts{}) {
			t.Fatalf("st-james report = %+v, %v; want nothing", r.Total, err)
		}
		// A later birth claiming another place does not move it either.
		s.Save(ctx, ingest.Batch{Statuses: []fleet.Status{birth("kiosk-0001", "wharfedale", "ward-2", 2)}})
		if k, _, _ := s.Kiosk(ctx, "kiosk-0001"); k.Site != "leeds-gi" || k.Ward != "ward-3" {
			t.Fatalf("a birth moved the kiosk to %s/%s", k.Site, k.Ward)
		}
	})
}

// TestUnknownKiosksAreStoredUnregistered: an event from a kiosk never heard of (no birth yet, no
// enrolment known) is stored, so acknowledging it is true; the kiosk is unregistered and its session
// is in no site's report until an IT admin places it, when its history follows it.
func TestUnknownKiosksAreStoredUnregistered(t *testing.T) {
	storetest.Each(t, store.Options{Enrolment: enrolled}, func(t *testing.T, s *store.Store) {
		start := time.Date(2026, 10, 6, 14, 0, 0, 0, time.UTC)
		stray := session("kiosk-0099", start, fleet.UsageEvent{Kind: fleet.Unlocked, DurationMS: 60_000})
		for i := range stray {
			stray[i].Site = "leeds-gi"
		}
		if n, err := s.Save(ctx, ingest.Batch{Events: stray}); n != len(stray) || err != nil {
			t.Fatalf("save = %d, %v; want %d new", n, err, len(stray))
		}
		if n, _ := s.CountEvents(ctx); n != len(stray) {
			t.Fatalf("events stored = %d, want %d", n, len(stray))
		}
		if got := s.IngestStats().Unregistered; got != int64(len(stray)) {
			t.Fatalf("unregistered messages = %d, want %d", got, len(stray))
		}
		k, ok, _ := s.Kiosk(ctx, "kiosk-0099")
		if !ok || !k.Unregistered || k.Site != "" {
			t.Fatalf("kiosk = %+v, %v; want it unregistered", k, ok)
		}
		from, to := store.MonthPeriod(2026, time.October, s.Location())
		if r, _ := s.Report(ctx, store.ReportFilter{From: from, To: to, Sites: []string{"leeds-gi"}}); r.Total.Sessions != 0 {
			t.Fatalf("leeds-gi report counts %d sessions of an unregistered kiosk", r.Total.Sessions)
		}
		if err := s.PlaceKiosk(ctx, "kiosk-0099", "wharfedale", "ward-2"); err != nil {
			t.Fatal(err)
		}
		r, err := s.Report(ctx, store.ReportFilter{From: from, To: to, Sites: []string{"wharfedale"}})
		if err != nil || r.Total.Sessions != 1 || r.Total.Unlocks != 1 {
			t.Fatalf("wharfedale report after placing = %+v, %v", r.Total, err)
		}
		if r, _ := s.Report(ctx, store.ReportFilter{From: from, To: to}); r.Total.Sessions != 1 {
			t.Fatalf("whole fleet report after placing = %+v: a session counted twice or lost", r.Total)
		}
		if err := s.PlaceKiosk(ctx, "kiosk-0099", "Wharfedale", "ward-2"); err == nil {
			t.Fatal("a place that is not a token was accepted")
		}
	})
}

// TestManualRegistrationKeepsNewKiosksUnregistered: with manual registration a kiosk's enrolment does
// not place it; its messages are stored, and an IT admin's PlaceKiosk registers it.
func TestManualRegistrationKeepsNewKiosksUnregistered(t *testing.T) {
	storetest.Each(t, store.Options{ManualRegistration: true, Enrolment: enrolled}, func(t *testing.T, s *store.Store) {
		if _, err := s.Save(ctx, ingest.Batch{Statuses: []fleet.Status{birth("kiosk-0001", "a", "b", 1)}}); err != nil {
			t.Fatal(err)
		}
		if k, ok, _ := s.Kiosk(ctx, "kiosk-0001"); !ok || !k.Unregistered || !k.Online {
			t.Fatalf("new kiosk = %+v, %v; want it online and unregistered", k, ok)
		}
		if err := s.PlaceKiosk(ctx, "kiosk-0001", "site-a", "ward-1"); err != nil {
			t.Fatal(err)
		}
		s.Save(ctx, ingest.Batch{Statuses: []fleet.Status{birth("kiosk-0001", "", "", 2)}})
		if k, ok, _ := s.Kiosk(ctx, "kiosk-0001"); !ok || !k.Online || k.Site != "site-a" || k.Unregistered {
			t.Fatalf("registered kiosk = %+v", k)
		}
	})
}

func TestStatusHealthCommandsAndAlerts(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		now := time.Now().UTC().Truncate(time.Millisecond)
		s.Save(ctx, ingest.Batch{Statuses: []fleet.Status{birth("kiosk-0001", "s", "w", 5)}})
		// A late Will of an older connection does not take the kiosk offline.
		s.Save(ctx, ingest.Batch{Statuses: []fleet.Status{{V: 1, Kiosk: "kiosk-0001", Conn: 4}}})
		if k, _, _ := s.Kiosk(ctx, "kiosk-0001"); !k.Online {
			t.Fatal("a stale Will took the kiosk offline")
		}
		for i := 0; i < 3; i++ {
			h := fleet.Health{V: 1, Kiosk: "kiosk-0001", At: now.Add(time.Duration(i-3) * time.Minute), Reader: "ready", OutboxDepth: i * 10}
			if _, err := s.Save(ctx, ingest.Batch{Health: []fleet.Health{h}}); err != nil {
				t.Fatal(err)
			}
		}
		hist, err := s.HealthHistory(ctx, "kiosk-0001", now.Add(-time.Hour), 10)
		if err != nil || len(hist) != 3 || hist[0].OutboxDepth != 20 {
			t.Fatalf("history = %+v, %v", hist, err)
		}
		if k, _, _ := s.Kiosk(ctx, "kiosk-0001"); k.OutboxDepth != 20 || k.Reader != "ready" {
			t.Fatalf("kiosk's latest health = %+v", k)
		}

		c := store.Command{ID: "c1", Kiosk: "kiosk-0001", Name: "reboot", IssuedBy: "admin", IssuedAt: now, Status: store.CommandSending}
		if err := s.AddCommand(ctx, c); err != nil {
			t.Fatal(err)
		}
		s.MarkCommand(ctx, "c1", store.CommandSent, "")
		res := func(st fleet.ResultStatus, at time.Time) ingest.Batch {
			return ingest.Batch{Results: []fleet.CommandResult{{V: 1, ID: "c1", Kiosk: "kiosk-0001", Status: st, At: at}}}
		}
		s.Save(ctx, res(fleet.ResultOK, now.Add(2*time.Second)))
		s.Save(ctx, res(fleet.ResultDeferred, now.Add(time.Second))) // late, older: ignored
		if got, _, _ := s.Command(ctx, "c1"); got.Status != "ok" {
			t.Fatalf("command = %+v", got)
		}

		a, opened, err := s.RaiseAlert(ctx, "kiosk-0001", "reader-missing", "no reader", now)
		if err != nil || !opened {
			t.Fatal(opened, err)
		}
		if _, again, _ := s.RaiseAlert(ctx, "kiosk-0001", "reader-missing", "no reader", now); again {
			t.Fatal("an open alert was raised twice")
		}
		if open, _ := s.OpenAlerts(ctx, []string{"other-site"}); len(open) != 0 {
			t.Fatalf("another site's alerts: %+v", open)
		}
		if open, _ := s.OpenAlerts(ctx, nil); len(open) != 1 || open[0].ID != a.ID {
			t.Fatalf("open alerts = %+v", open)
		}
		if _, cleared, _ := s.ClearAlert(ctx, "kiosk-0001", "reader-missing", now); !cleared {
			t.Fatal("alert not cleared")
		}
		if open, _ := s.OpenAlerts(ctx, nil); len(open) != 0 {
			t.Fatalf("open alerts after clearing = %+v", open)
		}
	})
}

func TestUsersAndSessions(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		if err := s.PutUser(ctx, store.User{Name: "ra1", Role: "ra", Sites: []string{"a", "b"}, PasswordHash: "$argon2id$x"}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSession(ctx, "hash1", "ra1", "csrf1", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		s.CreateSession(ctx, "hash2", "ra1", "csrf2", time.Now().Add(-time.Hour))
		u, csrf, ok, err := s.Session(ctx, "hash1")
		if !ok || err != nil || u.Name != "ra1" || csrf != "csrf1" || len(u.Sites) != 2 {
			t.Fatalf("session = %+v %q %v %v", u, csrf, ok, err)
		}
		if _, _, ok, _ := s.Session(ctx, "hash2"); ok {
			t.Fatal("an expired session was accepted")
		}
		s.DeleteSession(ctx, "hash1")
		if _, _, ok, _ := s.Session(ctx, "hash1"); ok {
			t.Fatal("a deleted session was accepted")
		}
	})
}

func TestReportFiltersBySiteAndRefusesBadPeriods(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		start := time.Date(2026, 9, 10, 12, 0, 0, 0, time.UTC)
		var sessions []store.Session
		for i, site := range []string{"a", "a", "b"} {
			sessions = append(sessions, store.Session{Kiosk: "kiosk-000" + string(rune('1'+i)), Site: site, Ward: "w",
				StartedAt: start.Add(time.Duration(i) * time.Hour), Started: true, Unlocked: true, UnlockMS: int64(60_000 * (i + 1)),
				Method: "email", CardKey: strings.Repeat("cd", 32)})
		}
		sessions = append(sessions, store.Session{Kiosk: "kiosk-0001", Site: "a", Ward: "w", StartedAt: start.Add(-time.Hour),
			Started: true, EndKind: "abandoned", EndStep: "enter-code", Reason: "", ErrorCode: "ERR1009"})
		if err := s.BulkLoad(ctx, sessions, nil); err != nil {
			t.Fatal(err)
		}
		from, to := store.MonthPeriod(2026, time.September, s.Location())
		r, err := s.Report(ctx, store.ReportFilter{From: from, To: to, Sites: []string{"a"}})
		if err != nil {
			t.Fatal(err)
		}
		if r.Total.Sessions != 3 || r.Total.Unlocks != 2 || r.Total.Abandoned != 1 || r.Total.ServiceErrors != 1 {
			t.Fatalf("site a totals = %+v", r.Total)
		}
		if r.RepeatCards != 1 || r.RepeatUnlocks != 1 || len(r.AbandonedByStep) != 1 || r.AbandonedByStep[0].Key != "enter-code" {
			t.Fatalf("repeats %d/%d, abandoned by step %+v", r.RepeatCards, r.RepeatUnlocks, r.AbandonedByStep)
		}
		if r.RAHoursSaved < 0.66 || r.RAHoursSaved > 0.67 {
			t.Fatalf("RA hours saved = %v, want 2 x 20 min", r.RAHoursSaved)
		}
		if len(r.Tables()) < 10 {
			t.Fatalf("only %d tables", len(r.Tables()))
		}
		if r, _ := s.Report(ctx, store.ReportFilter{From: from, To: to, Sites: []string{}}); r.Total.Sessions != 0 {
			t.Fatal("an empty site list saw sessions")
		}
		if _, err := s.Report(ctx, store.ReportFilter{From: to, To: from}); err == nil {
			t.Fatal("a backwards period was accepted")
		}
	})
}

// TestReportCountsEveryFigure ingests one session of each outcome, at two kiosks on two wards, and checks
// every figure an RA reads: totals, the groups, each breakdown, the weekly trend and the tables.
func TestReportCountsEveryFigure(t *testing.T) {
	places := store.EnrolledPlaces{"kiosk-0001": {Site: "leeds", Ward: "ward-1"}, "kiosk-0002": {Site: "leeds", Ward: "ward-2"}}
	storetest.Each(t, store.Options{Enrolment: places}, func(t *testing.T, s *store.Store) {
		mon := time.Date(2026, 10, 5, 9, 30, 0, 0, time.UTC) // a Monday, 10:30 in London
		at := func(days int) time.Time { return mon.AddDate(0, 0, days) }
		k1, k2 := "kiosk-0001", "kiosk-0002"
		var evs []fleet.UsageEvent
		add := func(kiosk string, start time.Time, kinds ...fleet.UsageEvent) {
			evs = append(evs, session(kiosk, start, kinds...)...)
		}
		add(k1, at(0), fleet.UsageEvent{Kind: fleet.MethodChosen, Method: "email"},
			fleet.UsageEvent{Kind: fleet.Unlocked, DurationMS: 80_000})
		add(k1, at(1), fleet.UsageEvent{Kind: fleet.MethodChosen, Method: "email"},
			fleet.UsageEvent{Kind: fleet.CodeRefused}, fleet.UsageEvent{Kind: fleet.Unlocked, DurationMS: 120_000})
		add(k1, at(7), fleet.UsageEvent{Kind: fleet.Ineligible, Reason: "no_email"})
		add(k1, at(7).Add(5*time.Minute), fleet.UsageEvent{Kind: fleet.Ineligible, Reason: "domain_not_allowed"})
		add(k2, at(8), fleet.UsageEvent{Kind: fleet.Ineligible, Reason: "certificates_expired"})
		add(k2, at(8).Add(5*time.Minute), fleet.UsageEvent{Kind: fleet.MethodChosen, Method: "sms"},
			fleet.UsageEvent{Kind: fleet.TimedOut, Step: "enter-code"})
		add(k2, at(9), fleet.UsageEvent{Kind: fleet.CardRemoved, Step: "choose-passcode"})
		add(k2, at(9).Add(5*time.Minute), fleet.UsageEvent{Kind: fleet.ErrorRaised, ErrorCode: "ERR1009"},
			fleet.UsageEvent{Kind: fleet.Abandoned, Step: "unlocking"})
		b := ingest.Batch{Statuses: []fleet.Status{birth(k1, "leeds", "ward-1", 1), birth(k2, "leeds", "ward-2", 1)}, Events: evs}
		if _, err := s.Save(ctx, b); err != nil {
			t.Fatal(err)
		}
		from, to := store.MonthPeriod(2026, time.October, s.Location())
		r, err := s.Report(ctx, store.ReportFilter{From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		want := store.Counts{Sessions: 8, Unlocks: 2, Abandoned: 1, TimedOut: 1, CardRemoved: 1, Ineligible: 3,
			CodeFailures: 1, ServiceErrors: 1, Email: 2, SMS: 1}
		if r.Total != want {
			t.Fatalf("totals = %+v, want %+v", r.Total, want)
		}
		if r.MedianUnlock != 80*time.Second { // of an even count, the lower middle value
			t.Errorf("median time to unlock = %v, want 80 s", r.MedianUnlock)
		}
		keys := func(kc []store.KeyCount) map[string]int {
			m := map[string]int{}
			for _, x := range kc {
				m[x.Key] = x.Count
			}
			return m
		}
		for name, got := range map[string]map[string]int{
			"ineligible by reason": keys(r.IneligibleByReason), "timed out by step": keys(r.TimedOutByStep),
			"card removed by step": keys(r.CardRemovedByStep), "abandoned by step": keys(r.AbandonedByStep),
			"errors by code": keys(r.ErrorsByCode),
		} {
			wantKeys := map[string]map[string]int{
				"ineligible by reason": {"no_email": 1, "domain_not_allowed": 1, "certificates_expired": 1},
				"timed out by step":    {"enter-code": 1}, "card removed by step": {"choose-passcode": 1},
				"abandoned by step": {"unlocking": 1}, "errors by code": {"ERR1009": 1},
			}[name]
			if len(got) != len(wantKeys) {
				t.Errorf("%s = %v, want %v", name, got, wantKeys)
			}
			for k, n := range wantKeys {
				if got[k] != n {
					t.Errorf("%s = %v, want %v", name, got, wantKeys)
				}
			}
		}
		if len(r.ByWard) != 2 || len(r.ByKiosk) != 2 || len(r.BySite) != 1 || r.BySite[0].Sessions != 8 {
			t.Fatalf("groups: %d sites, %d wards, %d kiosks", len(r.BySite), len(r.ByWard), len(r.ByKiosk))
		}
		for _, g := range r.ByKiosk {
			if g.Kiosk == k1 && (g.Ward != "ward-1" || g.Sessions != 4 || g.Unlocks != 2) ||
				g.Kiosk == k2 && (g.Ward != "ward-2" || g.Sessions != 4 || g.Unlocks != 0) {
				t.Errorf("by kiosk: %+v", g)
			}
		}
		weeks := map[string][2]int{}
		for _, w := range r.Weekly {
			weeks[w.Start.Format("2006-01-02")] = [2]int{w.Sessions, w.Unlocks}
		}
		if weeks["2026-10-05"] != [2]int{2, 2} || weeks["2026-10-12"] != [2]int{6, 0} {
			t.Errorf("weekly trend = %v", weeks)
		}
		if r.Heatmap[0][10] != 3 || r.Heatmap[1][10] != 3 || r.Heatmap[2][10] != 2 {
			t.Errorf("heat map at 10:00 = Mon %d, Tue %d, Wed %d", r.Heatmap[0][10], r.Heatmap[1][10], r.Heatmap[2][10])
		}
		tables := map[string]store.Table{}
		for _, tb := range r.Tables() {
			tables[tb.Name] = tb
		}
		for name, rows := range map[string]int{"by-ward": 2, "by-kiosk": 2, "ineligible-by-reason": 3, "timed-out-by-step": 1,
			"card-removed-by-step": 1, "abandoned-by-step": 1, "errors-by-code": 1, "busiest-hours": 7} {
			if len(tables[name].Rows) != rows {
				t.Errorf("table %s has %d rows, want %d", name, len(tables[name].Rows), rows)
			}
		}
	})
}

// TestHealthFallbackStored: the fallback a kiosk's health carries is stored and is the kiosk's while its
// latest health says so.
func TestHealthFallbackStored(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		now := time.Now().UTC().Truncate(time.Millisecond)
		s.Save(ctx, ingest.Batch{Statuses: []fleet.Status{birth("kiosk-0001", "s", "w", 1)}})
		h := fleet.Health{V: 1, Kiosk: "kiosk-0001", At: now.Add(-time.Minute), AppVersion: "1.2.0",
			FallbackFailedVersion: "1.3.0-1-gabcdef0", FallbackRunningVersion: "1.2.0"}
		if _, err := s.Save(ctx, ingest.Batch{Health: []fleet.Health{h}}); err != nil {
			t.Fatal(err)
		}
		if k, _, err := s.Kiosk(ctx, "kiosk-0001"); err != nil || k.FallbackFailed != "1.3.0-1-gabcdef0" || k.FallbackRunning != "1.2.0" {
			t.Fatalf("kiosk = %+v, %v", k, err)
		}
		h.At, h.FallbackFailedVersion, h.FallbackRunningVersion = now, "", ""
		if _, err := s.Save(ctx, ingest.Batch{Health: []fleet.Health{h}}); err != nil {
			t.Fatal(err)
		}
		if k, _, _ := s.Kiosk(ctx, "kiosk-0001"); k.FallbackFailed != "" || k.FallbackRunning != "" {
			t.Fatalf("a cleared fallback is still the kiosk's: %+v", k)
		}
	})
}

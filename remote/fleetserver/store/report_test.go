package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleetserver/seed"
	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/store/storetest"
)

// TestReportMeanings: reasons and error codes read in the error catalogue's words, in either spelling
// of a reason, and an unknown one says so rather than guessing.
func TestReportMeanings(t *testing.T) {
	for in, want := range map[string]string{
		"no-email":                 `ERR1002: "There is no email address on your profile"`,
		"no_email":                 `ERR1002: "There is no email address on your profile"`,
		"email-domain-not-allowed": "ERR1003",
		"certificates-expired":     "ERR1004",
		"card-not-genuine":         "ERR1005",
		"not-registered":           "ERR1001",
		"unspecified":              "did not record why",
		"something-new":            "does not know",
	} {
		if got := store.ReasonMeaning(in); !strings.Contains(got, want) {
			t.Errorf("ReasonMeaning(%q) = %q, want it to hold %q", in, got, want)
		}
	}
	if got := store.CodeMeaning("ERR2001"); !strings.Contains(got, `ERR2001: "Your smartcard could not be read"`) {
		t.Errorf("CodeMeaning(ERR2001) = %q", got)
	}
	if got := store.CodeMeaning("ERR9999"); !strings.Contains(got, "not in the error catalogue") {
		t.Errorf("CodeMeaning(ERR9999) = %q", got)
	}
}

// TestReportTotalsMatchReport: the cheap totals a comparison uses are the full report's, and the days
// add up to them.
func TestReportTotalsMatchReport(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t, store.Options{})
	loc := st.Location()
	from, to := store.MonthPeriod(2026, time.October, loc)
	if err := seed.Generate(ctx, seed.Usage{Places: seed.Places(6), From: from, To: to, SessionsPerMonth: 800, Seed: 3, Location: loc, NoEvents: true},
		func(s []store.Session, e []fleet.UsageEvent) error { return st.BulkLoad(ctx, s, e) }); err != nil {
		t.Fatal(err)
	}
	f := store.ReportFilter{From: from, To: to}
	full, err := st.Report(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	totals, err := st.ReportTotals(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if full.Total.Sessions == 0 || totals.Total != full.Total || totals.RAHoursSaved != full.RAHoursSaved || len(totals.BySite) != len(full.BySite) {
		t.Fatalf("totals %+v, full report %+v", totals.Total, full.Total)
	}
	var days store.Counts
	for _, d := range full.Daily {
		days.Sessions += d.Sessions
		days.Unlocks += d.Unlocks
	}
	if days.Sessions != full.Total.Sessions || days.Unlocks != full.Total.Unlocks || len(full.Daily) > 31 {
		t.Fatalf("%d days hold %d sessions and %d unlocks; the month %d and %d", len(full.Daily), days.Sessions, days.Unlocks,
			full.Total.Sessions, full.Total.Unlocks)
	}
}

package fleetserver_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/fleettest"
	"ssu-kiosk/remote/fleet/sim"
	"ssu-kiosk/remote/fleetserver/seed"
	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/store/storetest"
	"ssu-kiosk/remote/fleetserver/web"
)

// browser starts Debian's headless Chromium with a fresh profile; the test fails naming the package
// when it is missing.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found: install the Debian package chromium (apt-get install chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("ignore-certificate-errors", true),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelT)
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// shot saves a screenshot when FLEETD_SCREENSHOTS names a directory.
func shot(name string) chromedp.Action {
	dir := os.Getenv("FLEETD_SCREENSHOTS")
	return chromedp.ActionFunc(func(ctx context.Context) error {
		if dir == "" {
			return nil
		}
		var png []byte
		if err := chromedp.FullScreenshot(&png, 90).Do(ctx); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	})
}

// runRetrying runs actions that start with a navigation, once more if Chromium aborted the page load
// (net::ERR_ABORTED, seen now and then when a navigation follows a form's redirect).
func runRetrying(ctx context.Context, actions ...chromedp.Action) error {
	err := chromedp.Run(ctx, actions...)
	if err != nil && strings.Contains(err.Error(), "ERR_ABORTED") {
		time.Sleep(200 * time.Millisecond)
		err = chromedp.Run(ctx, actions...)
	}
	return err
}

// TestBrowserWalkThrough signs in with headless Chromium, looks at the fleet, sends a command to a
// simulated kiosk and sees its result, opens a usage report and downloads one of its CSVs.
func TestBrowserWalkThrough(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t, store.Options{Enrolment: simEnrolment(1)})
	loc := st.Location()
	month := time.Now().In(loc).AddDate(0, -1, 0)
	from, to := store.MonthPeriod(month.Year(), month.Month(), loc)
	if err := seed.Generate(ctx, seed.Usage{Places: seed.Places(8), From: from, To: to, SessionsPerMonth: 600, Seed: 7, Location: loc},
		func(s []store.Session, e []fleet.UsageEvent) error { return st.BulkLoad(ctx, s, e) }); err != nil {
		t.Fatal(err)
	}
	hash, _ := web.HashPassword([]byte("demo password 1234"), web.DefaultKDF)
	st.PutUser(ctx, store.User{Name: "admin", Role: web.RoleITAdmin, PasswordHash: hash})

	p := fleettest.NewPKI(t)
	b := fleettest.StartEmbedded(t, p)
	srv := startServer(t, p, b.URL(), st)
	f, err := sim.Start(ctx, sim.Config{Kiosks: 1, Broker: b.URL(), TLS: sim.FromCA(p.CA), HealthEvery: time.Second, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	fleettest.Eventually(t, 15*time.Second, func() bool { k, _, _ := st.Kiosk(ctx, "kiosk-0001"); return k.Online }, "the simulated kiosk is online")
	hs := httptest.NewTLSServer(srv.Web)
	defer hs.Close()

	want, err := st.Report(ctx, store.ReportFilter{From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	bctx := browser(t)
	var online, state, unlocks, csv string
	err = chromedp.Run(bctx,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitVisible(`#signin`),
		chromedp.SendKeys(`#name`, "admin"),
		chromedp.SendKeys(`#password`, "demo password 1234"),
		chromedp.Click(`#signin`),
		chromedp.WaitVisible(`#kiosks`),
	)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	err = runRetrying(bctx,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitVisible(`#kiosks`),
		chromedp.Text(`#kiosks tr[data-kiosk="kiosk-0001"]`, &online),
		shot("fleet"),
	)
	if err != nil {
		t.Fatalf("fleet view: %v", err)
	}
	err = runRetrying(bctx,
		chromedp.Navigate(hs.URL+"/kiosks/kiosk-0001"),
		chromedp.WaitVisible(`#cmd-maintenance-on`),
		chromedp.SendKeys(`#message`, "Back at 2pm"),
		chromedp.Click(`#cmd-maintenance-on`),
		chromedp.WaitVisible(`p.note`), // "Command … sent": the page after the redirect
	)
	if err != nil {
		t.Fatalf("send a command: %v", err)
	}
	if !strings.Contains(online, "online") || !strings.Contains(online, "sim-site") {
		t.Fatalf("fleet row of kiosk-0001: %q", online)
	}
	// The result arrives through the broker: reload until the page shows it.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var result string
		if err := runRetrying(bctx, chromedp.Navigate(hs.URL+"/kiosks/kiosk-0001"), chromedp.WaitVisible(`#command-list`),
			chromedp.Text(`#command-list tbody tr:first-child .result`, &result), chromedp.Text(`#maintenance`, &state)); err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(result) == "ok" && strings.TrimSpace(state) == "on" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("command result %q, maintenance %q: want ok and on", result, state)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if c := f.Kiosks[0].Counts(); !c.Maintenance || c.Message != "Back at 2pm" {
		t.Fatalf("the simulated kiosk's state: %+v", c)
	}
	q := "month=" + from.Format("2006-01")
	err = runRetrying(bctx, shot("kiosk"),
		chromedp.Navigate(hs.URL+"/reports?"+q),
		chromedp.WaitVisible(`#total-unlocks`),
		chromedp.Text(`#total-unlocks`, &unlocks),
		shot("report"),
		chromedp.Evaluate(`fetch(document.getElementById("csv-by-site").getAttribute("href")).then(r => r.text())`, &csv,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
	)
	if err != nil {
		t.Fatalf("usage report: %v", err)
	}
	if unlocks != strconv.Itoa(want.Total.Unlocks) || want.Total.Unlocks == 0 {
		t.Fatalf("report shows %q unlocks, want %d", unlocks, want.Total.Unlocks)
	}
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) != 2+len(want.BySite) || !strings.HasPrefix(lines[0], "Site,Sessions,Unlocks") ||
		!strings.HasPrefix(lines[len(lines)-1], fmt.Sprintf("Total,%d,%d,", want.Total.Sessions, want.Total.Unlocks)) {
		t.Fatalf("CSV by site:\n%s", csv)
	}
	first := want.BySite[0]
	if !strings.HasPrefix(lines[1], fmt.Sprintf("%s,%d,%d,", first.Site, first.Sessions, first.Unlocks)) {
		t.Fatalf("CSV row %q, want %s with %d sessions", lines[1], first.Site, first.Sessions)
	}
}

package web_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/ingest"
	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/store/storetest"
	"ssu-kiosk/remote/fleetserver/web"
)

// reportMonths are the months the report fixture seeds, relative to today.
type reportMonths struct {
	last, before, this time.Time // first day of last month, of the month before it, of this month
}

// Seeded counts: RA ra-a (site-a) had lastMonthUnlocks unlocks last month out of lastMonthSessions
// sessions, beforeUnlocks the month before; site-b's unlocks must never reach ra-a.
const (
	lastMonthUnlocks  = 7
	lastMonthSessions = 9 // and one card turned away (no email), one card that could not be read
	beforeUnlocks     = 4
	siteBUnlocks      = 5
)

// newReportFixture is a server whose store holds usage at site-a and site-b over the last three months.
func newReportFixture(t *testing.T) (*fixture, reportMonths) {
	t.Helper()
	ctx := context.Background()
	places := map[string][2]string{"kiosk-0001": {"site-a", "ward-1"}, "kiosk-0002": {"site-b", "ward-9"},
		"kiosk-0003": {"St Elsewhere University Hospitals Foundation Trust, Main Building", "Outpatients Department Level Four East Wing"}}
	// The kiosks' places come from their enrolment, as in ssu-fleetd (what a kiosk says of its place is
	// never used).
	enrolled := store.EnrolledPlaces{}
	for k, p := range places {
		enrolled[k] = store.Place{Site: p[0], Ward: p[1]}
	}
	st := storetest.SQLite(t, store.Options{Enrolment: enrolled})
	loc := st.Location()
	hash, err := web.HashPassword([]byte(password), web.DefaultKDF)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{{Name: "admin", Role: web.RoleITAdmin}, {Name: "ra-a", Role: web.RoleRA, Sites: []string{"site-a"}}} {
		u.PasswordHash = hash
		if err := st.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().In(loc)
	this := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	m := reportMonths{this: this, last: this.AddDate(0, -1, 0), before: this.AddDate(0, -2, 0)}
	b := ingest.Batch{}
	for k, p := range places {
		b.Statuses = append(b.Statuses, fleet.Status{V: 1, Kiosk: k, Online: true, Conn: 1, Site: p[0], Ward: p[1], At: now})
	}
	session := func(kiosk string, start time.Time, end fleet.UsageEvent) {
		p := places[kiosk]
		for j, e := range []fleet.UsageEvent{{Kind: fleet.SessionStarted}, {Kind: fleet.MethodChosen, Method: "email"}, end} {
			e.V, e.ID, e.Kiosk, e.Site, e.Ward, e.SessionAt = 1, fleet.NewEventID(), kiosk, p[0], p[1], start
			e.At = start.Add(time.Duration(j) * time.Minute)
			e.DurationMS = int64(j) * 60000
			b.Events = append(b.Events, e)
		}
	}
	day := func(month time.Time, d int) time.Time { return month.AddDate(0, 0, d-1).Add(10 * time.Hour) }
	unlocked := fleet.UsageEvent{Kind: fleet.Unlocked, Method: "email"}
	for i := range lastMonthUnlocks {
		session("kiosk-0001", day(m.last, 2+3*i), unlocked)
	}
	session("kiosk-0001", day(m.last, 4).Add(time.Hour), fleet.UsageEvent{Kind: fleet.Ineligible, Reason: "no-email"})
	session("kiosk-0001", day(m.last, 5).Add(time.Hour), fleet.UsageEvent{Kind: fleet.ErrorRaised, ErrorCode: "ERR2001"})
	for i := range beforeUnlocks {
		session("kiosk-0001", day(m.before, 3+i), unlocked)
	}
	for i := range siteBUnlocks {
		session("kiosk-0002", day(m.last, 10+i), unlocked)
	}
	session("kiosk-0003", day(m.last, 12), unlocked) // long names: the admin's tables must still fit
	if start := now.Add(-2 * time.Hour); start.After(this) {
		session("kiosk-0001", start, unlocked) // this month so far
	}
	if _, err := st.Save(ctx, b); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, sender: &sender{}}
	w, err := web.New(web.Config{Store: st, Commands: f.sender, Secure: true, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewTLSServer(w)
	t.Cleanup(f.srv.Close)
	return f, m
}

// TestReportDownloadAll: one ZIP holds every table's CSV, named by site and month, with the RA's own
// site only, totals rows, and the meanings of reasons and error codes from the error catalogue.
func TestReportDownloadAll(t *testing.T) {
	f, m := newReportFixture(t)
	ra := f.client(t, "ra-a")
	month := m.last.Format("2006-01")
	resp, err := ra.Get(f.srv.URL + "/reports/csv/all.zip?month=" + month)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	prefix := "ssu-usage_site-a_" + month
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), `filename="`+prefix+`.zip"`) {
		t.Fatalf("GET all.zip: %s %q %q", resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	var names []string
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[zf.Name] = string(b)
		names = append(names, zf.Name)
	}
	var want []string
	for _, table := range []string{"summary", "by-site", "by-ward", "by-kiosk", "abandoned-by-step", "timed-out-by-step",
		"card-removed-by-step", "ineligible-by-reason", "errors-by-code", "busiest-hours", "weekly-trend", "daily", "repeat-lockouts"} {
		want = append(want, prefix+"_"+table+".csv")
	}
	if !slices.Equal(names, want) {
		t.Fatalf("ZIP holds %q,\nwant %q", names, want)
	}
	bySite := files[prefix+"_by-site.csv"]
	row := fmt.Sprintf("site-a,%d,%d,", lastMonthSessions, lastMonthUnlocks)
	if !strings.Contains(bySite, "\n"+row) || !strings.Contains(bySite, "\nTotal,"+row[len("site-a,"):]) || strings.Contains(bySite, "site-b") {
		t.Errorf("by-site CSV lacks %q and its total, or holds site-b:\n%s", row, bySite)
	}
	if s := files[prefix+"_daily.csv"]; strings.Count(s, "\n") != 1+8+1 || // header, 8 days with sessions (the 5th has two), total
		!strings.HasSuffix(s, fmt.Sprintf("Total,%d,%d\n", lastMonthSessions, lastMonthUnlocks)) {
		t.Errorf("daily CSV does not hold the month's days and their total:\n%s", s)
	}
	if s := files[prefix+"_ineligible-by-reason.csv"]; !strings.Contains(s, `no-email,1,"The kiosk showed ERR1002: ""There is no email address on your profile"""`) {
		t.Errorf("ineligible-by-reason CSV does not say what no-email means:\n%s", s)
	}
	if s := files[prefix+"_errors-by-code.csv"]; !strings.Contains(s, `ERR2001,1,"The kiosk showed ERR2001: ""Your smartcard could not be read"""`) {
		t.Errorf("errors-by-code CSV does not say what ERR2001 means:\n%s", s)
	}
	// The same ZIP for a site the RA cannot see is refused.
	if code, _ := f.get(t, ra, "/reports/csv/all.zip?site=site-b&month="+month); code != 403 {
		t.Errorf("RA downloading site-b's ZIP: %d, want 403", code)
	}
}

// reportBrowser starts Debian's headless Chromium with a fresh profile (as the fleet server's walk-through
// test does); the test fails naming the package when it is missing.
func reportBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found: install the Debian package chromium (apt-get install chromium)")
	}
	// Not t.TempDir: Chromium's helper processes may still write into the profile for a moment after the
	// browser is gone, and t.TempDir fails the test when it cannot remove a folder.
	profile, err := os.MkdirTemp("", "ssu-report-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("ignore-certificate-errors", true),
		chromedp.WindowSize(1366, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		for range 50 { // until the helper processes have let go of the profile
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	ctx, cancelT := context.WithTimeout(ctx, 150*time.Second)
	t.Cleanup(cancelT)
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// reportShot saves a full-page screenshot when FLEETD_SCREENSHOTS names a directory.
func reportShot(name string) chromedp.Action {
	dir := os.Getenv("FLEETD_SCREENSHOTS")
	return chromedp.ActionFunc(func(ctx context.Context) error {
		if dir == "" {
			return nil
		}
		var png []byte
		if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil { // quality 100 gives a PNG
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	})
}

// signIn signs in through the sign-in form and waits for the page it lands on.
func signIn(t *testing.T, ctx context.Context, base, name, landed string) {
	t.Helper()
	if err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(`#signin`),
		chromedp.SendKeys(`#name`, name),
		chromedp.SendKeys(`#password`, password),
		chromedp.Click(`#signin`),
		chromedp.WaitVisible(landed),
	); err != nil {
		t.Fatalf("sign in as %s: %v", name, err)
	}
}

// overflow is how far a page is wider than the window (0 when it fits), and the scroll boxes that lack
// a role, a label or a tab stop.
const overflowJS = `(() => {
  const over = document.documentElement.scrollWidth - window.innerWidth;
  const bad = [...document.querySelectorAll(".scroll")].filter(e =>
    e.getAttribute("role") !== "region" || !e.getAttribute("aria-label") || e.getAttribute("tabindex") !== "0").length;
  return [over, bad];
})()`

// TestReportPagesInChromium: an RA lands on last month's report after signing in, with the seeded
// figure, and gets back to it in one click; every report page fits 1366x900 and a 390 px phone; the
// print view prints on A4 with no table cut off.
func TestReportPagesInChromium(t *testing.T) {
	f, m := newReportFixture(t)
	ctx := reportBrowser(t)
	base := f.srv.URL
	last, before, this := m.last.Format("2006-01"), m.before.Format("2006-01"), m.this.Format("2006-01")

	// An RA signs in and lands on last month.
	signIn(t, ctx, base, "ra-a", `#total-unlocks`)
	var unlocks, heading, change string
	if err := chromedp.Run(ctx, chromedp.Text(`#total-unlocks`, &unlocks), chromedp.Text(`h1`, &heading),
		chromedp.Text(`#change tbody tr:first-child`, &change)); err != nil {
		t.Fatal(err)
	}
	if unlocks != strconv.Itoa(lastMonthUnlocks) || !strings.Contains(heading, m.last.Format("January 2006")) {
		t.Fatalf("after sign-in the RA sees %q unlocks under %q, want %d in %s", unlocks, heading, lastMonthUnlocks, m.last.Format("January 2006"))
	}
	if want := fmt.Sprintf("+%d (+%d%%)", lastMonthUnlocks-beforeUnlocks, 100*(lastMonthUnlocks-beforeUnlocks)/beforeUnlocks); !strings.Contains(change, want) {
		t.Errorf("change against %s: %q, want %q", before, change, want)
	}
	// Numbers are right-aligned, and the tables that add up end in a totals row.
	var align, total string
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(`getComputedStyle(document.querySelector("#t-by-site tbody td.num")).textAlign`, &align),
		chromedp.Text(`#t-by-site tfoot tr`, &total),
	); err != nil {
		t.Fatal(err)
	}
	if align != "right" || !strings.HasPrefix(strings.Join(strings.Fields(total), " "), fmt.Sprintf("Total %d %d", lastMonthSessions, lastMonthUnlocks)) {
		t.Errorf("by-site numbers aligned %q, totals row %q", align, total)
	}
	// From another month, last month is one click away.
	if err := chromedp.Run(ctx,
		chromedp.Click(`#this-month`), chromedp.WaitVisible(`#this-month[aria-current]`),
		chromedp.Click(`#last-month`), chromedp.WaitVisible(`#last-month[aria-current]`),
		chromedp.Text(`#total-unlocks`, &unlocks),
	); err != nil {
		t.Fatal(err)
	}
	if unlocks != strconv.Itoa(lastMonthUnlocks) {
		t.Fatalf("one click on last month shows %q unlocks, want %d", unlocks, lastMonthUnlocks)
	}

	pages := []struct{ name, path, ready string }{
		// Each page's ready selector is found only on that page: a selector the page before also had (h1)
		// could be matched in the old document while the new one loads, and the wait then never ends.
		{"ra-last-month", "/reports", "#last-month[aria-current]"},
		{"ra-this-month", "/reports?month=" + this, "#this-month[aria-current]"},
		{"ra-no-usage", "/reports?month=2020-01", "#no-usage"},
		{"ra-print", "/reports/print?month=" + last, "#print-now"},
	}
	sizes := []struct{ w, h int64 }{{1366, 900}, {390, 844}}
	checkWidths := func() {
		for _, size := range sizes {
			for _, p := range pages {
				var res []int
				if err := chromedp.Run(ctx,
					chromedp.EmulateViewport(size.w, size.h),
					chromedp.Navigate(base+p.path), chromedp.WaitVisible(p.ready),
					chromedp.Evaluate(overflowJS, &res),
					reportShot(fmt.Sprintf("%s-%d", p.name, size.w)),
				); err != nil {
					t.Fatalf("%s at %d px: %v", p.path, size.w, err)
				}
				if res[0] > 0 {
					t.Errorf("%s at %dx%d is %d px wider than the window", p.path, size.w, size.h, res[0])
				}
				if res[1] > 0 {
					t.Errorf("%s: %d scroll boxes lack role=region, a label or tabindex=0", p.path, res[1])
				}
			}
		}
	}
	checkWidths()

	// An IT admin sees every site: the widest tables.
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(1366, 900), chromedp.Navigate(base+"/reports"),
		chromedp.Click(`.signout button`), chromedp.WaitVisible(`#signin`)); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, base, "admin", `#kiosks`)
	pages = []struct{ name, path, ready string }{
		{"admin-last-month", "/reports?month=" + last, "#total-unlocks"},
		{"admin-print", "/reports/print?month=" + last, "#print-now"},
	}
	checkWidths()

	// The print view as printed: the page at A4's printable width with print styles, then a PDF.
	const printableA4 = 186 * 96 * 10 / 254 // 210 mm less 12 mm margins, in CSS px (703)
	var tables []string
	var pdf []byte
	if err := chromedp.Run(ctx,
		chromedp.EmulateViewport(int64(printableA4), 1000),
		chromedp.Navigate(base+"/reports/print?month="+last), chromedp.WaitVisible(`#print-now`),
		emulation.SetEmulatedMedia().WithMedia("print"),
		chromedp.Evaluate(`[...document.querySelectorAll("table")].filter(t => t.scrollWidth > t.parentElement.clientWidth ||
			t.getBoundingClientRect().right > document.documentElement.clientWidth + 1).map(t => t.closest("section").id + " " + t.scrollWidth + ">" + t.parentElement.clientWidth)`, &tables),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var err error
			pdf, _, err = page.PrintToPDF().WithPaperWidth(8.27).WithPaperHeight(11.69).WithPreferCSSPageSize(true).Do(ctx)
			return err
		}),
	); err != nil {
		t.Fatal(err)
	}
	if len(tables) > 0 {
		t.Errorf("tables wider than the printed A4 page: %q", tables)
	}
	if dir := os.Getenv("FLEETD_SCREENSHOTS"); dir != "" {
		os.WriteFile(filepath.Join(dir, "print.pdf"), pdf, 0o644)
	}
	boxes := regexp.MustCompile(`/MediaBox\s*\[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]`).FindAllSubmatch(pdf, -1)
	if len(boxes) == 0 {
		t.Fatalf("no page sizes in the %d-byte PDF", len(pdf))
	}
	for i, b := range boxes {
		w, _ := strconv.ParseFloat(string(b[1]), 64)
		h, _ := strconv.ParseFloat(string(b[2]), 64)
		if w < 594 || w > 597 || h < 841 || h > 843 { // A4 portrait is 595.28 x 841.89 points
			t.Errorf("PDF page %d is %.1f x %.1f points, want A4 portrait (595 x 842)", i+1, w, h)
		}
	}
	t.Logf("print view: %d A4 pages, %d bytes of PDF", len(boxes), len(pdf))
}

// TestReportStatesAreAccessible runs the page checks of TestPagesAreAccessible on the report's other
// states: an RA's month with no usage, this month so far, and the print view.
func TestReportStatesAreAccessible(t *testing.T) {
	f, m := newReportFixture(t)
	ra := f.client(t, "ra-a")
	for _, page := range []string{"/reports", "/reports?month=2020-01", "/reports?month=" + m.this.Format("2006-01"),
		"/reports/print?month=" + m.last.Format("2006-01"), "/reports/print?month=2020-01"} {
		code, body := f.get(t, ra, page)
		if code != 200 {
			t.Fatalf("%s: %d", page, code)
		}
		checkAccessible(t, page, body)
		if strings.Contains(page, "2020-01") != strings.Contains(body, `id="no-usage"`) {
			t.Errorf("%s: the no-usage note is shown only when there was no usage", page)
		}
	}
}

// TestReportMonthLinks: a month links to the month before and after it, the current month is "so far"
// with nothing after it, and a month not yet started is refused in words.
func TestReportMonthLinks(t *testing.T) {
	f, m := newReportFixture(t)
	ra := f.client(t, "ra-a")
	last, before, this := m.last.Format("2006-01"), m.before.Format("2006-01"), m.this.Format("2006-01")
	_, body := f.get(t, ra, "/reports")
	for _, want := range []string{`href="/reports?month=` + before + `" id="prev-month"`, `href="/reports?month=` + this + `" id="next-month"`,
		`id="last-month" aria-current="page"`, "Usage report: " + m.last.Format("January 2006") + "</h1>"} {
		if !strings.Contains(body, want) {
			t.Errorf("last month's report lacks %q", want)
		}
	}
	_, body = f.get(t, ra, "/reports?site=site-a&month="+this)
	if !strings.Contains(body, m.this.Format("January 2006")+" so far") || strings.Contains(body, `id="next-month"`) ||
		!strings.Contains(body, `href="/reports?month=`+last+`&amp;site=site-a" id="prev-month"`) {
		t.Errorf("this month's report is not labelled so far, links past it, or loses the site:\n%.3000s", body)
	}
	// A range of dates: its own heading, daily bars, no month comparison, downloads named by the range.
	rng := "from=" + m.last.Format("2006-01-02") + "&to=" + m.last.AddDate(0, 0, 9).Format("2006-01-02")
	code, body := f.get(t, ra, "/reports?"+rng)
	if code != 200 || !strings.Contains(body, `class="chart daily"`) || strings.Contains(body, `id="change"`) ||
		!strings.Contains(body, "Usage report: "+m.last.Format("2 Jan 2006")+" to ") {
		t.Errorf("a range of dates: %d\n%.3000s", code, body)
	}
	resp, err := ra.Get(f.srv.URL + "/reports/csv/by-site?" + rng)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "ssu-usage_site-a_" + m.last.Format("2006-01-02") + "_to_"; !strings.Contains(resp.Header.Get("Content-Disposition"), want) {
		t.Errorf("a range's CSV is named %q, want it to hold %q", resp.Header.Get("Content-Disposition"), want)
	}
	code, body = f.get(t, ra, "/reports?month="+m.this.AddDate(0, 1, 0).Format("2006-01"))
	if code != 400 || !strings.Contains(body, "has not started yet") {
		t.Errorf("next month: %d\n%.2000s", code, body)
	}
}

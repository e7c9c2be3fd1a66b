package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/ingest"
	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/store/storetest"
	"ssu-kiosk/remote/fleetserver/web"
)

// sender is a fake CommandSender that records what it was asked to send.
type sender struct {
	mu   sync.Mutex
	sent []fleet.Command
}

func (s *sender) Send(_ context.Context, kiosk string, c fleet.Command) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, c)
	return nil
}

func (s *sender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

const password = "correct horse battery staple"

type fixture struct {
	srv    *httptest.Server
	st     *store.Store
	sender *sender
}

// newFixture serves the web side over a store with two kiosks and three accounts; opts adjust its
// configuration.
func newFixture(t *testing.T, opts ...func(*web.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	st := storetest.SQLite(t, store.Options{Enrolment: store.EnrolledPlaces{
		"kiosk-0001": {Site: "site-a", Ward: "w1"}, "kiosk-0002": {Site: "site-b", Ward: "w1"}}})
	hash, err := web.HashPassword([]byte(password), web.DefaultKDF)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{
		{Name: "admin", Role: web.RoleITAdmin}, {Name: "viewer", Role: web.RoleViewer},
		{Name: "ra-a", Role: web.RoleRA, Sites: []string{"site-a"}},
	} {
		u.PasswordHash = hash
		if err := st.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	b := ingest.Batch{Statuses: []fleet.Status{
		{V: 1, Kiosk: "kiosk-0001", Online: true, Conn: 1, Site: "site-a", Ward: "w1", At: now},
		{V: 1, Kiosk: "kiosk-0002", Online: true, Conn: 1, Site: "site-b", Ward: "w1", At: now},
	}}
	for i, k := range []string{"kiosk-0001", "kiosk-0002"} {
		start := time.Date(2026, 10, 14, 10, 0, 0, 0, time.UTC).Add(-time.Duration(i) * time.Hour)
		for j, kind := range []fleet.EventKind{fleet.SessionStarted, fleet.MethodChosen, fleet.Unlocked} {
			b.Events = append(b.Events, fleet.UsageEvent{V: 1, ID: fleet.NewEventID(), Kind: kind, Kiosk: k, At: start.Add(time.Duration(j) * time.Minute),
				SessionAt: start, Method: "email", DurationMS: int64(j) * 60000})
		}
	}
	if _, err := st.Save(ctx, b); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, sender: &sender{}}
	cfg := web.Config{Store: st, Commands: f.sender, Secure: true, Log: slog.New(slog.DiscardHandler),
		Metrics: web.NewMetrics(st, nil)}
	for _, o := range opts {
		o(&cfg)
	}
	w, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewTLSServer(w)
	t.Cleanup(f.srv.Close)
	return f
}

// client returns an HTTPS client that does not follow redirects, signed in as name ("" for none).
func (f *fixture) client(t *testing.T, name string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := f.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if name != "" {
		resp, err := c.PostForm(f.srv.URL+"/login", url.Values{"name": {name}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in as %s: %s", name, resp.Status)
		}
		var secure bool
		for _, ck := range resp.Cookies() {
			secure = ck.Secure && ck.HttpOnly
		}
		if !secure {
			t.Fatal("the session cookie is not Secure and HttpOnly")
		}
	}
	return c
}

func (f *fixture) get(t *testing.T, c *http.Client, path string) (int, string) {
	t.Helper()
	resp, err := c.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) csrf(t *testing.T, c *http.Client) string {
	_, body := f.get(t, c, "/api/me")
	i := strings.Index(body, `"csrf_token": "`)
	if i < 0 {
		t.Fatalf("no csrf token in %s", body)
	}
	rest := body[i+len(`"csrf_token": "`):]
	return rest[:strings.IndexByte(rest, '"')]
}

func (f *fixture) post(t *testing.T, c *http.Client, path string, form url.Values) int {
	t.Helper()
	resp, err := c.PostForm(f.srv.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestLoggedOutRequestsAreRefused(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, "")
	for _, p := range []string{"/", "/kiosks/kiosk-0001", "/alerts", "/reports", "/reports/csv/by-site", "/reports/print"} {
		if code, _ := f.get(t, c, p); code != http.StatusSeeOther {
			t.Errorf("GET %s logged out: %d, want a redirect to sign in", p, code)
		}
	}
	for _, p := range []string{"/api/kiosks", "/api/reports", "/api/alerts", "/api/me"} {
		if code, _ := f.get(t, c, p); code != http.StatusUnauthorized {
			t.Errorf("GET %s logged out: %d, want 401", p, code)
		}
	}
	if code := f.post(t, c, "/kiosks/kiosk-0001/commands", url.Values{"name": {"reboot"}}); code != http.StatusUnauthorized {
		t.Errorf("POST a command logged out: %d", code)
	}
	if f.sender.count() != 0 {
		t.Fatal("a command was sent")
	}
	if code, _ := f.get(t, c, "/login"); code != http.StatusOK {
		t.Fatal("the sign-in page is not public")
	}
	if code, _ := f.get(t, c, "/metrics"); code != http.StatusNotFound {
		t.Fatalf("metrics on the public listener without a token configured: %d, want 404", code)
	}
}

func TestRACannotCommandOrReadOtherSites(t *testing.T) {
	f := newFixture(t)
	ra := f.client(t, "ra-a")
	token := f.csrf(t, ra)
	if code := f.post(t, ra, "/kiosks/kiosk-0001/commands", url.Values{"csrf": {token}, "name": {"reboot"}}); code != http.StatusForbidden {
		t.Errorf("RA sending a command: %d, want 403", code)
	}
	if code, _ := f.get(t, ra, "/reports?site=site-b"); code != http.StatusForbidden {
		t.Errorf("RA reading another site's report: %d, want 403", code)
	}
	if code, _ := f.get(t, ra, "/reports/csv/by-site?site=site-b"); code != http.StatusForbidden {
		t.Errorf("RA reading another site's CSV: %d, want 403", code)
	}
	if code, _ := f.get(t, ra, "/api/reports?site=site-b"); code != http.StatusForbidden {
		t.Errorf("RA reading another site's report through the API: %d, want 403", code)
	}
	if code, _ := f.get(t, ra, "/kiosks/kiosk-0002"); code != http.StatusForbidden {
		t.Errorf("RA reading a kiosk page: %d, want 403", code)
	}
	// Their own report holds only their site, even without naming it.
	code, body := f.get(t, ra, "/reports/csv/by-site?month=2026-10")
	if code != http.StatusOK || !strings.Contains(body, "site-a,1,1") || strings.Contains(body, "site-b") {
		t.Fatalf("RA's own CSV: %d\n%s", code, body)
	}
	if f.sender.count() != 0 {
		t.Fatal("a command was sent")
	}
}

func TestITAdminCommandsNeedCSRF(t *testing.T) {
	f := newFixture(t)
	admin := f.client(t, "admin")
	if code := f.post(t, admin, "/kiosks/kiosk-0001/commands", url.Values{"name": {"identify"}}); code != http.StatusForbidden {
		t.Fatalf("command without a CSRF token: %d, want 403", code)
	}
	token := f.csrf(t, admin)
	if code := f.post(t, admin, "/kiosks/kiosk-0001/commands", url.Values{"csrf": {token}, "name": {"identify"}}); code != http.StatusSeeOther {
		t.Fatalf("command: %d, want 303", code)
	}
	if f.sender.count() != 1 || f.sender.sent[0].Name != fleet.CmdIdentify {
		t.Fatalf("sent %+v", f.sender.sent)
	}
	cmds, _ := f.st.Commands(context.Background(), "kiosk-0001", 5)
	if len(cmds) != 1 || cmds[0].Status != store.CommandSent || cmds[0].IssuedBy != "admin" {
		t.Fatalf("recorded %+v", cmds)
	}
	viewer := f.client(t, "viewer")
	if code := f.post(t, viewer, "/kiosks/kiosk-0001/commands", url.Values{"csrf": {f.csrf(t, viewer)}, "name": {"reboot"}}); code != http.StatusForbidden {
		t.Fatalf("viewer sending a command: %d, want 403", code)
	}
	if code, body := f.get(t, viewer, "/"); code != http.StatusOK || !strings.Contains(body, "kiosk-0002") {
		t.Fatalf("viewer's fleet view: %d", code)
	}
}

func TestJSONAPI(t *testing.T) {
	f := newFixture(t)
	viewer := f.client(t, "viewer")
	code, body := f.get(t, viewer, "/api/kiosks?site=site-b")
	var kiosks struct {
		Kiosks []store.Kiosk `json:"kiosks"`
	}
	if err := json.Unmarshal([]byte(body), &kiosks); code != http.StatusOK || err != nil || len(kiosks.Kiosks) != 1 ||
		kiosks.Kiosks[0].ID != "kiosk-0002" || !kiosks.Kiosks[0].Online || !strings.Contains(body, `"outbox_depth"`) {
		t.Fatalf("GET /api/kiosks: %d %v\n%s", code, err, body)
	}
	code, body = f.get(t, viewer, "/api/reports?from=2000-01-01&to=2100-01-01")
	if code != http.StatusBadRequest {
		t.Fatalf("a report over a century: %d", code)
	}
	code, body = f.get(t, viewer, "/api/reports?month=2026-10")
	var rep struct {
		Report store.Report `json:"report"`
	}
	if err := json.Unmarshal([]byte(body), &rep); code != http.StatusOK || err != nil || rep.Report.Total.Unlocks != 2 {
		t.Fatalf("GET /api/reports: %d %v\n%.400s", code, err, body)
	}
}

func TestLoginIsRateLimited(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, "")
	for i := 0; i < 5; i++ {
		if code := f.post(t, c, "/login", url.Values{"name": {"admin"}, "password": {"wrong password here"}}); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i, code)
		}
	}
	if code := f.post(t, c, "/login", url.Values{"name": {"admin"}, "password": {password}}); code != http.StatusTooManyRequests {
		t.Fatalf("sign-in after 5 failures: %d, want 429", code)
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := web.HashPassword([]byte(password), web.DefaultKDF)
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q, %v", h, err)
	}
	if !web.CheckPassword(h, []byte(password)) || web.CheckPassword(h, []byte("correct horse battery stapler")) {
		t.Fatal("check password is wrong")
	}
	if _, err := web.HashPassword([]byte("short"), web.DefaultKDF); err == nil {
		t.Fatal("a short password was accepted")
	}
}

// TestReportTablesCSVAndPrint: every table of the report downloads as CSV, and the report page and its
// print view carry the figures, SVG charts and no script the page needs to read them.
func TestReportTablesCSVAndPrint(t *testing.T) {
	f := newFixture(t, func(c *web.Config) { c.MetricsToken = []byte(metricsToken) })
	c := f.client(t, "viewer")
	for _, name := range []string{"summary", "by-site", "by-ward", "by-kiosk", "abandoned-by-step", "timed-out-by-step",
		"card-removed-by-step", "ineligible-by-reason", "errors-by-code", "busiest-hours", "weekly-trend", "repeat-lockouts"} {
		resp, err := c.Get(f.srv.URL + "/reports/csv/" + name + "?month=2026-10")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
			!strings.Contains(resp.Header.Get("Content-Disposition"), name) || len(strings.Split(strings.TrimSpace(string(body)), "\n")) < 1 {
			t.Errorf("CSV %s: %s %q\n%s", name, resp.Status, resp.Header.Get("Content-Type"), body)
		}
	}
	if code, body := f.get(t, c, "/reports/csv/by-site?month=2026-10"); code != http.StatusOK ||
		!strings.Contains(body, "site-a,1,1,") || !strings.Contains(body, "site-b,1,1,") {
		t.Errorf("by-site CSV: %d\n%s", code, body)
	}
	if code, _ := f.get(t, c, "/reports/csv/no-such-table?month=2026-10"); code != http.StatusNotFound {
		t.Errorf("unknown table: %d, want 404", code)
	}
	for _, page := range []string{"/reports?month=2026-10", "/reports/print?month=2026-10"} {
		code, body := f.get(t, c, page)
		if code != http.StatusOK {
			t.Fatalf("%s: %d", page, code)
		}
		for _, want := range []string{"<table", `<svg class="chart heatmap"`, `<svg class="chart trend"`, "RA hours saved"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %q", page, want)
			}
		}
	}
	if _, body := f.get(t, c, "/reports/print?month=2026-10"); !strings.Contains(body, "/static/print.css") {
		t.Error("the print view does not use the print style sheet")
	}
	code, body := f.getBearer(t, "/metrics", metricsToken)
	for _, want := range []string{"ssu_fleet_kiosks_online 2", "ssu_fleet_events_ingested_total", "ssu_fleet_ingest_lag_seconds"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestITAdminRegistersAnUnregisteredKiosk: a kiosk the fleet server knows only by its messages shows as
// unregistered; a viewer or an RA cannot place it; an IT admin registers it at a site on its page.
func TestITAdminRegistersAnUnregisteredKiosk(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.st.Save(ctx, ingest.Batch{Statuses: []fleet.Status{{V: 1, Kiosk: "kiosk-0077", Online: true, Conn: 1,
		Site: "site-a", Ward: "w1", At: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"viewer", "ra-a"} {
		c := f.client(t, who)
		if code := f.post(t, c, "/kiosks/kiosk-0077/place", url.Values{"csrf": {f.csrf(t, c)}, "site": {"site-a"}, "ward": {"w1"}}); code != http.StatusForbidden {
			t.Errorf("%s placed a kiosk: %d", who, code)
		}
	}
	admin := f.client(t, "admin") // the fixture's clients share one http.Client: sign in last
	if _, body := f.get(t, admin, "/"); !strings.Contains(body, "unregistered") {
		t.Fatal("the fleet page does not show the kiosk as unregistered")
	}
	csrf := f.csrf(t, admin)
	if code := f.post(t, admin, "/kiosks/kiosk-0077/place", url.Values{"site": {"site-a"}, "ward": {"w1"}}); code != http.StatusForbidden {
		t.Errorf("placing without the CSRF token: %d", code)
	}
	if code := f.post(t, admin, "/kiosks/kiosk-0077/place", url.Values{"csrf": {csrf}, "site": {"Site A"}, "ward": {"W1"}}); code != http.StatusSeeOther {
		t.Fatalf("place: %d", code)
	}
	if k, _, _ := f.st.Kiosk(ctx, "kiosk-0077"); k.Site != "site-a" || k.Ward != "w1" || k.Unregistered {
		t.Fatalf("kiosk after placing = %+v", k)
	}
	if _, body := f.get(t, admin, "/kiosks/kiosk-0077"); !strings.Contains(body, "site-a / w1") {
		t.Fatal("the kiosk page does not show its place")
	}
}

// TestKioskPageShowsADiskFullOutbox: the kiosk page says when a kiosk's outbox cannot write and how
// many events were lost or dropped.
func TestKioskPageShowsADiskFullOutbox(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.st.Save(ctx, ingest.Batch{Health: []fleet.Health{{V: 1, Kiosk: "kiosk-0001", At: time.Now().UTC(), Reader: "ready",
		OutboxDepth: 4, OutboxFull: true, OutboxLost: 7, OutboxDropped: 2}}}); err != nil {
		t.Fatal(err)
	}
	_, body := f.get(t, f.client(t, "viewer"), "/kiosks/kiosk-0001")
	for _, want := range []string{"disk full", "7 events lost", "2 oldest events dropped"} {
		if !strings.Contains(body, want) {
			t.Errorf("the kiosk page lacks %q", want)
		}
	}
}

// TestKioskPageShowsAFallback: a kiosk whose latest health says it fell back is shown as rolled back,
// naming the version that failed and the one it is back on; the next health without it clears it.
func TestKioskPageShowsAFallback(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := time.Now().UTC()
	if _, err := f.st.Save(ctx, ingest.Batch{Health: []fleet.Health{{V: 1, Kiosk: "kiosk-0001", At: now.Add(-time.Second), Reader: "ready",
		AppVersion: "1.2.0", FallbackFailedVersion: "1.3.0", FallbackRunningVersion: "1.2.0"}}}); err != nil {
		t.Fatal(err)
	}
	viewer := f.client(t, "viewer")
	if _, body := f.get(t, viewer, "/kiosks/kiosk-0001"); !strings.Contains(body, "Rolled back: 1.3.0 failed, back on 1.2.0") {
		t.Error("the kiosk page does not show the fallback")
	}
	if _, err := f.st.Save(ctx, ingest.Batch{Health: []fleet.Health{{V: 1, Kiosk: "kiosk-0001", At: now, Reader: "ready",
		AppVersion: "1.3.0"}}}); err != nil {
		t.Fatal(err)
	}
	if _, body := f.get(t, viewer, "/kiosks/kiosk-0001"); strings.Contains(body, "Rolled back") {
		t.Error("the kiosk page still shows a fallback its latest health does not have")
	}
}

package main

import (
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the fleet server's SQLite store
)

var dashboardRE = regexp.MustCompile(`Fleet dashboard: (\S+)\s+\(sign in as admin, password (\S+)\)`)

// fleetSawUnlock checks that the demo's fleet server stored the demo kiosk's unlock session, each event
// once, and that the printed dashboard login works and shows the kiosk online with the version the
// binary was stamped with.
func fleetSawUnlock(t *testing.T, k *kiosk) {
	t.Helper()
	var dashboard, password string
	k.out.mu.Lock()
	for _, l := range k.out.all {
		if m := dashboardRE.FindStringSubmatch(l); m != nil {
			dashboard, password = m[1], m[2]
		}
	}
	k.out.mu.Unlock()
	if dashboard == "" {
		t.Fatalf("the demo did not print the fleet dashboard and its login:\n%s", strings.Join(k.out.all, "\n"))
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(k.dir, "fleet", "fleet.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var kinds string
	var total, distinct, sessions int
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := db.QueryRow(`SELECT COALESCE(GROUP_CONCAT(kind, ' '), ''), COUNT(*), COUNT(DISTINCT id), COUNT(DISTINCT session_at)
			FROM (SELECT * FROM events WHERE kiosk = 'demo-kiosk' ORDER BY at)`).Scan(&kinds, &total, &distinct, &sessions)
		if err == nil && strings.Contains(kinds, "unlocked") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fleet server has no unlock from the demo kiosk after 30 s (events %q, err %v)\n%s", kinds, err, k.log.dump())
		}
		time.Sleep(200 * time.Millisecond)
	}
	var versions string
	if err := db.QueryRow(`SELECT COALESCE(GROUP_CONCAT(DISTINCT app_version), '') FROM events WHERE kiosk = 'demo-kiosk'`).Scan(&versions); err != nil || versions != e2eVersion {
		t.Errorf("the demo kiosk's events carry app versions %q (%v), want %q", versions, err, e2eVersion)
	}
	if total != distinct || sessions != 1 || !strings.HasPrefix(kinds, "session_started ") || !strings.Contains(kinds, "method_chosen") {
		t.Errorf("fleet events %q: %d stored, %d distinct, %d sessions", kinds, total, distinct, sessions)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := c.PostForm(dashboard+"login", url.Values{"name": {"admin"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get(dashboard + "api/kiosks/demo-kiosk")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The demo kiosk has no enrolment record (its certificate comes straight from the demo CA), so
	// ssu-fleetd --demo files it at its demo place, st-james; what the kiosk says of its own site is
	// never used.
	var answer struct {
		Kiosk struct {
			Online     bool      `json:"online"`
			AppVersion string    `json:"app_version"`
			Site       string    `json:"site"`
			LastHealth time.Time `json:"last_health"`
		} `json:"kiosk"`
	}
	if err := json.Unmarshal(body, &answer); resp.StatusCode != http.StatusOK || err != nil || !answer.Kiosk.Online ||
		answer.Kiosk.Site != "st-james" || answer.Kiosk.LastHealth.IsZero() || answer.Kiosk.AppVersion != e2eVersion {
		t.Errorf("dashboard API with the printed login: %s %+v %v", resp.Status, answer, err)
	}
	// The fleet page's Version column.
	resp, err = c.Get(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "<td>"+e2eVersion+"</td>") {
		t.Errorf("the fleet page does not show the demo kiosk's version %s", e2eVersion)
	}
}

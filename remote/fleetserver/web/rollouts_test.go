package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"ssu-kiosk/provisioning/update"
	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleetserver/releases"
	"ssu-kiosk/remote/fleetserver/rollout"
	"ssu-kiosk/remote/fleetserver/web"
)

// bodyVerifier accepts a "bundle" whose text is its version, and refuses one that starts with "bad".
type bodyVerifier struct{}

func (bodyVerifier) Verify(_ context.Context, path string) (update.Verified, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return update.Verified{}, err
	}
	if strings.HasPrefix(string(b), "bad") {
		return update.Verified{}, &update.RefusedError{Bundle: path, Reason: update.ErrSignature, Detail: "signed by an unknown key"}
	}
	return update.Verified{Bundle: update.Bundle{Version: string(b)}, Signer: "CN=test release"}, nil
}

type nopSender struct{}

func (nopSender) Send(context.Context, string, fleet.Command) error { return nil }

func withRollouts(t *testing.T) func(*web.Config) {
	return func(cfg *web.Config) {
		st := cfg.Store.(interface {
			rollout.Store
			releases.Store
		})
		cat := &releases.Catalog{Dir: t.TempDir(), Store: st, Verifier: bodyVerifier{}, BaseURL: "https://fleet.test:8444"}
		m, err := rollout.NewManager(context.Background(), rollout.Config{Store: st, Sender: nopSender{}, Releases: cat,
			Fleet: rollout.StoreFleet{Store: cfg.Store}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Releases, cfg.Rollouts = cat, m
	}
}

func (f *fixture) send(t *testing.T, c *http.Client, method, path, csrf, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, out.String()
}

func TestReleasesAndRolloutsAreForITAdminsOnly(t *testing.T) {
	f := newFixture(t, withRollouts(t))
	for _, who := range []string{"viewer", "ra-a"} {
		c := f.client(t, who)
		csrf := f.csrf(t, c)
		for _, req := range [][2]string{{"GET", "/api/releases"}, {"POST", "/api/releases"}, {"GET", "/api/rollouts"},
			{"POST", "/api/rollouts"}, {"POST", "/api/rollouts/x/abort"}} {
			if code, _ := f.send(t, c, req[0], req[1], csrf, "v9.9.9"); code != http.StatusForbidden {
				t.Errorf("%s %s %s: %d; want 403", who, req[0], req[1], code)
			}
		}
	}
	if code, _ := f.send(t, f.client(t, ""), "POST", "/api/releases", "", "v9.9.9"); code != http.StatusUnauthorized {
		t.Errorf("signed out publish: %d; want 401", code)
	}
}

func TestPublishStartPauseAbort(t *testing.T) {
	f := newFixture(t, withRollouts(t))
	c := f.client(t, "admin")
	csrf := f.csrf(t, c)
	if code, _ := f.send(t, c, "POST", "/api/releases", "", "v1.1.0"); code != http.StatusForbidden {
		t.Fatalf("publish without the CSRF token: %d", code)
	}
	code, body := f.send(t, c, "POST", "/api/releases", csrf, "bad bundle")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "not signed by a trusted key") {
		t.Fatalf("a bundle that does not verify: %d %s", code, body)
	}
	code, body = f.send(t, c, "POST", "/api/releases", csrf, "v1.1.0")
	if code != http.StatusCreated || !strings.Contains(body, `"signer": "CN=test release"`) {
		t.Fatalf("publish: %d %s", code, body)
	}
	if code, _ := f.send(t, c, "POST", "/api/releases", csrf, "v1.1.0"); code != http.StatusConflict {
		t.Fatalf("publishing a version again: %d; want 409", code)
	}
	code, body = f.send(t, c, "POST", "/api/rollouts", csrf, `{"version": "v1.1.0", "canary": 1, "soak": "1h"}`)
	if code != http.StatusCreated {
		t.Fatalf("start: %d %s", code, body)
	}
	var ro struct {
		ID    string `json:"id"`
		State string `json:"state"`
		Waves int    `json:"waves"`
	}
	json.Unmarshal([]byte(body), &ro)
	if ro.State != "running" || ro.Waves != 2 {
		t.Fatalf("started %s", body)
	}
	if code, body := f.send(t, c, "POST", "/api/rollouts", csrf, `{"version": "v1.1.0"}`); code != http.StatusConflict {
		t.Fatalf("a second rollout at once: %d %s", code, body)
	}
	for _, step := range []struct{ action, state string }{{"pause", "paused"}, {"resume", "running"}, {"abort", "aborted"}} {
		code, body := f.send(t, c, "POST", "/api/rollouts/"+ro.ID+"/"+step.action, csrf, "")
		if code != http.StatusOK || !strings.Contains(body, `"state": "`+step.state+`"`) {
			t.Fatalf("%s: %d %s", step.action, code, body)
		}
	}
	if code, _ := f.send(t, c, "POST", "/api/rollouts/"+ro.ID+"/resume", csrf, ""); code != http.StatusConflict {
		t.Fatalf("resuming an aborted rollout: %d; want 409", code)
	}
	audit, err := f.st.Audit(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range audit {
		if e.Who != "admin" {
			t.Errorf("audit entry %+v is not the admin's", e)
		}
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, " "); got != "rollout.abort rollout.resume rollout.pause rollout.start release.publish" {
		t.Fatalf("audit log: %s", got)
	}
}

func TestReleasesPage(t *testing.T) {
	f := newFixture(t, withRollouts(t))
	for _, who := range []string{"viewer", "ra-a"} {
		if code, _ := f.get(t, f.client(t, who), "/releases"); code != http.StatusForbidden {
			t.Errorf("%s opened the releases page: %d", who, code)
		}
	}
	c := f.client(t, "admin")
	csrf := f.csrf(t, c)
	// Publish through the upload form.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", csrf)
	part, _ := mw.CreateFormFile("bundle", "ssu-kiosk-v1.1.0.raucb")
	part.Write([]byte("v1.1.0"))
	mw.Close()
	resp, err := c.Post(f.srv.URL+"/releases", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload form: %s", resp.Status)
	}
	if code := f.post(t, c, "/rollouts", url.Values{"csrf": {csrf}, "version": {"v1.1.0"}, "canary": {"1"}, "soak": {"1h"}}); code != http.StatusSeeOther {
		t.Fatalf("start form: %d", code)
	}
	code, page := f.get(t, c, "/releases")
	if code != http.StatusOK || !strings.Contains(page, "v1.1.0") || !strings.Contains(page, "running") || !strings.Contains(page, "1 of 2") {
		t.Fatalf("releases page: %d\n%s", code, page)
	}
	id := page[strings.Index(page, `action="/rollouts/`)+len(`action="/rollouts/`):]
	id = id[:strings.IndexByte(id, '/')]
	if code := f.post(t, c, "/rollouts/"+id+"/abort", url.Values{"csrf": {csrf}}); code != http.StatusSeeOther {
		t.Fatalf("abort form: %d", code)
	}
	if code := f.post(t, c, "/rollouts/"+id+"/abort", url.Values{}); code != http.StatusForbidden {
		t.Fatalf("abort without the CSRF token: %d", code)
	}
	if _, page := f.get(t, c, "/releases"); !strings.Contains(page, "aborted") {
		t.Fatal("the page does not show the abort")
	}
}

package link

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleet/outbox"
)

// cutWriter lets limit bytes of the body through, then cuts the connection.
type cutWriter struct {
	http.ResponseWriter
	limit int
}

func (w *cutWriter) Write(b []byte) (int, error) {
	if len(b) > w.limit {
		b = b[:w.limit]
	}
	n, _ := w.ResponseWriter.Write(b)
	w.limit -= n
	if w.limit == 0 {
		w.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	return n, nil
}

// bundleServer serves body; its first response is cut halfway. It records the Range of each request.
func bundleServer(t *testing.T, body []byte) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var ranges []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		first := len(ranges) == 1
		mu.Unlock()
		if first {
			w = &cutWriter{ResponseWriter: w, limit: len(body) / 2}
		}
		http.ServeContent(w, r, "b.raucb", time.Time{}, bytes.NewReader(body))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), ranges...) }
}

type fakeInstaller struct {
	mu      sync.Mutex
	bundles [][]byte
	err     error
}

func (f *fakeInstaller) Install(_ context.Context, bundle, _ string, _ bool) error {
	b, err := os.ReadFile(bundle)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bundles = append(f.bundles, b)
	return f.err
}

type rebootCounter struct {
	fakeCommands
	reboots chan struct{}
}

func (r *rebootCounter) Reboot(context.Context) error { r.reboots <- struct{}{}; return nil }

type fakeCommands struct{}

func (fakeCommands) SetMaintenance(context.Context, bool, string) error   { return nil }
func (fakeCommands) Reboot(context.Context) error                         { return nil }
func (fakeCommands) ReloadConfig(context.Context) error                   { return nil }
func (fakeCommands) SetMethods(context.Context, []string, []string) error { return nil }
func (fakeCommands) Identify(context.Context, time.Duration) error        { return nil }
func (fakeCommands) RecentLogs(context.Context, int) ([]string, error)    { return nil, nil }

func updateAgent(t *testing.T, srv *httptest.Server, inst Installer, cmds Commands) (*Agent, *outbox.Memory) {
	a, ob := newAgent(t)
	a.cfg.Installer, a.cfg.UpdateDir, a.cfg.Commands = inst, t.TempDir(), cmds
	a.http = srv.Client()
	a.cfg.DownloadTries = 5
	return a, ob
}

func steps(t *testing.T, ob *outbox.Memory) []string {
	items, err := ob.Pending(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		var ev fleet.UsageEvent
		json.Unmarshal(it.Payload, &ev)
		if ev.Kind == fleet.UpdateStep {
			out = append(out, ev.Step+":"+ev.Reason)
		}
	}
	return out
}

func TestUpdateDownloadResumesInstallsAndReboots(t *testing.T) {
	body := bytes.Repeat([]byte("bundle bytes "), 50000)
	sum := sha256.Sum256(body)
	srv, ranges := bundleServer(t, body)
	inst := &fakeInstaller{}
	cmds := &rebootCounter{reboots: make(chan struct{}, 1)}
	a, ob := updateAgent(t, srv, inst, cmds)
	cmd := fleet.Command{V: 1, ID: "u1", Name: fleet.CmdUpdate, IssuedAt: time.Now(), URL: srv.URL + "/b.raucb",
		SHA256: hex.EncodeToString(sum[:]), Version: "1.1.0", Size: int64(len(body))}
	a.SetBusy(true) // someone is at the kiosk: no reboot yet
	if err := a.startUpdate(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for len(steps(t, ob)) < 2 {
		select {
		case <-deadline:
			t.Fatalf("steps %v", steps(t, ob))
		case <-time.After(10 * time.Millisecond):
		}
	}
	select {
	case <-cmds.reboots:
		t.Fatal("rebooted while busy")
	default:
	}
	a.SetBusy(false)
	select {
	case <-cmds.reboots:
	case <-time.After(20 * time.Second):
		t.Fatal("no reboot once idle")
	}
	a.updates.Wait()
	r := ranges()
	if len(r) != 2 || r[0] != "" || r[1] != "bytes=325000-" {
		t.Fatalf("requests' ranges %q; want a whole request then one resuming at half", r)
	}
	if len(inst.bundles) != 1 || !bytes.Equal(inst.bundles[0], body) {
		t.Fatal("the installer did not get the whole bundle")
	}
	if got := steps(t, ob); len(got) != 3 || got[0] != "downloading:" || got[1] != "installed:" || got[2] != "rebooting:" {
		t.Fatalf("steps %q", got)
	}
	// After the reboot, the agent on the new version reports it running.
	b, _ := New(a.cfg)
	b.cfg.AppVersion = "1.1.0"
	b.resumeUpdate(context.Background())
	if got := steps(t, ob); got[len(got)-1] != "running:" {
		t.Fatalf("after reboot: %q", got)
	}
}

func TestUpdateChecksumAndFallBack(t *testing.T) {
	body := []byte("the real bundle")
	srv, _ := bundleServer(t, body)
	inst := &fakeInstaller{}
	a, ob := updateAgent(t, srv, inst, fakeCommands{})
	cmd := fleet.Command{V: 1, ID: "u1", Name: fleet.CmdUpdate, IssuedAt: time.Now(), URL: srv.URL + "/b.raucb",
		SHA256: hex.EncodeToString(make([]byte, 32)), Version: "1.1.0"}
	a.startUpdate(context.Background(), cmd)
	a.updates.Wait()
	if got := steps(t, ob); got[len(got)-1] != "failed:sha256_mismatch" || len(inst.bundles) != 0 {
		t.Fatalf("steps %q, installs %d", got, len(inst.bundles))
	}
	if _, err := os.Stat(filepath.Join(a.cfg.UpdateDir, cmd.SHA256+".part")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a bundle that failed its checksum was kept")
	}
	// A kiosk that comes back on its old version after installing reports it fell back.
	writeFileSync(filepath.Join(a.cfg.UpdateDir, bootedFile), []byte(`{"version":"1.1.0","from":"1.0.0"}`))
	a.resumeUpdate(context.Background())
	if got := steps(t, ob); got[len(got)-1] != "fell-back:booted_old_slot" {
		t.Fatalf("steps %q", got)
	}
}

func TestUpdateRefusesOlderUnlessAllowed(t *testing.T) {
	srv, _ := bundleServer(t, []byte("x"))
	a, ob := updateAgent(t, srv, &fakeInstaller{}, fakeCommands{})
	cmd := fleet.Command{V: 1, ID: "u1", Name: fleet.CmdUpdate, IssuedAt: time.Now(), URL: srv.URL + "/b.raucb",
		SHA256: hex.EncodeToString(make([]byte, 32)), Version: "0.9.0"}
	a.update(context.Background(), nil, fleet.CommandResult{}, cmd)
	if got := steps(t, ob); len(got) != 1 || got[0] != "failed:older_than_running" {
		t.Fatalf("steps %q", got)
	}
	cmd.AllowOlder = true
	a.update(context.Background(), nil, fleet.CommandResult{}, cmd)
	a.updates.Wait()
	if got := steps(t, ob); len(got) < 2 || got[1] != "downloading:" {
		t.Fatalf("an allowed older version was not downloaded: %q", got)
	}
}

func TestUpdateWaitsOutBusyHours(t *testing.T) {
	body := []byte("bundle")
	sum := sha256.Sum256(body)
	srv, _ := bundleServer(t, body)
	cmds := &rebootCounter{reboots: make(chan struct{}, 1)}
	a, _ := updateAgent(t, srv, &fakeInstaller{}, cmds)
	var mu sync.Mutex
	now := time.Date(2026, 12, 8, 10, 0, 0, 0, time.Local) // in 08:00-18:00
	a.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a.busyRecheck = 20 * time.Millisecond
	cmd := fleet.Command{V: 1, ID: "u1", Name: fleet.CmdUpdate, IssuedAt: time.Now(), URL: srv.URL + "/b.raucb",
		SHA256: hex.EncodeToString(sum[:]), Version: "1.1.0", BusyHours: "08:00-18:00"}
	if err := cmd.Validate(); err != nil {
		t.Fatal(err)
	}
	a.startUpdate(context.Background(), cmd)
	select {
	case <-cmds.reboots:
		t.Fatal("rebooted in busy hours")
	case <-time.After(2 * time.Second):
	}
	mu.Lock()
	now = now.Add(9 * time.Hour) // 19:00
	mu.Unlock()
	select {
	case <-cmds.reboots:
	case <-time.After(20 * time.Second):
		t.Fatal("no reboot after busy hours")
	}
	a.updates.Wait()
}

func TestBusyHours(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 1, 1, h, m, 0, 0, time.UTC) }
	for _, c := range []struct {
		w    string
		t    time.Time
		busy bool
	}{
		{"08:00-18:00", at(7, 59), false}, {"08:00-18:00", at(8, 0), true}, {"08:00-18:00", at(17, 59), true},
		{"08:00-18:00", at(18, 0), false}, {"22:00-06:00", at(23, 0), true}, {"22:00-06:00", at(5, 0), true},
		{"22:00-06:00", at(12, 0), false}, {"", at(12, 0), false}, {"8-18", at(12, 0), false},
	} {
		if got := fleet.InBusyHours(c.w, c.t); got != c.busy {
			t.Errorf("%q at %s: %v", c.w, c.t.Format("15:04"), got)
		}
	}
	if _, _, err := fleet.ParseBusyHours("25:00-01:00"); err == nil {
		t.Error("25:00 accepted")
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/web"
)

func TestUserAddReadsThePasswordFromStdin(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.db")
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"user", "add", "--store", path, "--role", "ra", "--sites", "st-james,leeds-gi", "jo"},
		strings.NewReader("a long enough password\n"), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if strings.Contains(out.String()+errOut.String(), "a long enough password") {
		t.Fatal("the password was echoed")
	}
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, ok, err := st.User(ctx, "jo")
	if !ok || err != nil || u.Role != "ra" || len(u.Sites) != 2 || !web.CheckPassword(u.PasswordHash, []byte("a long enough password")) {
		t.Fatalf("user = %+v, %v, %v", u, ok, err)
	}
	// An RA without sites, and a short password, are refused.
	if code := run(ctx, []string{"user", "add", "--store", path, "--role", "ra", "sam"}, strings.NewReader("a long enough password\n"), io.Discard, io.Discard); code == 0 {
		t.Fatal("an RA without sites was accepted")
	}
	if code := run(ctx, []string{"user", "add", "--store", path, "--role", "viewer", "sam"}, strings.NewReader("short\n"), io.Discard, io.Discard); code == 0 {
		t.Fatal("a short password was accepted")
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// syncBuffer is a bytes.Buffer safe to write from the server and read from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestDemoStartsAndServes runs `ssu-fleetd --demo` (with a small data set) and signs in with the
// printed admin account.
func TestDemoStartsAndServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	httpAddr, metricsAddr := "127.0.0.1:"+freePort(t), "127.0.0.1:"+freePort(t)
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--demo", "--data", t.TempDir(), "--http", httpAddr, "--broker-listen", "127.0.0.1:" + freePort(t),
			"--demo-kiosks", "1", "--seed-sessions-per-month", "300", "--metrics-listen", metricsAddr}, nil, &out, &errOut)
	}()
	var password string
	deadline := time.Now().Add(90 * time.Second)
	for password == "" || !strings.Contains(out.String(), "dashboard at") {
		select {
		case code := <-done:
			t.Fatalf("the demo stopped with exit code %d before it served:\n%s\n%s", code, out.String(), errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not start:\n%s\n%s", out.String(), errOut.String())
		}
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "admin" {
				password = f[2]
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm("http://"+httpAddr+"/login", map[string][]string{"name": {"admin"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 {
		t.Fatalf("sign in with the printed demo password: %s", resp.Status)
	}
	// The simulated kiosk (a certificate straight from the demo CA, no enrolment) is filed at the demo
	// place, not left unregistered, and not where it says it is ("sim-site").
	session := resp.Cookies()
	deadline = time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/api/kiosks/kiosk-0001", nil)
		for _, ck := range session {
			req.AddCookie(ck)
		}
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode == http.StatusOK {
			if !strings.Contains(string(body), `"site": "st-james"`) {
				t.Fatalf("the simulated kiosk is not at the demo place:\n%.400s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the simulated kiosk never showed up: %d %.200s", r.StatusCode, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Metrics are on their own listener, not on the dashboard's.
	for addr, want := range map[string]int{httpAddr: http.StatusNotFound, metricsAddr: http.StatusOK} {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET http://%s/metrics: %s, want %d", addr, resp.Status, want)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the demo did not stop")
	}
}

// TestKioskPlaceRegistersAKiosk: `ssu-fleetd kiosk place` registers an unregistered kiosk at a site.
func TestKioskPlaceRegistersAKiosk(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.db")
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"kiosk", "place", "--store", path, "--site", "St James's", "--ward", "Ward 7", "kiosk-0042"},
		nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if k, ok, err := st.Kiosk(ctx, "kiosk-0042"); !ok || err != nil || k.Site != "st-jamess" || k.Ward != "ward-7" || k.Unregistered {
		t.Fatalf("kiosk = %+v, %v, %v", k, ok, err)
	}
	if code := run(ctx, []string{"kiosk", "place", "--store", path, "--site", "", "--ward", "w", "kiosk-0042"}, nil, io.Discard, io.Discard); code == 0 {
		t.Fatal("an empty site was accepted")
	}
}

package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUpdateKeyringTurnsOnReleases: with --update-keyring, ssu-fleetd serves release downloads on
// their own listener (a client certificate required) and the releases API to its IT admins.
func TestUpdateKeyringTurnsOnReleases(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := t.TempDir()
	keyring := filepath.Join(t.TempDir(), "keyring.pem")
	os.WriteFile(keyring, []byte("not read until a bundle is published"), 0o644)
	httpAddr := "127.0.0.1:" + freePort(t)
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--demo", "--data", data, "--http", httpAddr, "--broker-listen", "127.0.0.1:" + freePort(t),
			"--demo-kiosks", "0", "--seed-sessions-per-month", "10", "--update-keyring", keyring,
			"--releases-listen", "127.0.0.1:0", "--releases-dir", filepath.Join(data, "releases")}, nil, &out, io.Discard)
	}()
	var password, downloads string
	deadline := time.Now().Add(90 * time.Second)
	for password == "" || downloads == "" || !strings.Contains(out.String(), "dashboard at") {
		if time.Now().After(deadline) {
			t.Fatalf("ssu-fleetd did not start with releases:\n%s", out.String())
		}
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 3 && f[0] == "admin" {
				password = f[2]
			}
			if rest, ok := strings.CutPrefix(sc.Text(), "ssu-fleetd: release downloads at "); ok {
				downloads = rest
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	// No client certificate, no download (the handshake itself is refused).
	if resp, err := http.Get(downloads + strings.Repeat("0", 64) + ".raucb"); err == nil {
		resp.Body.Close()
		t.Fatalf("a download without a client certificate: %s", resp.Status)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm("http://"+httpAddr+"/login", map[string][]string{"name": {"admin"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get("http://" + httpAddr + "/api/releases")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"releases"`) {
		t.Fatalf("GET /api/releases: %s %s", resp.Status, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ssu-fleetd did not stop")
	}
}

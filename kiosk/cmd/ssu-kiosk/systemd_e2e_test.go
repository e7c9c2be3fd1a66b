package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSystemdReadyAndWatchdog runs the kiosk as systemd would (NOTIFY_SOCKET, WATCHDOG_USEC): READY=1
// comes once the first frame is on screen, and WATCHDOG=1 keeps coming from the UI loop while the
// kiosk sits idle on the welcome screen.
func TestSystemdReadyAndWatchdog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "1000000") // a ping every half second
	k := startDemo(t, 800, 480)
	firstFrame := time.Now() // startDemo returns once the kiosk logged its first frame

	var ready time.Time
	pings := 0
	buf := make([]byte, 4096)
	deadline := time.Now().Add(6 * time.Second)
	for time.Now().Before(deadline) {
		_ = conn.SetReadDeadline(deadline)
		n, err := conn.Read(buf)
		if err != nil {
			break
		}
		for _, l := range strings.Split(string(buf[:n]), "\n") {
			switch l {
			case "READY=1":
				ready = time.Now()
			case "WATCHDOG=1":
				if !ready.IsZero() {
					pings++
				}
			}
		}
	}
	if ready.IsZero() {
		t.Fatalf("no READY=1\n%s", k.log.dump())
	}
	if ready.After(firstFrame.Add(3 * time.Second)) {
		t.Errorf("READY=1 came %v after the first frame", ready.Sub(firstFrame))
	}
	// About 5 s idle at one ping every 0.5 s: ten expected; a UI loop that stops would send none.
	if pings < 4 {
		t.Fatalf("%d WATCHDOG=1 in about 5 s of idle, want a steady beat", pings)
	}
}

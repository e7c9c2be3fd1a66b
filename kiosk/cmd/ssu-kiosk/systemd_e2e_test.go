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
	deadline := time.Now().Add(8 * time.Second)
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
	// Idle, the UI loop still runs once a second (the runner's clock tick) and pings each time, as half
	// the 1 s watchdog has passed: about seven in 8 s. A UI loop that stopped would send none.
	t.Logf("%d WATCHDOG=1 in 8 s of idle", pings)
	if pings < 3 {
		t.Fatalf("%d WATCHDOG=1 in 8 s of idle, want a steady beat", pings)
	}
}

package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Systemd tells systemd the kiosk is ready (READY=1, once the first frame is on screen) and that its UI
// loop is alive (WATCHDOG=1, every half of WatchdogSec, from the UI loop so a frozen UI is restarted).
// Outside systemd (no NOTIFY_SOCKET) both are no-ops.
type Systemd struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	last time.Time
}

// NewSystemd reads the watchdog interval systemd set (none when off).
func NewSystemd(log *slog.Logger) *Systemd {
	s := &Systemd{log: log, now: time.Now}
	if d, err := daemon.SdWatchdogEnabled(false); err != nil {
		log.Warn("systemd watchdog setting", "err", err)
	} else if d > 0 {
		s.interval = d / 2
	}
	return s
}

// Ready sends READY=1.
func (s *Systemd) Ready() {
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		s.log.Warn("systemd ready", "err", err)
	}
}

// WakeForWatchdog calls wake (which asks the UI loop for a frame) every half of WatchdogSec until ctx
// ends, so the UI loop, which otherwise runs only on input or an event, pings the watchdog at its own
// rate and no more often. With no watchdog it returns at once.
func (s *Systemd) WakeForWatchdog(ctx context.Context, wake func()) {
	if s.interval <= 0 {
		return
	}
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			wake()
		}
	}
}

// Heartbeat sends WATCHDOG=1 when about half the watchdog interval has passed since the last one (a tenth
// early is accepted, so a wake-up from WakeForWatchdog that comes a little early still pings).
func (s *Systemd) Heartbeat() {
	if s.interval <= 0 {
		return
	}
	s.mu.Lock()
	now := s.now()
	due := now.Sub(s.last) >= s.interval-s.interval/10
	if due {
		s.last = now
	}
	s.mu.Unlock()
	if due {
		if _, err := daemon.SdNotify(false, daemon.SdNotifyWatchdog); err != nil {
			s.log.Warn("systemd watchdog", "err", err)
		}
	}
}

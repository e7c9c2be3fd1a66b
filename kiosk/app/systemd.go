package app

import (
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

// Heartbeat sends WATCHDOG=1 when half the watchdog interval has passed since the last one.
func (s *Systemd) Heartbeat() {
	if s.interval <= 0 {
		return
	}
	s.mu.Lock()
	now := s.now()
	due := now.Sub(s.last) >= s.interval
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

package link

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ssu-kiosk/remote/fleet"
)

// healthLoop publishes health every HealthEvery, and within a second of a change in what the kiosk reports.
func (a *Agent) healthLoop(ctx context.Context) {
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	every := time.NewTicker(a.cfg.HealthEvery)
	defer every.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-every.C:
			a.publishHealth(ctx)
		case <-poll.C:
			if a.cfg.Health == nil {
				continue
			}
			k := a.cfg.Health.KioskHealth()
			a.mu.Lock()
			changed := k != a.lastKiosk
			a.mu.Unlock()
			if changed {
				a.publishHealth(ctx)
			}
		}
	}
}

// Health returns the kiosk's current health report.
func (a *Agent) Health(ctx context.Context) fleet.Health {
	h := fleet.Health{
		V: fleet.Version, Kiosk: a.cfg.Kiosk, At: time.Now().UTC(), AppVersion: a.cfg.AppVersion,
		UptimeS: int64(time.Since(a.started) / time.Second),
	}
	if a.cfg.Health != nil {
		k := a.cfg.Health.KioskHealth()
		a.mu.Lock()
		a.lastKiosk = k
		a.mu.Unlock()
		h.Reader, h.CardPresent, h.LED, h.PCSCD = k.Reader, k.CardPresent, k.LED, k.PCSCD
		h.IdentityReachable, h.Maintenance, h.ConfigVersion = k.IdentityReachable, k.Maintenance, k.ConfigVersion
		h.FallbackFailedVersion, h.FallbackRunningVersion = k.FallbackFailed, k.FallbackRunning
	}
	if st, err := a.cfg.Outbox.Stats(ctx); err == nil {
		h.OutboxDepth, h.OutboxBound, h.OutboxDropped = st.Depth, st.Bound, st.Dropped
		h.OutboxLost, h.OutboxFull = st.Lost, st.Full
	}
	var fs syscall.Statfs_t
	if syscall.Statfs(a.cfg.DiskPath, &fs) == nil {
		h.DiskFreeBytes = fs.Bavail * uint64(fs.Bsize)
	}
	h.MemAvailBytes = memAvailable()
	h.AgentRSSBytes = selfRSS()
	h.TemperatureC = temperature()
	if leaf := leafCert(a.cfg.TLS); leaf != nil {
		h.CertExpiry = leaf.NotAfter.UTC()
	}
	return h
}

func (a *Agent) publishHealth(ctx context.Context) {
	c := a.currentClient()
	if c == nil {
		return
	}
	b, err := json.Marshal(a.Health(ctx))
	if err != nil {
		return
	}
	// QoS 0: a health report is replaced by the next one; it is not worth queueing.
	c.Publish(fleet.HealthTopic(a.cfg.Kiosk), 0, false, b)
}

// memAvailable reads MemAvailable from /proc/meminfo, in bytes (0 when unreadable).
func memAvailable() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// selfRSS reads this process's resident set size from /proc/self/statm, in bytes.
func selfRSS() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// temperature returns the highest reading of /sys/class/thermal, in °C, or nil where none is readable.
func temperature() *float64 {
	zones, _ := filepath.Glob("/sys/class/thermal/thermal_zone*/temp")
	var best *float64
	for _, z := range zones {
		b, err := os.ReadFile(z)
		if err != nil {
			continue
		}
		milli, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			continue
		}
		c := float64(milli) / 1000
		if best == nil || c > *best {
			best = &c
		}
	}
	return best
}

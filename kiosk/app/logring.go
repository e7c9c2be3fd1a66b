package app

import (
	"bytes"
	"context"
	"log/slog"
	"sync"

	"ssu-kiosk/remote/fleet"
)

// LogRing keeps the kiosk's most recent log lines in memory, for the fleet's "logs" command. It is a
// slog handler that formats each record as a text line; Tee puts it beside the kiosk's own handler.
// Lines are scrubbed (fleet.ScrubLines) when read, though the kiosk never logs personal data.
type LogRing struct {
	mu    sync.Mutex
	lines []string
	next  int
	full  bool
}

// NewLogRing keeps the last size lines.
func NewLogRing(size int) *LogRing { return &LogRing{lines: make([]string, max(size, 1))} }

// Write implements io.Writer for a slog.TextHandler: each line written is kept.
func (l *LogRing) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		l.lines[l.next] = string(line)
		l.next = (l.next + 1) % len(l.lines)
		if l.next == 0 {
			l.full = true
		}
	}
	return len(p), nil
}

// Recent returns the last n lines (at most what is kept), oldest first, scrubbed.
func (l *LogRing) Recent(n int) []string {
	l.mu.Lock()
	var all []string
	if l.full {
		all = append(all, l.lines[l.next:]...)
	}
	all = append(all, l.lines[:l.next]...)
	l.mu.Unlock()
	if n >= 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return fleet.ScrubLines(all)
}

// Tee returns a logger that logs to h and keeps lines of level and above in the ring.
func (l *LogRing) Tee(h slog.Handler, level slog.Leveler) *slog.Logger {
	return slog.New(tee{h, slog.NewTextHandler(l, &slog.HandlerOptions{Level: level})})
}

// tee hands each record to both handlers.
type tee struct{ a, b slog.Handler }

func (t tee) Enabled(ctx context.Context, level slog.Level) bool {
	return t.a.Enabled(ctx, level) || t.b.Enabled(ctx, level)
}

func (t tee) Handle(ctx context.Context, r slog.Record) error {
	var errA, errB error
	if t.a.Enabled(ctx, r.Level) {
		errA = t.a.Handle(ctx, r.Clone())
	}
	if t.b.Enabled(ctx, r.Level) {
		errB = t.b.Handle(ctx, r)
	}
	if errA != nil {
		return errA
	}
	return errB
}

func (t tee) WithAttrs(as []slog.Attr) slog.Handler {
	return tee{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t tee) WithGroup(name string) slog.Handler {
	return tee{t.a.WithGroup(name), t.b.WithGroup(name)}
}

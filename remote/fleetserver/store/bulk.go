package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"ssu-kiosk/remote/fleet"
)

// Session is one session's row as the usage reports read it; Save derives it from events, BulkLoad
// takes it ready-made.
type Session struct {
	Kiosk, Site, Ward string
	StartedAt         time.Time
	Started           bool
	Unlocked          bool
	UnlockMS          int64
	PasscodeChanged   bool
	CodeFailures      int
	Reason, Method    string
	EndKind, EndStep  string
	ErrorCode         string
	CardKey           string
}

var sessionColumns = []string{"kiosk", "started_at", "site", "ward", "day", "hour_of_week", "started", "unlocked", "unlock_ms",
	"passcode_changed", "code_failures", "reason", "method", "end_kind", "end_step", "error_code", "card_key"}

var sessionTypes = []string{"text", "bigint", "text", "text", "bigint", "bigint", "bigint", "bigint", "bigint", "bigint", "bigint",
	"text", "text", "text", "text", "text", "text"}

var eventColumns = []string{"id", "kiosk", "kind", "at", "session_at", "site", "ward", "method", "step", "reason", "error_code",
	"card_key", "duration_ms", "step_ms", "app_version", "received_at"}

func (s *Store) sessionValues(x Session) []any {
	day, how := s.dayAndHour(x.StartedAt)
	return []any{x.Kiosk, ms(x.StartedAt), x.Site, x.Ward, day, how, b2i(x.Started), b2i(x.Unlocked), x.UnlockMS,
		b2i(x.PasscodeChanged), x.CodeFailures, x.Reason, x.Method, x.EndKind, x.EndStep, x.ErrorCode, x.CardKey}
}

// BulkLoad writes sessions and their events that are not stored yet, in one transaction, the fast way
// (PostgreSQL COPY; one prepared statement per table on SQLite). It is for demonstration data and
// benchmarks: the events must have been validated, and on PostgreSQL none may already be stored.
func (s *Store) BulkLoad(ctx context.Context, sessions []Session, events []fleet.UsageEvent) error {
	now := time.Now()
	daily := usage{}
	for _, x := range sessions {
		daily.add(s, x, +1)
	}
	if s.dialect == Postgres {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("bulk load: %w", err)
		}
		defer conn.Close()
		return conn.Raw(func(dc any) error {
			pc := dc.(*stdlib.Conn).Conn()
			tx, err := pc.Begin(ctx)
			if err != nil {
				return fmt.Errorf("bulk load: %w", err)
			}
			defer tx.Rollback(ctx)
			i := 0
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"sessions"}, sessionColumns, pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(sessions) {
					return nil, nil
				}
				i++
				return s.sessionValues(sessions[i-1]), nil
			})); err != nil {
				return fmt.Errorf("bulk load sessions: %w", err)
			}
			j := 0
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, eventColumns, pgx.CopyFromFunc(func() ([]any, error) {
				if j == len(events) {
					return nil, nil
				}
				j++
				return eventRow(events[j-1], now), nil
			})); err != nil {
				return fmt.Errorf("bulk load events: %w", err)
			}
			for _, row := range daily.rows() {
				if _, err := tx.Exec(ctx, s.q(upsertUsage()), row...); err != nil {
					return fmt.Errorf("bulk load daily usage: %w", err)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				return fmt.Errorf("bulk load: %w", err)
			}
			return nil
		})
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	defer tx.Rollback()
	ss, err := tx.PrepareContext(ctx, `INSERT INTO sessions (`+join(sessionColumns)+`) VALUES (`+placeholders(len(sessionColumns))+`) ON CONFLICT (started_at, kiosk) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	defer ss.Close()
	for _, x := range sessions {
		if _, err := ss.ExecContext(ctx, s.sessionValues(x)...); err != nil {
			return fmt.Errorf("bulk load sessions: %w", err)
		}
	}
	es, err := tx.PrepareContext(ctx, insertEvent)
	if err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	defer es.Close()
	for _, e := range events {
		if _, err := es.ExecContext(ctx, eventRow(e, now)...); err != nil {
			return fmt.Errorf("bulk load events: %w", err)
		}
	}
	if _, err := s.writeMany(ctx, tx, "daily_usage", usageColumns, usageTypes, daily.rows(), usageConflict, ""); err != nil {
		return fmt.Errorf("bulk load daily usage: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	return nil
}

// upsertUsage adds a change to a row of daily_usage, one row per statement.
func upsertUsage() string {
	return "INSERT INTO daily_usage (" + strings.Join(usageColumns, ", ") + ") VALUES (" + placeholders(len(usageColumns)) + ") " + usageConflict
}

func join(cols []string) string { return strings.Join(cols, ", ") }

// CountSessions returns how many sessions are stored.
func (s *Store) CountSessions(ctx context.Context) (int, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	return n, nil
}

// CountEvents returns how many events are stored.
func (s *Store) CountEvents(ctx context.Context) (int, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// Analyze refreshes the query planner's statistics (after a bulk load); on PostgreSQL it also vacuums,
// so the reports' index-only scans need not visit the table.
func (s *Store) Analyze(ctx context.Context) error {
	stmt := "ANALYZE"
	if s.dialect == Postgres {
		stmt = "VACUUM ANALYZE"
	}
	if _, err := s.db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

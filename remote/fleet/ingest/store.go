package ingest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/sqldb"
)

// Batch is what arrived since the last commit.
type Batch struct {
	Events   []fleet.UsageEvent
	Statuses []fleet.Status
	Health   []fleet.Health
	Results  []fleet.CommandResult
}

// Store keeps what kiosks report. Save commits a whole batch or nothing. Saving an event whose id is
// already stored is not an error and changes nothing; Save returns how many events were new. A status
// replaces the stored one only when fleet.Status.Newer says so; health keeps the latest per kiosk.
type Store interface {
	Save(ctx context.Context, b Batch) (newEvents int, err error)
}

// migrations are the SQLite schema's versions, applied in order; never edit one, add the next.
var migrations = []string{
	1: `
CREATE TABLE events (
	id          TEXT PRIMARY KEY,
	kiosk       TEXT NOT NULL,
	kind        TEXT NOT NULL,
	site        TEXT NOT NULL,
	ward        TEXT NOT NULL,
	at          TEXT NOT NULL,
	card_key    TEXT NOT NULL,
	body        TEXT NOT NULL,
	received_at TEXT NOT NULL
);
CREATE INDEX events_kiosk_at ON events (kiosk, at);
CREATE TABLE status (
	kiosk  TEXT PRIMARY KEY,
	online INTEGER NOT NULL,
	conn   INTEGER NOT NULL,
	body   TEXT NOT NULL
);
CREATE TABLE health (
	kiosk TEXT PRIMARY KEY,
	at    TEXT NOT NULL,
	body  TEXT NOT NULL
);
CREATE TABLE command_results (
	kiosk  TEXT NOT NULL,
	id     TEXT NOT NULL,
	status TEXT NOT NULL,
	at     TEXT NOT NULL,
	body   TEXT NOT NULL
);
CREATE INDEX command_results_kiosk_id ON command_results (kiosk, id);`,
}

// SQLite is a Store in one SQLite file (WAL, synchronous=FULL: a commit survives power loss).
type SQLite struct {
	db *sql.DB
}

// OpenSQLite opens or creates the store at path and brings its schema up to date.
func OpenSQLite(path string) (*SQLite, error) {
	// Full: the receiver acknowledges a batch as soon as Save returns.
	db, err := sqldb.OpenSQLite(context.Background(), sqldb.SQLite{Path: path, Durability: sqldb.Full})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &SQLite{db: db}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

func (s *SQLite) migrate() error {
	ms := make([]sqldb.Migration, 0, len(migrations)-1)
	for v := 1; v < len(migrations); v++ {
		ms = append(ms, sqldb.Migration{Version: v, Statements: []string{migrations[v]}})
	}
	return sqldb.Migrate(context.Background(), s.db, false, "schema_migrations", ms)
}

// Close closes the store.
func (s *SQLite) Close() error { return s.db.Close() }

const stamp = "2006-01-02T15:04:05.000000000Z07:00"

// Save commits a batch; see Store.
func (s *SQLite) Save(ctx context.Context, b Batch) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("save: %w", err)
	}
	defer tx.Rollback()
	now := time.Now().UTC().Format(stamp)
	added := 0
	if len(b.Events) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO events (id, kiosk, kind, site, ward, at, card_key, body, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return 0, fmt.Errorf("save events: %w", err)
		}
		defer st.Close()
		for _, e := range b.Events {
			body, _ := json.Marshal(e)
			res, err := st.ExecContext(ctx, e.ID, e.Kiosk, string(e.Kind), e.Site, e.Ward, e.At.UTC().Format(stamp), e.CardKey, string(body), now)
			if err != nil {
				return 0, fmt.Errorf("save event %s: %w", e.ID, err)
			}
			n, _ := res.RowsAffected()
			added += int(n)
		}
	}
	for _, st := range b.Statuses {
		body, _ := json.Marshal(st)
		// Newer: a higher counter, or the same counter going offline.
		_, err := tx.ExecContext(ctx, `INSERT INTO status (kiosk, online, conn, body) VALUES (?, ?, ?, ?)
			ON CONFLICT (kiosk) DO UPDATE SET online = excluded.online, conn = excluded.conn, body = excluded.body
			WHERE excluded.conn > status.conn OR (excluded.conn = status.conn AND excluded.online = 0)`,
			st.Kiosk, st.Online, st.Conn, string(body))
		if err != nil {
			return 0, fmt.Errorf("save status of %s: %w", st.Kiosk, err)
		}
	}
	for _, h := range b.Health {
		body, _ := json.Marshal(h)
		_, err := tx.ExecContext(ctx, `INSERT INTO health (kiosk, at, body) VALUES (?, ?, ?)
			ON CONFLICT (kiosk) DO UPDATE SET at = excluded.at, body = excluded.body WHERE excluded.at >= health.at`,
			h.Kiosk, h.At.UTC().Format(stamp), string(body))
		if err != nil {
			return 0, fmt.Errorf("save health of %s: %w", h.Kiosk, err)
		}
	}
	for _, r := range b.Results {
		body, _ := json.Marshal(r)
		_, err := tx.ExecContext(ctx, `INSERT INTO command_results (kiosk, id, status, at, body) VALUES (?, ?, ?, ?, ?)`,
			r.Kiosk, r.ID, string(r.Status), r.At.UTC().Format(stamp), string(body))
		if err != nil {
			return 0, fmt.Errorf("save result of %s: %w", r.Kiosk, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("save: commit: %w", err)
	}
	return added, nil
}

// CountEvents returns how many events are stored, and of how many distinct ids (always equal: the
// second number is there so tests can say so).
func (s *SQLite) CountEvents(ctx context.Context) (total, distinct int, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT id) FROM events`).Scan(&total, &distinct)
	if err != nil {
		return 0, 0, fmt.Errorf("count events: %w", err)
	}
	return total, distinct, nil
}

// EventIDs returns the ids of the events stored for a kiosk ("" for all kiosks).
func (s *SQLite) EventIDs(ctx context.Context, kiosk string) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM events WHERE ? = '' OR kiosk = ?`, kiosk, kiosk)
	if err != nil {
		return nil, fmt.Errorf("event ids: %w", err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("event ids: %w", err)
		}
		ids[id] = true
	}
	return ids, rows.Err()
}

// Status returns a kiosk's current status.
func (s *SQLite) Status(ctx context.Context, kiosk string) (fleet.Status, bool, error) {
	var body string
	err := s.db.QueryRowContext(ctx, `SELECT body FROM status WHERE kiosk = ?`, kiosk).Scan(&body)
	if err == sql.ErrNoRows {
		return fleet.Status{}, false, nil
	}
	if err != nil {
		return fleet.Status{}, false, fmt.Errorf("status of %s: %w", kiosk, err)
	}
	var st fleet.Status
	return st, true, json.Unmarshal([]byte(body), &st)
}

// Health returns a kiosk's latest health report.
func (s *SQLite) Health(ctx context.Context, kiosk string) (fleet.Health, bool, error) {
	var body string
	err := s.db.QueryRowContext(ctx, `SELECT body FROM health WHERE kiosk = ?`, kiosk).Scan(&body)
	if err == sql.ErrNoRows {
		return fleet.Health{}, false, nil
	}
	if err != nil {
		return fleet.Health{}, false, fmt.Errorf("health of %s: %w", kiosk, err)
	}
	var h fleet.Health
	return h, true, json.Unmarshal([]byte(body), &h)
}

// Results returns the answers a kiosk gave to a command, oldest first.
func (s *SQLite) Results(ctx context.Context, kiosk, id string) ([]fleet.CommandResult, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM command_results WHERE kiosk = ? AND id = ? ORDER BY rowid`, kiosk, id)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	defer rows.Close()
	var out []fleet.CommandResult
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("results: %w", err)
		}
		var r fleet.CommandResult
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return nil, fmt.Errorf("results: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

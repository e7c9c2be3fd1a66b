// Package outbox is a kiosk's durable queue of usage events waiting for the fleet server's
// acknowledgement, plus the little state the fleet link must keep across restarts: the connection
// counter and the ids of commands already run.
//
// An event is on disk (SQLite in WAL mode with synchronous=FULL, so a committed write survives SIGKILL
// and power loss) before Put returns, and leaves only through Ack, when the fleet server has stored it.
//
// The outbox is bounded. At the bound it keeps the newest events: writing one more deletes the oldest
// and counts it in Stats.Dropped, which the kiosk reports in its health messages. The bound is meant to
// hold months of a kiosk's events (a busy kiosk writes a few hundred a day; the default holds 100,000).
//
// An event Put cannot write (the disk is full, or any other write error) is lost: Put returns the
// error, and Stats counts it in Lost and says Full while the latest write failed for lack of space.
// Those two live in memory (a full disk cannot take the count), from Open on; the kiosk reports them in
// its health messages, and the fleet server raises an alert.
//
// It never inspects the payloads it holds and never logs them.
package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"ssu-kiosk/remote/sqldb"
)

// DefaultBound is the number of events an outbox keeps when Open is given 0.
const DefaultBound = 100_000

// Item is an event waiting for acknowledgement.
type Item struct {
	Seq     int64  // order of writing
	ID      string // the event id
	Payload []byte // the encoded event
}

// Stats describes an outbox.
type Stats struct {
	Depth   int   // events waiting for acknowledgement
	Bound   int   // most events kept
	Dropped int64 // events deleted at the bound, ever
	Lost    int64 // events Put could not write since Open (disk full or another write error)
	Full    bool  // the latest Put failed because the disk (or the database) is full
}

// Outbox is the SQLite outbox. Its methods are safe for concurrent use.
type Outbox struct {
	db    *sql.DB
	bound int

	mu    sync.Mutex
	depth int
	lost  int64
	full  bool
}

// migrations are the outbox's schema versions; never edit one, add the next. Version 1 creates only
// what is missing, as the outbox did before it kept versions, so an outbox made then opens as it is.
var migrations = []sqldb.Migration{{Version: 1, Statements: []string{schemaV1}}}

const schemaV1 = `
CREATE TABLE IF NOT EXISTS events (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	id      TEXT NOT NULL UNIQUE,
	payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
	id   TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	at   INTEGER NOT NULL
);`

// commandMemory is how long the ids of commands already run are kept.
const commandMemory = 90 * 24 * time.Hour

// Open opens (creating if needed) the outbox at path, keeping at most bound events (0: DefaultBound).
func Open(path string, bound int) (*Outbox, error) {
	if bound <= 0 {
		bound = DefaultBound
	}
	// Full: the kiosk has told its user the event is kept, and the server's ack deletes it; a power cut
	// must not undo either. One connection: one writer, and it keeps memory small.
	db, err := sqldb.OpenSQLite(context.Background(), sqldb.SQLite{Path: path, Durability: sqldb.Full})
	if err != nil {
		return nil, fmt.Errorf("open outbox %s: %w", path, err)
	}
	if err := sqldb.Migrate(context.Background(), db, false, "schema_migrations", migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("open outbox %s: create schema: %w", path, err)
	}
	o := &Outbox{db: db, bound: bound}
	if err := db.QueryRow(`SELECT COUNT(*) FROM events`).Scan(&o.depth); err != nil {
		db.Close()
		return nil, fmt.Errorf("open outbox %s: count: %w", path, err)
	}
	if _, err := db.Exec(`DELETE FROM commands WHERE at < ?`, time.Now().Add(-commandMemory).Unix()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open outbox %s: prune commands: %w", path, err)
	}
	return o, nil
}

// Close closes the outbox.
func (o *Outbox) Close() error { return o.db.Close() }

// Put stores an event durably. Putting an id already held is a no-op. At the bound the oldest events
// are deleted and counted as dropped.
func (o *Outbox) Put(ctx context.Context, id string, payload []byte) error {
	if id == "" {
		return errors.New("put: empty event id")
	}
	if payload == nil {
		payload = []byte{} // NULL would be silently ignored by INSERT OR IGNORE
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	err := o.put(ctx, id, payload)
	if err != nil && ctx.Err() == nil {
		o.lost++
		o.full = isFull(err)
	} else if err == nil {
		o.full = false
	}
	return err
}

// sqliteFull is SQLite's result code for "database or disk is full".
const sqliteFull = 13

// isFull reports whether a write failed for lack of space.
func isFull(err error) bool {
	var coded interface{ Code() int }
	if errors.As(err, &coded) && coded.Code()&0xff == sqliteFull {
		return true
	}
	return errors.Is(err, syscall.ENOSPC)
}

func (o *Outbox) put(ctx context.Context, id string, payload []byte) error {
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("put %s: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO events (id, payload) VALUES (?, ?)`, id, payload)
	if err != nil {
		return fmt.Errorf("put %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	depth := o.depth + int(n)
	over := depth - o.bound
	if over > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)`, over); err != nil {
			return fmt.Errorf("put %s: drop oldest: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('dropped', ?)
			ON CONFLICT(key) DO UPDATE SET value = value + excluded.value`, over); err != nil {
			return fmt.Errorf("put %s: count dropped: %w", id, err)
		}
		depth = o.bound
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("put %s: commit: %w", id, err)
	}
	o.depth = depth
	return nil
}

// Pending returns up to limit events in the order they were written, starting after seq after.
func (o *Outbox) Pending(ctx context.Context, after int64, limit int) ([]Item, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT seq, id, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("pending: %w", err)
	}
	defer rows.Close()
	var items []Item
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.Seq, &it.ID, &it.Payload); err != nil {
			return nil, fmt.Errorf("pending: %w", err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending: %w", err)
	}
	return items, nil
}

// Ack deletes acknowledged events and returns how many it held. Unknown ids are ignored.
func (o *Outbox) Ack(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("ack: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `DELETE FROM events WHERE id = ?`)
	if err != nil {
		return 0, fmt.Errorf("ack: %w", err)
	}
	defer stmt.Close()
	total := 0
	for _, id := range ids {
		res, err := stmt.ExecContext(ctx, id)
		if err != nil {
			return 0, fmt.Errorf("ack %s: %w", id, err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("ack: commit: %w", err)
	}
	o.depth -= total
	return total, nil
}

// Stats returns the depth, bound and dropped count.
func (o *Outbox) Stats(ctx context.Context) (Stats, error) {
	o.mu.Lock()
	s := Stats{Depth: o.depth, Bound: o.bound, Lost: o.lost, Full: o.full}
	o.mu.Unlock()
	err := o.db.QueryRowContext(ctx, `SELECT COALESCE((SELECT value FROM meta WHERE key = 'dropped'), 0)`).Scan(&s.Dropped)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	return s, nil
}

// NextConn adds one to the durable connection counter and returns it.
func (o *Outbox) NextConn(ctx context.Context) (uint64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var n uint64
	err := o.db.QueryRowContext(ctx, `INSERT INTO meta (key, value) VALUES ('conn', 1)
		ON CONFLICT(key) DO UPDATE SET value = value + 1 RETURNING value`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("connection counter: %w", err)
	}
	return n, nil
}

// ClaimCommand records that the command id is being run. It returns false when the id was claimed
// before (a replay), so a command runs at most once even across restarts.
func (o *Outbox) ClaimCommand(ctx context.Context, id, name string) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	res, err := o.db.ExecContext(ctx, `INSERT OR IGNORE INTO commands (id, name, at) VALUES (?, ?, ?)`, id, name, time.Now().Unix())
	if err != nil {
		return false, fmt.Errorf("claim command %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

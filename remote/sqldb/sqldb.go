// Package sqldb opens every SQL database the project keeps: SQLite through modernc.org/sqlite (pure Go,
// no cgo, so the kiosk image and the servers build the same way) and PostgreSQL through pgx's
// database/sql driver. It is the one place that knows how to spell a DSN, which pragmas a SQLite
// connection gets (WAL, busy timeout, foreign keys, the synchronous level) and how a PostgreSQL pool is
// sized, so each store states only what is its own: how durable its commits must be.
//
// It lives under remote/ because most of its users are server stores, and it is a leaf (it imports
// only the two drivers) so the kiosk's outbox can use it without pulling any server code in.
//
// It must never open a database without a stated Durability, and never build a DSN by pasting a path
// or a URL into a string: a SQLite path may hold '?', '#' or '%', which are escaped here.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver
)

// Durability is how much a returned commit is worth after a power cut. It has no default: a store
// says which it needs where it opens its database.
type Durability int

const (
	_ Durability = iota
	// Full: a commit has reached the disk before Commit returns (SQLite synchronous=FULL under WAL;
	// PostgreSQL synchronous_commit=on). Wherever an acknowledgement, a redeemed token or a released
	// SOPIN depends on the commit, the store must use Full.
	Full
	// Normal: under WAL a power cut may undo the last commits, never corrupt the file (SQLite
	// synchronous=NORMAL; PostgreSQL synchronous_commit=off). Only for data nobody has been promised.
	Normal
)

func (d Durability) String() string {
	switch d {
	case Full:
		return "full"
	case Normal:
		return "normal"
	}
	return "unstated"
}

// DefaultBusyTimeout is how long a SQLite connection waits for a lock before SQLITE_BUSY.
const DefaultBusyTimeout = 10 * time.Second

// SQLite says how to open a SQLite file.
type SQLite struct {
	// Path is the file's path as the operating system spells it; any byte may appear in it.
	// ":memory:" is refused: the stores rely on several connections seeing one database.
	Path string
	// Durability is required.
	Durability Durability
	// MaxOpen is the pool's size, also kept idle; 0 means 1, the one writer SQLite allows at a time
	// (one connection makes that explicit and avoids SQLITE_BUSY between our own writers).
	MaxOpen int
	// ReadOnly opens connections that refuse writes (query_only); transactions on them are deferred.
	// Otherwise a transaction takes the write lock when it begins (_txlock=immediate), so two
	// read-then-write transactions cannot deadlock.
	ReadOnly bool
	// BusyTimeout: 0 means DefaultBusyTimeout.
	BusyTimeout time.Duration
	// Pragmas are more per-connection pragmas, as "name(value)", e.g. "cache_size(-65536)".
	Pragmas []string
}

// SQLiteDSN is the modernc.org/sqlite DSN for o: a file: URI with the path escaped, so '?', '#' and
// '%' in a file name stay part of the name.
func SQLiteDSN(o SQLite) (string, error) {
	if o.Path == "" || o.Path == ":memory:" {
		return "", errors.New("a SQLite file path is required")
	}
	var sync string
	switch o.Durability {
	case Full:
		sync = "FULL"
	case Normal:
		sync = "NORMAL"
	default:
		return "", fmt.Errorf("sqlite %s: durability not stated", o.Path)
	}
	busy := o.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	// The busy timeout first, so the pragmas after it wait for a lock rather than fail.
	pragmas := []string{
		"busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")",
		"journal_mode(WAL)",
		"synchronous(" + sync + ")",
		"foreign_keys(1)",
	}
	if o.ReadOnly {
		pragmas = append(pragmas, "query_only(1)")
	}
	pragmas = append(pragmas, o.Pragmas...)
	q := url.Values{"_pragma": pragmas}
	if !o.ReadOnly {
		q.Set("_txlock", "immediate")
	}
	path := o.Path
	if strings.HasPrefix(path, "//") {
		// "file://x" would name a host; the file system reads "//x" as "/x".
		path = "/" + strings.TrimLeft(path, "/")
	}
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath(), RawQuery: q.Encode()}
	return u.String(), nil
}

// OpenSQLite opens the SQLite file o names, creating it if need be, and checks that it is in WAL mode
// with the stated durability.
func OpenSQLite(ctx context.Context, o SQLite) (*sql.DB, error) {
	dsn, err := SQLiteDSN(o)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", o.Path, err)
	}
	n := o.MaxOpen
	if n <= 0 {
		n = 1
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	var mode string
	var sync int
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", o.Path, err)
	}
	if err := db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", o.Path, err)
	}
	want := map[Durability]int{Normal: 1, Full: 2}[o.Durability]
	if mode != "wal" || sync != want {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: journal mode %q synchronous %d, want wal and %d", o.Path, mode, sync, want)
	}
	return db, nil
}

// IsPostgres says whether dsn is a PostgreSQL URL (postgres:// or postgresql://) rather than a path.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Postgres says how to open a PostgreSQL database.
type Postgres struct {
	// URL is a postgres:// or postgresql:// URL.
	URL string
	// Durability is required; it sets synchronous_commit for the store's sessions, whatever the
	// server's default or the URL say.
	Durability Durability
	// MaxOpen is the pool's size, all of it kept idle so no request pays for a new connection; 0
	// means 8.
	MaxOpen int
}

// OpenPostgres opens a pool on the database o names and checks that it answers.
func OpenPostgres(ctx context.Context, o Postgres) (*sql.DB, error) {
	if !IsPostgres(o.URL) {
		return nil, errors.New("want a postgres:// URL")
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: bad URL") // the URL may hold a password: not repeated
	}
	q := u.Query()
	switch o.Durability {
	case Full:
		q.Set("synchronous_commit", "on")
	case Normal:
		q.Set("synchronous_commit", "off")
	default:
		return nil, errors.New("postgres: durability not stated")
	}
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	n := o.MaxOpen
	if n <= 0 {
		n = 8
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return db, nil
}

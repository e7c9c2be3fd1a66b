// Package store is the fleet server's database: kiosks, their status and health history, usage events
// and the sessions derived from them, commands and their results, alerts, and web accounts. It runs on
// SQLite (a file path, the default) or PostgreSQL (a postgres:// URL) with one schema applied through
// numbered migrations, and it implements ingest.Store, so the fleet receiver writes straight into it.
//
// It must never store a password or a session token in clear (only their hashes), never store anything
// a kiosk sends that package fleet has not validated, and never log a payload.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ssu-kiosk/remote/sqldb"
)

// Dialect is the SQL flavour of a store.
type Dialect int

// The dialects.
const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Store is the fleet server's database.
type Store struct {
	db      *sql.DB
	read    *sql.DB // for reports: the same database; on SQLite a pool of read-only connections
	dialect Dialect
	loc     *time.Location // where "hour of day" and "day" mean something to people
	// autoRegister: a kiosk first heard of takes its place from its enrolment. When false (manual
	// registration) it stays unregistered until an IT admin places it (PlaceKiosk).
	autoRegister bool
	enrolment    Enrolment

	mu     sync.Mutex
	places map[string]cachedPlace // kiosks' sites and wards, as read at most placeTTL ago

	unregistered atomic.Int64 // messages stored from kiosks that have no site yet
	lastLagMS    atomic.Int64 // ingest lag of the last batch: commit time minus the newest event's time
	newEvents    atomic.Int64
	savedBatch   atomic.Int64
}

// placeTTL is how long Save trusts its cached copy of a kiosk's place: another server sharing the
// database may have placed or moved the kiosk since.
const placeTTL = time.Minute

type cachedPlace struct {
	place
	read time.Time
}

// Options configure Open.
type Options struct {
	// Location is the time zone of the reports' hours and days; default Europe/London.
	Location *time.Location
	// Enrolment says where enrolled kiosks belong. A kiosk first heard of takes its site and ward from
	// it; a kiosk it does not know (or every new kiosk, with ManualRegistration) is stored as
	// unregistered (no site) until an IT admin places it. What a kiosk says of its own site and ward is
	// never used: a kiosk must not be able to write into another site's reports.
	Enrolment Enrolment
	// ManualRegistration: a new kiosk is unregistered until an IT admin places it, even when its
	// enrolment names a place. Its messages are stored (and its events acknowledged) all the same.
	ManualRegistration bool
}

// Enrolment tells where an enrolled kiosk belongs: the site and ward of the token it enrolled with.
// ssu-fleetd reads it from the enrolment store (provisioning/enrol); EnrolledPlaces is a fixed one.
type Enrolment interface {
	EnrolledPlace(ctx context.Context, kiosk string) (p Place, ok bool, err error)
}

// EnrolledPlaces is an Enrolment from a map of kiosk ids to places.
type EnrolledPlaces map[string]Place

// EnrolledPlace implements Enrolment.
func (e EnrolledPlaces) EnrolledPlace(_ context.Context, kiosk string) (Place, bool, error) {
	p, ok := e[kiosk]
	return p, ok, nil
}

// Open opens the store named by dsn: a postgres:// or postgresql:// URL for PostgreSQL, anything else is
// a SQLite file path (":memory:" is not supported: use a temporary file). The schema is brought up to date.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	s := &Store{loc: opt.Location, autoRegister: !opt.ManualRegistration, enrolment: opt.Enrolment, places: map[string]cachedPlace{}}
	if s.loc == nil {
		loc, err := time.LoadLocation("Europe/London")
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		s.loc = loc
	}
	var err error
	if sqldb.IsPostgres(dsn) {
		s.dialect = Postgres
		// Full (synchronous_commit=on): the receiver acknowledges a batch as soon as Save returns.
		s.db, err = sqldb.OpenPostgres(ctx, sqldb.Postgres{URL: dsn, Durability: sqldb.Full, MaxOpen: 8})
		s.read = s.db
	} else {
		s.dialect = SQLite
		// Full (synchronous=FULL): the receiver acknowledges a batch as soon as Save returns and a kiosk
		// then deletes those events, so a commit must survive a power cut (NORMAL under WAL may undo
		// it). Batching keeps the cost to one sync per batch.
		o := sqldb.SQLite{Path: dsn, Durability: sqldb.Full,
			Pragmas: []string{"temp_store(MEMORY)", "cache_size(-65536)", "mmap_size(268435456)"}}
		// One writer at a time, on one connection: no SQLITE_BUSY between our own writers. WAL lets
		// the read pool go on meanwhile; reports run their queries on it side by side.
		s.db, err = sqldb.OpenSQLite(ctx, o)
		if err == nil {
			o.ReadOnly, o.MaxOpen = true, 4
			s.read, err = sqldb.OpenSQLite(ctx, o)
			if err != nil {
				s.db.Close()
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %s: %w", s.dialect, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// Close closes the store.
func (s *Store) Close() error {
	if s.read != nil && s.read != s.db {
		s.read.Close()
	}
	return s.db.Close()
}

// Dialect says which database the store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

// Location is the time zone of reports.
func (s *Store) Location() *time.Location { return s.loc }

// q rewrites a query written with '?' placeholders for the store's dialect ($1, $2… for PostgreSQL) and
// fills the dialect's spelling of the few functions that differ. Queries never hold a literal '?'.
func (s *Store) q(query string) string {
	if s.dialect == SQLite {
		return strings.ReplaceAll(query, "GREATEST(", "MAX(")
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.q(query), args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.q(query), args...)
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.q(query), args...)
}

// ms is the stored form of a time: Unix milliseconds, 0 for none.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS is the inverse of ms.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

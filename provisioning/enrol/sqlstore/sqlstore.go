// Package sqlstore keeps the enrolment service's tokens, kiosks and certificates in SQLite or
// PostgreSQL: an enrol.Store. Its tables are named enrol_*, so it can share a database with the fleet
// server's own tables.
//
// It must never store a token (only the digests it is given) and never let two redemptions of one
// token both succeed: redeeming is one conditional UPDATE.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"ssu-kiosk/provisioning/enrol"
	"ssu-kiosk/remote/sqldb"
)

// Store is an enrol.Store in SQLite (OpenSQLite) or PostgreSQL (OpenPostgres).
type Store struct {
	db       *sql.DB
	postgres bool
}

// migrations are the store's schema versions, recorded in enrol_schema_migrations (the fleet server's
// own tables may share the database, with their own record). Version 1 creates only what is missing,
// as the store did before it kept versions, so a database made then takes it as it is.
var migrations = []sqldb.Migration{{Version: 1, Statements: strings.Split(schemaV1, ";")}}

const schemaV1 = `
CREATE TABLE IF NOT EXISTS enrol_tokens (
	digest     TEXT PRIMARY KEY,
	site       TEXT NOT NULL,
	ward       TEXT NOT NULL,
	created_ms BIGINT NOT NULL,
	expires_ms BIGINT NOT NULL,
	used_ms    BIGINT,
	kiosk_id   TEXT
);
CREATE TABLE IF NOT EXISTS enrol_kiosks (
	id          TEXT PRIMARY KEY,
	site        TEXT NOT NULL,
	ward        TEXT NOT NULL,
	enrolled_ms BIGINT NOT NULL,
	revoked_ms  BIGINT
);
CREATE TABLE IF NOT EXISTS enrol_certificates (
	serial       TEXT PRIMARY KEY,
	kiosk_id     TEXT NOT NULL REFERENCES enrol_kiosks(id),
	issued_ms    BIGINT NOT NULL,
	not_after_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS enrol_certificates_kiosk ON enrol_certificates(kiosk_id);
`

// OpenSQLite opens (and creates or brings up to date) the store in a SQLite file.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	// Full: a redeemed token and the certificate issued for it are answered to the kiosk as soon as
	// the commit returns; a power cut must not hand the token back.
	db, err := sqldb.OpenSQLite(ctx, sqldb.SQLite{Path: path, Durability: sqldb.Full})
	if err != nil {
		return nil, fmt.Errorf("open enrolment store: %w", err)
	}
	if err := sqldb.Migrate(ctx, db, false, "enrol_schema_migrations", migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("open enrolment store %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// OpenPostgres opens (and creates or brings up to date) the store in PostgreSQL, given a
// postgres:// URL. Redeeming a token is one conditional UPDATE, so concurrent servers are safe.
func OpenPostgres(ctx context.Context, dsn string) (*Store, error) {
	// Full, as for SQLite.
	db, err := sqldb.OpenPostgres(ctx, sqldb.Postgres{URL: dsn, Durability: sqldb.Full, MaxOpen: 8})
	if err != nil {
		return nil, fmt.Errorf("open enrolment store: %w", err)
	}
	if err := sqldb.Migrate(ctx, db, true, "enrol_schema_migrations", migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("open enrolment store: postgres: %w", err)
	}
	return &Store{db: db, postgres: true}, nil
}

// Open opens the store named by dsn: a postgres:// URL, or else a SQLite file path.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if sqldb.IsPostgres(dsn) {
		return OpenPostgres(ctx, dsn)
	}
	return OpenSQLite(ctx, dsn)
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// q rewrites ? placeholders as $1, $2, … for PostgreSQL.
func (s *Store) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64)
}

func isUniqueViolation(err error) bool {
	// SQLite: "UNIQUE constraint failed"; PostgreSQL: SQLSTATE 23505.
	return err != nil && (strings.Contains(err.Error(), "UNIQUE constraint") || strings.Contains(err.Error(), "23505"))
}

// AddToken implements enrol.Store.
func (s *Store) AddToken(ctx context.Context, t enrol.Token) error {
	_, err := s.db.ExecContext(ctx,
		s.q(`INSERT INTO enrol_tokens (digest, site, ward, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?)`),
		t.Digest.String(), t.Site, t.Ward, ms(t.Created), ms(t.Expires))
	if isUniqueViolation(err) {
		return fmt.Errorf("add token: %w", enrol.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("add token: %w", err)
	}
	return nil
}

// RedeemToken implements enrol.Store: one UPDATE that succeeds only for an unused, unexpired token.
func (s *Store) RedeemToken(ctx context.Context, d enrol.TokenDigest, kioskID string, now time.Time) (enrol.Token, error) {
	res, err := s.db.ExecContext(ctx,
		s.q(`UPDATE enrol_tokens SET used_ms = ?, kiosk_id = ? WHERE digest = ? AND used_ms IS NULL AND expires_ms > ?`),
		ms(now), kioskID, d.String(), ms(now))
	if err != nil {
		return enrol.Token{}, fmt.Errorf("redeem token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return enrol.Token{}, fmt.Errorf("redeem token: %w", err)
	}
	t, err := s.token(ctx, d)
	if err != nil {
		return enrol.Token{}, err
	}
	if n == 1 {
		return t, nil
	}
	if !t.Used.IsZero() {
		return enrol.Token{}, enrol.ErrTokenUsed
	}
	return enrol.Token{}, enrol.ErrTokenExpired
}

func (s *Store) token(ctx context.Context, d enrol.TokenDigest) (enrol.Token, error) {
	t := enrol.Token{Digest: d}
	var created, expires, used sql.NullInt64
	var kiosk sql.NullString
	err := s.db.QueryRowContext(ctx,
		s.q(`SELECT site, ward, created_ms, expires_ms, used_ms, kiosk_id FROM enrol_tokens WHERE digest = ?`), d.String()).
		Scan(&t.Site, &t.Ward, &created, &expires, &used, &kiosk)
	if errors.Is(err, sql.ErrNoRows) {
		return enrol.Token{}, enrol.ErrTokenUnknown
	}
	if err != nil {
		return enrol.Token{}, fmt.Errorf("read token: %w", err)
	}
	t.Created, t.Expires, t.Used, t.KioskID = fromMS(created), fromMS(expires), fromMS(used), kiosk.String
	return t, nil
}

// AddKiosk implements enrol.Store.
func (s *Store) AddKiosk(ctx context.Context, k enrol.Kiosk, c enrol.Certificate) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add kiosk: %w", err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO enrol_kiosks (id, site, ward, enrolled_ms) VALUES (?, ?, ?, ?)`),
		k.ID, k.Site, k.Ward, ms(k.Enrolled))
	if err == nil {
		_, err = tx.ExecContext(ctx,
			s.q(`INSERT INTO enrol_certificates (serial, kiosk_id, issued_ms, not_after_ms) VALUES (?, ?, ?, ?)`),
			c.Serial, c.KioskID, ms(c.Issued), ms(c.NotAfter))
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("add kiosk %s: %w", k.ID, enrol.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("add kiosk %s: %w", k.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add kiosk %s: %w", k.ID, err)
	}
	return nil
}

// AddCertificate implements enrol.Store.
func (s *Store) AddCertificate(ctx context.Context, c enrol.Certificate) error {
	if _, err := s.Kiosk(ctx, c.KioskID); err != nil {
		return fmt.Errorf("add certificate: %w", err)
	}
	_, err := s.db.ExecContext(ctx,
		s.q(`INSERT INTO enrol_certificates (serial, kiosk_id, issued_ms, not_after_ms) VALUES (?, ?, ?, ?)`),
		c.Serial, c.KioskID, ms(c.Issued), ms(c.NotAfter))
	if isUniqueViolation(err) {
		return fmt.Errorf("add certificate: %w", enrol.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("add certificate: %w", err)
	}
	return nil
}

// Kiosk implements enrol.Store.
func (s *Store) Kiosk(ctx context.Context, id string) (enrol.Kiosk, error) {
	k := enrol.Kiosk{ID: id}
	var enrolled, revoked sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT site, ward, enrolled_ms, revoked_ms FROM enrol_kiosks WHERE id = ?`), id).
		Scan(&k.Site, &k.Ward, &enrolled, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return enrol.Kiosk{}, enrol.ErrKioskUnknown
	}
	if err != nil {
		return enrol.Kiosk{}, fmt.Errorf("read kiosk: %w", err)
	}
	k.Enrolled, k.Revoked = fromMS(enrolled), fromMS(revoked)
	return k, nil
}

// RevokeKiosk implements enrol.Store.
func (s *Store) RevokeKiosk(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE enrol_kiosks SET revoked_ms = COALESCE(revoked_ms, ?) WHERE id = ?`), ms(at), id)
	if err != nil {
		return fmt.Errorf("revoke kiosk: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke kiosk: %w", err)
	} else if n == 0 {
		return enrol.ErrKioskUnknown
	}
	return nil
}

// Revocations implements enrol.Store.
func (s *Store) Revocations(ctx context.Context, now time.Time) ([]enrol.Revocation, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT c.serial, c.kiosk_id, k.revoked_ms FROM enrol_certificates c
		JOIN enrol_kiosks k ON k.id = c.kiosk_id
		WHERE k.revoked_ms IS NOT NULL AND c.not_after_ms > ? ORDER BY c.serial`), ms(now))
	if err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	defer rows.Close()
	var out []enrol.Revocation
	for rows.Next() {
		var r enrol.Revocation
		var at sql.NullInt64
		if err := rows.Scan(&r.Serial, &r.KioskID, &at); err != nil {
			return nil, fmt.Errorf("list revocations: %w", err)
		}
		r.Revoked = fromMS(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	return out, nil
}

// RevokedKiosks implements enrol.Store.
func (s *Store) RevokedKiosks(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id FROM enrol_kiosks WHERE revoked_ms IS NOT NULL ORDER BY id`))
	if err != nil {
		return nil, fmt.Errorf("list revoked kiosks: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list revoked kiosks: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revoked kiosks: %w", err)
	}
	return out, nil
}

var _ enrol.Store = (*Store)(nil)

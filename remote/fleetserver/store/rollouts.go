package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// rolloutsMigration adds published releases, rollouts (each kept whole as the JSON of package
// rollout's Rollout: the store does not read it) and the audit log of admin actions. It only creates
// tables, so it may be applied after any other version.
const rolloutsMigration = `
CREATE TABLE releases (
	version      TEXT PRIMARY KEY,
	size         BIGINT NOT NULL,
	sha256       TEXT NOT NULL,
	signer       TEXT NOT NULL,
	file         TEXT NOT NULL,
	published_by TEXT NOT NULL,
	published_at BIGINT NOT NULL
);
CREATE TABLE rollouts (
	id         TEXT PRIMARY KEY,
	state      TEXT NOT NULL,
	body       TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE TABLE audit_log (
	id      {{id}},
	at      BIGINT NOT NULL,
	who     TEXT NOT NULL,
	action  TEXT NOT NULL,
	subject TEXT NOT NULL,
	detail  TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at)`

// PutRollout stores a rollout's JSON (package rollout), replacing what was stored under its id.
func (s *Store) PutRollout(ctx context.Context, id, state string, body []byte, at time.Time) error {
	_, err := s.exec(ctx, `INSERT INTO rollouts (id, state, body, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, body = excluded.body, updated_at = excluded.updated_at`,
		id, state, string(body), ms(at))
	if err != nil {
		return fmt.Errorf("put rollout %s: %w", id, err)
	}
	return nil
}

// RolloutBodies returns every stored rollout's JSON, oldest first.
func (s *Store) RolloutBodies(ctx context.Context) ([][]byte, error) {
	rows, err := s.query(ctx, `SELECT body FROM rollouts ORDER BY updated_at`)
	if err != nil {
		return nil, fmt.Errorf("rollouts: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("rollouts: %w", err)
		}
		out = append(out, []byte(b))
	}
	return out, rows.Err()
}

// AuditEntry is one admin action: who did what to what.
type AuditEntry struct {
	At      time.Time `json:"at"`
	Who     string    `json:"who"`    // the user, or "rollout" for what a rollout did by itself
	Action  string    `json:"action"` // e.g. "rollout.start", "release.publish"
	Subject string    `json:"subject"`
	Detail  string    `json:"detail"`
}

// AddAudit appends to the audit log.
func (s *Store) AddAudit(ctx context.Context, e AuditEntry) error {
	_, err := s.exec(ctx, `INSERT INTO audit_log (at, who, action, subject, detail) VALUES (?, ?, ?, ?, ?)`,
		ms(e.At), e.Who, e.Action, e.Subject, e.Detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// Audit returns the latest limit entries of the audit log, newest first.
func (s *Store) Audit(ctx context.Context, limit int) ([]AuditEntry, error) {
	rows, err := s.query(ctx, `SELECT at, who, action, subject, detail FROM audit_log ORDER BY at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&at, &e.Who, &e.Action, &e.Subject, &e.Detail); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// StoredRelease is a published release as the store keeps it.
type StoredRelease struct {
	Version     string    `json:"version"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	Signer      string    `json:"signer"`
	File        string    `json:"file"` // the bundle's file name in the release folder
	PublishedBy string    `json:"published_by"`
	PublishedAt time.Time `json:"published_at"`
}

// AddRelease records a published release; a version is published once.
func (s *Store) AddRelease(ctx context.Context, r StoredRelease) error {
	_, err := s.exec(ctx, `INSERT INTO releases (version, size, sha256, signer, file, published_by, published_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.Version, r.Size, r.SHA256, r.Signer, r.File, r.PublishedBy, ms(r.PublishedAt))
	if err != nil {
		return fmt.Errorf("add release %s: %w", r.Version, err)
	}
	return nil
}

const releaseColumns = `version, size, sha256, signer, file, published_by, published_at`

func scanRelease(sc interface{ Scan(...any) error }) (StoredRelease, error) {
	var r StoredRelease
	var at int64
	err := sc.Scan(&r.Version, &r.Size, &r.SHA256, &r.Signer, &r.File, &r.PublishedBy, &at)
	r.PublishedAt = fromMS(at)
	return r, err
}

// StoredReleaseByVersion returns a release by version.
func (s *Store) StoredReleaseByVersion(ctx context.Context, version string) (StoredRelease, bool, error) {
	r, err := scanRelease(s.queryRow(ctx, `SELECT `+releaseColumns+` FROM releases WHERE version = ?`, version))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return StoredRelease{}, false, nil
		}
		return StoredRelease{}, false, fmt.Errorf("release %s: %w", version, err)
	}
	return r, true, nil
}

// StoredReleases returns every release, newest published first.
func (s *Store) StoredReleases(ctx context.Context) ([]StoredRelease, error) {
	rows, err := s.query(ctx, `SELECT `+releaseColumns+` FROM releases ORDER BY published_at DESC`)
	if err != nil {
		return nil, fmt.Errorf("releases: %w", err)
	}
	defer rows.Close()
	var out []StoredRelease
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			return nil, fmt.Errorf("releases: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

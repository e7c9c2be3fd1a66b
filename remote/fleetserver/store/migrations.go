package store

import (
	"context"
	"strings"

	"ssu-kiosk/remote/sqldb"
)

// migrations are the schema's versions, applied in order, each in its own transaction; never edit one
// that has shipped, add the next. One text serves both dialects: "{{id}}" is an auto-numbered primary
// key and "{{clustered}}" makes SQLite keep a table's rows in primary-key order (WITHOUT ROWID), so
// a report's range of sessions is read in one sequential pass. Times are Unix milliseconds (BIGINT) and flags 0/1 (INTEGER) in both, so every query is shared.
//
// Version 2: health keeps what the outbox lost; kiosks.placed_by says whose word a kiosk's place is:
// "enrolment", "admin", "" (unregistered), or "legacy" for rows from before, when a kiosk's own birth
// message placed it: those take their enrolment's place at their next message (Save).
var migrations = []string{
	1: `
CREATE TABLE kiosks (
	id            TEXT PRIMARY KEY,
	site          TEXT NOT NULL DEFAULT '',
	ward          TEXT NOT NULL DEFAULT '',
	registered_at BIGINT NOT NULL
);
CREATE TABLE kiosk_status (
	kiosk       TEXT PRIMARY KEY REFERENCES kiosks (id),
	online      INTEGER NOT NULL,
	conn        BIGINT NOT NULL,
	since       BIGINT NOT NULL,
	app_version TEXT NOT NULL DEFAULT '',
	started_at  BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE health (
	kiosk        TEXT NOT NULL REFERENCES kiosks (id),
	at           BIGINT NOT NULL,
	reader       TEXT NOT NULL,
	pcscd        TEXT NOT NULL,
	identity_ok  INTEGER NOT NULL,
	outbox_depth INTEGER NOT NULL,
	maintenance  INTEGER NOT NULL,
	app_version  TEXT NOT NULL,
	config       TEXT NOT NULL,
	cert_expiry  BIGINT NOT NULL,
	disk_free    BIGINT NOT NULL,
	uptime_s     BIGINT NOT NULL,
	PRIMARY KEY (kiosk, at)
);
CREATE TABLE events (
	id          TEXT PRIMARY KEY,
	kiosk       TEXT NOT NULL,
	kind        TEXT NOT NULL,
	at          BIGINT NOT NULL,
	session_at  BIGINT NOT NULL,
	site        TEXT NOT NULL,
	ward        TEXT NOT NULL,
	method      TEXT NOT NULL,
	step        TEXT NOT NULL,
	reason      TEXT NOT NULL,
	error_code  TEXT NOT NULL,
	card_key    TEXT NOT NULL,
	duration_ms BIGINT NOT NULL,
	step_ms     BIGINT NOT NULL,
	app_version TEXT NOT NULL,
	received_at BIGINT NOT NULL
);
CREATE INDEX events_errors ON events (at, kiosk) WHERE kind = 'error';
CREATE TABLE sessions (
	kiosk            TEXT NOT NULL,
	started_at       BIGINT NOT NULL,
	site             TEXT NOT NULL,
	ward             TEXT NOT NULL,
	day              INTEGER NOT NULL,
	hour_of_week     INTEGER NOT NULL,
	started          INTEGER NOT NULL,
	unlocked         INTEGER NOT NULL,
	unlock_ms        BIGINT NOT NULL,
	passcode_changed INTEGER NOT NULL,
	code_failures    INTEGER NOT NULL,
	reason           TEXT NOT NULL,
	method           TEXT NOT NULL,
	end_kind         TEXT NOT NULL,
	end_step         TEXT NOT NULL,
	error_code       TEXT NOT NULL,
	card_key         TEXT NOT NULL,
	PRIMARY KEY (started_at, kiosk)
){{clustered}};
CREATE INDEX sessions_unlocks ON sessions (started_at, site, ward, kiosk, unlock_ms, card_key) WHERE unlocked = 1;
CREATE INDEX sessions_endings ON sessions (started_at, site, ward, kiosk, end_kind, end_step, reason, error_code, unlocked)
	WHERE end_kind <> '' OR reason <> '' OR error_code <> '';
CREATE TABLE daily_usage (
	day              INTEGER NOT NULL,
	kiosk            TEXT NOT NULL,
	site             TEXT NOT NULL,
	ward             TEXT NOT NULL,
	sessions         BIGINT NOT NULL,
	unlocks          BIGINT NOT NULL,
	passcode_changes BIGINT NOT NULL,
	abandoned        BIGINT NOT NULL,
	timed_out        BIGINT NOT NULL,
	card_removed     BIGINT NOT NULL,
	ineligible       BIGINT NOT NULL,
	code_failures    BIGINT NOT NULL,
	service_errors   BIGINT NOT NULL,
	email            BIGINT NOT NULL,
	sms              BIGINT NOT NULL,
	h0               BIGINT NOT NULL DEFAULT 0,
	h1               BIGINT NOT NULL DEFAULT 0,
	h2               BIGINT NOT NULL DEFAULT 0,
	h3               BIGINT NOT NULL DEFAULT 0,
	h4               BIGINT NOT NULL DEFAULT 0,
	h5               BIGINT NOT NULL DEFAULT 0,
	h6               BIGINT NOT NULL DEFAULT 0,
	h7               BIGINT NOT NULL DEFAULT 0,
	h8               BIGINT NOT NULL DEFAULT 0,
	h9               BIGINT NOT NULL DEFAULT 0,
	h10              BIGINT NOT NULL DEFAULT 0,
	h11              BIGINT NOT NULL DEFAULT 0,
	h12              BIGINT NOT NULL DEFAULT 0,
	h13              BIGINT NOT NULL DEFAULT 0,
	h14              BIGINT NOT NULL DEFAULT 0,
	h15              BIGINT NOT NULL DEFAULT 0,
	h16              BIGINT NOT NULL DEFAULT 0,
	h17              BIGINT NOT NULL DEFAULT 0,
	h18              BIGINT NOT NULL DEFAULT 0,
	h19              BIGINT NOT NULL DEFAULT 0,
	h20              BIGINT NOT NULL DEFAULT 0,
	h21              BIGINT NOT NULL DEFAULT 0,
	h22              BIGINT NOT NULL DEFAULT 0,
	h23              BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (day, kiosk, site, ward)
){{clustered}};
CREATE TABLE commands (
	id         TEXT PRIMARY KEY,
	kiosk      TEXT NOT NULL REFERENCES kiosks (id),
	name       TEXT NOT NULL,
	args       TEXT NOT NULL,
	issued_by  TEXT NOT NULL,
	issued_at  BIGINT NOT NULL,
	status     TEXT NOT NULL,
	reason     TEXT NOT NULL,
	result_at  BIGINT NOT NULL
);
CREATE INDEX commands_kiosk_issued_at ON commands (kiosk, issued_at);
CREATE TABLE alerts (
	id         {{id}},
	kiosk      TEXT NOT NULL,
	kind       TEXT NOT NULL,
	detail     TEXT NOT NULL,
	opened_at  BIGINT NOT NULL,
	cleared_at BIGINT NOT NULL DEFAULT 0,
	notified   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alerts_open ON alerts (cleared_at, kiosk);
CREATE TABLE users (
	name       TEXT PRIMARY KEY,
	role       TEXT NOT NULL,
	sites      TEXT NOT NULL,
	pw_hash    TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE TABLE web_sessions (
	token_hash TEXT PRIMARY KEY,
	user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	csrf       TEXT NOT NULL,
	expires_at BIGINT NOT NULL
);`,
	2: `
ALTER TABLE health ADD COLUMN outbox_dropped BIGINT NOT NULL DEFAULT 0;
ALTER TABLE health ADD COLUMN outbox_lost BIGINT NOT NULL DEFAULT 0;
ALTER TABLE health ADD COLUMN outbox_full INTEGER NOT NULL DEFAULT 0;
ALTER TABLE kiosks ADD COLUMN placed_by TEXT NOT NULL DEFAULT 'legacy'`,
	3: rolloutsMigration, // releases, rollouts, the audit log (rollouts.go)
	// 4: a kiosk's health says when it runs after a fallback: the version that failed, the one back on.
	4: `
ALTER TABLE health ADD COLUMN fallback_failed TEXT NOT NULL DEFAULT '';
ALTER TABLE health ADD COLUMN fallback_running TEXT NOT NULL DEFAULT ''`,
}

// SchemaVersion is the version the store's schema is brought to.
func SchemaVersion() int { return len(migrations) - 1 }

func (s *Store) migrate(ctx context.Context) error {
	id, clustered := "INTEGER PRIMARY KEY AUTOINCREMENT", " WITHOUT ROWID"
	if s.dialect == Postgres {
		id, clustered = "BIGSERIAL PRIMARY KEY", ""
	}
	r := strings.NewReplacer("{{id}}", id, "{{clustered}}", clustered)
	ms := make([]sqldb.Migration, 0, len(migrations)-1)
	for v := 1; v < len(migrations); v++ {
		ms = append(ms, sqldb.Migration{Version: v, Statements: strings.Split(r.Replace(migrations[v]), ";")})
	}
	return sqldb.Migrate(ctx, s.db, s.dialect == Postgres, "schema_migrations", ms)
}

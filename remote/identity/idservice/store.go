package idservice

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/sqldb"
)

// ErrNotFound is returned when a profile, card or session does not exist.
var ErrNotFound = errors.New("not found")

// Store keeps profiles, cards (with sealed SOPINs), the allowed email domains, challenges, sessions (codes
// hashed) and the append-only audit log, in SQLite or PostgreSQL with one schema.
type Store struct {
	db       *sql.DB
	postgres bool
}

// Profile is a person's identity profile. Email and Mobile are personal data: never log them.
type Profile struct {
	UUID   string
	Name   string
	Email  string
	Mobile string
}

// LogValue keeps the contact details out of logs.
func (p Profile) LogValue() slog.Value { return slog.GroupValue(slog.String("uuid", p.UUID)) }

// Card is a smartcard registered to a profile, with its SOPIN sealed by a Sealer.
type Card struct {
	Serial      string
	ProfileUUID string
	SealedSOPIN []byte
}

// notGenuineReason is the stored reason of a session whose card proof failed.
const notGenuineReason = string(identity.CardNotGenuine)

// Session states.
const (
	stateOpen      = "open"      // eligible: codes may be sent and checked
	stateRefused   = "refused"   // not eligible
	stateReleased  = "released"  // the SOPIN went out
	stateEnded     = "ended"     // too many wrong codes
	stateCompleted = "completed" // the kiosk reported the outcome
)

// SessionRecord is one kiosk session as stored.
type SessionRecord struct {
	ID            string
	KioskID       string
	ProfileUUID   string
	CardSerial    string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	State         string
	Reason        string
	Sends         int
	LastSendAt    time.Time
	CodeHash      []byte
	WrongCodes    int
	Outcome       string
	OutcomeReason string
}

// AuditEntry is one line of the audit log: which kiosk, which profile, what, when, outcome. It never holds a
// code, PIN, SOPIN, email address or phone number.
type AuditEntry struct {
	ID          int64
	At          time.Time
	RequestID   string
	KioskID     string
	ProfileUUID string
	CardSerial  string
	SessionID   string
	Action      string
	Outcome     string
	Detail      string
}

// OpenStore opens (and migrates) the store: dsn is a PostgreSQL URL (postgres:// or postgresql://) or a
// SQLite file path.
func OpenStore(ctx context.Context, dsn string) (*Store, error) {
	s := &Store{}
	// Full on both: a released SOPIN and its audit line are answered to the kiosk as soon as the
	// commit returns, and a power cut must not undo a session's wrong-code count or a lockout.
	var err error
	if sqldb.IsPostgres(dsn) {
		s.postgres = true
		s.db, err = sqldb.OpenPostgres(ctx, sqldb.Postgres{URL: dsn, Durability: sqldb.Full, MaxOpen: 16})
	} else {
		// One writer at a time is how SQLite works; one connection makes that explicit and avoids busy errors.
		s.db, err = sqldb.OpenSQLite(ctx, sqldb.SQLite{Path: dsn, Durability: sqldb.Full, BusyTimeout: 5 * time.Second})
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// migration is one schema version; the {{...}} words are filled per database.
type migration struct {
	version int
	common  []string
	sqlite  []string
	pg      []string
}

var migrations = []migration{{
	version: 1,
	common: []string{
		`CREATE TABLE profiles (
			uuid TEXT PRIMARY KEY,
			name TEXT NOT NULL DEFAULT '',
			email TEXT NOT NULL DEFAULT '',
			mobile TEXT NOT NULL DEFAULT '',
			updated_at BIGINT NOT NULL)`,
		`CREATE TABLE cards (
			serial TEXT PRIMARY KEY,
			profile_uuid TEXT NOT NULL REFERENCES profiles(uuid),
			sopin_sealed {{BLOB}},
			updated_at BIGINT NOT NULL)`,
		`CREATE INDEX cards_profile ON cards(profile_uuid)`,
		`CREATE TABLE allowed_domains (domain TEXT PRIMARY KEY)`,
		`CREATE TABLE challenges (
			nonce_hash TEXT PRIMARY KEY,
			kiosk_id TEXT NOT NULL,
			expires_at BIGINT NOT NULL)`,
		`CREATE INDEX challenges_expiry ON challenges(expires_at)`,
		`CREATE TABLE sessions (
			id TEXT PRIMARY KEY,
			kiosk_id TEXT NOT NULL,
			profile_uuid TEXT NOT NULL DEFAULT '',
			card_serial TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL,
			state TEXT NOT NULL,
			reason TEXT NOT NULL DEFAULT '',
			sends INTEGER NOT NULL DEFAULT 0,
			last_send_at BIGINT NOT NULL DEFAULT 0,
			code_hash {{BLOB}},
			wrong_codes INTEGER NOT NULL DEFAULT 0,
			released_at BIGINT NOT NULL DEFAULT 0,
			outcome TEXT NOT NULL DEFAULT '',
			outcome_reason TEXT NOT NULL DEFAULT '',
			completed_at BIGINT NOT NULL DEFAULT 0)`,
		`CREATE INDEX sessions_kiosk ON sessions(kiosk_id, created_at)`,
		`CREATE INDEX sessions_card ON sessions(card_serial, created_at)`,
		`CREATE TABLE audit_log (
			id {{SERIAL}},
			at BIGINT NOT NULL,
			request_id TEXT NOT NULL DEFAULT '',
			kiosk_id TEXT NOT NULL DEFAULT '',
			profile_uuid TEXT NOT NULL DEFAULT '',
			card_serial TEXT NOT NULL DEFAULT '',
			session_id TEXT NOT NULL DEFAULT '',
			action TEXT NOT NULL,
			outcome TEXT NOT NULL DEFAULT '',
			detail TEXT NOT NULL DEFAULT '')`,
	},
	sqlite: []string{
		`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
			BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END`,
		`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
			BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END`,
	},
	pg: []string{
		`CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$`,
		`CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
			FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`,
		`CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
			FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`,
	},
}, {
	// Version 2: wrong codes add up across sessions (per card and per holder, over a rolling window), and a
	// lockout stops new sessions for a card and its holder until an RA clears it.
	version: 2,
	common: []string{
		`CREATE TABLE wrong_codes (
			id {{SERIAL}},
			at BIGINT NOT NULL,
			card_serial TEXT NOT NULL,
			profile_uuid TEXT NOT NULL DEFAULT '',
			session_id TEXT NOT NULL)`,
		`CREATE INDEX wrong_codes_card ON wrong_codes(card_serial, at)`,
		`CREATE INDEX wrong_codes_profile ON wrong_codes(profile_uuid, at)`,
		`CREATE TABLE lockouts (
			card_serial TEXT NOT NULL,
			profile_uuid TEXT NOT NULL DEFAULT '',
			locked_at BIGINT NOT NULL,
			PRIMARY KEY (card_serial, profile_uuid))`,
		`CREATE INDEX lockouts_profile ON lockouts(profile_uuid)`,
	},
}}

// SchemaVersion is the newest migration this build knows.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

func (s *Store) migrate(ctx context.Context) error {
	blob, serial := "BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT"
	if s.postgres {
		blob, serial = "BYTEA", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
	}
	r := strings.NewReplacer("{{BLOB}}", blob, "{{SERIAL}}", serial)
	ms := make([]sqldb.Migration, 0, len(migrations))
	for _, m := range migrations {
		extra := m.sqlite
		if s.postgres {
			extra = m.pg
		}
		var stmts []string
		for _, stmt := range append(append([]string{}, m.common...), extra...) {
			stmts = append(stmts, r.Replace(stmt))
		}
		ms = append(ms, sqldb.Migration{Version: m.version, Statements: stmts})
	}
	return sqldb.Migrate(ctx, s.db, s.postgres, "schema_migrations", ms)
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// PutProfile adds a profile or replaces its name and contact details.
func (s *Store) PutProfile(ctx context.Context, p Profile, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO profiles (uuid, name, email, mobile, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (uuid) DO UPDATE SET name = excluded.name, email = excluded.email, mobile = excluded.mobile, updated_at = excluded.updated_at`,
		p.UUID, p.Name, p.Email, p.Mobile, micros(now))
	if err != nil {
		return fmt.Errorf("put profile %s: %w", p.UUID, err)
	}
	return nil
}

// Profile reads one profile.
func (s *Store) Profile(ctx context.Context, uuid string) (Profile, error) {
	p := Profile{UUID: uuid}
	err := s.db.QueryRowContext(ctx, `SELECT name, email, mobile FROM profiles WHERE uuid = $1`, uuid).Scan(&p.Name, &p.Email, &p.Mobile)
	if errors.Is(err, sql.ErrNoRows) {
		return Profile{}, fmt.Errorf("profile %s: %w", uuid, ErrNotFound)
	}
	if err != nil {
		return Profile{}, fmt.Errorf("read profile %s: %w", uuid, err)
	}
	return p, nil
}

// SetContact changes a profile's email (field "email") or mobile (field "mobile").
func (s *Store) SetContact(ctx context.Context, uuid, field, value string, now time.Time) error {
	var q string
	switch field {
	case "email":
		q = `UPDATE profiles SET email = $1, updated_at = $2 WHERE uuid = $3`
	case "mobile":
		q = `UPDATE profiles SET mobile = $1, updated_at = $2 WHERE uuid = $3`
	default:
		return fmt.Errorf("set contact: unknown field %q", field)
	}
	res, err := s.db.ExecContext(ctx, q, value, micros(now), uuid)
	if err != nil {
		return fmt.Errorf("set %s of %s: %w", field, uuid, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set %s of %s: %w", field, uuid, ErrNotFound)
	}
	return nil
}

// PutCard registers a card to a profile, with its sealed SOPIN (nil keeps the stored one).
func (s *Store) PutCard(ctx context.Context, c Card, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO cards (serial, profile_uuid, sopin_sealed, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (serial) DO UPDATE SET profile_uuid = excluded.profile_uuid,
			sopin_sealed = COALESCE(excluded.sopin_sealed, cards.sopin_sealed), updated_at = excluded.updated_at`,
		c.Serial, c.ProfileUUID, c.SealedSOPIN, micros(now))
	if err != nil {
		return fmt.Errorf("put card %s: %w", c.Serial, err)
	}
	return nil
}

// SetCardSOPIN replaces a registered card's sealed SOPIN.
func (s *Store) SetCardSOPIN(ctx context.Context, serial string, sealed []byte, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE cards SET sopin_sealed = $1, updated_at = $2 WHERE serial = $3`, sealed, micros(now), serial)
	if err != nil {
		return fmt.Errorf("set SOPIN of card %s: %w", serial, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set SOPIN of card %s: %w", serial, ErrNotFound)
	}
	return nil
}

// Card reads one card.
func (s *Store) Card(ctx context.Context, serial string) (Card, error) {
	c := Card{Serial: serial}
	err := s.db.QueryRowContext(ctx, `SELECT profile_uuid, sopin_sealed FROM cards WHERE serial = $1`, serial).Scan(&c.ProfileUUID, &c.SealedSOPIN)
	if errors.Is(err, sql.ErrNoRows) {
		return Card{}, fmt.Errorf("card %s: %w", serial, ErrNotFound)
	}
	if err != nil {
		return Card{}, fmt.Errorf("read card %s: %w", serial, err)
	}
	return c, nil
}

// AllowDomain adds an email domain to the allow list.
func (s *Store) AllowDomain(ctx context.Context, domain string) error {
	domain = strings.ToLower(strings.TrimSpace(domain))
	if domain == "" {
		return errors.New("allow domain: empty domain")
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO allowed_domains (domain) VALUES ($1) ON CONFLICT (domain) DO NOTHING`, domain); err != nil {
		return fmt.Errorf("allow domain %s: %w", domain, err)
	}
	return nil
}

// DomainAllowed reports whether an email domain is on the allow list.
func (s *Store) DomainAllowed(ctx context.Context, domain string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM allowed_domains WHERE domain = $1`, strings.ToLower(domain)).Scan(&n); err != nil {
		return false, fmt.Errorf("read allow list: %w", err)
	}
	return n > 0, nil
}

// PutChallenge records a nonce (by its hash) handed to a kiosk, and drops expired ones.
func (s *Store) PutChallenge(ctx context.Context, nonceHash, kioskID string, expires, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM challenges WHERE expires_at < $1`, micros(now)); err != nil {
		return fmt.Errorf("prune challenges: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO challenges (nonce_hash, kiosk_id, expires_at) VALUES ($1, $2, $3)`, nonceHash, kioskID, micros(expires)); err != nil {
		return fmt.Errorf("put challenge: %w", err)
	}
	return nil
}

// TakeChallenge consumes a nonce: true only once, for the kiosk it was given to, before it expires.
func (s *Store) TakeChallenge(ctx context.Context, nonceHash, kioskID string, now time.Time) (bool, error) {
	var exp int64
	var kiosk string
	err := s.db.QueryRowContext(ctx, `DELETE FROM challenges WHERE nonce_hash = $1 RETURNING kiosk_id, expires_at`, nonceHash).Scan(&kiosk, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take challenge: %w", err)
	}
	return kiosk == kioskID && micros(now) <= exp, nil
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, r SessionRecord) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (id, kiosk_id, profile_uuid, card_serial, created_at, expires_at, state, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		r.ID, r.KioskID, r.ProfileUUID, r.CardSerial, micros(r.CreatedAt), micros(r.ExpiresAt), r.State, r.Reason)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session reads one session.
func (s *Store) Session(ctx context.Context, id string) (SessionRecord, error) {
	r := SessionRecord{ID: id}
	var created, expires, lastSend int64
	err := s.db.QueryRowContext(ctx, `SELECT kiosk_id, profile_uuid, card_serial, created_at, expires_at, state, reason,
		sends, last_send_at, code_hash, wrong_codes, outcome, outcome_reason FROM sessions WHERE id = $1`, id).Scan(
		&r.KioskID, &r.ProfileUUID, &r.CardSerial, &created, &expires, &r.State, &r.Reason,
		&r.Sends, &lastSend, &r.CodeHash, &r.WrongCodes, &r.Outcome, &r.OutcomeReason)
	if errors.Is(err, sql.ErrNoRows) {
		return SessionRecord{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return SessionRecord{}, fmt.Errorf("read session: %w", err)
	}
	r.CreatedAt, r.ExpiresAt, r.LastSendAt = fromMicros(created), fromMicros(expires), fromMicros(lastSend)
	return r, nil
}

// RecordSend counts a send on an open session, if fewer than maxSends were made and the last was at least
// gap ago; codeHash replaces the stored code when not nil. It returns the number of sends so far and whether
// the send was allowed.
func (s *Store) RecordSend(ctx context.Context, id string, codeHash []byte, now time.Time, gap time.Duration, maxSends int) (int, bool, error) {
	var sends int
	err := s.db.QueryRowContext(ctx, `UPDATE sessions SET sends = sends + 1, last_send_at = $1,
			code_hash = COALESCE($2, code_hash)
		WHERE id = $3 AND state = 'open' AND sends < $4 AND (sends = 0 OR last_send_at <= $5)
		RETURNING sends`, micros(now), codeHash, id, maxSends, micros(now.Add(-gap))).Scan(&sends)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("record send: %w", err)
	}
	return sends, true, nil
}

// RecordWrongCode counts a wrong code on an open session and ends it at maxWrong. It returns the count and
// whether the session was still open.
func (s *Store) RecordWrongCode(ctx context.Context, id string, maxWrong int) (int, bool, error) {
	var wrong int
	err := s.db.QueryRowContext(ctx, `UPDATE sessions SET wrong_codes = wrong_codes + 1,
			state = CASE WHEN wrong_codes + 1 >= $1 THEN 'ended' ELSE state END
		WHERE id = $2 AND state = 'open' RETURNING wrong_codes`, maxWrong, id).Scan(&wrong)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("record wrong code: %w", err)
	}
	return wrong, true, nil
}

// MarkReleased moves an open session whose stored code hash is codeHash to released; false when another
// call got there first or the session is no longer open.
func (s *Store) MarkReleased(ctx context.Context, id string, codeHash []byte, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET state = 'released', released_at = $1, code_hash = NULL
		WHERE id = $2 AND state = 'open' AND code_hash = $3`, micros(now), id, codeHash)
	if err != nil {
		return false, fmt.Errorf("mark released: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark released: %w", err)
	}
	return n == 1, nil
}

// CompleteSession records the kiosk's outcome once; false when an outcome was already recorded.
func (s *Store) CompleteSession(ctx context.Context, id, outcome, reason string, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET state = 'completed', outcome = $1, outcome_reason = $2,
			completed_at = $3, code_hash = NULL
		WHERE id = $4 AND outcome = ''`, outcome, reason, micros(now), id)
	if err != nil {
		return false, fmt.Errorf("complete session: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("complete session: %w", err)
	}
	return n == 1, nil
}

// SessionsSince counts sessions started by a kiosk (kioskID set) since t, or for a card (cardSerial set)
// since t. A card's count leaves out sessions whose card proof failed: anyone can claim a serial, and only
// the card itself can start a session that counts against it.
func (s *Store) SessionsSince(ctx context.Context, kioskID, cardSerial string, t time.Time) (int, error) {
	var n int
	var err error
	if kioskID != "" {
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE kiosk_id = $1 AND created_at >= $2`, kioskID, micros(t)).Scan(&n)
	} else {
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE card_serial = $1 AND created_at >= $2 AND reason <> $3`,
			cardSerial, micros(t), notGenuineReason).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	return n, nil
}

// RecordGuess stores one code check for a card and its holder, for the limits across sessions, before the
// code is compared; ForgetGuess takes it back when the code was right. It returns the check's id.
func (s *Store) RecordGuess(ctx context.Context, cardSerial, profileUUID, sessionID string, now time.Time) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO wrong_codes (at, card_serial, profile_uuid, session_id) VALUES ($1, $2, $3, $4) RETURNING id`,
		micros(now), cardSerial, profileUUID, sessionID).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record code check: %w", err)
	}
	return id, nil
}

// ForgetGuess removes a code check recorded by RecordGuess (the code was right).
func (s *Store) ForgetGuess(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM wrong_codes WHERE id = $1`, id); err != nil {
		return fmt.Errorf("forget code check: %w", err)
	}
	return nil
}

// GuessesSince counts the wrong codes entered with a card, and for a holder (with any of their cards),
// since t.
func (s *Store) GuessesSince(ctx context.Context, cardSerial, profileUUID string, t time.Time) (card, holder int, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM wrong_codes WHERE card_serial = $1 AND at >= $3),
			(SELECT COUNT(*) FROM wrong_codes WHERE profile_uuid = $2 AND profile_uuid <> '' AND at >= $3)`,
		cardSerial, profileUUID, micros(t)).Scan(&card, &holder)
	if err != nil {
		return 0, 0, fmt.Errorf("count wrong codes: %w", err)
	}
	return card, holder, nil
}

// LockOut stops new sessions for a card and its holder until ClearLockout; false when it already was.
func (s *Store) LockOut(ctx context.Context, cardSerial, profileUUID string, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO lockouts (card_serial, profile_uuid, locked_at) VALUES ($1, $2, $3)
		ON CONFLICT (card_serial, profile_uuid) DO NOTHING`, cardSerial, profileUUID, micros(now))
	if err != nil {
		return false, fmt.Errorf("lock out: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("lock out: %w", err)
	}
	return n == 1, nil
}

// LockedOut reports whether the card, or the holder (through any of their cards), is locked out.
func (s *Store) LockedOut(ctx context.Context, cardSerial, profileUUID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM lockouts WHERE card_serial = $1 OR (profile_uuid = $2 AND profile_uuid <> '')`,
		cardSerial, profileUUID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read lockouts: %w", err)
	}
	return n > 0, nil
}

// Lockout is a card and holder locked out by wrong codes.
type Lockout struct {
	CardSerial  string
	ProfileUUID string
	LockedAt    time.Time
}

// Lockouts lists the lockouts in force, oldest first.
func (s *Store) Lockouts(ctx context.Context) ([]Lockout, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT card_serial, profile_uuid, locked_at FROM lockouts ORDER BY locked_at, card_serial`)
	if err != nil {
		return nil, fmt.Errorf("read lockouts: %w", err)
	}
	defer rows.Close()
	var out []Lockout
	for rows.Next() {
		var l Lockout
		var at int64
		if err := rows.Scan(&l.CardSerial, &l.ProfileUUID, &at); err != nil {
			return nil, fmt.Errorf("read lockouts: %w", err)
		}
		l.LockedAt = fromMicros(at)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read lockouts: %w", err)
	}
	return out, nil
}

// ClearLockout lifts the lockouts of a card (cardSerial set) or of a holder (profileUUID set; both may be)
// and forgets their wrong codes, so the count starts again. It returns how many lockouts were lifted.
func (s *Store) ClearLockout(ctx context.Context, cardSerial, profileUUID string) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("clear lockout: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM lockouts WHERE (card_serial = $1 AND card_serial <> '') OR (profile_uuid = $2 AND profile_uuid <> '')`,
		cardSerial, profileUUID)
	if err != nil {
		return 0, fmt.Errorf("clear lockout: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("clear lockout: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM wrong_codes WHERE (card_serial = $1 AND card_serial <> '') OR (profile_uuid = $2 AND profile_uuid <> '')`,
		cardSerial, profileUUID); err != nil {
		return 0, fmt.Errorf("clear lockout: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("clear lockout: %w", err)
	}
	return int(n), nil
}

// Audit appends one entry to the audit log.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO audit_log (at, request_id, kiosk_id, profile_uuid, card_serial, session_id, action, outcome, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		micros(e.At), e.RequestID, e.KioskID, e.ProfileUUID, e.CardSerial, e.SessionID, e.Action, e.Outcome, e.Detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// AuditLog returns the newest entries first, at most limit of them, optionally only for one profile.
func (s *Store) AuditLog(ctx context.Context, profileUUID string, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT id, at, request_id, kiosk_id, profile_uuid, card_serial, session_id, action, outcome, detail FROM audit_log`
	args := []any{}
	if profileUUID != "" {
		q += ` WHERE profile_uuid = $1 ORDER BY id DESC LIMIT $2`
		args = append(args, profileUUID, limit)
	} else {
		q += ` ORDER BY id DESC LIMIT $1`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.RequestID, &e.KioskID, &e.ProfileUUID, &e.CardSerial, &e.SessionID, &e.Action, &e.Outcome, &e.Detail); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}
